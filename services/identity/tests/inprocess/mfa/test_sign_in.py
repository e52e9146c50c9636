"""Signing in with two-factor on: the password answers an opaque `mfa_token`, and
`POST /v1/auth/2fa/verify` with a code (or a backup code) answers the tokens. Attacker-style:
a replayed code, guessing codes (the token dies after 5, the account locks across tokens), a
stolen mfa_token used as an access token, another person's token or code, an expired token,
another client, a backup code used twice."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import PASSWORD, AgencySession, signup_agency
from agencyos.testing.http import assert_problem, unverified_jwt, without_trace
from agencyos.testing.inprocess import ServiceInProcess
from agencyos.testing.sql import fetch_rows

Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]
AddMembership = Callable[[AgencySession, uuid.UUID, str], Awaitable[None]]
AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]
MAX_ATTEMPTS = 5


async def verify(identity: httpx.AsyncClient, mfa_token: str, **body: Any) -> httpx.Response:
    return await identity.post("/v1/auth/2fa/verify", json={"mfa_token": mfa_token, **body})


def assert_wrong_code(response: httpx.Response) -> None:
    problem = assert_problem(response, 401, "unauthenticated")
    assert problem["reason"] == "wrong_code"
    assert "access_token" not in response.text


def assert_token_refused(response: httpx.Response) -> None:
    problem = assert_problem(response, 401, "unauthenticated")
    assert problem["reason"] == "mfa_token_invalid"
    assert "access_token" not in response.text


class TestFirstStep:
    async def test_the_password_answers_an_mfa_token_and_no_tokens(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any
    ) -> None:
        await two_factor(agency)

        response = await identity.post(
            "/v1/auth/login", json={"email": agency.email, "password": PASSWORD}
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["mfa_required"] is True
        assert body["expires_in"] == 300
        assert set(body) == {"mfa_required", "mfa_token", "expires_in"}
        assert body["mfa_token"].count(".") == 0  # opaque: never a JWT

    async def test_a_wrong_password_is_the_usual_401(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any
    ) -> None:
        await two_factor(agency)

        response = await identity.post(
            "/v1/auth/login", json={"email": agency.email, "password": "not the password"}
        )

        assert_problem(response, 401, "unauthenticated")
        assert "mfa_token" not in response.text

    async def test_the_mfa_token_is_stored_only_as_a_hash(
        self,
        agency: AgencySession,
        two_factor: Any,
        first_step: Any,
        identity_service: ServiceInProcess,
    ) -> None:
        await two_factor(agency)
        token = await first_step(agency)

        stored = await fetch_rows(
            identity_service.infra,
            identity_service.database,
            "SELECT token_hash FROM mfa_challenges WHERE user_id = $1",
            agency.user_id,
            owner=True,
        )
        assert len(stored) == 1
        assert token not in stored[0]["token_hash"]


class TestSecondStep:
    async def test_a_right_code_answers_tokens_signed_in_with_both_factors(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any, first_step: Any
    ) -> None:
        enrolled = await two_factor(agency)
        token = await first_step(agency)

        response = await verify(identity, token, code=await enrolled.app.next_code())

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["agency"]["id"] == str(agency.agency_id)
        assert body["user"]["id"] == str(agency.user_id)
        _, claims = unverified_jwt(body["access_token"])
        assert claims["amr"] == ["pwd", "otp"]
        assert (claims["sub"], claims["tid"]) == (str(agency.user_id), str(agency.agency_id))
        bearer = {"Authorization": f"Bearer {body['access_token']}"}
        assert (await identity.get("/v1/me", headers=bearer)).status_code == 200

    async def test_the_sign_in_is_recorded_once_both_factors_are_in(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        two_factor: Any,
        first_step: Any,
        outbox: Outbox,
    ) -> None:
        enrolled = await two_factor(agency)
        token = await first_step(agency)

        def sign_ins(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [r["data"] for r in records if r["data"]["action"] == "auth.login_succeeded"]

        assert sign_ins(await outbox("audit.recorded", agency.agency_id)) == []
        response = await verify(identity, token, code=await enrolled.app.next_code())
        assert response.status_code == 200, response.text

        [recorded] = sign_ins(await outbox("audit.recorded", agency.agency_id))
        assert recorded["detail"]["method"] == "password+totp"
        assert recorded["actor_id"] == str(agency.user_id)

    async def test_a_refresh_keeps_how_the_session_signed_in(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any, first_step: Any
    ) -> None:
        enrolled = await two_factor(agency)
        token = await first_step(agency)
        body = (await verify(identity, token, code=await enrolled.app.next_code())).json()

        refreshed = await identity.post(
            "/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}
        )

        assert refreshed.status_code == 200, refreshed.text
        assert unverified_jwt(refreshed.json()["access_token"])[1]["amr"] == ["pwd", "otp"]

    async def test_the_agency_chosen_at_sign_in_is_the_one_the_tokens_are_for(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        two_factor: Any,
        first_step: Any,
        add_membership: AddMembership,
    ) -> None:
        await add_membership(other_agency, agency.user_id, "manager")
        enrolled = await two_factor(agency)
        token = await first_step(agency, agency_slug=other_agency.slug)

        response = await verify(identity, token, code=await enrolled.app.next_code())

        assert response.status_code == 200, response.text
        _, claims = unverified_jwt(response.json()["access_token"])
        assert (claims["tid"], claims["role"]) == (str(other_agency.agency_id), "manager")

    async def test_the_mfa_token_works_once(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any, first_step: Any
    ) -> None:
        enrolled = await two_factor(agency)
        token = await first_step(agency)
        first = await verify(identity, token, code=await enrolled.app.next_code())
        assert first.status_code == 200, first.text

        again = await verify(identity, token, code=await enrolled.app.next_code())

        assert_token_refused(again)

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"code": "123456", "backup_code": "abcde-fghjk"},
            {"code": "12345"},
            {"code": "abcdef"},
        ],
        ids=["neither", "both", "five-digits", "letters"],
    )
    async def test_a_malformed_body_is_422_naming_the_problem(
        self, identity: httpx.AsyncClient, body: dict[str, Any]
    ) -> None:
        response = await verify(identity, "mfa_x", **body)

        assert_problem(response, 422, "invalid-input")


class TestReplay:
    async def test_the_code_that_confirmed_enrollment_cannot_sign_in(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any, first_step: Any
    ) -> None:
        enrolled = await two_factor(agency)
        used = enrolled.app.code_at_step(enrolled.app.last_step)
        token = await first_step(agency)

        assert_wrong_code(await verify(identity, token, code=used))

    async def test_a_code_that_signed_in_once_is_refused_the_second_time(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any, first_step: Any
    ) -> None:
        enrolled = await two_factor(agency)
        code = await enrolled.app.next_code()
        first = await verify(identity, await first_step(agency), code=code)
        assert first.status_code == 200, first.text

        replayed = await verify(identity, await first_step(agency), code=code)

        assert_wrong_code(replayed)

    async def test_a_code_of_an_earlier_step_than_the_last_used_is_refused(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any, first_step: Any
    ) -> None:
        enrolled = await two_factor(agency)
        newest = enrolled.app.last_step + 2  # now + 1 at most: still in the window
        enrolled.app.last_step = newest - 1
        later = await enrolled.app.next_code()
        assert (await verify(identity, await first_step(agency), code=later)).status_code == 200

        earlier = enrolled.app.code_at_step(newest - 1)
        assert_wrong_code(await verify(identity, await first_step(agency), code=earlier))


class TestBackupCodes:
    async def test_a_backup_code_signs_in_once(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any, first_step: Any
    ) -> None:
        enrolled = await two_factor(agency)
        code = enrolled.backup_codes[0]

        first = await verify(identity, await first_step(agency), backup_code=code)
        second = await verify(identity, await first_step(agency), backup_code=code)

        assert first.status_code == 200, first.text
        assert_wrong_code(second)

    async def test_a_backup_code_is_read_in_any_letter_case_without_its_dash(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any, first_step: Any
    ) -> None:
        enrolled = await two_factor(agency)
        typed = enrolled.backup_codes[1].replace("-", "").upper()

        response = await verify(identity, await first_step(agency), backup_code=typed)

        assert response.status_code == 200, response.text

    async def test_another_persons_backup_code_does_not_work(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        two_factor: Any,
        first_step: Any,
    ) -> None:
        await two_factor(agency)
        theirs = await two_factor(other_agency)

        response = await verify(
            identity, await first_step(agency), backup_code=theirs.backup_codes[0]
        )

        assert_wrong_code(response)


class TestGuessing:
    async def test_the_mfa_token_dies_after_five_wrong_codes_even_for_the_right_one(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any, first_step: Any
    ) -> None:
        enrolled = await two_factor(agency)
        token = await first_step(agency)
        for _ in range(MAX_ATTEMPTS):
            assert_wrong_code(await verify(identity, token, code=enrolled.app.wrong_code()))

        response = await verify(identity, token, code=await enrolled.app.next_code())

        assert_token_refused(response)

    async def test_wrong_codes_across_mfa_tokens_lock_the_account(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any, first_step: Any
    ) -> None:
        enrolled = await two_factor(agency)
        first, second = await first_step(agency), await first_step(agency)
        for token, times in ((first, 3), (second, 2)):
            for _ in range(times):
                assert_wrong_code(await verify(identity, token, code=enrolled.app.wrong_code()))
        fresh = await first_step(agency)

        response = await verify(identity, fresh, code=await enrolled.app.next_code())

        assert_problem(response, 429, "rate-limited")
        assert int(response.headers["retry-after"]) >= 1
        assert "access_token" not in response.text

    async def test_each_wrong_code_is_recorded_in_the_agencys_audit_log(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        two_factor: Any,
        first_step: Any,
        outbox: Outbox,
    ) -> None:
        enrolled = await two_factor(agency)
        token = await first_step(agency)
        wrong = enrolled.app.wrong_code()

        assert_wrong_code(await verify(identity, token, code=wrong))

        records = [
            r["data"]
            for r in await outbox("audit.recorded", agency.agency_id)
            if r["data"]["action"] == "auth.2fa_failed"
        ]
        assert len(records) == 1
        assert (records[0]["actor_type"], records[0]["actor_id"]) == ("user", str(agency.user_id))
        assert records[0]["detail"]["failed_attempts"] == 1
        assert wrong not in str(records[0])


class TestStolenAndForeignTokens:
    async def test_an_mfa_token_used_as_a_bearer_token_is_401(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any, first_step: Any
    ) -> None:
        await two_factor(agency)
        token = await first_step(agency)

        for method, path in (("GET", "/v1/me"), ("POST", "/v1/auth/2fa/enroll")):
            response = await identity.request(
                method, path, headers={"Authorization": f"Bearer {token}"}
            )
            assert_problem(response, 401, "unauthenticated")

    async def test_another_persons_mfa_token_with_my_code_is_refused(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        two_factor: Any,
        first_step: Any,
    ) -> None:
        mine = await two_factor(agency)
        await two_factor(other_agency)
        theirs = await first_step(other_agency)

        response = await verify(identity, theirs, code=await mine.app.next_code())

        assert_wrong_code(response)

    async def test_an_unknown_mfa_token_gets_the_same_answer_as_an_expired_one(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        two_factor: Any,
        first_step: Any,
        identity_service: ServiceInProcess,
    ) -> None:
        enrolled = await two_factor(agency)
        token = await first_step(agency)
        await fetch_rows(
            identity_service.infra,
            identity_service.database,
            "UPDATE mfa_challenges SET expires_at = now() - interval '1 second' "
            "WHERE user_id = $1 RETURNING id",
            agency.user_id,
            owner=True,
        )

        expired = await verify(identity, token, code=await enrolled.app.next_code())
        unknown = await verify(identity, "mfa_" + "x" * 43, code=await enrolled.app.next_code())

        assert_token_refused(expired)
        assert_token_refused(unknown)
        assert without_trace(expired.json()) | {"instance": ""} == without_trace(unknown.json()) | {
            "instance": ""
        }

    async def test_an_mfa_token_presented_by_another_client_is_refused_and_dies(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any, first_step: Any
    ) -> None:
        enrolled = await two_factor(agency)
        token = await first_step(agency)

        stolen = await identity.post(
            "/v1/auth/2fa/verify",
            json={"mfa_token": token, "code": await enrolled.app.next_code()},
            headers={"User-Agent": "attacker/1.0"},
        )
        original = await verify(identity, token, code=await enrolled.app.next_code())

        assert_token_refused(stolen)
        assert_token_refused(original)

    async def test_a_member_suspended_between_the_two_steps_gets_no_tokens(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        add_member: AddMember,
        two_factor: Any,
        first_step: Any,
    ) -> None:
        member = await add_member(agency, "member")
        enrolled = await two_factor(member)
        token = await first_step(member)
        suspended = await identity.post(
            f"/v1/members/{member.user_id}/suspend", headers=agency.headers
        )
        assert suspended.status_code == 200, suspended.text

        response = await verify(identity, token, code=await enrolled.app.next_code())

        assert_token_refused(response)

    async def test_an_account_without_two_factor_signs_in_with_its_password_alone(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        response = await identity.post(
            "/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
        )

        assert "access_token" in response.json()
        assert unverified_jwt(response.json()["access_token"])[1]["amr"] == ["pwd"]
