"""The client's dashboard: its active projects with progress and next milestone, what awaits
its decision across its projects, its open invoices with the total due per currency, and its
recent activity; in at most three gRPC calls; nothing of another client."""

from __future__ import annotations

from typing import Any

import httpx

from agencyos.testing.inprocess import InProcess

from ..activity.events import WorkTold, invoice_sent

DASHBOARD_FIELDS = {"projects", "awaiting_decision", "invoices", "activity"}


class TestDashboard:
    async def test_answers_active_projects_awaiting_deliverables_open_invoices_and_activity(
        self, portal: httpx.AsyncClient, in_process: InProcess, scene: Any
    ) -> None:
        work, billing = in_process.standins.work, in_process.standins.billing
        agency, x = scene.agency, scene.x
        work.projects[(agency.id, x.project_id)].progress = 60
        work.add_milestone(agency.id, x.project_id, name="Kick-off", status="completed")
        work.add_milestone(agency.id, x.project_id, name="Launch", due_date="2027-03-01")
        work.add_milestone(agency.id, x.project_id, name="Design", due_date="2027-01-15")
        second = work.add_project(
            agency.id, agency.owner.user_id, name="X app", client_id=x.client_id
        )
        later = work.add_deliverable(agency.id, second, title="App icon")
        work.add_deliverable(agency.id, second, title="Decided", status="approved")
        work.add_deliverable(agency.id, second, title="Draft", status="draft")
        done = work.add_project(
            agency.id, agency.owner.user_id, name="X old site", client_id=x.client_id
        )
        work.set_project_status(agency.id, done, "completed")
        billing.add_invoice(agency.id, x.client_id, number="INV-0001", currency="EUR")
        billing.add_invoice(
            agency.id, x.client_id, number="INV-0002", currency="EUR", amount_paid_cents=4_000
        )
        billing.add_invoice(agency.id, x.client_id, number="INV-0003", currency="USD")
        billing.add_invoice(agency.id, x.client_id, number="INV-0004", amount_paid_cents=10_000)
        billing.add_invoice(agency.id, x.client_id, number="INV-0005", status="draft")
        told = WorkTold(agency.id, x.client_id, name="X website", project_id=x.project_id)
        for event in (told.project_created(), told.task_created("X homepage")):
            assert await in_process.deliver("portal", event) == "ok"
        work.calls.clear()

        response = await portal.get("/v1/portal/dashboard", headers=x.user.headers)

        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == DASHBOARD_FIELDS
        projects = {p["name"]: p for p in body["projects"]}
        assert set(projects) == {"X website", "X app"}
        website = projects["X website"]
        assert website["progress"] == 60
        assert (website["next_milestone"]["name"], website["next_milestone"]["due_date"]) == (
            "Design",
            "2027-01-15",
        )
        assert projects["X app"]["next_milestone"] is None
        assert [(d["id"], d["project_name"]) for d in body["awaiting_decision"]] == [
            (str(x.deliverable_id), "X website"),
            (str(later), "X app"),
        ]
        invoices = body["invoices"]
        assert sorted(i["number"] for i in invoices["items"]) == [
            "INV-0001",
            "INV-0002",
            "INV-0003",
        ]
        assert invoices["total_due"] == [
            {"currency": "EUR", "amount_due_cents": 16_000, "invoice_count": 2},
            {"currency": "USD", "amount_due_cents": 10_000, "invoice_count": 1},
        ]
        assert [(a["kind"], a["title"]) for a in body["activity"]] == [
            ("task_created", "X homepage")
        ]
        # Two calls to work (and one to billing): the page stays within three.
        assert sorted(work.calls) == ["ListClientDeliverables", "ListClientProjects"]
        for internal in ("hourly_rate", "budget", "member"):
            assert internal not in response.text

    async def test_a_new_client_gets_an_empty_dashboard(
        self, portal: httpx.AsyncClient, scene: Any
    ) -> None:
        newcomer = scene.agency.caller("client")

        response = await portal.get("/v1/portal/dashboard", headers=newcomer.headers)

        assert response.status_code == 200, response.text
        assert response.json() == {
            "projects": [],
            "awaiting_decision": [],
            "invoices": {"items": [], "total_due": []},
            "activity": [],
        }

    async def test_nothing_of_another_client_or_agency_appears(
        self, portal: httpx.AsyncClient, in_process: InProcess, scene: Any
    ) -> None:
        billing = in_process.standins.billing
        y, elsewhere = scene.y, scene.elsewhere
        theirs = [
            billing.add_invoice(scene.agency.id, y.client_id, number="INV-Y"),
            billing.add_invoice(elsewhere.user.agency_id, elsewhere.client_id, number="INV-Z"),
        ]
        for event in (
            invoice_sent(scene.agency.id, y.client_id, "INV-Y", 10_000),
            invoice_sent(elsewhere.user.agency_id, elsewhere.client_id, "INV-Z", 10_000),
        ):
            assert await in_process.deliver("portal", event) == "ok"

        response = await portal.get("/v1/portal/dashboard", headers=scene.x.user.headers)

        assert response.status_code == 200, response.text
        body = response.json()
        assert [p["id"] for p in body["projects"]] == [str(scene.x.project_id)]
        assert [d["id"] for d in body["awaiting_decision"]] == [str(scene.x.deliverable_id)]
        assert body["invoices"] == {"items": [], "total_due": []}
        assert body["activity"] == []
        for other in (y, elsewhere):
            for their_id in (other.project_id, other.deliverable_id, other.client_id):
                assert str(their_id) not in response.text
        for invoice_id in theirs:
            assert str(invoice_id) not in response.text
