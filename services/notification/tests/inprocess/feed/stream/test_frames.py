"""Frames shared between connections: an entry encoded once per shape gives every reader the
bytes `shape` would give them alone, for every catalog type and every role."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.notification.feed.catalog import RULES
from agencyos.notification.feed.stream.frames import FrameCache, event_frame
from agencyos.notification.feed.visibility import FeedEntry, Viewer

TENANT = uuid.UUID("00000000-0000-0000-0000-000000000001")
CLIENT = uuid.UUID("00000000-0000-0000-0000-000000000002")


def entry(event_type: str, seq: int) -> FeedEntry:
    rule = RULES[event_type]
    data = {
        "project_id": str(uuid.UUID(int=3)),
        "client_id": str(CLIENT),
        "task_id": str(uuid.UUID(int=4)),
        "title": "A title",
        "assignee_ids": [str(uuid.UUID(int=5))],
        "amount_cents": 1200,
        "total_cents": 1200,
        "hourly_rate_cents": 9000,
        "project": {"name": "P", "hourly_rate_cents": 9000, "member_ids": []},
        "recipient_id": str(uuid.UUID(int=6)),
    }
    return FeedEntry(
        tenant_id=TENANT,
        seq=seq,
        event_id=uuid.UUID(int=seq),
        type=event_type,
        occurred_at=datetime(2026, 12, 5, tzinfo=UTC),
        permission=rule.permission,
        project_id=uuid.UUID(int=3),
        client_id=CLIENT,
        person_id=uuid.UUID(int=6),
        personal=rule.personal,
        client_visible=rule.client_fields is not None,
        envelope={"specversion": "1.0", "type": event_type, "tenantid": str(TENANT), "data": data},
    )


def viewers() -> list[Viewer]:
    found = [
        Viewer(TENANT, uuid.UUID(int=10 + i), role, DEFAULT_ROLE_PERMISSIONS[role], None, None)
        for i, role in enumerate(Role)
        if role != Role.CLIENT
    ]
    client_permissions = DEFAULT_ROLE_PERMISSIONS[Role.CLIENT]
    found.append(Viewer(TENANT, uuid.UUID(int=30), Role.CLIENT, client_permissions, CLIENT))
    # a manager without the rates permission: loses what rates.write keeps
    manager = DEFAULT_ROLE_PERMISSIONS[Role.MANAGER] - {"rates.write", "invoices.read"}
    found.append(Viewer(TENANT, uuid.UUID(int=31), Role.MANAGER, manager, None, None))
    return found


@pytest.mark.parametrize("event_type", sorted(RULES))
def test_a_shared_frame_is_what_each_reader_would_get_alone(event_type: str) -> None:
    cache = FrameCache()
    shared = entry(event_type, 7)
    for viewer in viewers():
        assert cache.event_frame(viewer, shared) == event_frame(viewer, shared)
    # and again, now from the cache, in another order
    for viewer in reversed(viewers()):
        assert cache.event_frame(viewer, shared) == event_frame(viewer, shared)


def test_the_cache_keeps_only_the_newest_frames() -> None:
    cache = FrameCache(size=2)
    reader = viewers()[0]
    for seq in range(1, 6):
        cache.event_frame(reader, entry("work.task.created", seq))
    assert len(cache._frames) == 2
