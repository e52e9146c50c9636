"""Feed retention: each agency's events older than the retention are deleted (a cursor from
before them then answers 410); newer ones, and other agencies' newer ones, stay."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from agencyos.common.db import Database, utcnow
from agencyos.notification.feed.recorder import FeedRecorder
from agencyos.notification.feed.retention import FeedRetention
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, InProcess

from .test_recorder import agency_events, feed_rows, record


@pytest.fixture
async def retention(in_process: InProcess, feed_db: Database) -> AsyncIterator[FeedRetention]:
    service = await in_process.service("notification")
    worker = FeedRetention(
        feed_db,
        service.settings.database_url,
        retention_days=30,
        interval_seconds=3600,
        lock_key=random.randint(1, 2**62),
        batch=3,
    )
    yield worker
    await worker.close()


async def age(in_process: InProcess, agency: Agency, seqs: list[int], days: int) -> None:
    service = await in_process.service("notification")
    await service.rows(
        "UPDATE feed_events SET recorded_at = now() - make_interval(days => $1) "
        "WHERE seq = ANY($2::bigint[])",
        days,
        seqs,
        tenant_id=agency.id,
    )


async def test_old_events_are_pruned_and_a_cursor_before_them_is_gone(
    in_process: InProcess,
    notification: httpx.AsyncClient,
    recorder: FeedRecorder,
    retention: FeedRetention,
    tenant: Agency,
    other_tenant: Agency,
) -> None:
    await record(recorder, *agency_events(tenant, 10), *agency_events(other_tenant, 4))
    first_cursor = (
        await notification.get("/v1/events", params={"limit": 1}, headers=tenant.owner.headers)
    ).json()["next_cursor"]
    await age(in_process, tenant, list(range(1, 8)), days=31)
    await age(in_process, tenant, [8], days=29)
    await age(in_process, other_tenant, [1, 2], days=29)

    pruned = await retention.prune(utcnow())

    assert pruned == 7
    assert [r["seq"] for r in await feed_rows(in_process, tenant)] == [8, 9, 10]
    assert [r["seq"] for r in await feed_rows(in_process, other_tenant)] == [1, 2, 3, 4]
    service = await in_process.service("notification")
    [head] = await service.rows(
        "SELECT last_seq, pruned_through FROM feed_heads", tenant_id=tenant.id
    )
    assert (head["last_seq"], head["pruned_through"]) == (10, 7)
    gone = await notification.get(
        "/v1/events", params={"after": first_cursor}, headers=tenant.owner.headers
    )
    assert_problem(gone, 410)
    kept = await notification.get("/v1/events", headers=tenant.owner.headers)
    assert len(kept.json()["items"]) == 3


async def test_a_tick_with_nothing_old_prunes_nothing(
    in_process: InProcess,
    recorder: FeedRecorder,
    retention: FeedRetention,
    tenant: Agency,
) -> None:
    await record(recorder, *agency_events(tenant, 3))

    assert await retention.prune(utcnow() + timedelta(days=29)) == 0
    assert len(await feed_rows(in_process, tenant)) == 3


async def test_the_leader_prunes_on_its_tick(
    in_process: InProcess,
    recorder: FeedRecorder,
    retention: FeedRetention,
    tenant: Agency,
) -> None:
    await record(recorder, *agency_events(tenant, 3))
    await age(in_process, tenant, [1], days=40)

    assert await retention.lead()
    await retention.tick(utcnow())

    assert [r["seq"] for r in await feed_rows(in_process, tenant)] == [2, 3]
