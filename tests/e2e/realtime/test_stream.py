"""`GET /v1/stream` through the gateway, against the platform's processes, real Kafka and
PostgreSQL: resume without loss or duplicates after a disconnect and after notification
restarts; never another agency's events; member, manager and client users each see their
share; the stream ends when the token expires; a client that stops reading is dropped while
another keeps receiving.

Feed entries are recorded in notification's database and published to the feed topic as
notification's recorder does, so each test controls exactly which events exist."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest

from agencyos.common.db import Database
from agencyos.common.events import CloudEvent
from agencyos.notification.feed import store
from agencyos.notification.feed.cursor import decode
from agencyos.notification.feed.recorder import FEED_TOPIC
from agencyos.notification.feed.visibility import FeedEntry
from agencyos.testing.factories import (
    AgencySession,
    add_member,
    new_project,
    new_task,
    signup_agency,
)
from agencyos.testing.feed_events import invoice_event, publish_entries, task_event
from agencyos.testing.inbox import join
from agencyos.testing.kafka import TopicWriter, topic_writer
from agencyos.testing.platform import Platform
from agencyos.testing.sse import EventStream, SseEvent, open_stream

pytestmark = pytest.mark.e2e

PATH = "/v1/stream"
# The types the tests below record themselves: the platform's own recorder records the
# agencies' real events too (sign-up, members, projects), which those tests leave out.
RECORDED = "work.task.*,billing.*"


@dataclass
class Feed:
    platform: Platform
    database: Database
    writer: TopicWriter

    async def record(
        self,
        tenant_id: uuid.UUID,
        *events: CloudEvent,
        project_clients: dict[uuid.UUID, uuid.UUID] | None = None,
    ) -> list[FeedEntry]:
        """Record `events` in notification's feed and publish them, as its recorder does."""
        entries = []
        for event in events:
            project = event.data.get("project_id")
            client = (project_clients or {}).get(uuid.UUID(project)) if project else None
            entry = store.describe(event, project_client_id=client)
            assert entry is not None
            entries.append(entry)
        async with self.database.transaction(tenant_id) as session:
            recorded = await store.record(session, tenant_id, entries)
        await publish_entries(self.writer, self.platform.topic_prefix + FEED_TOPIC, recorded)
        return recorded

    async def tasks(self, tenant_id: uuid.UUID, project: uuid.UUID, n: int) -> list[FeedEntry]:
        return await self.record(tenant_id, *(task_event(tenant_id, project) for _ in range(n)))


@pytest.fixture
async def feed(platform: Platform) -> AsyncIterator[Feed]:
    database = Database(platform.infra.dsn(platform.database("notification")), pool_size=2)
    try:
        async with topic_writer(platform.infra.kafka_bootstrap) as writer:
            yield Feed(platform, database, writer)
    finally:
        await database.dispose()


@asynccontextmanager
async def streaming(
    gateway: httpx.AsyncClient, token: str, *, types: str | None = None, **headers: str
) -> AsyncIterator[EventStream]:
    async with open_stream(
        gateway,
        PATH,
        headers={"Authorization": f"Bearer {token}", **headers},
        params={"types": types} if types else None,
    ) as live:
        assert live.status_code == 200, await live.response.aread()
        yield live


def ids(events: Sequence[SseEvent]) -> list[str | None]:
    return [e.id for e in events]


def events(received: Sequence[SseEvent]) -> list[SseEvent]:
    """The feed's events among `received` (not `ready`)."""
    return [e for e in received if e.event != "ready"]


def cursors(entries: Sequence[FeedEntry]) -> list[str]:
    return [e.cursor for e in entries]


