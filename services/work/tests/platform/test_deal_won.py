"""The deal-won saga against the running platform: a `crm.deal.won` event on Kafka becomes
exactly one project (from the deal's template, the agency's default template or the default
board) — under redelivery, a second event for the same deal, a second consumer replica, and a
work process killed mid-way and restarted — and `work.project.created` carries the deal."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka.admin import AIOKafkaAdminClient

from agencyos.common.events import CloudEvent, DealWon, build_event
from agencyos.testing.factories import AgencySession, add_member, create_crm_client
from agencyos.testing.kafka import events_where, read_topic, topic_writer
from agencyos.testing.platform import REPO_ROOT, Platform
from agencyos.testing.sql import fetch_rows

WON_AT = datetime(2026, 12, 3, 16, 30, tzinfo=UTC)

TEMPLATE: dict[str, Any] = {
    "billing_type": "retainer",
    "columns": [
        {"name": "Inbox", "status": "todo"},
        {"name": "Working", "status": "in_progress"},
        {"name": "Delivered", "status": "done"},
    ],
    "tasks": [
        {"title": "Onboarding call", "due_offset_days": 2, "milestone": "Onboarded"},
        {"title": "Monthly report", "status": "in_progress", "due_offset_days": 30},
    ],
    "milestones": [{"name": "Onboarded", "due_offset_days": 7, "amount_cents": 50_000}],
}


def deal_won(
    who: AgencySession, client_id: uuid.UUID, **overrides: Any
) -> tuple[CloudEvent, DealWon]:
    """A `crm.deal.won` event of `who`'s agency, as CRM publishes it."""
    fields: dict[str, Any] = {
        "deal_id": uuid.uuid4(),
        "title": f"Deal {uuid.uuid4().hex[:6]}",
        "description": "Won after three meetings",
        "client_id": client_id,
        "client_name": "Acme",
        "value_cents": 1_250_000,
        "currency": "EUR",
        "template_id": None,
        "assigned_to": None,
        "expected_close_date": date(2026, 12, 15),
        "won_at": WON_AT,
        "won_by": who.user_id,
        **overrides,
    }
    payload = DealWon(**fields)
    event = build_event(
        payload, tenant_id=who.agency_id, source_service="crm", subject=f"deals/{payload.deal_id}"
    )
    return event, payload


def crm_topic(platform: Platform) -> str:
    return f"{platform.topic_prefix}crm.events"


async def produce(platform: Platform, *events: CloudEvent, partition: int | None = None) -> None:
    async with topic_writer(platform.infra.kafka_bootstrap) as writer:
        for event in events:
            await writer.send(
                crm_topic(platform),
                event.model_dump_json(exclude_none=True).encode(),
                key=str(event.tenantid).encode(),
                partition=partition,
            )


