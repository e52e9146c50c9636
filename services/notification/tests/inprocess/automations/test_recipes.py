"""Recipes: ready-made rules switched on once per agency, which then run like any rule."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from agencyos.common.db import utcnow
from agencyos.common.events import BillTo, DealWon, DeliverableApproved, InvoiceOverdue
from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.notices import join, notices_of, project_created

from .support import Automations, event_of, task_completed

KIND = "automation.notified"


async def switch_on(client: httpx.AsyncClient, who: Caller, key: str) -> dict[str, Any]:
    response = await client.post(f"/v1/automations/recipes/{key}", headers=who.headers)
    assert response.status_code == 201, response.text
    rule: dict[str, Any] = response.json()
    return rule


class TestSwitchingOn:
    async def test_the_recipes_are_listed_and_each_is_switched_on_once(
        self, notification: httpx.AsyncClient, tenant: Agency, other_tenant: Agency
    ) -> None:
        owner = tenant.owner
        listed = await notification.get("/v1/automations/recipes", headers=owner.headers)
        assert {r["key"] for r in listed.json()} == {
            "invoice_overdue",
            "task_done",
            "deliverable_approved",
            "deal_won",
        }
        assert not any(r["enabled"] for r in listed.json())

        rule = await switch_on(notification, owner, "deal_won")
        again = await notification.post("/v1/automations/recipes/deal_won", headers=owner.headers)

        assert rule["recipe"] == "deal_won"
        assert rule["trigger"] == "crm.deal.won"
        assert rule["created_by"] == str(owner.user_id)
        assert again.status_code == 409
        listed = await notification.get("/v1/automations/recipes", headers=owner.headers)
        [won] = [r for r in listed.json() if r["key"] == "deal_won"]
        assert (won["enabled"], won["rule_id"]) == (True, rule["id"])
        # another agency has its own
        await switch_on(notification, other_tenant.owner, "deal_won")

    async def test_an_unknown_recipe_is_404(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        response = await notification.post(
            "/v1/automations/recipes/nope", headers=tenant.owner.headers
        )
        assert response.status_code == 404


class TestRecipesRun:
    async def test_invoice_overdue_emails_the_primary_contact_and_tells_the_owners(
        self,
        notification: httpx.AsyncClient,
        automations: Automations,
        in_process: InProcess,
        tenant: Agency,
        manager: Caller,
    ) -> None:
        rule = await switch_on(notification, manager, "invoice_overdue")
        event = event_of(
            InvoiceOverdue(
                invoice_id=uuid.uuid4(),
                client_id=uuid.uuid4(),
                number="INV-9",
                total_cents=50_000,
                amount_due_cents=25_000,
                currency="EUR",
                due_date=utcnow().date(),
                payment_url="https://pay.example/9",
                bill_to=BillTo(
                    client_name="Acme", contact_name="Grace", email="grace@acme.example"
                ),
            ),
            manager,
        )

        await automations.handle(event)

        [run] = await automations.runs(tenant.id, rule["id"])
        assert run["status"] == "succeeded", run
        service = await in_process.service("notification")
        [mail] = await service.rows("SELECT * FROM email_deliveries", tenant_id=tenant.id)
        assert mail["to_email"] == "grace@acme.example"
        assert mail["subject"] == "Invoice INV-9 is overdue"
        assert "Hello Grace" in mail["text"]
        assert "250.00 EUR" in mail["text"]
        assert "https://pay.example/9" in mail["text"]
        [notice] = await notices_of(in_process, tenant.owner, KIND)
        assert notice["title"] == "Invoice INV-9 is overdue"
        assert notice["link"] == f"/v1/invoices/{event.data['invoice_id']}"
        assert await notices_of(in_process, manager, KIND) == []

    async def test_task_done_tells_the_project_s_managers(
        self,
        notification: httpx.AsyncClient,
        automations: Automations,
        in_process: InProcess,
        tenant: Agency,
        manager: Caller,
    ) -> None:
        member = await join(in_process, tenant, "member")
        project = project_created(tenant, manager, member)
        assert await in_process.deliver("notification", project) == "ok"
        await switch_on(notification, manager, "task_done")

        await automations.handle(task_completed(member, project.data["project_id"], title="Logo"))

        assert [n["title"] for n in await notices_of(in_process, manager, KIND)] == [
            "Task \u201cLogo\u201d is done"
        ]
        assert await notices_of(in_process, member, KIND) == []

    async def test_deliverable_approved_tells_the_project_s_members(
        self,
        notification: httpx.AsyncClient,
        automations: Automations,
        in_process: InProcess,
        tenant: Agency,
        manager: Caller,
    ) -> None:
        member = await join(in_process, tenant, "member")
        outsider = await join(in_process, tenant, "member")
        project = project_created(tenant, manager, member)
        assert await in_process.deliver("notification", project) == "ok"
        await switch_on(notification, tenant.owner, "deliverable_approved")
        event = event_of(
            DeliverableApproved(
                deliverable_id=uuid.uuid4(),
                project_id=project.data["project_id"],
                client_id=None,
                title="Homepage",
                actor_id=uuid.uuid4(),
                comment="Lovely",
            ),
            manager,
        )

        await automations.handle(event)

        for who in (manager, member):
            [notice] = await notices_of(in_process, who, KIND)
            assert notice["title"] == "The client approved \u201cHomepage\u201d"
            assert notice["body"] == "Lovely"
        assert await notices_of(in_process, outsider, KIND) == []

    async def test_deal_won_tells_the_managers(
        self,
        notification: httpx.AsyncClient,
        automations: Automations,
        in_process: InProcess,
        tenant: Agency,
        manager: Caller,
    ) -> None:
        member = await join(in_process, tenant, "member")
        await switch_on(notification, tenant.owner, "deal_won")
        event = event_of(
            DealWon(
                deal_id=uuid.uuid4(),
                title="Rebrand",
                description=None,
                client_id=uuid.uuid4(),
                client_name="Acme",
                value_cents=1_000_000,
                currency="EUR",
                template_id=None,
                assigned_to=member.user_id,
                expected_close_date=None,
                won_at=utcnow(),
                won_by=member.user_id,
            ),
            member,
        )

        await automations.handle(event)

        [notice] = await notices_of(in_process, manager, KIND)
        assert notice["title"] == "Deal \u201cRebrand\u201d was won"
        assert notice["body"] == "Acme: 10,000.00 EUR"
        assert await notices_of(in_process, member, KIND) == []