async def stream_metric(platform: Platform, name: str, **labels: str) -> float:
    async with httpx.AsyncClient(timeout=5.0) as client:
        text = (await client.get(f"{platform.url('notification')}/metrics")).text
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "")
    match = re.search(rf"^{pattern} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


class TestJourney:
    async def test_a_board_change_reaches_the_stream_of_who_may_see_it_and_their_own_notice(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        """work's real events, through notification's recorder and the feed topic, to the
        streams: the owner sees the new project and task; the assignee, on the project, the
        task and their own new notice; nothing else of anyone's."""
        member = await join(gateway, agency, "member", name="Ada Lovelace")
        async with (
            streaming(gateway, agency.access_token, types="work.*") as owner,
            streaming(gateway, member.access_token) as assignee,
        ):
            await owner.ready()
            await assignee.ready()
            project = await new_project(gateway, agency, member)
            task = await new_task(
                gateway, agency, project["id"], assignee_ids=[str(member.user_id)]
            )
            seen = await owner.until(lambda e: e.event == "work.task.created", timeout=30)
            assert seen[0].event == "work.project.created"
            assert json.loads(seen[-1].data)["data"]["task_id"] == task["id"]
            assert all(e.event.startswith("work.") for e in seen)
            got = await assignee.until(
                lambda e: e.event == "notification.notice.created", timeout=30
            )
            created = [e for e in got if e.event == "work.task.created"]
            assert [json.loads(e.data)["data"]["task_id"] for e in created] == [task["id"]]
            notice = json.loads(got[-1].data)["data"]
            assert notice["recipient_id"] == str(member.user_id)
            # cursors only grow: the ids are the feed's order
            order = [e.id for e in got if e.id]
            assert order == sorted(order, key=decode)


class TestResume:
    async def test_a_client_that_reconnects_gets_what_it_missed_once_then_live_ones(
        self, gateway: httpx.AsyncClient, agency: AgencySession, feed: Feed
    ) -> None:
        project = uuid.uuid4()
        async with streaming(gateway, agency.access_token, types=RECORDED) as live:
            await live.ready()
            seen = await feed.tasks(agency.agency_id, project, 2)
            got = [await live.next(), await live.next()]
            assert ids(got) == cursors(seen)
        missed = await feed.tasks(agency.agency_id, project, 3)
        resume = {"Last-Event-ID": got[-1].id or ""}
        async with streaming(gateway, agency.access_token, **resume, types=RECORDED) as live:
            # from the process's memory or the database: `ready` may come before entries
            # still on their way from the feed topic, never between two of them
            caught_up = await live.until(lambda e: e.id == missed[-1].cursor)
            assert ids(events(caught_up)) == cursors(missed)
            fresh = await feed.tasks(agency.agency_id, project, 1)
            got = await live.until(lambda e: e.id == fresh[0].cursor and e.event != "ready")
            assert ids(events(got)) == cursors(fresh)

    async def test_nothing_is_lost_or_repeated_across_a_notification_restart(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession, feed: Feed
    ) -> None:
        project = uuid.uuid4()
        async with streaming(gateway, agency.access_token, types=RECORDED) as live:
            await live.ready()
            before = await feed.tasks(agency.agency_id, project, 2)
            got = [await live.next(), await live.next()]
            assert ids(got) == cursors(before)
            await platform.stop_process("notification")
            # the stream ends with the process (a `shutdown` close first, when it can)
            rest = await live.rest(timeout=20)
            assert all(e.event == "stream.closed" for e in rest), rest
        during = await feed.tasks(agency.agency_id, project, 2)
        await platform.start_process("notification")
        resume = {"Last-Event-ID": got[-1].id or ""}
        async with streaming(gateway, agency.access_token, **resume, types=RECORDED) as live:
            caught_up = await live.until(lambda e: e.event == "ready")
            assert ids(caught_up[:-1]) == cursors(during)
            after = await feed.tasks(agency.agency_id, project, 2)
            assert ids([await live.next(), await live.next()]) == cursors(after)

    async def test_board_changes_made_while_notification_was_down_arrive_once_after(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        """The real path end to end: tasks created through work while notification (recorder
        and stream) is down wait in Kafka; after the restart the recorder records them, and
        a client resuming with its last id gets each exactly once, in order, then live ones."""
        project = (await new_project(gateway, agency))["id"]

        def task_created(task: dict[str, object]) -> Callable[[SseEvent], bool]:
            return lambda e: e.event == "work.task.created" and task_of(e) == task["id"]

        async with streaming(gateway, agency.access_token, types="work.task.*") as live:
            await live.ready()
            first = await new_task(gateway, agency, project)
            seen = await live.until(task_created(first), timeout=30)
            await platform.stop_process("notification")
            await live.rest(timeout=20)
        during = [await new_task(gateway, agency, project) for _ in range(3)]
        await platform.start_process("notification")
        resume = {"Last-Event-ID": seen[-1].id or ""}
        async with streaming(gateway, agency.access_token, **resume, types="work.task.*") as live:
            after = await new_task(gateway, agency, project)
            got = await live.until(task_created(after), timeout=60)
        created = [task_of(e) for e in got if e.event == "work.task.created"]
        assert created == [task["id"] for task in [*during, after]]
        delivered = [e.id for e in got if e.id and e.event != "ready"]
        assert len(delivered) == len(set(delivered))
        assert delivered == sorted(delivered, key=decode)


def task_of(event: SseEvent) -> object:
    return json.loads(event.data)["data"].get("task_id")


@dataclass
class Team:
    owner: AgencySession
    manager: AgencySession
    member: AgencySession
    client_user: AgencySession
    client_id: uuid.UUID
    project: uuid.UUID  # the member's
    client_project: uuid.UUID  # the client's, without the member


async def client_of(platform: Platform, who: AgencySession) -> uuid.UUID:
    conn = await platform.infra.raw(platform.database("identity"), owner=True)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(who.agency_id))
            client_id = await conn.fetchval(
                "SELECT client_id FROM memberships WHERE user_id = $1", who.user_id
            )
    finally:
        await conn.close()
    assert client_id is not None
    return uuid.UUID(str(client_id))


async def wait_for_project(platform: Platform, who: AgencySession, project: uuid.UUID) -> None:
    """Until notification's read model of projects knows `project` (from work's events)."""
    for _ in range(100):
        conn = await platform.infra.raw(platform.database("notification"), owner=True)
        try:
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('app.tenant_id', $1, true)", str(who.agency_id)
                )
                found = await conn.fetchval("SELECT 1 FROM projects WHERE id = $1", project)
        finally:
            await conn.close()
        if found:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"notification never heard of project {project}")


