"""`/v1/notification-preferences`: a person's own choices over the agency's defaults per role
over the platform's, changed all or nothing; the agency's defaults are the owner's to change."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller

PATH = "/v1/notification-preferences"


def by_kind(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["kind"]: item for item in body["preferences"]}


async def preferences_of(client: httpx.AsyncClient, who: Caller) -> dict[str, dict[str, Any]]:
    response = await client.get(PATH, headers=who.headers)
    assert response.status_code == 200, response.text
    return by_kind(response.json())


async def change(
    client: httpx.AsyncClient, who: Caller, *changes: dict[str, Any]
) -> httpx.Response:
    return await client.put(PATH, json={"preferences": list(changes)}, headers=who.headers)


async def change_defaults(
    client: httpx.AsyncClient, who: Caller, role: str, *changes: dict[str, Any]
) -> httpx.Response:
    return await client.put(
        f"{PATH}/defaults/{role}", json={"preferences": list(changes)}, headers=who.headers
    )


def setting(enabled: bool, source: str) -> dict[str, Any]:
    return {"enabled": enabled, "source": source}


class TestReading:
    async def test_a_member_sees_every_kind_their_role_can_receive_with_the_defaults(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")

        found = await preferences_of(notification, member)

        assert found["task.assigned"] == {
            "kind": "task.assigned",
            "label": "A task was assigned to you",
            "in_app": setting(True, "default"),
            "email": setting(True, "default"),
        }
        assert found["task.completed"]["email"] == setting(False, "default")
        assert found["digest.weekly"]["in_app"] is None
        assert "deliverable.submitted" not in found

    async def test_a_client_user_sees_only_what_a_client_can_receive(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        client_user = tenant.caller("client")

        found = await preferences_of(notification, client_user)

        assert set(found) == {"member.role_changed", "deliverable.submitted"}

    async def test_reading_needs_a_token(self, notification: httpx.AsyncClient) -> None:
        assert_problem(await notification.get(PATH), 401)

    async def test_a_caller_without_notifications_read_is_refused(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        limited = tenant.caller("member", permissions=["agency.read"])

        assert_problem(await notification.get(PATH, headers=limited.headers), 403)


class TestChangingOwnPreferences:
    async def test_a_change_is_answered_and_kept_as_the_persons_own(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")

        response = await change(notification, member, {"kind": "task.assigned", "email": False})

        assert response.status_code == 200, response.text
        assert by_kind(response.json())["task.assigned"]["email"] == setting(False, "you")
        found = await preferences_of(notification, member)
        assert found["task.assigned"]["email"] == setting(False, "you")
        assert found["task.assigned"]["in_app"] == setting(True, "default")

    async def test_null_forgets_a_choice_and_the_default_applies_again(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        await change(notification, member, {"kind": "task.assigned", "email": False})

        response = await change(notification, member, {"kind": "task.assigned", "email": None})

        assert by_kind(response.json())["task.assigned"]["email"] == setting(True, "default")

    async def test_a_change_of_one_person_leaves_a_colleague_alone(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member, colleague = tenant.caller("member"), tenant.caller("member")

        await change(notification, member, {"kind": "task.assigned", "email": False})

        found = await preferences_of(notification, colleague)
        assert found["task.assigned"]["email"] == setting(True, "default")

    async def test_a_change_in_one_agency_is_invisible_to_another(
        self, notification: httpx.AsyncClient, tenant: Agency, other_tenant: Agency
    ) -> None:
        await change(notification, tenant.owner, {"kind": "deal.won", "email": True})

        theirs = await preferences_of(notification, other_tenant.owner)

        assert theirs["deal.won"]["email"] == setting(False, "default")


class TestRefusedChanges:
    @pytest.mark.parametrize(
        ("entry", "field"),
        [
            ({"kind": "no.such.kind", "email": False}, "preferences[1].kind"),
            ({"kind": "digest.weekly", "in_app": True}, "preferences[1].in_app"),
            ({"kind": "deliverable.submitted", "email": False}, "preferences[1].kind"),
            ({"kind": "task.assigned", "email": True}, "preferences[1].kind"),
            ({"kind": "deal.won", "email": "yes"}, "preferences[1].email"),
            ({"kind": "deal.won", "email": 1}, "preferences[1].email"),
            ({"kind": 7, "email": True}, "preferences[1].kind"),
            ({"kind": "deal.won", "sms": True}, "preferences[1].sms"),
            ({"kind": "deal.won"}, "preferences[1]"),
        ],
        ids=[
            "unknown kind",
            "channel the kind lacks",
            "kind the role cannot receive",
            "duplicate",
            "string for a bool",
            "number for a bool",
            "number for a kind",
            "unknown channel",
            "no channel",
        ],
    )
    async def test_a_bad_entry_is_a_422_naming_it_and_nothing_is_saved(
        self,
        notification: httpx.AsyncClient,
        tenant: Agency,
        entry: dict[str, Any],
        field: str,
    ) -> None:
        member = tenant.caller("member")

        response = await change(
            notification, member, {"kind": "task.assigned", "email": False}, entry
        )

        assert_invalid_fields(response, field)
        found = await preferences_of(notification, member)
        assert found["task.assigned"]["email"] == setting(True, "default")

    async def test_a_body_without_preferences_is_a_422(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        response = await notification.put(PATH, json={"kinds": []}, headers=tenant.owner.headers)

        assert_invalid_fields(response, "preferences", "kinds")

    @pytest.mark.parametrize(
        ("content", "field"),
        [
            (b"[]", "body"),
            (b"null", "body"),
            (b'"preferences"', "body"),
            (b'{"preferences": null}', "preferences"),
            (b'{"preferences": {"kind": "deal.won"}}', "preferences"),
            (b'{"preferences": ["deal.won"]}', "preferences[0]"),
        ],
    )
    async def test_a_body_of_the_wrong_shape_is_a_422_naming_where(
        self, notification: httpx.AsyncClient, tenant: Agency, content: bytes, field: str
    ) -> None:
        response = await notification.put(
            PATH,
            content=content,
            headers={**tenant.owner.headers, "Content-Type": "application/json"},
        )

        assert_invalid_fields(response, field)

    async def test_a_body_that_is_not_json_is_refused_as_a_problem(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        response = await notification.put(
            PATH,
            content=b"{not json",
            headers={**tenant.owner.headers, "Content-Type": "application/json"},
        )

        assert response.status_code in (400, 422)
        assert response.headers["content-type"] == "application/problem+json"

    async def test_every_bad_entry_is_named_at_once(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        response = await change(
            notification,
            tenant.owner,
            {"kind": "nope", "email": False},
            {"kind": "digest.weekly", "in_app": False},
        )

        assert_invalid_fields(response, "preferences[0].kind", "preferences[1].in_app")


class TestAgencyDefaults:
    async def test_an_owners_change_of_a_roles_default_reaches_its_members(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member, manager = tenant.caller("member"), tenant.caller("manager")

        response = await change_defaults(
            notification, tenant.owner, "member", {"kind": "deal.won", "email": True}
        )

        assert response.status_code == 200, response.text
        assert response.json()["role"] == "member"
        assert by_kind(response.json())["deal.won"]["email"] == setting(True, "agency")
        assert (await preferences_of(notification, member))["deal.won"]["email"] == setting(
            True, "agency"
        )
        assert (await preferences_of(notification, manager))["deal.won"]["email"] == setting(
            False, "default"
        )

    async def test_a_persons_own_choice_still_wins_over_the_agency_default(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        await change(notification, member, {"kind": "task.assigned", "email": True})

        await change_defaults(
            notification, tenant.owner, "member", {"kind": "task.assigned", "email": False}
        )

        found = await preferences_of(notification, member)
        assert found["task.assigned"]["email"] == setting(True, "you")

    async def test_owners_and_admins_read_each_roles_defaults_with_their_source(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        await change_defaults(
            notification, tenant.owner, "client", {"kind": "deliverable.submitted", "email": False}
        )

        for reader in (tenant.owner, tenant.caller("admin")):
            response = await notification.get(f"{PATH}/defaults", headers=reader.headers)

            assert response.status_code == 200, response.text
            roles = {r["role"]: by_kind(r) for r in response.json()["roles"]}
            assert set(roles) == {"owner", "admin", "manager", "member", "client"}
            assert roles["client"]["deliverable.submitted"]["email"] == setting(False, "agency")
            assert roles["member"]["task.assigned"]["email"] == setting(True, "default")

    @pytest.mark.parametrize("role", ["manager", "member", "client"])
    async def test_other_roles_cannot_read_the_defaults(
        self, notification: httpx.AsyncClient, tenant: Agency, role: str
    ) -> None:
        reader = tenant.caller(role)

        response = await notification.get(f"{PATH}/defaults", headers=reader.headers)

        assert_problem(response, 403, "permission-denied")

    @pytest.mark.parametrize("role", ["admin", "manager", "member"])
    async def test_only_an_owner_changes_the_defaults(
        self, notification: httpx.AsyncClient, tenant: Agency, role: str
    ) -> None:
        caller = tenant.caller(role)

        response = await change_defaults(
            notification, caller, "member", {"kind": "deal.won", "email": True}
        )

        assert_problem(response, 403, "permission-denied")
        found = await preferences_of(notification, tenant.caller("member"))
        assert found["deal.won"]["email"] == setting(False, "default")

    async def test_an_unknown_role_is_404(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        response = await change_defaults(
            notification, tenant.owner, "wizard", {"kind": "deal.won", "email": True}
        )

        assert_problem(response, 404, "not-found")

    async def test_a_kind_the_role_cannot_receive_is_a_422_and_nothing_is_saved(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        response = await change_defaults(
            notification,
            tenant.owner,
            "client",
            {"kind": "deliverable.submitted", "email": False},
            {"kind": "invoice.paid", "email": True},
        )

        assert_invalid_fields(response, "preferences[1].kind")
        found = await preferences_of(notification, tenant.caller("client"))
        assert found["deliverable.submitted"]["email"] == setting(True, "default")

    async def test_an_agencys_defaults_do_not_reach_another_agency(
        self, notification: httpx.AsyncClient, tenant: Agency, other_tenant: Agency
    ) -> None:
        await change_defaults(
            notification, tenant.owner, "member", {"kind": "deal.won", "email": True}
        )

        theirs = await preferences_of(notification, other_tenant.caller("member"))

        assert theirs["deal.won"]["email"] == setting(False, "default")
