"""Two-factor sign-in through the gateway against the running platform: enrolling with a real
authenticator code (pyotp from the secret identity answered), signing in in two steps, and
what an attacker would try — a replayed code, a stolen mfa_token used as an access token (at
the gateway and at identity itself), guessing codes; per-agency enforcement, whose restricted
token the gateway refuses on `/v1/clients` and CRM refuses when called directly."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pyotp
import pytest

from agencyos.testing.factories import PASSWORD, AgencySession, add_member
from agencyos.testing.http import assert_problem, unverified_jwt
from agencyos.testing.platform import Platform

pytestmark = pytest.mark.e2e

RESTRICTED = "two-factor-enrollment-required"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


def step_now() -> int:
    return int(time.time() // 30)


async def password_step(gateway: httpx.AsyncClient, who: AgencySession) -> dict[str, Any]:
    response = await gateway.post("/v1/auth/login", json={"email": who.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def fresh_mfa_token(gateway: httpx.AsyncClient, who: AgencySession) -> str:
    token: str = (await password_step(gateway, who))["mfa_token"]
    return token


async def turn_on(
    gateway: httpx.AsyncClient, who: AgencySession
) -> tuple[str, int, dict[str, Any]]:
    """Enroll and confirm with the code of the step before now: the secret, the step used and
    the confirmation (backup codes and the new session)."""
    enrolled = await gateway.post("/v1/auth/2fa/enroll", headers=who.headers)
    assert enrolled.status_code == 200, enrolled.text
    assert enrolled.headers["cache-control"] == "no-store"
    secret = enrolled.json()["secret"]
    step = step_now() - 1
    confirmed = await gateway.post(
        "/v1/auth/2fa/confirm", json={"code": code_at(secret, step)}, headers=who.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    return secret, step, confirmed.json()


class TestTwoFactorSignIn:
    async def test_the_whole_flow_with_replay_and_a_stolen_mfa_token_refused(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        secret, used_step, confirmed = await turn_on(gateway, agency)
        assert len(confirmed["backup_codes"]) == 10
        assert unverified_jwt(confirmed["access_token"])[1]["amr"] == ["pwd", "otp"]

        first = await password_step(gateway, agency)
        assert first["mfa_required"] is True
        assert "access_token" not in first
        mfa_token = first["mfa_token"]

        # A stolen mfa_token is no access token: not at the gateway, not at identity.
        at_gateway = await gateway.get("/v1/me", headers=bearer(mfa_token))
        assert_problem(at_gateway, 401, "unauthenticated")
        async with httpx.AsyncClient(base_url=platform.url("identity"), timeout=30) as identity:
            direct = await identity.get("/v1/me", headers=bearer(mfa_token))
        assert_problem(direct, 401, "unauthenticated")

        # The code that confirmed enrollment was used: replaying it is refused.
        replayed = await gateway.post(
            "/v1/auth/2fa/verify", json={"mfa_token": mfa_token, "code": code_at(secret, used_step)}
        )
        assert_problem(replayed, 401, "unauthenticated")
        assert replayed.json()["reason"] == "wrong_code"

        verified = await gateway.post(
            "/v1/auth/2fa/verify",
            json={"mfa_token": mfa_token, "code": code_at(secret, used_step + 1)},
        )
        assert verified.status_code == 200, verified.text
        tokens = verified.json()
        assert unverified_jwt(tokens["access_token"])[1]["amr"] == ["pwd", "otp"]
        clients = await gateway.get("/v1/clients", headers=bearer(tokens["access_token"]))
        assert clients.status_code == 200, clients.text

        # The mfa_token worked once.
        again = await gateway.post(
            "/v1/auth/2fa/verify",
            json={"mfa_token": mfa_token, "code": code_at(secret, used_step + 2)},
        )
        assert_problem(again, 401, "unauthenticated")
        assert again.json()["reason"] == "mfa_token_invalid"

        # A backup code signs in once.
        backup = confirmed["backup_codes"][0]
        with_backup = await gateway.post(
            "/v1/auth/2fa/verify",
            json={"mfa_token": await fresh_mfa_token(gateway, agency), "backup_code": backup},
        )
        assert with_backup.status_code == 200, with_backup.text
        backup_again = await gateway.post(
            "/v1/auth/2fa/verify",
            json={"mfa_token": await fresh_mfa_token(gateway, agency), "backup_code": backup},
        )
        assert_problem(backup_again, 401, "unauthenticated")

    async def test_guessing_codes_kills_the_mfa_token_after_five(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        secret, used_step, _ = await turn_on(gateway, agency)
        mfa_token = (await password_step(gateway, agency))["mfa_token"]
        window = {code_at(secret, s) for s in range(step_now() - 2, step_now() + 3)}
        guesses = [f"{n:06d}" for n in range(20) if f"{n:06d}" not in window][:5]
        for guess in guesses:
            response = await gateway.post(
                "/v1/auth/2fa/verify", json={"mfa_token": mfa_token, "code": guess}
            )
            assert_problem(response, 401, "unauthenticated")

        right = await gateway.post(
            "/v1/auth/2fa/verify",
            json={"mfa_token": mfa_token, "code": code_at(secret, used_step + 1)},
        )

        assert_problem(right, 401, "unauthenticated")
        assert "access_token" not in right.text


class TestEnforcement:
    async def test_a_restricted_member_reaches_only_enrollment_until_they_enroll(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        policy = await gateway.put(
            "/v1/agency/security/two-factor",
            json={"required_for": ["member"]},
            headers=agency.headers,
        )
        assert policy.status_code == 200, policy.text

        restricted = (await password_step(gateway, member))["access_token"]
        assert unverified_jwt(restricted)[1]["restricted"] == "2fa_enrollment"

        # The gateway refuses it before forwarding; CRM refuses it when called directly.
        at_gateway = await gateway.get("/v1/clients", headers=bearer(restricted))
        assert assert_problem(at_gateway, 403, RESTRICTED)["enroll"] == "/v1/auth/2fa/enroll"
        async with httpx.AsyncClient(base_url=platform.url("crm"), timeout=30) as crm:
            direct = await crm.get("/v1/clients", headers=bearer(restricted))
        assert_problem(direct, 403, RESTRICTED)
        assert (await gateway.get("/v1/me", headers=bearer(restricted))).status_code == 200

        # The owner, whose role the policy does not name, is not restricted.
        owner = (await password_step(gateway, agency))["access_token"]
        assert "restricted" not in unverified_jwt(owner)[1]

        as_member = AgencySession(**{**member.__dict__, "access_token": restricted})
        _, _, confirmed = await turn_on(gateway, as_member)
        assert "restricted" not in unverified_jwt(confirmed["access_token"])[1]
        clients = await gateway.get("/v1/clients", headers=bearer(confirmed["access_token"]))
        assert clients.status_code == 200, clients.text
        assert_problem(await gateway.get("/v1/me", headers=bearer(restricted)), 401)
