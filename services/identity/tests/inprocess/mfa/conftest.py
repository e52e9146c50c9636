"""Two-factor sign-in in process: real TOTP codes computed with pyotp from the secret that
identity answered at enrollment, as an authenticator app would.

`Authenticator.next_code()` answers the code of the earliest time step identity still accepts
from this account (after the last one used, within now ±1 step), waiting for the next step
only when all three are spent; `wrong_code()` one that no step in the window has."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pyotp
import pytest

from agencyos.testing.factories import PASSWORD, AgencySession

STEP = 30


class Authenticator:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.totp = pyotp.TOTP(secret)
        self.last_step: int | None = None

    def code_at_step(self, step: int) -> str:
        return self.totp.generate_otp(step)

    async def next_code(self) -> str:
        now = int(time.time() // STEP)
        step = now - 1 if self.last_step is None else max(now - 1, self.last_step + 1)
        while step > int(time.time() // STEP) + 1:
            await asyncio.sleep(0.5)
        self.last_step = step
        return self.code_at_step(step)

    def wrong_code(self) -> str:
        now = int(time.time() // STEP)
        taken = {self.code_at_step(s) for s in range(now - 2, now + 3)}
        candidate = 0
        while f"{candidate:06d}" in taken:
            candidate += 1
        return f"{candidate:06d}"


@dataclass
class Enrolled:
    """A person with two-factor on: their authenticator, backup codes and the session
    that confirmation answered."""

    who: AgencySession
    app: Authenticator
    backup_codes: list[str]
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def enroll_and_confirm(identity: httpx.AsyncClient, who: AgencySession) -> Enrolled:
    enrolled = await identity.post("/v1/auth/2fa/enroll", headers=who.headers)
    assert enrolled.status_code == 200, enrolled.text
    app = Authenticator(enrolled.json()["secret"])
    confirmed = await identity.post(
        "/v1/auth/2fa/confirm", json={"code": await app.next_code()}, headers=who.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    return Enrolled(who, app, body["backup_codes"], body["access_token"], body["refresh_token"])


@pytest.fixture
def two_factor(identity: httpx.AsyncClient) -> Any:
    """`await two_factor(who)`: turn two-factor on for `who` through the API (an `Enrolled`)."""

    async def turn_on(who: AgencySession) -> Enrolled:
        return await enroll_and_confirm(identity, who)

    return turn_on


@pytest.fixture
def first_step(identity: httpx.AsyncClient) -> Any:
    """`await first_step(who, **login fields)`: the mfa_token a password sign-in answers."""

    async def sign_in(who: AgencySession, **extra: Any) -> str:
        response = await identity.post(
            "/v1/auth/login", json={"email": who.email, "password": PASSWORD, **extra}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["mfa_required"] is True, body
        token: str = body["mfa_token"]
        return token

    return sign_in
