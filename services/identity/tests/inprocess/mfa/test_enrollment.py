"""Enrolling an authenticator app (`POST /v1/auth/2fa/enroll`) and turning two-factor on
(`POST /v1/auth/2fa/confirm`): the secret, its URI and QR code; the secret sealed at rest;
enrolling again; a wrong code; the backup codes and the new session; the audit record."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pyotp

from agencyos.testing.factories import PASSWORD, AgencySession
from agencyos.testing.http import assert_problem, unverified_jwt
from agencyos.testing.inprocess import ServiceInProcess
from agencyos.testing.sql import fetch_rows

Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]


async def rows(service: ServiceInProcess, query: str, *args: Any) -> list[asyncpg.Record]:
    return await fetch_rows(service.infra, service.database, query, *args, owner=True)


async def enroll(identity: httpx.AsyncClient, who: AgencySession) -> dict[str, Any]:
    response = await identity.post("/v1/auth/2fa/enroll", headers=who.headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def code_now(secret: str) -> str:
    return pyotp.TOTP(secret).now()


class TestEnroll:
    async def test_answers_a_secret_its_otpauth_uri_and_a_qr_code_image(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        body = await enroll(identity, agency)

        assert len(body["secret"]) == 32
        uri = urllib.parse.urlparse(body["otpauth_uri"])
        query = urllib.parse.parse_qs(uri.query)
        assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
        assert query["secret"] == [body["secret"]]
        assert query["issuer"] == ["AgencyOS"]
        assert urllib.parse.unquote(uri.path).endswith(agency.email)
        assert body["qr_code"].startswith("data:image/svg+xml")
        assert "<svg" in urllib.parse.unquote(body["qr_code"])

    async def test_the_pending_secret_is_stored_sealed_never_in_clear(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        identity_service: ServiceInProcess,
    ) -> None:
        body = await enroll(identity, agency)

        [row] = await rows(
            identity_service,
            "SELECT * FROM user_two_factor WHERE user_id = $1",
            agency.user_id,
        )
        assert row["pending_secret_sealed"].startswith("v1.")
        assert body["secret"] not in json.dumps({k: str(v) for k, v in row.items()})
        assert row["enabled_at"] is None

    async def test_is_not_on_until_confirmed(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        await enroll(identity, agency)

        status = await identity.get("/v1/auth/2fa", headers=agency.headers)
        assert status.json() == {"enabled": False, "enabled_at": None, "backup_codes_left": 0}
        login = await identity.post(
            "/v1/auth/login", json={"email": agency.email, "password": PASSWORD}
        )
        assert "access_token" in login.json()

    async def test_enrolling_again_replaces_the_pending_secret(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        first = await enroll(identity, agency)
        second = await enroll(identity, agency)
        assert first["secret"] != second["secret"]

        stale = await identity.post(
            "/v1/auth/2fa/confirm", json={"code": code_now(first["secret"])}, headers=agency.headers
        )
        assert_problem(stale, 422, "invalid-input")
        current = await identity.post(
            "/v1/auth/2fa/confirm",
            json={"code": code_now(second["secret"])},
            headers=agency.headers,
        )
        assert current.status_code == 200, current.text

    async def test_with_two_factor_already_on_it_is_409(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any
    ) -> None:
        enrolled = await two_factor(agency)

        response = await identity.post("/v1/auth/2fa/enroll", headers=enrolled.headers)

        assert_problem(response, 409, "conflict")


class TestConfirm:
    async def test_a_right_code_turns_it_on_and_answers_ten_backup_codes_once(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        secret = (await enroll(identity, agency))["secret"]

        response = await identity.post(
            "/v1/auth/2fa/confirm", json={"code": code_now(secret)}, headers=agency.headers
        )

        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        codes = response.json()["backup_codes"]
        assert len(codes) == len(set(codes)) == 10
        status = await identity.get("/v1/auth/2fa", headers=_bearer(response.json()))
        assert status.json()["enabled"] is True
        assert status.json()["backup_codes_left"] == 10

    async def test_the_backup_codes_are_stored_hashed(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        two_factor: Any,
        identity_service: ServiceInProcess,
    ) -> None:
        enrolled = await two_factor(agency)

        stored = await rows(
            identity_service,
            "SELECT code_hash FROM two_factor_backup_codes WHERE user_id = $1",
            agency.user_id,
        )
        hashes = {r["code_hash"] for r in stored}
        assert len(hashes) == 10
        for code in enrolled.backup_codes:
            assert code not in hashes
            assert code.replace("-", "") not in hashes

    async def test_answers_a_new_session_signed_in_with_both_factors_and_ends_the_old_one(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any
    ) -> None:
        enrolled = await two_factor(agency)

        _, claims = unverified_jwt(enrolled.access_token)
        assert claims["amr"] == ["pwd", "otp"]
        assert "restricted" not in claims
        assert (await identity.get("/v1/me", headers=enrolled.headers)).status_code == 200
        old = await identity.get("/v1/me", headers=agency.headers)
        assert_problem(old, 401, "unauthenticated")
        refreshed = await identity.post(
            "/v1/auth/refresh", json={"refresh_token": agency.refresh_token}
        )
        assert_problem(refreshed, 401, "unauthenticated")

    async def test_a_wrong_code_is_422_and_leaves_it_off(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        secret = (await enroll(identity, agency))["secret"]
        right = code_now(secret)
        wrong = "000000" if right != "000000" else "111111"

        response = await identity.post(
            "/v1/auth/2fa/confirm", json={"code": wrong}, headers=agency.headers
        )

        problem = assert_problem(response, 422, "invalid-input")
        assert problem["errors"][0]["field"] == "code"
        assert problem["errors"][0]["type"] == "wrong_code"
        status = await identity.get("/v1/auth/2fa", headers=agency.headers)
        assert status.json()["enabled"] is False

    async def test_without_an_enrollment_it_is_409(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await identity.post(
            "/v1/auth/2fa/confirm", json={"code": "123456"}, headers=agency.headers
        )

        assert_problem(response, 409, "conflict")

    async def test_is_recorded_in_the_audit_log_without_the_secret(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        two_factor: Any,
        outbox: Outbox,
    ) -> None:
        enrolled = await two_factor(agency)

        [record] = [
            e
            for e in await outbox("audit.recorded", agency.agency_id)
            if e["data"]["action"] != "auth.email_verified"  # the factory verified the owner
        ]
        data = record["data"]
        assert data["action"] == "auth.2fa_enabled"
        assert (data["entity_type"], data["entity_id"]) == ("user", str(agency.user_id))
        assert (data["actor_type"], data["actor_id"]) == ("user", str(agency.user_id))
        assert enrolled.app.secret not in json.dumps(record)
        assert not any(code in json.dumps(record) for code in enrolled.backup_codes)


class TestWhoMayEnroll:
    async def test_without_a_token_it_is_401(self, identity: httpx.AsyncClient) -> None:
        assert_problem(await identity.post("/v1/auth/2fa/enroll"), 401, "unauthenticated")


def _bearer(body: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {body['access_token']}"}
