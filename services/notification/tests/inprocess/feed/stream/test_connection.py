"""A connection's writes: the entries queued while it was writing go out together, in one
write, each once and in order (not one write per frame)."""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.notification.feed.stream.connection import CONTROL, EVENT, Connection
from agencyos.notification.feed.types import TypeFilter
from agencyos.notification.feed.visibility import Viewer
from agencyos.testing.feed_events import task_event
from agencyos.testing.inprocess import Agency

from .conftest import StreamRig


def connection_of(stream: StreamRig, tenant: Agency) -> Connection:
    def open_session() -> AbstractAsyncContextManager[AsyncSession]:
        return stream.service.ctx.database().transaction(tenant.id)

    owner = Viewer(
        tenant_id=tenant.id,
        user_id=tenant.owner.user_id,
        role=Role.OWNER,
        permissions=DEFAULT_ROLE_PERMISSIONS[Role.OWNER],
        project_ids=None,
    )
    return Connection(
        owner,
        TypeFilter(),
        open_session=open_session,
        last_seq=0,
        queue_size=100,
        heartbeat_seconds=60,
        page_size=100,
        expires_at=None,
    )


class TestWrites:
    async def test_entries_queued_together_go_out_in_one_write_in_order(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        entries = await stream.record(
            tenant.id, *(task_event(tenant.id, uuid.uuid4()) for _ in range(4)), publish=False
        )
        connection = connection_of(stream, tenant)
        writes = connection.frames(resume=False)
        assert (await anext(writes))[0] == CONTROL  # : connected
        assert (await anext(writes))[0] == CONTROL  # ready
        for entry in [*entries, entries[1]]:  # the last one again: a redelivery
            connection.offer(entry)
        kind, chunk, count = await anext(writes)
        assert (kind, count) == (EVENT, 4)
        ids = [line[4:] for line in chunk.decode().splitlines() if line.startswith("id: ")]
        assert ids == [e.cursor for e in entries]
        await writes.aclose()

    async def test_a_gap_inside_a_batch_is_filled_from_the_database_in_order(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        entries = await stream.record(
            tenant.id, *(task_event(tenant.id, uuid.uuid4()) for _ in range(5)), publish=False
        )
        connection = connection_of(stream, tenant)
        writes = connection.frames(resume=False)
        await anext(writes)
        await anext(writes)
        for entry in (entries[0], entries[3], entries[4]):  # 2 and 3 never came
            connection.offer(entry)
        kind, chunk, count = await anext(writes)
        assert (kind, count) == (EVENT, 5)
        ids = [line[4:] for line in chunk.decode().splitlines() if line.startswith("id: ")]
        assert ids == [e.cursor for e in entries]
        await writes.aclose()
