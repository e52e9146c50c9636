"""Turning two-factor off (`POST /v1/auth/2fa/disable`) and replacing the backup codes
(`POST /v1/auth/2fa/backup-codes`): each needs a current code or an unused backup code."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import PASSWORD, AgencySession
from agencyos.testing.http import assert_problem

Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]


def audit_actions(records: list[dict[str, Any]]) -> list[str]:
    return [r["data"]["action"] for r in records]


class TestDisable:
    @pytest.mark.parametrize("body", [{}, {"code": ""}], ids=["no-code", "empty-code"])
    async def test_without_a_code_it_is_422_and_stays_on(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        two_factor: Any,
        body: dict[str, Any],
    ) -> None:
        enrolled = await two_factor(agency)

        response = await identity.post("/v1/auth/2fa/disable", json=body, headers=enrolled.headers)

        assert_problem(response, 422, "invalid-input")
        status = await identity.get("/v1/auth/2fa", headers=enrolled.headers)
        assert status.json()["enabled"] is True

    async def test_with_a_wrong_code_it_is_422_and_stays_on(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any
    ) -> None:
        enrolled = await two_factor(agency)

        response = await identity.post(
            "/v1/auth/2fa/disable",
            json={"code": enrolled.app.wrong_code()},
            headers=enrolled.headers,
        )

        problem = assert_problem(response, 422, "invalid-input")
        assert problem["errors"][0]["type"] == "wrong_code"
        status = await identity.get("/v1/auth/2fa", headers=enrolled.headers)
        assert status.json()["enabled"] is True

    async def test_with_the_current_code_it_turns_off_and_the_password_signs_in_alone(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        two_factor: Any,
        outbox: Outbox,
    ) -> None:
        enrolled = await two_factor(agency)

        response = await identity.post(
            "/v1/auth/2fa/disable",
            json={"code": await enrolled.app.next_code()},
            headers=enrolled.headers,
        )

        assert response.status_code == 204, response.text
        login = await identity.post(
            "/v1/auth/login", json={"email": agency.email, "password": PASSWORD}
        )
        assert "access_token" in login.json()
        status = await identity.get("/v1/auth/2fa", headers=enrolled.headers)
        assert status.json() == {"enabled": False, "enabled_at": None, "backup_codes_left": 0}
        records = await outbox("audit.recorded", agency.agency_id)
        two_factor_actions = [a for a in audit_actions(records) if a.startswith("auth.2fa_")]
        assert two_factor_actions == ["auth.2fa_enabled", "auth.2fa_disabled"]

    async def test_a_backup_code_will_do_instead(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any
    ) -> None:
        enrolled = await two_factor(agency)

        response = await identity.post(
            "/v1/auth/2fa/disable",
            json={"backup_code": enrolled.backup_codes[3]},
            headers=enrolled.headers,
        )

        assert response.status_code == 204, response.text

    async def test_when_it_is_off_it_is_409(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await identity.post(
            "/v1/auth/2fa/disable", json={"code": "123456"}, headers=agency.headers
        )

        assert_problem(response, 409, "conflict")


class TestRegenerateBackupCodes:
    async def test_new_codes_work_and_the_old_ones_stop(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        two_factor: Any,
        first_step: Any,
        outbox: Outbox,
    ) -> None:
        enrolled = await two_factor(agency)

        response = await identity.post(
            "/v1/auth/2fa/backup-codes",
            json={"code": await enrolled.app.next_code()},
            headers=enrolled.headers,
        )

        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        fresh = response.json()["backup_codes"]
        assert len(fresh) == 10
        assert not set(fresh) & set(enrolled.backup_codes)
        old = await identity.post(
            "/v1/auth/2fa/verify",
            json={"mfa_token": await first_step(agency), "backup_code": enrolled.backup_codes[0]},
        )
        assert_problem(old, 401, "unauthenticated")
        new = await identity.post(
            "/v1/auth/2fa/verify",
            json={"mfa_token": await first_step(agency), "backup_code": fresh[0]},
        )
        assert new.status_code == 200, new.text
        records = await outbox("audit.recorded", agency.agency_id)
        assert "auth.2fa_backup_codes_regenerated" in audit_actions(records)
        assert not any(code in str(records) for code in fresh)

    async def test_without_a_right_code_nothing_changes(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any
    ) -> None:
        enrolled = await two_factor(agency)

        response = await identity.post(
            "/v1/auth/2fa/backup-codes",
            json={"code": enrolled.app.wrong_code()},
            headers=enrolled.headers,
        )

        assert_problem(response, 422, "invalid-input")
        status = await identity.get("/v1/auth/2fa", headers=enrolled.headers)
        assert status.json()["backup_codes_left"] == 10
