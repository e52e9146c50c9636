"""notification records who sends the agency's events where in the audit log (an
`audit.recorded` event in its outbox, in the action's transaction): webhook endpoints created,
changed, enabled, disabled, deleted and their secret rotated (never a secret), and automation
rules deleted; a refused action records nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from agencyos.testing.audit_records import AuditRecord, assert_no_secret, audit_records
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess, ServiceInProcess

ENDPOINTS = "/v1/webhook-endpoints"
PUBLIC_URL = "https://hooks.example.com/agencyos"


async def service_of(in_process: InProcess) -> ServiceInProcess:
    return await in_process.service("notification")


async def only(service: ServiceInProcess, action: str, who: Caller) -> AuditRecord:
    records = await audit_records(service, action=action, tenant_id=who.agency_id)
    assert len(records) == 1, [r.action for r in records]
    record = records[0]
    assert record.source_service == "notification"
    assert (record.actor_type, record.actor_id) == ("user", str(who.user_id))
    return record


async def create_endpoint(notification: httpx.AsyncClient, who: Caller) -> dict[str, Any]:
    response = await notification.post(
        ENDPOINTS,
        json={"url": PUBLIC_URL, "event_types": ["billing.invoice.*"]},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


class TestWebhookEndpoints:
    async def test_the_endpoints_life_is_recorded_without_its_secrets(
        self, in_process: InProcess, notification: httpx.AsyncClient, agency: Caller
    ) -> None:
        created = await create_endpoint(notification, agency)
        path = f"{ENDPOINTS}/{created['id']}"
        changed = await notification.patch(
            path, json={"url": "https://hooks.example.org/in"}, headers=agency.headers
        )
        assert changed.status_code == 200, changed.text
        rotated = await notification.post(f"{path}/rotate-secret", headers=agency.headers)
        assert rotated.status_code == 200, rotated.text
        for action in ("disable", "enable"):
            acted = await notification.post(f"{path}/{action}", headers=agency.headers)
            assert acted.status_code == 200, acted.text
        deleted = await notification.delete(path, headers=agency.headers)
        assert deleted.status_code == 204, deleted.text

        service = await service_of(in_process)
        record = await only(service, "webhook_endpoint.created", agency)
        assert record.entity_id == created["id"]
        assert record.after == {
            "url": PUBLIC_URL,
            "event_types": ["billing.invoice.*"],
            "enabled": True,
        }
        record = await only(service, "webhook_endpoint.updated", agency)
        assert record.changes == {
            "url": {"before": PUBLIC_URL, "after": "https://hooks.example.org/in"}
        }
        record = await only(service, "webhook_endpoint.secret_rotated", agency)
        assert record.detail["secret_changed"] is True
        record = await only(service, "webhook_endpoint.disabled", agency)
        assert record.changes == {"enabled": {"before": True, "after": False}}
        record = await only(service, "webhook_endpoint.enabled", agency)
        assert record.changes == {"enabled": {"before": False, "after": True}}
        record = await only(service, "webhook_endpoint.deleted", agency)
        assert record.before["url"] == "https://hooks.example.org/in"
        everything = await audit_records(service)
        assert_no_secret(everything, created["secret"], rotated.json()["secret"])

    async def test_a_member_may_not_register_one_and_nothing_is_recorded(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")

        response = await notification.post(
            ENDPOINTS, json={"url": PUBLIC_URL, "event_types": ["*"]}, headers=member.headers
        )

        assert_problem(response, 403, "permission-denied")
        assert await audit_records(await service_of(in_process)) == []

    async def test_another_agencys_endpoint_is_404_and_nothing_is_recorded(
        self,
        in_process: InProcess,
        notification: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        created = await create_endpoint(notification, agency)

        response = await notification.delete(
            f"{ENDPOINTS}/{created['id']}", headers=other_agency.headers
        )

        assert_problem(response, 404)
        service = await service_of(in_process)
        assert await audit_records(service, action="webhook_endpoint.deleted") == []


class TestAutomationRules:
    async def test_deleting_a_rule_is_recorded_with_what_it_was(
        self, in_process: InProcess, notification: httpx.AsyncClient, agency: Caller
    ) -> None:
        created = await notification.post(
            "/v1/automations",
            json={
                "name": "New client",
                "trigger": "crm.client.created",
                "actions": [{"kind": "notify", "to": {"role": "manager"}, "title": "New"}],
            },
            headers=agency.headers,
        )
        assert created.status_code == 201, created.text
        rule = created.json()

        response = await notification.delete(
            f"/v1/automations/{rule['id']}", headers=agency.headers
        )

        assert response.status_code == 204, response.text
        record = await only(await service_of(in_process), "automation_rule.deleted", agency)
        assert (record.entity_type, record.entity_id) == ("automation_rule", rule["id"])
        assert record.before == {
            "name": "New client",
            "trigger": "crm.client.created",
            "enabled": True,
        }
        assert record.detail["actions"] == 1

    async def test_deleting_an_unknown_rule_records_nothing(
        self, in_process: InProcess, notification: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await notification.delete(
            f"/v1/automations/{uuid.uuid4()}", headers=agency.headers
        )

        assert_problem(response, 404)
        assert await audit_records(await service_of(in_process)) == []
