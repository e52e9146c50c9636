"""Resuming `GET /v1/stream` from the hub's memory (the newest entries it dispatched per
agency, one run of consecutive seqs), and the database work of opening and catching up bounded
by the process's turns: every event still once, in order, whichever path a resume takes; a
stream whose catch-up fails ends with `unavailable`, one that cannot start is a 503."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest

from agencyos.notification.feed.cursor import encode
from agencyos.notification.feed.visibility import FeedEntry
from agencyos.testing.feed_events import task_event
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency
from agencyos.testing.sse import open_stream

from .conftest import StreamRig, data

PATH = "/v1/stream"


@pytest.fixture(autouse=True)
async def _hub_reading(stream: StreamRig) -> None:
    """The hub reads the topic before these tests publish (it starts with the first stream
    otherwise)."""
    await stream.hub.start()


async def dispatched(stream: StreamRig, tenant_id: uuid.UUID, entry: FeedEntry) -> None:
    """Wait until the hub has dispatched `entry` (it is the newest of the agency's run)."""
    for _ in range(200):
        if stream.hub.holds(tenant_id, entry.seq) and stream.hub.replay(
            tenant_id, entry.seq - 1
        ) == [entry]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the hub never dispatched seq {entry.seq}")


async def forget_in_database(stream: StreamRig, tenant_id: uuid.UUID) -> None:
    """Delete the agency's events from the database (not the head): a resume that still gets
    them was served from memory."""
    await stream.service.rows("DELETE FROM feed_events", tenant_id=tenant_id)


@asynccontextmanager
async def every_turn_taken(stream: StreamRig) -> AsyncIterator[None]:
    """No stream of the process may read the database while this lasts."""
    turns = stream.settings.stream_catch_up_concurrency
    taken = 0
    try:
        for _ in range(turns):
            await stream.hub.catch_up.acquire()
            taken += 1
        yield
    finally:
        for _ in range(taken):
            stream.hub.catch_up.release()


async def resumed(
    stream: StreamRig, headers: dict[str, str], after: str, *, then: Sequence[FeedEntry] = ()
) -> tuple[list[str], str]:
    """Resume after `after`: the ids caught up before `ready`, and `ready`'s id; then `then`
    are published and must arrive next, each once."""
    async with open_stream(stream.http, PATH, headers={**headers, "Last-Event-ID": after}) as live:
        assert live.status_code == 200, await live.response.aread()
        got = await live.until(lambda e: e.event == "ready")
        if then:
            await stream.publish(then)
            await stream.publish(then)  # a redelivery: still once
            live_ones = await live.until(lambda e: e.id == then[-1].cursor)
            assert [e.id for e in live_ones] == [e.cursor for e in then]
    ready_id = got[-1].id
    assert ready_id is not None
    return [e.id or "" for e in got[:-1]], ready_id


class TestResumeFromMemory:
    async def test_a_resume_inside_the_run_is_served_without_reading_the_database(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        project = uuid.uuid4()
        entries = await stream.record(
            tenant.id, *(task_event(tenant.id, project) for _ in range(5))
        )
        await dispatched(stream, tenant.id, entries[-1])
        [later] = await stream.record(tenant.id, task_event(tenant.id, project), publish=False)
        await forget_in_database(stream, tenant.id)
        async with every_turn_taken(stream):
            got, ready_id = await resumed(
                stream, tenant.owner.headers, entries[1].cursor, then=[later]
            )
        assert got == [e.cursor for e in entries[2:]]
        assert ready_id == entries[-1].cursor

    async def test_a_resume_at_the_runs_first_edge_gets_the_whole_run(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        project = uuid.uuid4()
        # seqs 1-2 never reach the hub: its run for the agency starts at 3
        await stream.record(
            tenant.id, *(task_event(tenant.id, project) for _ in range(2)), publish=False
        )
        run = await stream.record(tenant.id, *(task_event(tenant.id, project) for _ in range(3)))
        await dispatched(stream, tenant.id, run[-1])
        await forget_in_database(stream, tenant.id)
        got, ready_id = await resumed(stream, tenant.owner.headers, encode(run[0].seq - 1))
        assert got == [e.cursor for e in run]
        assert ready_id == run[-1].cursor

    async def test_a_resume_at_the_runs_last_entry_gets_only_live_ones(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        project = uuid.uuid4()
        run = await stream.record(tenant.id, *(task_event(tenant.id, project) for _ in range(3)))
        await dispatched(stream, tenant.id, run[-1])
        [later] = await stream.record(tenant.id, task_event(tenant.id, project), publish=False)
        async with every_turn_taken(stream):
            got, ready_id = await resumed(
                stream, tenant.owner.headers, run[-1].cursor, then=[later]
            )
        assert got == []
        assert ready_id == run[-1].cursor

    async def test_a_resume_before_the_run_reads_the_database_and_misses_nothing(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        project = uuid.uuid4()
        unseen = await stream.record(
            tenant.id, *(task_event(tenant.id, project) for _ in range(3)), publish=False
        )
        run = await stream.record(tenant.id, *(task_event(tenant.id, project) for _ in range(2)))
        await dispatched(stream, tenant.id, run[-1])
        # recorded, not yet on the topic: the database path catches up through it
        [unsent] = await stream.record(tenant.id, task_event(tenant.id, project), publish=False)
        headers = {**tenant.owner.headers, "Last-Event-ID": unseen[0].cursor}
        async with open_stream(stream.http, PATH, headers=headers) as live:
            got = await live.until(lambda e: e.event == "ready")
            assert [e.id for e in got[:-1]] == [e.cursor for e in [*unseen[1:], *run, unsent]]
            assert got[-1].id == unsent.cursor
            await stream.publish([unsent, *run])  # late and again: nothing twice
            [later] = await stream.record(tenant.id, task_event(tenant.id, project))
            assert (await live.next()).id == later.cursor

    async def test_after_a_gap_in_the_topic_the_run_starts_again_past_it(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        project = uuid.uuid4()
        before = await stream.record(tenant.id, *(task_event(tenant.id, project) for _ in range(3)))
        await dispatched(stream, tenant.id, before[-1])
        [lost] = await stream.record(tenant.id, task_event(tenant.id, project), publish=False)
        after = await stream.record(tenant.id, *(task_event(tenant.id, project) for _ in range(2)))
        await dispatched(stream, tenant.id, after[-1])
        assert not stream.hub.holds(tenant.id, before[-1].seq - 1)
        # from before the gap: the database (the lost one included), each once, in order
        got, _ = await resumed(stream, tenant.owner.headers, before[0].cursor)
        assert got == [e.cursor for e in [*before[1:], lost, *after]]
        # from right before the new run: memory
        await forget_in_database(stream, tenant.id)
        got, ready_id = await resumed(stream, tenant.owner.headers, lost.cursor)
        assert got == [e.cursor for e in after]
        assert ready_id == after[-1].cursor

    async def test_entries_out_of_order_or_twice_keep_the_run_consecutive(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        project = uuid.uuid4()
        first, second, third = await stream.record(
            tenant.id, *(task_event(tenant.id, project) for _ in range(3)), publish=False
        )
        await stream.publish([first])
        await dispatched(stream, tenant.id, first)
        await stream.publish([third, second, second, third])
        [fourth] = await stream.record(tenant.id, task_event(tenant.id, project))
        await dispatched(stream, tenant.id, fourth)
        replay = stream.hub.replay(tenant.id, third.seq - 1)
        assert replay is not None
        assert [e.seq for e in replay] == [third.seq, fourth.seq]
        assert stream.hub.replay(tenant.id, first.seq) is None

    async def test_entries_older_than_the_memory_keeps_take_the_database_path(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        max_age = stream.hub.replay_max_age
        stream.hub.replay_max_age = 0.3  # for this agency's run, made from now on
        try:
            entries = await stream.record(
                tenant.id, *(task_event(tenant.id, uuid.uuid4()) for _ in range(3))
            )
            await dispatched(stream, tenant.id, entries[-1])
        finally:
            stream.hub.replay_max_age = max_age
        await asyncio.sleep(0.5)
        assert not stream.hub.holds(tenant.id, entries[0].seq)
        # retention passed them meanwhile: the database says so
        await stream.service.rows("UPDATE feed_heads SET pruned_through = 2", tenant_id=tenant.id)
        headers = {**tenant.owner.headers, "Last-Event-ID": entries[0].cursor}
        assert_problem(await stream.http.get(PATH, headers=headers), 410)

    async def test_a_cursor_of_another_agency_past_this_ones_run_is_a_400(
        self, stream: StreamRig, tenant: Agency, other_tenant: Agency
    ) -> None:
        project = uuid.uuid4()
        theirs = await stream.record(
            other_tenant.id, *(task_event(other_tenant.id, project) for _ in range(6))
        )
        mine = await stream.record(tenant.id, *(task_event(tenant.id, project) for _ in range(2)))
        await dispatched(stream, tenant.id, mine[-1])
        await dispatched(stream, other_tenant.id, theirs[-1])
        headers = {**tenant.owner.headers, "Last-Event-ID": theirs[-1].cursor}
        response = await stream.http.get(PATH, headers=headers)
        assert_problem(response, 400)
        assert response.json()["errors"][0]["field"] == "Last-Event-ID"

    async def test_a_member_resuming_from_memory_sees_only_their_projects(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        theirs, other = uuid.uuid4(), uuid.uuid4()
        await stream.project(tenant.id, theirs, member.user_id)
        start, hidden, seen = await stream.record(
            tenant.id,
            task_event(tenant.id, theirs),
            task_event(tenant.id, other),
            task_event(tenant.id, theirs),
        )
        await dispatched(stream, tenant.id, seen)
        await forget_in_database(stream, tenant.id)
        got, ready_id = await resumed(stream, member.headers, start.cursor)
        assert got == [seen.cursor]
        assert ready_id == seen.cursor
        assert hidden.cursor not in got


class TestDatabaseTurns:
    async def test_a_stream_that_gets_no_turn_at_the_database_is_a_503_with_retry_after(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        stream.tune(stream_catch_up_wait_seconds=0.2)
        async with every_turn_taken(stream):
            response = await stream.http.get(PATH, headers=tenant.owner.headers)
        assert_problem(response, 503)
        assert response.headers["retry-after"] == str(stream.settings.stream_retry_after_seconds)
        assert stream.hub.open_connections == 0

    async def test_a_catch_up_that_fails_ends_the_stream_with_unavailable(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        entries = await stream.record(
            tenant.id, *(task_event(tenant.id, uuid.uuid4()) for _ in range(3)), publish=False
        )
        locker = await stream.service.infra.raw(stream.service.database, owner=True)
        # the app's role, which may end its own backends
        killer = await stream.service.infra.raw(stream.service.database)
        try:
            # The catch-up's read of feed_events waits on this lock; its backend is then
            # terminated: the database failed under it.
            transaction = locker.transaction()
            await transaction.start()
            await locker.execute("LOCK TABLE feed_events IN ACCESS EXCLUSIVE MODE")
            headers = {**tenant.owner.headers, "Last-Event-ID": entries[0].cursor}
            async with open_stream(stream.http, PATH, headers=headers) as live:
                assert live.status_code == 200
                reading = asyncio.create_task(live.next(timeout=15))
                for _ in range(100):
                    waiting = await locker.fetch(
                        "SELECT pid FROM pg_locks "
                        "WHERE NOT granted AND relation = 'feed_events'::regclass"
                    )
                    if waiting:
                        break
                    await asyncio.sleep(0.05)
                assert waiting, "the catch-up never waited on the lock"
                for row in waiting:
                    await killer.execute("SELECT pg_terminate_backend($1)", row["pid"])
                closed = await reading
                assert (closed.event, data(closed)) == ("stream.closed", {"reason": "unavailable"})
                assert await live.next_or_end(timeout=3) is None
            await transaction.rollback()
        finally:
            await locker.close()
            await killer.close()
        for _ in range(50):
            if stream.hub.open_connections == 0:
                break
            await asyncio.sleep(0.05)
        assert stream.hub.open_connections == 0
