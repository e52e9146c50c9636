"""The client's recent activity, a read model the portal keeps from work's and billing's
events: only what the client may see, only its own, the newest entries kept; read back
through the dashboard as the client user reads it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from agencyos.common.consumer import ConsumerRunner, dlq_topic
from agencyos.common.events import CloudEvent
from agencyos.portal.activity import handlers
from agencyos.portal.consumers import SUBSCRIPTION
from agencyos.testing.infra import Infra, wait_for
from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.kafka import topic_writer

from .events import WorkTold, invoice_paid, invoice_sent, invoice_voided


async def deliver(in_process: InProcess, *events: CloudEvent) -> None:
    for told in events:
        assert await in_process.deliver("portal", told) == "ok"


async def activity(portal: httpx.AsyncClient, who: Caller) -> list[dict[str, Any]]:
    response = await portal.get("/v1/portal/dashboard", headers=who.headers)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["activity"]
    return entries


def client_user(in_process: InProcess, tenant: Agency) -> Caller:
    return tenant.caller("client", client_id=in_process.standins.crm.add_client(tenant.id))


class TestWhatIsRecorded:
    async def test_what_the_client_may_see_is_told_newest_first(
        self, portal: httpx.AsyncClient, in_process: InProcess, tenant: Agency
    ) -> None:
        x = client_user(in_process, tenant)
        work = WorkTold(tenant.id, x.client_id, name="X website")
        created = work.task_created("Homepage")
        task_id = uuid.UUID(created.data["task_id"])
        told = [
            work.project_created(),
            created,
            work.task_moved(task_id, "Homepage", "in_progress"),
            # Another column of the same status: nothing new for the client.
            work.task_moved(task_id, "Homepage", "in_progress"),
            work.comment(task_id, "Homepage", "Looks good so far", "client"),
            work.deliverable("Mock-ups", comment="First round"),
        ]
        sent = invoice_sent(tenant.id, x.client_id, "INV-0007", 120_000)  # type: ignore[arg-type]
        await deliver(
            in_process,
            *told,
            sent,
            invoice_paid(sent),
        )

        entries = await activity(portal, x)

        assert [(e["kind"], e["title"], e["status"]) for e in entries] == [
            ("invoice_paid", "INV-0007", None),
            ("invoice_sent", "INV-0007", None),
            ("deliverable_submitted", "Mock-ups", None),
            ("comment_added", "Homepage", None),
            ("task_status_changed", "Homepage", "in_progress"),
            ("task_created", "Homepage", "todo"),
        ]
        assert entries[0]["amount_cents"] == 120_000
        assert entries[0]["currency"] == "EUR"
        assert entries[2]["comment"] == "First round"
        assert {e["project_name"] for e in entries[2:]} == {"X website"}
        assert {e["task_id"] for e in entries[3:]} == {str(task_id)}

    async def test_nothing_internal_is_recorded_and_a_comments_text_never(
        self, portal: httpx.AsyncClient, in_process: InProcess, tenant: Agency
    ) -> None:
        x = client_user(in_process, tenant)
        work = WorkTold(tenant.id, x.client_id)
        internal = work.task_created("Margin review", visible=False)
        internal_id = uuid.UUID(internal.data["task_id"])
        shown = work.task_created("Homepage")
        shown_id = uuid.UUID(shown.data["task_id"])
        await deliver(
            in_process,
            work.project_created(),
            internal,
            work.task_moved(internal_id, "Margin review", "done", visible=False),
            work.comment(internal_id, "Margin review", "Client-visible?", "client"),
            shown,
            work.comment(shown_id, "Homepage", "Internal: they pay late", "internal"),
            work.comment(shown_id, "Homepage", "A secret plan, shown", "client"),
        )

        entries = await activity(portal, x)

        assert [(e["kind"], e["title"]) for e in entries] == [
            ("comment_added", "Homepage"),
            ("task_created", "Homepage"),
        ]
        response = await portal.get("/v1/portal/dashboard", headers=x.headers)
        for secret in ("Margin review", "pay late", "secret plan", str(internal_id)):
            assert secret not in response.text

    async def test_a_project_of_no_client_tells_no_one(
        self, portal: httpx.AsyncClient, in_process: InProcess, tenant: Agency
    ) -> None:
        x = client_user(in_process, tenant)
        internal_project = WorkTold(tenant.id, None)
        await deliver(
            in_process,
            internal_project.project_created(),
            internal_project.task_created("Shown to whom?"),
        )

        assert await activity(portal, x) == []

    async def test_a_task_made_internal_or_deleted_takes_its_entries_along(
        self, portal: httpx.AsyncClient, in_process: InProcess, tenant: Agency
    ) -> None:
        x = client_user(in_process, tenant)
        work = WorkTold(tenant.id, x.client_id)
        hidden, deleted = work.task_created("Pricing page"), work.task_created("Old idea")
        hidden_id = uuid.UUID(hidden.data["task_id"])
        deleted_id = uuid.UUID(deleted.data["task_id"])
        await deliver(
            in_process,
            work.project_created(),
            hidden,
            work.comment(hidden_id, "Pricing page", "Draft prices", "client"),
            deleted,
        )
        assert len(await activity(portal, x)) == 3

        await deliver(
            in_process,
            work.task_updated(
                hidden_id, "Pricing page", ["visible_to_client"], visible=False, status="todo"
            ),
            work.task_deleted(deleted_id, "Old idea"),
        )

        assert await activity(portal, x) == []
        # Shown again later: told as shared, from then on.
        await deliver(
            in_process,
            work.task_updated(
                hidden_id, "Pricing page", ["visible_to_client"], visible=True, status="todo"
            ),
        )
        assert [(e["kind"], e["title"]) for e in await activity(portal, x)] == [
            ("task_shared", "Pricing page")
        ]

    async def test_a_voided_invoice_leaves_the_activity(
        self, portal: httpx.AsyncClient, in_process: InProcess, tenant: Agency
    ) -> None:
        x = client_user(in_process, tenant)
        sent = invoice_sent(tenant.id, x.client_id, "INV-0009", 5_000)  # type: ignore[arg-type]
        await deliver(in_process, sent)
        assert len(await activity(portal, x)) == 1

        await deliver(in_process, invoice_voided(sent))

        assert await activity(portal, x) == []

    async def test_a_redelivered_event_is_told_once(
        self, portal: httpx.AsyncClient, in_process: InProcess, tenant: Agency
    ) -> None:
        x = client_user(in_process, tenant)
        sent = invoice_sent(tenant.id, x.client_id, "INV-0010", 5_000)  # type: ignore[arg-type]

        assert await in_process.deliver("portal", sent) == "ok"
        assert await in_process.deliver("portal", sent) == "duplicate"

        assert len(await activity(portal, x)) == 1

    async def test_each_client_keeps_only_its_newest_entries(
        self,
        portal: httpx.AsyncClient,
        in_process: InProcess,
        tenant: Agency,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(handlers, "KEEP_PER_CLIENT", 3)
        x, y = client_user(in_process, tenant), client_user(in_process, tenant)
        await deliver(in_process, invoice_sent(tenant.id, y.client_id, "INV-Y", 1))  # type: ignore[arg-type]
        for n in range(5):
            await deliver(
                in_process,
                invoice_sent(tenant.id, x.client_id, f"INV-{n}", 100 + n),  # type: ignore[arg-type]
            )

        assert [e["title"] for e in await activity(portal, x)] == ["INV-4", "INV-3", "INV-2"]
        # Another client's entries are not counted against it.
        assert [e["title"] for e in await activity(portal, y)] == ["INV-Y"]
        rows = await (await in_process.service("portal")).rows(
            "SELECT count(*) AS n FROM activity WHERE client_id = $1",
            x.client_id,
            tenant_id=tenant.id,
        )
        assert rows[0]["n"] == 3


class TestIsolation:
    async def test_a_client_sees_none_of_another_clients_or_another_agencys_activity(
        self,
        portal: httpx.AsyncClient,
        in_process: InProcess,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        x, y = client_user(in_process, tenant), client_user(in_process, tenant)
        # A client user of another agency bound to the same client id as X.
        impostor = other_tenant.caller("client", client_id=x.client_id)
        theirs = WorkTold(tenant.id, y.client_id, name="Y shop")
        mine = WorkTold(tenant.id, x.client_id, name="X website")
        await deliver(
            in_process,
            theirs.project_created(),
            theirs.task_created("Y checkout"),
            theirs.deliverable("Y logo"),
            invoice_sent(tenant.id, y.client_id, "INV-Y", 10_000),  # type: ignore[arg-type]
            mine.project_created(),
            mine.task_created("X homepage"),
        )

        x_entries = await activity(portal, x)
        y_entries = await activity(portal, y)

        assert [e["title"] for e in x_entries] == ["X homepage"]
        assert [e["title"] for e in y_entries] == ["INV-Y", "Y logo", "Y checkout"]
        assert await activity(portal, impostor) == []

    async def test_a_project_given_to_another_client_leaves_the_first_ones_activity(
        self, portal: httpx.AsyncClient, in_process: InProcess, tenant: Agency
    ) -> None:
        x, y = client_user(in_process, tenant), client_user(in_process, tenant)
        work = WorkTold(tenant.id, x.client_id, name="Shared site")
        await deliver(in_process, work.project_created(), work.task_created("Homepage"))
        assert len(await activity(portal, x)) == 1

        await deliver(in_process, work.project_moved_to(y.client_id, name="Y site"))
        work.client_id = y.client_id
        await deliver(in_process, work.task_created("About page"))

        assert await activity(portal, x) == []
        assert [(e["title"], e["project_name"]) for e in await activity(portal, y)] == [
            ("About page", "Y site")
        ]


@pytest.fixture
async def topic_prefix(infra: Infra) -> AsyncIterator[str]:
    prefix = f"test-portal-{uuid.uuid4().hex[:8]}."
    topics = [prefix + t for t in SUBSCRIPTION.topics]
    await infra.create_topics([*topics, *(dlq_topic(t) for t in topics)])
    try:
        yield prefix
    finally:
        await infra.delete_topics(prefix)


class TestFromKafka:
    async def test_events_on_work_and_billings_topics_become_the_clients_activity(
        self,
        portal: httpx.AsyncClient,
        in_process: InProcess,
        infra: Infra,
        topic_prefix: str,
        tenant: Agency,
    ) -> None:
        x = client_user(in_process, tenant)
        work = WorkTold(tenant.id, x.client_id, name="X website")
        sent = invoice_sent(tenant.id, x.client_id, "INV-0042", 99_00)  # type: ignore[arg-type]
        async with topic_writer(infra.kafka_bootstrap) as writer:
            await writer.send(f"{topic_prefix}work.events", b"not an event", key=b"x")
            for told in (
                work.project_created(),
                work.task_created("Homepage", visible=False),
                work.task_created("Contact page"),
            ):
                await writer.send_event(f"{topic_prefix}work.events", told)
            await writer.send_event(f"{topic_prefix}billing.events", sent)
            await writer.send_event(f"{topic_prefix}billing.events", sent)  # a redelivery
        service = await in_process.service("portal")
        runner = ConsumerRunner(
            "portal",
            service.ctx.database(),
            infra.kafka_bootstrap,
            SUBSCRIPTION,
            topic_prefix=topic_prefix,
            max_attempts=1,
        )
        running = asyncio.create_task(runner.run())
        try:

            async def both_told() -> list[dict[str, Any]] | None:
                entries = await activity(portal, x)
                return entries if len(entries) >= 2 else None

            entries: Any = await wait_for(both_told, timeout=40)
        finally:
            runner.stop()
            await asyncio.wait_for(running, 30)

        assert sorted((e["kind"], e["title"]) for e in entries) == [
            ("invoice_sent", "INV-0042"),
            ("task_created", "Contact page"),
        ]
