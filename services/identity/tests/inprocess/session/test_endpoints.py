"""Refresh-token rotation, reuse detection (also under concurrent refreshes), expiry and
tampering, logout, and the session list with ending one or all sessions."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import httpx

from agencyos.testing.factories import PASSWORD, AgencySession, signup_agency
from agencyos.testing.http import assert_problem, unverified_jwt, without_trace
from agencyos.testing.inprocess import ServiceInProcess
from agencyos.testing.sql import fetch_rows

AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]
AddMembership = Callable[[AgencySession, uuid.UUID, str], Awaitable[None]]

GENERIC_DETAIL = "the refresh token is not valid; log in again"


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sid(access_token: str) -> str:
    return str(unverified_jwt(access_token)[1]["sid"])


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post("/v1/auth/refresh", json={"refresh_token": refresh_token})


async def refreshed(client: httpx.AsyncClient, refresh_token: str) -> dict[str, Any]:
    response = await refresh(client, refresh_token)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_refused(response: httpx.Response) -> dict[str, Any]:
    body = assert_problem(response, 401, "unauthenticated")
    assert body["detail"] == GENERIC_DETAIL
    assert "access_token" not in response.text
    return body


async def login(
    client: httpx.AsyncClient, who: AgencySession, user_agent: str | None = None
) -> dict[str, Any]:
    headers = {"User-Agent": user_agent} if user_agent else {}
    response = await client.post(
        "/v1/auth/login",
        json={"email": who.email, "password": PASSWORD, "agency_slug": who.slug},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def sql(service: ServiceInProcess, tenant_id: uuid.UUID, query: str, *args: Any) -> list[Any]:
    """Run `query` as the owner role under `tenant_id` (how a test reaches past the API)."""
    return await fetch_rows(
        service.infra,
        service.database,
        query,
        *args,
        tenant_id=tenant_id,
        owner=True,
    )


async def list_sessions(client: httpx.AsyncClient, access_token: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/sessions", headers=bearer(access_token))
    assert response.status_code == 200, response.text
    page = response.json()
    assert set(page) == {"items", "total", "page", "per_page"}
    assert page["total"] == len(page["items"])
    items: list[dict[str, Any]] = page["items"]
    return items


class TestRefreshRotation:
    async def test_a_refresh_gives_a_new_pair_the_new_token_works_and_the_old_one_no_longer(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        first = await refreshed(identity, owner.refresh_token)
        second = await refreshed(identity, first["refresh_token"])
        replayed = await refresh(identity, owner.refresh_token)

        assert set(first) == {"access_token", "refresh_token", "token_type", "expires_in"}
        assert first["token_type"] == "bearer"
        assert first["refresh_token"] != owner.refresh_token
        assert second["refresh_token"] != first["refresh_token"]
        assert_refused(replayed)

    async def test_the_refresh_token_names_its_agency_and_is_stored_only_hashed(
        self, identity_service: ServiceInProcess, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        rows = await sql(
            identity_service,
            owner.agency_id,
            "SELECT count(*) AS raw, (SELECT count(*) FROM refresh_tokens WHERE token_hash = $2)"
            " AS hashed FROM refresh_tokens r WHERE strpos(r::text, $1) > 0",
            owner.refresh_token.split(".", 1)[1],
            sha256(owner.refresh_token),
        )

        assert owner.refresh_token.startswith(f"rt_{owner.agency_id.hex}.")
        assert (rows[0]["raw"], rows[0]["hashed"]) == (0, 1)


class TestReuseDetection:
    async def test_a_spent_refresh_token_presented_again_ends_the_whole_session(
        self, identity_service: ServiceInProcess, identity: httpx.AsyncClient
    ) -> None:
        # Unverified: verifying refreshes once, a row more in the family counted below.
        owner = await signup_agency(identity, verified=False)
        newest = await refreshed(identity, owner.refresh_token)

        replayed = await refresh(identity, owner.refresh_token)
        newest_after = await refresh(identity, newest["refresh_token"])

        assert_refused(replayed)
        assert_refused(newest_after)
        family = await sql(
            identity_service,
            owner.agency_id,
            "SELECT revoked_at FROM refresh_tokens WHERE family_id = $1",
            uuid.UUID(sid(owner.access_token)),
        )
        assert len(family) == 2
        assert all(row["revoked_at"] is not None for row in family)

    async def test_reuse_ends_only_that_session_not_the_users_others(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        other_device = await login(identity, owner)
        await refreshed(identity, owner.refresh_token)

        assert_refused(await refresh(identity, owner.refresh_token))

        assert (await refresh(identity, other_device["refresh_token"])).status_code == 200

    async def test_every_refusal_is_the_same_problem(
        self, identity_service: ServiceInProcess, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        spent = owner.refresh_token
        await refreshed(identity, spent)
        expired = await login(identity, owner)
        await sql(
            identity_service,
            owner.agency_id,
            "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' "
            "WHERE token_hash = $1",
            sha256(expired["refresh_token"]),
        )
        unknown = f"rt_{owner.agency_id.hex}.{'A' * 43}"

        answers = [
            await refresh(identity, token)
            for token in (spent, expired["refresh_token"], unknown, "not-a-token", "rt_x.y")
        ]

        bodies = [without_trace(assert_refused(r)) for r in answers]
        assert all(body == bodies[0] for body in bodies), bodies


class TestConcurrentRefresh:
    async def test_two_simultaneous_refreshes_with_one_token_let_exactly_one_through(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        answers = await asyncio.gather(
            refresh(identity, owner.refresh_token), refresh(identity, owner.refresh_token)
        )

        assert sorted(r.status_code for r in answers) == [200, 401], [r.text for r in answers]
        winner = next(r for r in answers if r.status_code == 200).json()
        # The loser was treated as reuse: the session is over, the winner's token too.
        assert_refused(await refresh(identity, winner["refresh_token"]))

    async def test_many_simultaneous_refreshes_with_one_token_let_exactly_one_through(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        answers = await asyncio.gather(*(refresh(identity, owner.refresh_token) for _ in range(8)))

        assert sorted(r.status_code for r in answers) == [200] + [401] * 7

    async def test_refreshes_queued_behind_a_lock_on_the_token_still_let_only_one_through(
        self, identity_service: ServiceInProcess, identity: httpx.AsyncClient
    ) -> None:
        # Hold the token's row so both requests are surely in flight together, then let go:
        # this is the race at its widest, not left to the scheduler.
        owner = await signup_agency(identity)
        holder = await identity_service.infra.raw(identity_service.database, owner=True)
        try:
            async with holder.transaction():
                await holder.execute(
                    "SELECT set_config('app.tenant_id', $1, true)", str(owner.agency_id)
                )
                await holder.execute(
                    "SELECT 1 FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
                    sha256(owner.refresh_token),
                )
                racing = [asyncio.create_task(refresh(identity, owner.refresh_token)) for _ in "ab"]
                for _ in range(200):
                    # Waiting on the holder, or on each other (a row's lock queue).
                    waiting = await holder.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND cardinality(pg_blocking_pids(pid)) > 0"
                    )
                    if waiting >= 2:
                        break
                    await asyncio.sleep(0.05)
                activity = await holder.fetch(
                    "SELECT pid, usename, state, wait_event_type, pg_blocking_pids(pid) b, "
                    "left(query, 80) q FROM pg_stat_activity WHERE datname = current_database()"
                )
                assert waiting == 2, [dict(r) for r in activity]
        finally:
            await holder.close()
        answers = await asyncio.gather(*racing)

        assert sorted(r.status_code for r in answers) == [200, 401], [r.text for r in answers]


class TestExpiryAndTampering:
    async def test_an_expired_refresh_token_is_refused(
        self, identity_service: ServiceInProcess, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        await sql(
            identity_service,
            owner.agency_id,
            "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' "
            "WHERE token_hash = $1",
            sha256(owner.refresh_token),
        )

        assert_refused(await refresh(identity, owner.refresh_token))

    async def test_a_refresh_token_with_another_agencys_id_put_in_is_refused(
        self, identity: httpx.AsyncClient
    ) -> None:
        victim = await signup_agency(identity)
        attacker = await signup_agency(identity)
        secret = attacker.refresh_token.split(".", 1)[1]

        tampered = await refresh(identity, f"rt_{victim.agency_id.hex}.{secret}")

        assert_refused(tampered)
        # The attacker's own token was not spent by the attempt, the victim's neither.
        assert (await refresh(identity, attacker.refresh_token)).status_code == 200
        assert (await refresh(identity, victim.refresh_token)).status_code == 200

    async def test_a_refresh_token_with_a_random_agency_id_is_refused(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        secret = owner.refresh_token.split(".", 1)[1]

        assert_refused(await refresh(identity, f"rt_{uuid.uuid4().hex}.{secret}"))


class TestMembershipChanges:
    async def test_a_suspended_members_refresh_is_refused(
        self, identity_service: ServiceInProcess, add_member: AddMember, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        member = await add_member(owner, "member")
        await sql(
            identity_service,
            owner.agency_id,
            "UPDATE memberships SET status = 'suspended' WHERE user_id = $1",
            member.user_id,
        )

        assert_refused(await refresh(identity, member.refresh_token))

    async def test_a_removed_members_refresh_is_refused(
        self, identity_service: ServiceInProcess, add_member: AddMember, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        member = await add_member(owner, "member")
        await sql(
            identity_service,
            owner.agency_id,
            "DELETE FROM memberships WHERE user_id = $1",
            member.user_id,
        )

        assert_refused(await refresh(identity, member.refresh_token))

    async def test_a_changed_role_shows_in_the_next_refreshed_access_token(
        self, identity_service: ServiceInProcess, add_member: AddMember, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        member = await add_member(owner, "member")
        await sql(
            identity_service,
            owner.agency_id,
            "UPDATE memberships SET role = 'manager' WHERE user_id = $1",
            member.user_id,
        )

        body = await refreshed(identity, member.refresh_token)

        assert unverified_jwt(body["access_token"])[1]["role"] == "manager"
        me = await identity.get("/v1/me", headers=bearer(body["access_token"]))
        assert me.json()["role"] == "manager"


class TestLogout:
    async def test_logout_ends_the_session_so_its_refresh_token_is_refused(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        response = await identity.post("/v1/auth/logout", headers=owner.headers)

        assert response.status_code == 204, response.text
        assert_refused(await refresh(identity, owner.refresh_token))

    async def test_logout_also_ends_the_session_of_a_refresh_token_in_the_body(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        other_device = await login(identity, owner)

        response = await identity.post(
            "/v1/auth/logout",
            headers=owner.headers,
            json={"refresh_token": other_device["refresh_token"]},
        )

        assert response.status_code == 204, response.text
        assert_refused(await refresh(identity, other_device["refresh_token"]))

    async def test_logout_cannot_end_another_users_session_named_in_the_body(
        self, add_member: AddMember, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        member = await add_member(owner, "member")

        response = await identity.post(
            "/v1/auth/logout", headers=member.headers, json={"refresh_token": owner.refresh_token}
        )

        assert response.status_code == 204, response.text
        assert (await refresh(identity, owner.refresh_token)).status_code == 200

    async def test_the_access_token_stops_working_at_once_after_logout(
        self, identity: httpx.AsyncClient
    ) -> None:
        # Logout records the session as revoked; every verifier checks that (identity too).
        # test_revocation.py has the same through the identity and at other services.
        owner = await signup_agency(identity)
        assert (await identity.post("/v1/auth/logout", headers=owner.headers)).status_code == 204

        assert_problem(await identity.get("/v1/me", headers=owner.headers), 401)


class TestSessionList:
    async def test_the_list_shows_the_callers_own_sessions_and_marks_the_current_one(
        self, add_member: AddMember, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        laptop = await login(identity, owner, user_agent="laptop-browser/1.0")
        member = await add_member(owner, "member")
        stranger = await signup_agency(identity)

        items = await list_sessions(identity, laptop["access_token"])

        assert {item["id"] for item in items} == {
            sid(owner.access_token),
            sid(laptop["access_token"]),
        }
        assert sid(member.access_token) not in {item["id"] for item in items}
        assert sid(stranger.access_token) not in {item["id"] for item in items}
        current = {item["id"]: item["current"] for item in items}
        assert current == {sid(laptop["access_token"]): True, sid(owner.access_token): False}
        mine = next(item for item in items if item["current"])
        assert set(mine) == {
            "id",
            "created_at",
            "last_used_at",
            "user_agent",
            "ip_address",
            "current",
        }
        assert mine["user_agent"] == "laptop-browser/1.0"
        assert mine["ip_address"]

    async def test_a_refresh_keeps_the_session_id_and_moves_last_used_at(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        [before] = await list_sessions(identity, owner.access_token)
        await asyncio.sleep(0.05)

        body = await refreshed(identity, owner.refresh_token)
        [after] = await list_sessions(identity, body["access_token"])

        assert after["id"] == before["id"] == sid(owner.access_token)
        assert after["created_at"] == before["created_at"]
        assert after["last_used_at"] > before["last_used_at"]
        assert after["current"] is True

    async def test_ended_sessions_are_not_listed(self, identity: httpx.AsyncClient) -> None:
        owner = await signup_agency(identity)
        other_device = await login(identity, owner)
        assert (await identity.post("/v1/auth/logout", headers=owner.headers)).status_code == 204

        items = await list_sessions(identity, other_device["access_token"])

        assert [item["id"] for item in items] == [sid(other_device["access_token"])]

    async def test_the_list_is_paginated(self, identity: httpx.AsyncClient) -> None:
        owner = await signup_agency(identity)
        for _ in range(2):
            await login(identity, owner)

        response = await identity.get(
            "/v1/sessions", headers=owner.headers, params={"per_page": 2, "page": 2}
        )

        assert response.status_code == 200, response.text
        page = response.json()
        assert (page["total"], page["page"], page["per_page"], len(page["items"])) == (3, 2, 2, 1)

    async def test_sessions_in_another_agency_of_the_same_user_are_not_listed(
        self, add_membership: AddMembership, identity: httpx.AsyncClient
    ) -> None:
        home = await signup_agency(identity)
        second = await signup_agency(identity)
        await add_membership(second, home.user_id, "member")
        there = await login(identity, replace(home, slug=second.slug))

        items = await list_sessions(identity, home.access_token)

        assert [item["id"] for item in items] == [sid(home.access_token)]
        assert sid(there["access_token"]) not in {item["id"] for item in items}


class TestRevokeOneSession:
    async def test_the_owner_of_a_session_can_end_it_from_another_one(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        laptop = await login(identity, owner)

        response = await identity.delete(
            f"/v1/sessions/{sid(laptop['access_token'])}", headers=owner.headers
        )

        assert response.status_code == 204, response.text
        assert_refused(await refresh(identity, laptop["refresh_token"]))
        assert (await refresh(identity, owner.refresh_token)).status_code == 200

    async def test_another_users_session_id_is_404_and_the_session_lives_on(
        self, add_member: AddMember, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        member = await add_member(owner, "member")

        response = await identity.delete(
            f"/v1/sessions/{sid(owner.access_token)}", headers=member.headers
        )

        assert_problem(response, 404, "not-found")
        assert (await refresh(identity, owner.refresh_token)).status_code == 200

    async def test_another_agencys_session_id_is_the_same_404_as_a_random_one(
        self, identity: httpx.AsyncClient
    ) -> None:
        victim = await signup_agency(identity)
        attacker = await signup_agency(identity)

        theirs = await identity.delete(
            f"/v1/sessions/{sid(victim.access_token)}", headers=attacker.headers
        )
        random = await identity.delete(f"/v1/sessions/{uuid.uuid4()}", headers=attacker.headers)

        first = without_trace(assert_problem(theirs, 404, "not-found"))
        second = without_trace(assert_problem(random, 404, "not-found"))
        assert {k: v for k, v in first.items() if k != "instance"} == {
            k: v for k, v in second.items() if k != "instance"
        }
        assert (await refresh(identity, victim.refresh_token)).status_code == 200

    async def test_an_already_ended_session_is_404(self, identity: httpx.AsyncClient) -> None:
        owner = await signup_agency(identity)
        laptop = await login(identity, owner)
        path = f"/v1/sessions/{sid(laptop['access_token'])}"
        assert (await identity.delete(path, headers=owner.headers)).status_code == 204

        assert_problem(await identity.delete(path, headers=owner.headers), 404, "not-found")


class TestRevokeAllSessions:
    async def test_revoke_all_ends_every_other_session_and_keeps_the_current_one(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        others = [await login(identity, owner) for _ in range(2)]

        response = await identity.post("/v1/sessions/revoke-all", headers=owner.headers)

        assert response.status_code == 204, response.text
        for other in others:
            assert_refused(await refresh(identity, other["refresh_token"]))
        assert (await refresh(identity, owner.refresh_token)).status_code == 200

    async def test_revoke_all_including_the_current_one_ends_them_all(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        other = await login(identity, owner)

        response = await identity.post(
            "/v1/sessions/revoke-all", headers=owner.headers, params={"include_current": "true"}
        )

        assert response.status_code == 204, response.text
        assert_refused(await refresh(identity, owner.refresh_token))
        assert_refused(await refresh(identity, other["refresh_token"]))

    async def test_revoke_all_leaves_other_users_and_the_users_other_agencies(
        self, add_member: AddMember, add_membership: AddMembership, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        member = await add_member(owner, "member")
        second = await signup_agency(identity)
        await add_membership(second, owner.user_id, "admin")
        there = await login(identity, replace(owner, slug=second.slug))
        here = await login(identity, owner)

        response = await identity.post(
            "/v1/sessions/revoke-all",
            headers=bearer(here["access_token"]),
            params={"include_current": "true"},
        )

        assert response.status_code == 204, response.text
        assert_refused(await refresh(identity, owner.refresh_token))
        assert (await refresh(identity, member.refresh_token)).status_code == 200
        assert (await refresh(identity, there["refresh_token"])).status_code == 200
