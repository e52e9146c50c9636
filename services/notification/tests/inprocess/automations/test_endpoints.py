"""`/v1/automations`: owners, admins and managers keep their agency's rules; what cannot work
is refused when saved (422 naming the field); members and clients get 403, another agency
404 and never a sight of the rules or their runs."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agencyos.testing.inprocess import Agency, Caller

from .support import Automations, client_created, create_rule, notify

RULE: dict[str, Any] = {
    "name": "New client",
    "trigger": "crm.client.created",
    "conditions": [{"field": "data.status", "op": "equals", "value": "lead"}],
    "actions": [notify({"role": "manager"})],
}


async def problem(
    client: httpx.AsyncClient, who: Caller, body: dict[str, Any], status: int = 422
) -> dict[str, Any]:
    response = await client.post("/v1/automations", json=body, headers=who.headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    found: dict[str, Any] = response.json()
    return found


def fields(found: dict[str, Any]) -> list[str]:
    return [e["field"] for e in found.get("errors", [])]


class TestCrud:
    async def test_a_rule_is_created_read_listed_changed_disabled_and_deleted(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        manager = tenant.caller("manager")
        rule = await create_rule(notification, manager, **RULE)
        assert rule["enabled"] is True
        assert rule["created_by"] == str(manager.user_id)
        assert rule["actions"] == [
            {"kind": "notify", "to": {"role": "manager"}, "title": RULE["actions"][0]["title"]}
        ]

        got = await notification.get(f"/v1/automations/{rule['id']}", headers=manager.headers)
        assert got.status_code == 200
        assert got.json() == rule

        changed = await notification.patch(
            f"/v1/automations/{rule['id']}",
            json={"name": "Renamed", "conditions": []},
            headers=manager.headers,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["name"] == "Renamed"
        assert changed.json()["conditions"] == []
        assert changed.json()["actions"] == rule["actions"]
        assert changed.json()["version"] == rule["version"] + 1

        disabled = await notification.post(
            f"/v1/automations/{rule['id']}/disable", headers=manager.headers
        )
        assert disabled.json()["enabled"] is False
        listed = await notification.get(
            "/v1/automations", params={"enabled": "false"}, headers=manager.headers
        )
        assert [r["id"] for r in listed.json()["items"]] == [rule["id"]]
        enabled = await notification.post(
            f"/v1/automations/{rule['id']}/enable", headers=manager.headers
        )
        assert enabled.json()["enabled"] is True

        deleted = await notification.delete(
            f"/v1/automations/{rule['id']}", headers=manager.headers
        )
        assert deleted.status_code == 204
        gone = await notification.get(f"/v1/automations/{rule['id']}", headers=manager.headers)
        assert gone.status_code == 404

    async def test_the_list_filters_by_trigger_and_enabled(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        owner = tenant.owner
        first = await create_rule(notification, owner, **RULE)
        second = await create_rule(
            notification,
            owner,
            name="Deal won",
            trigger="crm.deal.won",
            actions=[notify({"role": "owner"}, "Won {{ data.title }}")],
            enabled=False,
        )

        by_trigger = await notification.get(
            "/v1/automations", params={"trigger": "crm.deal.won"}, headers=owner.headers
        )
        everything = await notification.get("/v1/automations", headers=owner.headers)
        enabled = await notification.get(
            "/v1/automations", params={"enabled": "true"}, headers=owner.headers
        )

        assert [r["id"] for r in by_trigger.json()["items"]] == [second["id"]]
        assert everything.json()["total"] == 2
        assert [r["id"] for r in enabled.json()["items"]] == [first["id"]]


class TestValidation:
    async def test_a_trigger_partners_may_not_receive_is_refused(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        for trigger in ("identity.invitation.created", "notification.notice.created", "nope"):
            found = await problem(notification, tenant.owner, {**RULE, "trigger": trigger})
            assert fields(found) == ["trigger"]

    async def test_a_template_syntax_error_names_the_action_and_its_field(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        body = {
            **RULE,
            "actions": [
                notify({"role": "manager"}),
                notify({"role": "owner"}, "fine", body="{% if data.status %}never closed"),
            ],
        }
        found = await problem(notification, tenant.owner, body)
        assert fields(found) == ["actions[1].body"]
        assert "syntax" in found["detail"]

    @pytest.mark.parametrize(
        ("condition", "field"),
        [
            ({"field": "data.no_such_field", "op": "equals", "value": 1}, "conditions[0].field"),
            ({"field": "data.status", "op": "in", "value": "lead"}, "conditions[0].value"),
            ({"field": "data.status", "op": "gt", "value": [1]}, "conditions[0].value"),
            # crm.client.created does not say what changed
            ({"field": "data.status", "op": "changed_to", "value": "x"}, "conditions[0].op"),
        ],
        ids=["unknown-field", "in-without-list", "gt-with-list", "changed-to-without-evidence"],
    )
    async def test_a_condition_that_cannot_work_is_refused(
        self,
        notification: httpx.AsyncClient,
        tenant: Agency,
        condition: dict[str, Any],
        field: str,
    ) -> None:
        found = await problem(notification, tenant.owner, {**RULE, "conditions": [condition]})
        assert fields(found) == [field]

    async def test_an_unknown_operator_is_refused(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        bad = {"field": "data.status", "op": "matches", "value": "x"}
        await problem(notification, tenant.owner, {**RULE, "conditions": [bad]})

    @pytest.mark.parametrize(
        ("trigger", "action"),
        [
            ("work.deliverable.approved", notify({"subject_owner": True}, "x")),
            ("crm.client.created", notify({"project_members": True}, "x")),
            (
                "crm.client.created",
                {
                    "kind": "email",
                    "to": {"client_primary_contact": True},
                    "subject": "s",
                    "body": "b",
                },
            ),
            (
                "crm.client.created",
                {
                    "kind": "email",
                    "to": {"email_field": "data.nothing"},
                    "subject": "s",
                    "body": "b",
                },
            ),
        ],
        ids=["no-subject-owner", "no-project", "no-primary-contact", "no-email-field"],
    )
    async def test_a_target_the_trigger_does_not_name_is_refused(
        self, notification: httpx.AsyncClient, tenant: Agency, trigger: str, action: dict[str, Any]
    ) -> None:
        found = await problem(
            notification,
            tenant.owner,
            {**RULE, "trigger": trigger, "conditions": [], "actions": [action]},
        )
        assert fields(found)[0].startswith("actions[0].to")

    async def test_no_actions_or_more_than_ten_are_refused(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        await problem(notification, tenant.owner, {**RULE, "actions": []})
        await problem(
            notification, tenant.owner, {**RULE, "actions": [notify({"role": "owner"})] * 11}
        )

    async def test_a_webhook_endpoint_of_another_agency_is_refused(
        self,
        notification: httpx.AsyncClient,
        automations: Automations,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        theirs = await _endpoint(automations, other_tenant)
        action = {"kind": "webhook", "endpoint_id": str(theirs)}

        found = await problem(notification, tenant.owner, {**RULE, "actions": [action]})

        assert fields(found) == ["actions[0].endpoint_id"]
        mine = await _endpoint(automations, tenant)
        await create_rule(
            notification,
            tenant.owner,
            **{**RULE, "actions": [{**action, "endpoint_id": str(mine)}]},
        )

    async def test_a_patch_is_checked_like_a_creation(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        rule = await create_rule(notification, tenant.owner, **RULE)
        response = await notification.patch(
            f"/v1/automations/{rule['id']}",
            json={
                "trigger": "work.deliverable.approved",
                "actions": [notify({"subject_owner": True})],
            },
            headers=tenant.owner.headers,
        )
        assert response.status_code == 422, response.text
        # the rule's conditions name a field deliverable events lack
        response = await notification.patch(
            f"/v1/automations/{rule['id']}",
            json={"trigger": "work.deliverable.approved"},
            headers=tenant.owner.headers,
        )
        assert response.status_code == 422
        assert fields(response.json()) == ["conditions[0].field"]


async def _endpoint(automations: Automations, agency: Agency) -> uuid.UUID:
    """A webhook endpoint of `agency`, written as the webhooks API would."""
    from agencyos.notification.models import WebhookEndpoint

    endpoint_id = uuid.uuid4()
    async with automations.engine.db.transaction(agency.id) as session:
        session.add(
            WebhookEndpoint(
                tenant_id=agency.id,
                id=endpoint_id,
                url="http://127.0.0.2:9/hook",
                event_types=["*"],
                secret_ciphertext="x",
            )
        )
    return endpoint_id


class TestPatchNulls:
    async def test_null_clears_the_description_and_is_refused_elsewhere(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        rule = await create_rule(notification, tenant.owner, **RULE, description="About")
        base = f"/v1/automations/{rule['id']}"

        cleared = await notification.patch(
            base, json={"description": None}, headers=tenant.owner.headers
        )

        assert cleared.json()["description"] is None
        for field in ("name", "trigger", "conditions", "actions", "enabled"):
            response = await notification.patch(
                base, json={field: None}, headers=tenant.owner.headers
            )
            assert response.status_code == 422, (field, response.text)


class TestWhoMay:
    @pytest.mark.parametrize("role", ["owner", "admin", "manager"])
    async def test_staff_who_manage_automations_may(
        self, notification: httpx.AsyncClient, tenant: Agency, role: str
    ) -> None:
        who = tenant.caller(role)
        await create_rule(notification, who, **RULE)
        listed = await notification.get("/v1/automations", headers=who.headers)
        assert listed.status_code == 200
        recipes = await notification.get("/v1/automations/recipes", headers=who.headers)
        assert recipes.status_code == 200

    @pytest.mark.parametrize("role", ["member", "client"])
    async def test_members_and_clients_may_not(
        self, notification: httpx.AsyncClient, tenant: Agency, role: str
    ) -> None:
        rule = await create_rule(notification, tenant.owner, **RULE)
        who = tenant.caller(role)
        base = f"/v1/automations/{rule['id']}"
        calls = [
            ("POST", "/v1/automations", RULE),
            ("GET", "/v1/automations", None),
            ("GET", base, None),
            ("PATCH", base, {"name": "x"}),
            ("DELETE", base, None),
            ("POST", f"{base}/disable", None),
            ("GET", f"{base}/runs", None),
            ("GET", "/v1/automations/recipes", None),
            ("POST", "/v1/automations/recipes/deal_won", None),
        ]
        for method, path, body in calls:
            response = await notification.request(method, path, json=body, headers=who.headers)
            assert response.status_code == 403, (method, path, response.text)
        still = await notification.get(base, headers=tenant.owner.headers)
        assert still.json()["name"] == RULE["name"]


class TestTenancy:
    async def test_another_agency_neither_sees_nor_touches_the_rules_or_their_runs(
        self,
        notification: httpx.AsyncClient,
        automations: Automations,
        manager: Caller,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        rule = await create_rule(notification, tenant.owner, **RULE)
        await automations.handle(client_created(manager))
        stranger = other_tenant.owner
        base = f"/v1/automations/{rule['id']}"

        for method, path, body in [
            ("GET", base, None),
            ("PATCH", base, {"name": "mine now"}),
            ("DELETE", base, None),
            ("POST", f"{base}/enable", None),
            ("POST", f"{base}/disable", None),
            ("GET", f"{base}/runs", None),
        ]:
            response = await notification.request(method, path, json=body, headers=stranger.headers)
            assert response.status_code == 404, (method, path, response.text)
        listed = await notification.get("/v1/automations", headers=stranger.headers)
        assert listed.json()["total"] == 0
        runs = await notification.get(f"{base}/runs", headers=tenant.owner.headers)
        assert runs.json()["total"] == 1
        assert (await notification.get(base, headers=tenant.owner.headers)).json()["enabled"]
