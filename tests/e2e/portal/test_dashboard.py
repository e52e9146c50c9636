"""The client's dashboard through the gateway against the real services: X's user sees X's
active project with its next milestone, the deliverable awaiting its decision, its sent
invoice and what it owes, and its recent activity as the portal heard it from work's and
billing's events (never the internal task or comment, never Y's); the page costs three gRPC
calls."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import AgencySession
from agencyos.testing.inbox import TOLD_WITHIN_SECONDS, join
from agencyos.testing.platform import Platform

from .portal_support import client_of, grpc_calls, ok, sent_invoice

pytestmark = pytest.mark.e2e

# The gRPC methods the dashboard calls: (service, method).
DASHBOARD_CALLS = [
    ("work", "ListClientProjects"),
    ("work", "ListClientDeliverables"),
    ("billing", "ListClientInvoices"),
]


async def dashboard_once_told(
    gateway: httpx.AsyncClient, who: AgencySession, kinds: set[str]
) -> dict[str, Any]:
    """`who`'s dashboard once its activity tells of every kind in `kinds`."""
    deadline = asyncio.get_running_loop().time() + TOLD_WITHIN_SECONDS
    while True:
        body: dict[str, Any] = await ok(
            await gateway.get("/v1/portal/dashboard", headers=who.headers)
        )
        if kinds <= {a["kind"] for a in body["activity"]}:
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"activity never told {kinds}: {body['activity']}")
        await asyncio.sleep(0.5)


class TestDashboard:
    async def test_a_client_user_sees_its_own_dashboard_in_three_calls(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        manager = await join(gateway, agency, "manager", name="Mona Manager")
        x = await client_of(gateway, agency, manager, "Xeno")
        y = await client_of(gateway, agency, manager, "Yara")
        # An internal comment and a client-visible one on X's visible task.
        for text, visibility in (("internal: they pay late", "internal"), ("Ready", "client")):
            await ok(
                await gateway.post(
                    f"/v1/tasks/{x.visible_task_id}/comments",
                    json={"body": text, "visibility": visibility},
                    headers=manager.headers,
                ),
                201,
            )
        invoice = await sent_invoice(gateway, agency, x.client_id, 120_000)
        await sent_invoice(gateway, agency, y.client_id, 777_00)

        body = await dashboard_once_told(
            gateway,
            x.user,
            {"task_created", "comment_added", "deliverable_submitted", "invoice_sent"},
        )

        [project] = body["projects"]
        assert project["id"] == x.project_id
        assert project["next_milestone"]["name"] == "Xeno launch"
        assert project["next_milestone"]["due_date"] == "2031-06-30"
        assert [d["id"] for d in body["awaiting_decision"]] == [x.deliverable_id]
        assert [i["id"] for i in body["invoices"]["items"]] == [invoice["id"]]
        assert body["invoices"]["total_due"] == [
            {"currency": invoice["currency"], "amount_due_cents": 120_000, "invoice_count": 1}
        ]
        titles = {(a["kind"], a["title"]) for a in body["activity"]}
        assert ("task_created", "Xeno homepage") in titles
        assert ("comment_added", "Xeno homepage") in titles
        assert ("invoice_sent", invoice["number"]) in titles
        shown = str(body)
        for hidden in ("margin review", "pay late", "Yara", y.project_id, "500000", "77700"):
            assert hidden not in shown

        # One page, three gRPC calls: one of each.
        before = [await grpc_calls(platform, s, m) for s, m in DASHBOARD_CALLS]
        await ok(await gateway.get("/v1/portal/dashboard", headers=x.user.headers))
        after = [await grpc_calls(platform, s, m) for s, m in DASHBOARD_CALLS]
        assert [b - a for a, b in zip(before, after, strict=True)] == [1.0, 1.0, 1.0]

        # Y's user sees Y's; a manager is refused.
        theirs = await dashboard_once_told(gateway, y.user, {"invoice_sent"})
        assert [p["id"] for p in theirs["projects"]] == [y.project_id]
        assert x.project_id not in str(theirs)
        refused = await gateway.get("/v1/portal/dashboard", headers=manager.headers)
        assert refused.status_code == 403, refused.text
