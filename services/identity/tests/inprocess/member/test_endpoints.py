"""Members: listing, role changes, suspension, removal, ownership transfer and per-member
permission overrides, the rule that an agency always keeps an active owner (also under
concurrent changes), and the member events identity writes to its outbox."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import PASSWORD, AgencySession, refreshed
from agencyos.testing.http import assert_invalid_fields, assert_problem, unverified_jwt

AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]
Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]


def member_url(who: AgencySession | uuid.UUID) -> str:
    user_id = who.user_id if isinstance(who, AgencySession) else who
    return f"/v1/members/{user_id}"


async def set_role(
    identity: httpx.AsyncClient,
    actor: AgencySession,
    target: AgencySession,
    role: str,
    **extra: Any,
) -> httpx.Response:
    return await identity.patch(
        member_url(target), json={"role": role, **extra}, headers=actor.headers
    )


async def members(identity: httpx.AsyncClient, who: AgencySession, query: str = "") -> list[Any]:
    response = await identity.get(f"/v1/members{query}", headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def member_events(
    outbox: Outbox, agency: AgencySession, event_type: str, user_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The `event_type` events about `user_id` identity wrote to its outbox."""
    return [
        e
        for e in await outbox(event_type, agency.agency_id)
        if e["data"]["user_id"] == str(user_id)
    ]


async def login_status(identity: httpx.AsyncClient, who: AgencySession) -> int:
    response = await identity.post(
        "/v1/auth/login", json={"email": who.email, "password": PASSWORD, "agency_slug": who.slug}
    )
    return response.status_code