@pytest.fixture
async def team(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Team:
    manager = await add_member(platform, gateway, agency, "manager")
    member = await add_member(platform, gateway, agency, "member")
    client_user = await add_member(platform, gateway, agency, "client")
    client_id = await client_of(platform, client_user)
    project = uuid.UUID((await new_project(gateway, agency, member))["id"])
    client_project = uuid.UUID((await new_project(gateway, agency, client_id=str(client_id)))["id"])
    await wait_for_project(platform, agency, project)
    return Team(agency, manager, member, client_user, client_id, project, client_project)


class TestWhoSeesWhat:
    async def test_each_role_sees_its_share_and_no_other_agencys_events(
        self, gateway: httpx.AsyncClient, team: Team, feed: Feed
    ) -> None:
        other = await signup_agency(gateway)
        tenant = team.owner.agency_id
        clients = {team.client_project: team.client_id}
        async with (
            streaming(gateway, team.owner.access_token, types=RECORDED) as owner,
            streaming(gateway, team.manager.access_token, types=RECORDED) as manager,
            streaming(gateway, team.member.access_token, types=RECORDED) as member,
            streaming(gateway, team.client_user.access_token, types=RECORDED) as client,
        ):
            for live in (owner, manager, member, client):
                await live.ready()
            await feed.tasks(other.agency_id, team.project, 2)
            on_members, internal, visible, invoice, others_invoice = await feed.record(
                tenant,
                task_event(tenant, team.project),
                task_event(tenant, team.client_project),
                task_event(tenant, team.client_project, visible_to_client=True),
                invoice_event(tenant, team.client_id),
                invoice_event(tenant, uuid.uuid4()),
                project_clients=clients,
            )
            everything = [on_members, internal, visible, invoice, others_invoice]
            last = await feed.tasks(tenant, team.project, 1)
            for live in (owner, manager):
                got = await live.until(lambda e: e.id == last[0].cursor)
                assert ids(got) == cursors([*everything, *last])
            got = await member.until(lambda e: e.id == last[0].cursor)
            assert ids(got) == cursors([on_members, *last])
            # the client hears only its own portal-visible task and its invoice; then a
            # later one of its own shows nothing else came in between
            [marker] = await feed.record(
                tenant,
                task_event(tenant, team.client_project, visible_to_client=True),
                project_clients=clients,
            )
            got = await client.until(lambda e: e.id == marker.cursor)
            assert ids(got) == cursors([visible, invoice, marker])
            assert set(json.loads(got[0].data)["data"]) <= {
                "task_id",
                "project_id",
                "title",
                "status",
                "due_date",
                "completed_at",
            }
            for live in (owner, manager, member, client):
                assert all(
                    json.loads(e.data)["tenantid"] == str(tenant)
                    for e in live.received
                    if e.id and e.event != "ready"
                )


class TestEndings:
    async def test_the_stream_ends_when_the_token_expires(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        token = await platform.token_expiring_in(agency.access_token, 3)
        async with streaming(gateway, token, types=RECORDED) as live:
            await live.ready()
            closed = await live.next(timeout=15)
            assert closed.event == "stream.closed"
            assert json.loads(closed.data) == {"reason": "token_expired"}
            assert await live.next_or_end(timeout=10) is None

    async def test_a_client_that_stops_reading_is_dropped_while_another_keeps_receiving(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession, feed: Feed
    ) -> None:
        tenant = agency.agency_id
        client = uuid.uuid4()
        dropped_before = await stream_metric(
            platform, "agencyos_stream_disconnects_total", reason="too_slow"
        )
        async with (
            streaming(gateway, agency.access_token, types=RECORDED) as stalled,
            streaming(gateway, agency.access_token, types=RECORDED) as reader,
        ):
            await stalled.ready()
            await reader.ready()
            received: list[SseEvent] = []

            async def read() -> None:
                while True:
                    received.append(await reader.next(timeout=60))

            reading = asyncio.create_task(read())
            recorded: list[FeedEntry] = []
            try:
                # big events (256 KB each), until notification drops the stalled client
                for _ in range(40):
                    recorded += await feed.record(
                        tenant, *(invoice_event(tenant, client, padding=256_000) for _ in range(5))
                    )
                    dropped = await stream_metric(
                        platform, "agencyos_stream_disconnects_total", reason="too_slow"
                    )
                    if dropped > dropped_before:
                        break
                else:
                    raise AssertionError("the stalled client was never dropped")
                [last] = await feed.tasks(tenant, uuid.uuid4(), 1)
                for _ in range(300):
                    if received and received[-1].id == last.cursor:
                        break
                    await asyncio.sleep(0.1)
            finally:
                reading.cancel()
            assert ids(received) == cursors([*recorded, last])
            rest = await stalled.rest(timeout=60)
            assert len(rest) < len(recorded)