async def deal_projects(
    gateway: httpx.AsyncClient, who: AgencySession, deal_id: uuid.UUID
) -> list[dict[str, Any]]:
    response = await gateway.get(
        "/v1/projects", params={"deal_id": str(deal_id)}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def wait_for(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, every: float = 0.05
) -> float:
    """Poll `check` until it holds (answers the seconds it took); fail after `timeout`."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout}s")
        await asyncio.sleep(every)
    return time.monotonic() - started


async def wait_for_project(
    gateway: httpx.AsyncClient, who: AgencySession, deal_id: uuid.UUID, timeout: float = 30.0
) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def appeared() -> bool:
        found[:] = await deal_projects(gateway, who, deal_id)
        return bool(found)

    await wait_for(appeared, timeout=timeout)
    [project] = found
    return project


async def projects_per_deal(platform: Platform, who: AgencySession) -> dict[uuid.UUID, int]:
    rows = await fetch_rows(
        platform.infra,
        platform.database("work"),
        "SELECT deal_id, count(*) AS n FROM projects WHERE deal_id IS NOT NULL GROUP BY deal_id",
        tenant_id=who.agency_id,
    )
    return {r["deal_id"]: r["n"] for r in rows}


async def handled_events(platform: Platform, who: AgencySession) -> set[uuid.UUID]:
    """The crm.deal.won event ids work's inbox has recorded for the agency."""
    rows = await fetch_rows(
        platform.infra,
        platform.database("work"),
        "SELECT event_id FROM inbox WHERE event_type = 'crm.deal.won'",
        tenant_id=who.agency_id,
    )
    return {r["event_id"] for r in rows}


async def project_created_events(
    platform: Platform,
    who: AgencySession,
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 30.0,
) -> list[dict[str, Any]]:
    topic = f"{platform.topic_prefix}work.events"

    def ours(records: list[Any]) -> list[dict[str, Any]]:
        return events_where(records, tenantid=str(who.agency_id), type="work.project.created")

    records = await read_topic(
        platform.infra.kafka_bootstrap, topic, lambda rs: until(ours(rs)), timeout=timeout
    )
    return ours(records)


async def board_of(platform: Platform, who: AgencySession, project_id: str) -> dict[str, Any]:
    async def rows(query: str) -> list[Any]:
        return await fetch_rows(
            platform.infra,
            platform.database("work"),
            query,
            uuid.UUID(project_id),
            tenant_id=who.agency_id,
        )

    return {
        "columns": [
            r["name"]
            for r in await rows(
                "SELECT name FROM board_columns WHERE project_id = $1 ORDER BY position"
            )
        ],
        "tasks": {
            r["title"]: r["due_date"]
            for r in await rows("SELECT title, due_date FROM tasks WHERE project_id = $1")
        },
        "milestones": {
            r["name"]: (r["due_date"], r["amount_cents"])
            for r in await rows(
                "SELECT name, due_date, amount_cents FROM milestones WHERE project_id = $1"
            )
        },
    }


async def create_template(
    gateway: httpx.AsyncClient, who: AgencySession, **fields: Any
) -> dict[str, Any]:
    body = {"name": f"Template {uuid.uuid4().hex[:8]}", **TEMPLATE, **fields}
    response = await gateway.post("/v1/project-templates", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    template: dict[str, Any] = response.json()
    return template


class TestDealWonBecomesAProject:
    async def test_the_project_carries_the_deal_and_appears_promptly(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        assignee = await add_member(platform, gateway, agency, "member")
        client_id = await create_crm_client(platform, agency)
        event, deal = deal_won(agency, client_id, assigned_to=assignee.user_id)

        await produce(platform, event)
        started = time.monotonic()
        project = await wait_for_project(gateway, agency, deal.deal_id)
        elapsed = time.monotonic() - started

        # A second on a quiet machine; the margin is for a test machine running other suites.
        assert elapsed < 5.0, f"the project took {elapsed:.2f}s to appear"
        assert project["name"] == deal.title
        assert project["description"] == deal.description
        assert project["client_id"] == str(client_id)
        assert project["deal_id"] == str(deal.deal_id)
        assert (project["currency"], project["budget_cents"]) == ("EUR", 1_250_000)
        assert project["billing_type"] == "fixed"
        assert (project["status"], project["start_date"]) == ("planning", "2026-12-03")
        assert project["template_id"] is None
        assert project["created_by"] == str(agency.user_id)
        assert {m["user_id"] for m in project["members"]} == {
            str(agency.user_id),
            str(assignee.user_id),
        }
        # The assignee is a member: they see it too.
        assert [p["id"] for p in await deal_projects(gateway, assignee, deal.deal_id)] == [
            project["id"]
        ]
        board = await board_of(platform, agency, project["id"])
        assert board == {
            "columns": ["To do", "In progress", "Review", "Done"],
            "tasks": {},
            "milestones": {},
        }

    async def test_work_project_created_carries_the_deal_id(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        event, deal = deal_won(agency, await create_crm_client(platform, agency))

        await produce(platform, event)
        project = await wait_for_project(gateway, agency, deal.deal_id)

        [created] = await project_created_events(platform, agency, lambda es: len(es) >= 1)
        state = created["data"].pop("project")
        assert created["data"] == {
            "project_id": project["id"],
            "name": deal.title,
            "client_id": str(deal.client_id),
            "deal_id": str(deal.deal_id),
            "created_by": str(agency.user_id),
        }
        # The project as it is now, for the services that keep a copy (time).
        assert state.pop("changed_at").endswith("Z")
        assert state == {
            "name": deal.title,
            "client_id": str(deal.client_id),
            "status": project["status"],
            "billing_type": project["billing_type"],
            "hourly_rate_cents": project["hourly_rate_cents"],
            "currency": project["currency"],
            "member_ids": [str(agency.user_id)],
        }
        assert created["subject"] == f"projects/{project['id']}"
        assert created["source"] == "/agencyos/work"

    async def test_the_deals_template_is_copied(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        template = await create_template(gateway, agency)
        await create_template(
            gateway,
            agency,
            is_default=True,
            columns=[{"name": "Default", "status": "todo"}],
            tasks=[],
            milestones=[],
        )
        event, deal = deal_won(
            agency, await create_crm_client(platform, agency), template_id=uuid.UUID(template["id"])
        )

        await produce(platform, event)
        project = await wait_for_project(gateway, agency, deal.deal_id)

        assert project["template_id"] == template["id"]
        assert project["billing_type"] == "retainer"
        start = WON_AT.date()
        assert await board_of(platform, agency, project["id"]) == {
            "columns": ["Inbox", "Working", "Delivered"],
            "tasks": {
                "Onboarding call": start + timedelta(days=2),
                "Monthly report": start + timedelta(days=30),
            },
            "milestones": {"Onboarded": (start + timedelta(days=7), 50_000)},
        }
        assert (project["task_count"], project["progress"]) == (2, 0)

    async def test_without_a_template_the_agencys_default_is_used(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        default = await create_template(gateway, agency, is_default=True)
        event, deal = deal_won(agency, await create_crm_client(platform, agency))

        await produce(platform, event)
        project = await wait_for_project(gateway, agency, deal.deal_id)

        assert project["template_id"] == default["id"]
        assert project["billing_type"] == "retainer"
        assert (await board_of(platform, agency, project["id"]))["columns"] == [
            "Inbox",
            "Working",
            "Delivered",
        ]

    async def test_a_template_that_no_longer_exists_falls_back_to_the_default(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        default = await create_template(gateway, agency, is_default=True)
        gone = await create_template(gateway, agency)
        response = await gateway.delete(
            f"/v1/project-templates/{gone['id']}", headers=agency.headers
        )
        assert response.status_code == 204
        event, deal = deal_won(
            agency, await create_crm_client(platform, agency), template_id=uuid.UUID(gone["id"])
        )

        await produce(platform, event)
        project = await wait_for_project(gateway, agency, deal.deal_id)

        assert project["template_id"] == default["id"]

    async def test_another_agencys_template_is_not_used(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        theirs = await create_template(gateway, other_agency)
        event, deal = deal_won(
            agency, await create_crm_client(platform, agency), template_id=uuid.UUID(theirs["id"])
        )

        await produce(platform, event)
        project = await wait_for_project(gateway, agency, deal.deal_id)

        assert project["template_id"] is None
        assert (await board_of(platform, agency, project["id"]))["columns"] == [
            "To do",
            "In progress",
            "Review",
            "Done",
        ]
        assert await deal_projects(gateway, other_agency, deal.deal_id) == []


class TestExactlyOnce:
    async def test_the_same_event_delivered_twice_makes_one_project(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        event, deal = deal_won(agency, await create_crm_client(platform, agency))
        sentinel, sentinel_deal = deal_won(agency, await create_crm_client(platform, agency))

        # The same partition, so the sentinel is handled after both copies.
        await produce(platform, event, event, sentinel, partition=0)
        await wait_for_project(gateway, agency, sentinel_deal.deal_id)

        assert len(await deal_projects(gateway, agency, deal.deal_id)) == 1
        assert (await projects_per_deal(platform, agency))[deal.deal_id] == 1
        created = await project_created_events(platform, agency, lambda es: len(es) >= 2)
        assert sorted(e["data"]["deal_id"] for e in created) == sorted(
            [str(deal.deal_id), str(sentinel_deal.deal_id)]
        )

    async def test_two_events_for_the_same_deal_make_one_project(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        """Different event ids (a CRM retry, a deal won, reopened and won again): the inbox
        cannot tell them apart, the unique (tenant, deal) index does."""
        client_id = await create_crm_client(platform, agency)
        first, deal = deal_won(agency, client_id)
        second, _ = deal_won(agency, client_id, deal_id=deal.deal_id, title="Renamed deal")
        sentinel, sentinel_deal = deal_won(agency, client_id)

        await produce(platform, first, second, sentinel, partition=1)
        await wait_for_project(gateway, agency, sentinel_deal.deal_id)

        [project] = await deal_projects(gateway, agency, deal.deal_id)
        assert project["name"] == deal.title  # the first event's project stands
        assert await handled_events(platform, agency) >= {first.id, second.id, sentinel.id}
        created = await project_created_events(platform, agency, lambda es: len(es) >= 2)
        assert [e["data"]["deal_id"] for e in created].count(str(deal.deal_id)) == 1

    async def test_a_second_consumer_replica_racing_on_the_same_deal_makes_one_project(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client_id = await create_crm_client(platform, agency)
        deals = [deal_won(agency, client_id) for _ in range(6)]
        async with extra_work_consumer(platform) as replica_log:
            # Each deal's events on two partitions: the two replicas may each get one.
            for index, (event, deal) in enumerate(deals):
                again, _ = deal_won(agency, client_id, deal_id=deal.deal_id)
                await produce(platform, event, partition=index % 3)
                await produce(platform, again, partition=(index + 1) % 3)

            async def all_there() -> bool:
                return len(await projects_per_deal(platform, agency)) == len(deals)

            await wait_for(all_there, timeout=60)
            handled = {e.id for e, _ in deals}

            async def all_handled() -> bool:
                return len(await handled_events(platform, agency)) == 2 * len(deals)

            await wait_for(all_handled, timeout=60)

        assert await projects_per_deal(platform, agency) == {d.deal_id: 1 for _, d in deals}
        assert handled <= await handled_events(platform, agency)
        # The replica owned some partitions and handled some of the events.
        assert "crm.deal.won" in replica_log.read_text(errors="replace")

    async def test_each_agency_gets_only_its_own_deals_project(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        ours, deal = deal_won(agency, await create_crm_client(platform, agency))
        theirs, their_deal = deal_won(
            other_agency, await create_crm_client(platform, other_agency), deal_id=deal.deal_id
        )

        await produce(platform, ours, theirs)
        mine = await wait_for_project(gateway, agency, deal.deal_id)
        their_project = await wait_for_project(gateway, other_agency, their_deal.deal_id)

        # The same deal id in two agencies: two projects, each visible only to its own agency.
        assert mine["id"] != their_project["id"]
        response = await gateway.get(f"/v1/projects/{their_project['id']}", headers=agency.headers)
        assert response.status_code == 404


# --- a crash mid-way ------------------------------------------------------------------------


def _start_work(platform: Platform, mode: str, log_name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "agencyos.work", mode],
        env=platform.environment(),
        cwd=REPO_ROOT,
        stdout=(platform.log_dir / log_name).open("ab"),
        stderr=subprocess.STDOUT,
    )


async def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            await asyncio.to_thread(process.wait, 20)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)


async def consumer_group(platform: Platform) -> tuple[str, int]:
    """The state of work's consumer group and how many members it has."""
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.infra.kafka_bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([f"{platform.topic_prefix}agencyos-work"])
    finally:
        await admin.close()
    [group] = response.to_object()["groups"]
    return str(group["state"]), len(group["members"])


@asynccontextmanager
async def extra_work_consumer(platform: Platform) -> AsyncIterator[Path]:
    """A second work process running only its consumer (`python -m agencyos.work consumer`):
    another replica in the same consumer group, on the same database. Yields once the group
    has settled with both replicas in it; the replica must shut down cleanly afterwards."""
    log_name = f"work-consumer-{uuid.uuid4().hex[:6]}.log"
    process = _start_work(platform, "consumer", log_name)
    try:

        async def joined() -> bool:
            assert process.poll() is None, "the extra consumer exited"
            return await consumer_group(platform) == ("Stable", 2)

        await wait_for(joined, timeout=90, every=0.5)
        yield platform.log_dir / log_name
    finally:
        await _stop(process)
    assert process.returncode == 0, f"the extra consumer exited with {process.returncode}"


async def restart_work(platform: Platform) -> None:
    """Start the platform's work service again (same ports, database and consumer group) and
    wait until it answers; the platform stops the new process at the end of the run."""
    process = platform.processes["work"]
    process.popen = _start_work(platform, "all", process.log_path.name)

    async def healthy() -> bool:
        assert process.popen is not None
        assert process.popen.poll() is None, process.log_tail()
        try:
            async with httpx.AsyncClient(timeout=1.0) as client:
                return (await client.get(f"{process.url}/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    await wait_for(healthy, timeout=60, every=0.2)


class TestCrashMidway:
    async def test_a_work_process_killed_while_handling_deals_leaves_one_project_each(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        """SIGKILL (no graceful shutdown) as soon as the first project is committed, while the
        rest of the batch is in flight: some events are handled but their offsets not
        committed, some are mid-transaction. After a restart every deal has one project."""
        client_id = await create_crm_client(platform, agency)
        deals = [deal_won(agency, client_id) for _ in range(30)]
        work = platform.processes["work"]
        assert work.popen is not None

        await produce(platform, *(e for e, _ in deals), partition=2)

        async def first_committed() -> bool:
            return bool(await projects_per_deal(platform, agency))

        try:
            await wait_for(first_committed, timeout=30, every=0.01)
        finally:
            await _stop(work.popen, signal.SIGKILL)
        before = await projects_per_deal(platform, agency)
        await restart_work(platform)

        async def all_there() -> bool:
            return len(await projects_per_deal(platform, agency)) == len(deals)

        await wait_for(all_there, timeout=90, every=0.2)

        assert len(before) < len(deals), "the kill came too late to interrupt anything"
        assert await projects_per_deal(platform, agency) == {d.deal_id: 1 for _, d in deals}
        for _, deal in deals[:3]:
            assert len(await deal_projects(gateway, agency, deal.deal_id)) == 1
        # The relay publishes at least once: a copy after the crash keeps its event id.
        created = await project_created_events(
            platform,
            agency,
            lambda es: {e["data"]["deal_id"] for e in es} >= {str(d.deal_id) for _, d in deals},
            timeout=60,
        )
        ids_per_deal: dict[str, set[str]] = {}
        for event in created:
            ids_per_deal.setdefault(event["data"]["deal_id"], set()).add(event["id"])
        assert all(len(ids) == 1 for ids in ids_per_deal.values()), ids_per_deal


class TestThroughCrm:
    async def test_winning_a_deal_in_crm_makes_the_project_and_links_it_to_the_deal(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        template = await create_template(gateway, agency)
        client = await gateway.post(
            "/v1/clients",
            json={"company_name": "Initech", "currency": "GBP"},
            headers=agency.headers,
        )
        assert client.status_code == 201, client.text
        deal = await gateway.post(
            "/v1/deals",
            json={
                "title": "Initech retainer",
                "client_id": client.json()["id"],
                "value_cents": 900_000,
                "template_id": template["id"],
            },
            headers=agency.headers,
        )
        assert deal.status_code == 201, deal.text
        deal_id = uuid.UUID(deal.json()["id"])

        won = await gateway.put(
            f"/v1/deals/{deal_id}/stage", json={"stage": "won"}, headers=agency.headers
        )
        assert won.status_code == 200, won.text
        started = time.monotonic()
        project = await wait_for_project(gateway, agency, deal_id)
        elapsed = time.monotonic() - started

        assert elapsed < 5.0, f"the project took {elapsed:.2f}s to appear"
        assert (project["name"], project["currency"], project["budget_cents"]) == (
            "Initech retainer",
            "GBP",
            900_000,
        )
        assert project["template_id"] == template["id"]

        async def linked() -> bool:
            response = await gateway.get(f"/v1/deals/{deal_id}", headers=agency.headers)
            return bool(response.json().get("project_id") == project["id"])

        await wait_for(linked, timeout=30)