class TestListingMembers:
    async def test_a_member_sees_everyone_in_their_agency_and_nobody_else(
        self,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")

        items = await members(identity, member)

        assert {(m["user_id"], m["role"]) for m in items} == {
            (str(agency.user_id), "owner"),
            (str(member.user_id), "member"),
        }
        assert str(other_agency.user_id) not in {m["user_id"] for m in items}
        mine = next(m for m in items if m["user_id"] == str(member.user_id))
        assert mine["status"] == "active"
        assert "clients.read" in mine["permissions"]
        assert "invoices.read" not in mine["permissions"]

    async def test_filters_by_role_and_search(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        manager = await add_member(agency, "manager")
        await add_member(agency, "member")

        by_role = await members(identity, agency, "?role=manager")
        by_search = await members(identity, agency, f"?q={manager.email.split('@')[0].upper()}")

        assert [m["user_id"] for m in by_role] == [str(manager.user_id)]
        assert [m["user_id"] for m in by_search] == [str(manager.user_id)]

    async def test_another_agencys_member_is_404(
        self, identity: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        response = await identity.get(member_url(other_agency), headers=agency.headers)

        assert_problem(response, 404)

    async def test_a_client_member_cannot_list_the_team(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client_user = await add_member(agency, "client")

        assert_problem(await identity.get("/v1/members", headers=client_user.headers), 403)


class TestChangingRoles:
    async def test_the_owner_promotes_a_member_and_the_next_token_carries_it(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")

        response = await set_role(identity, agency, member, "manager")

        assert response.status_code == 200, response.text
        assert response.json()["role"] == "manager"
        # The token issued before the change names the old role (and is refused from now)...
        assert unverified_jwt(member.access_token)[1]["role"] == "member"
        # ...and the next one carries the new role and its permissions.
        claims = unverified_jwt((await refreshed(identity, member)).access_token)[1]
        assert claims["role"] == "manager"
        assert "invoices.read" in claims["perms"]
        (event,) = await member_events(
            outbox, agency, "identity.member.role_changed", member.user_id
        )
        assert (event["data"]["old_role"], event["data"]["new_role"]) == ("member", "manager")
        assert event["data"]["changed_by"] == str(agency.user_id)

    async def test_a_member_cannot_change_roles(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(agency, "member")

        assert_problem(await set_role(identity, member, member, "admin"), 403)
        assert_problem(await set_role(identity, member, agency, "member"), 403)

    async def test_an_admin_can_neither_make_owners_nor_touch_them(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        admin = await add_member(agency, "admin")
        member = await add_member(agency, "member")

        assert_problem(await set_role(identity, admin, member, "owner"), 403)
        assert_problem(await set_role(identity, admin, agency, "admin"), 403)
        assert (await set_role(identity, admin, member, "admin")).status_code == 200

    async def test_a_demoted_admin_cannot_manage_members_with_the_token_from_before(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        admin = await add_member(agency, "admin")
        member = await add_member(agency, "member")
        assert (await set_role(identity, agency, admin, "member")).status_code == 200

        # The admin token from before the change is refused outright (revoked)...
        assert_problem(await set_role(identity, admin, member, "admin"), 401)
        # ...and the one they get now is a member's.
        demoted = await refreshed(identity, admin)
        assert_problem(await set_role(identity, demoted, member, "admin"), 403)
        suspended = await identity.post(f"{member_url(member)}/suspend", headers=demoted.headers)
        assert_problem(suspended, 403)

    async def test_an_unknown_role_is_422(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(agency, "member")

        assert_invalid_fields(await set_role(identity, agency, member, "root"), "role")

    async def test_another_agencys_member_is_404(
        self, identity: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        assert_problem(await set_role(identity, agency, other_agency, "member"), 404)


class TestTheLastOwner:
    async def test_the_only_owner_can_be_neither_demoted_nor_removed_nor_leave(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        assert_problem(await set_role(identity, agency, agency, "admin"), 409)
        assert_problem(await identity.delete(member_url(agency), headers=agency.headers), 409)
        assert (await members(identity, agency))[0]["role"] == "owner"

    async def test_with_two_owners_one_may_step_down(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        second = await add_member(agency, "owner")

        response = await set_role(identity, agency, agency, "admin")

        assert response.status_code == 200, response.text
        assert_problem(await set_role(identity, second, second, "admin"), 409)

    async def test_two_owners_demoting_each_other_at_once_leave_one_owner(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        second = await add_member(agency, "owner")

        answers = await asyncio.gather(
            set_role(identity, agency, second, "admin"),
            set_role(identity, second, agency, "admin"),
        )

        # The loser is refused either way: as the last owner (409); when it runs second,
        # because it is no longer an owner itself (403); or, when the winner's change has
        # already revoked the loser's token by the time it is checked, as signed out (401).
        codes = sorted(a.status_code for a in answers)
        assert codes[0] == 200, [a.text for a in answers]
        assert codes[1] in (401, 403, 409), [a.text for a in answers]
        # Read as the winner: the loser's own token may be the one revoked.
        winner = agency if answers[0].status_code == 200 else second
        owners = await members(identity, winner, "?role=owner")
        assert [o["user_id"] for o in owners] == [str(winner.user_id)]

    async def test_an_owner_cannot_be_suspended_if_they_are_the_last(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        second = await add_member(agency, "owner")
        await set_role(identity, agency, second, "admin")
        admin = await refreshed(identity, second)  # the owner's token is revoked by the change

        response = await identity.post(f"{member_url(agency)}/suspend", headers=admin.headers)

        # An admin may not manage an owner at all; an owner may not suspend themselves.
        assert_problem(response, 403)
        assert_problem(
            await identity.post(f"{member_url(agency)}/suspend", headers=agency.headers), 409
        )


class TestSuspending:
    async def test_a_suspended_member_cannot_log_in_or_refresh_until_reactivated(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")

        suspended = await identity.post(f"{member_url(member)}/suspend", headers=agency.headers)

        assert suspended.status_code == 200, suspended.text
        assert suspended.json()["status"] == "suspended"
        assert await login_status(identity, member) == 401
        refresh = await identity.post(
            "/v1/auth/refresh", json={"refresh_token": member.refresh_token}
        )
        assert_problem(refresh, 401)
        (event,) = await member_events(outbox, agency, "identity.member.suspended", member.user_id)
        assert event["data"]["suspended_by"] == str(agency.user_id)

        reactivated = await identity.post(
            f"{member_url(member)}/reactivate", headers=agency.headers
        )

        assert reactivated.json()["status"] == "active"
        assert await login_status(identity, member) == 200

    async def test_a_manager_cannot_suspend_anyone(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        manager = await add_member(agency, "manager")
        member = await add_member(agency, "member")

        response = await identity.post(f"{member_url(member)}/suspend", headers=manager.headers)

        assert_problem(response, 403)


class TestRemoving:
    async def test_a_removed_member_is_gone_and_their_sessions_end(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")

        response = await identity.delete(member_url(member), headers=agency.headers)

        assert response.status_code == 204, response.text
        assert_problem(await identity.get(member_url(member), headers=agency.headers), 404)
        refresh = await identity.post(
            "/v1/auth/refresh", json={"refresh_token": member.refresh_token}
        )
        assert_problem(refresh, 401)
        (event,) = await member_events(outbox, agency, "identity.member.removed", member.user_id)
        assert event["data"]["role"] == "member"

    async def test_a_member_may_leave_but_not_remove_others(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(agency, "member")
        colleague = await add_member(agency, "member")

        assert_problem(await identity.delete(member_url(colleague), headers=member.headers), 403)
        left = await identity.delete(member_url(member), headers=member.headers)

        assert left.status_code == 204, left.text
        assert {m["user_id"] for m in await members(identity, agency)} == {
            str(agency.user_id),
            str(colleague.user_id),
        }

    async def test_another_agency_cannot_remove_our_members(
        self,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")

        response = await identity.delete(member_url(member), headers=other_agency.headers)

        assert_problem(response, 404)
        assert str(member.user_id) in {m["user_id"] for m in await members(identity, agency)}


class TestOwnershipTransfer:
    async def test_the_owner_hands_over_and_becomes_an_admin(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        admin = await add_member(agency, "admin")

        response = await identity.post(
            f"{member_url(admin)}/transfer-ownership", headers=agency.headers
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["new_owner"]["role"], body["previous_owner"]["role"]) == ("owner", "admin")
        roles = {m["user_id"]: m["role"] for m in await members(identity, admin)}
        assert roles == {str(admin.user_id): "owner", str(agency.user_id): "admin"}
        # The former owner's token said "owner": it stops; the next one says "admin".
        assert_problem(await identity.get("/v1/members", headers=agency.headers), 401)
        claims = unverified_jwt((await refreshed(identity, agency)).access_token)[1]
        assert claims["role"] == "admin"

    async def test_only_an_owner_transfers_ownership(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        admin = await add_member(agency, "admin")
        member = await add_member(agency, "member")

        response = await identity.post(
            f"{member_url(member)}/transfer-ownership", headers=admin.headers
        )

        assert_problem(response, 403)

    async def test_ownership_cannot_go_to_a_client_or_a_suspended_member(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client_user = await add_member(agency, "client")
        member = await add_member(agency, "member")
        await identity.post(f"{member_url(member)}/suspend", headers=agency.headers)

        for target in (client_user, member):
            response = await identity.post(
                f"{member_url(target)}/transfer-ownership", headers=agency.headers
            )
            assert_problem(response, 409)


class TestPermissionOverrides:
    async def test_an_admin_cannot_set_overrides(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        admin = await add_member(agency, "admin")
        member = await add_member(agency, "member")

        response = await identity.put(
            f"{member_url(member)}/permissions",
            json={"granted": ["roles.write"]},
            headers=admin.headers,
        )

        assert_problem(response, 403)

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"granted": ["everything"]}, "granted"),
            ({"revoked": ["nope.none"]}, "revoked"),
            ({"granted": ["deals.read"], "revoked": ["deals.read"]}, "revoked"),
        ],
    )
    async def test_bad_overrides_are_422(
        self,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        body: dict[str, Any],
        field: str,
    ) -> None:
        member = await add_member(agency, "member")

        response = await identity.put(
            f"{member_url(member)}/permissions", json=body, headers=agency.headers
        )

        assert_invalid_fields(response, field)

    async def test_owners_take_no_overrides(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await identity.put(
            f"{member_url(agency)}/permissions",
            json={"revoked": ["members.write"]},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "user_id")
