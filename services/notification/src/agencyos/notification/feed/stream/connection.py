"""One reader's live stream.

The hub hands every entry of the reader's agency to `offer` (never waiting); the connection's
own task turns them into frames (`frames`), reading the database only for what Kafka cannot
give: the events before it registered (resume) and any the topic skipped (a gap in `seq`).
`last_seq` is the agency seq considered so far (shown or not), so each event goes out once,
in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.logs import get_logger
from agencyos.notification.feed import store
from agencyos.notification.feed.cursor import encode
from agencyos.notification.feed.stream import frames
from agencyos.notification.feed.types import TypeFilter
from agencyos.notification.feed.visibility import FeedEntry, Viewer, sees

log = get_logger(__name__)

# A transaction under the reader's agency, opened per database read (never held while idle).
OpenSession = Callable[[], AbstractAsyncContextManager[AsyncSession]]
# A turn at the database, shared by the process's streams (the hub's `catch_up_turn`).
DatabaseTurn = Callable[[], AbstractAsyncContextManager[None]]

PROJECT_EVENTS = "work.project."

# Whether the reader's token still stands (not revoked since the stream opened).
StillAdmitted = Callable[[], Awaitable[bool]]

# (kind, bytes, how many frames the bytes hold): one write to the client. Events queued
# together go out in one write, not one each (kind counts them by what they are:
# agencyos_stream_frames_sent_total).
Frame = tuple[str, bytes, int]
EVENT, HEARTBEAT, CONTROL = "event", "heartbeat", "control"


class Connection:
    def __init__(
        self,
        viewer: Viewer,
        types: TypeFilter,
        *,
        open_session: OpenSession,
        last_seq: int,
        queue_size: int,
        heartbeat_seconds: float,
        page_size: int,
        expires_at: float | None,
        cache: frames.FrameCache | None = None,
        still_admitted: StillAdmitted | None = None,
        recheck_seconds: float = 30.0,
        database_turn: DatabaseTurn | None = None,
    ) -> None:
        self.id = uuid.uuid4()
        self.viewer = viewer
        self.types = types
        self.last_seq = last_seq
        self.open_session = open_session
        self.heartbeat_seconds = heartbeat_seconds
        self.page_size = page_size
        self.expires_at = expires_at
        # A revoked token ends the stream within `recheck_seconds`, not only at its expiry.
        self.still_admitted = still_admitted
        self.recheck_seconds = recheck_seconds
        # live frames, shared with the other connections of the process (the hub's)
        self.cache = cache or frames.FrameCache(size=16)
        self.inbox: asyncio.Queue[FeedEntry] = asyncio.Queue(maxsize=queue_size)
        self.database_turn = database_turn
        # A resume served from the hub's memory: the entries after `last_seq` it held when the
        # connection registered (then no catch-up is read from the database).
        self.replay: list[FeedEntry] | None = None
        # Why the stream must end now (set by the hub: too slow, shutdown); `ended` wakes the
        # response, which cuts the stream even while a write to the client is stuck.
        self.closing: str | None = None
        self.ended = asyncio.Event()
        # Wakes the connection's task: an entry queued, the stream closing, or its timer (the
        # next heartbeat, token expiry or revocation check) due.
        self._wake = asyncio.Event()
        # Why the stream ended on its own (token expired, cursor expired), once it has.
        self.ended_with: str | None = None

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.viewer.tenant_id

    def offer(self, entry: FeedEntry) -> None:
        """Called by the hub for every entry of the agency: queued, or, when the queue is
        full, the connection is closed as too slow. Never waits."""
        if self.closing is not None:
            return
        try:
            self.inbox.put_nowait(entry)
        except asyncio.QueueFull:
            self.close(frames.TOO_SLOW)
            return
        self._wake.set()

    def close(self, reason: str) -> None:
        if self.closing is None:
            self.closing = reason
            self.ended.set()
            self._wake.set()

    async def frames(self, resume: bool) -> AsyncGenerator[Frame, None]:
        """Every frame of the stream, in order: `: connected`, the events missed since
        `last_seq` (when resuming), `ready`, then live events and heartbeats until the token
        expires or the server closes the stream (then `stream.closed` comes last, and
        `ended_with` says why)."""
        yield CONTROL, frames.CONNECTED, 1
        if self.replay is not None:
            replay, self.replay = self.replay, None
            caught_up = [frame for entry in replay async for frame in self._consider(entry)]
            if caught_up:
                yield _events(caught_up)
        elif resume:
            try:
                async for page in self._read(through_seq=None):
                    if page:
                        yield _events(page)
            except store.CursorExpired:
                yield self._end(frames.CURSOR_EXPIRED)
                return
            except Exception:
                # the pool timed out, the database failed: end it so the client resumes
                log.exception("stream catch-up failed", last_seq=self.last_seq)
                yield self._end(frames.UNAVAILABLE)
                return
        yield CONTROL, frames.ready_frame(encode(self.last_seq)), 1
        loop = asyncio.get_running_loop()
        next_heartbeat = loop.time() + self.heartbeat_seconds
        next_check = loop.time() + self.recheck_seconds
        # One timer per connection, moved only when the next deadline comes sooner: not one
        # per entry (a timer per entry per connection, 10,000 a second, kept the loop's timer
        # heap busy: a third of the fan-out's CPU in a profile).
        timer: asyncio.TimerHandle | None = None
        timer_at = 0.0

        def ring() -> None:
            nonlocal timer
            timer = None
            self._wake.set()

        try:
            while self.closing is None:
                now = loop.time()
                left = self._token_left()
                if left is not None and left <= 0:
                    yield self._end(frames.TOKEN_EXPIRED)
                    return
                if self.still_admitted is not None and now >= next_check:
                    if not await self.still_admitted():
                        yield self._end(frames.REVOKED)
                        return
                    next_check = loop.time() + self.recheck_seconds
                    continue
                if now >= next_heartbeat:
                    yield HEARTBEAT, frames.HEARTBEAT, 1
                    next_heartbeat = now + self.heartbeat_seconds
                    continue
                if self.inbox.empty():
                    due = next_heartbeat if left is None else min(next_heartbeat, now + left)
                    if self.still_admitted is not None:
                        due = min(due, next_check)
                    if timer is None or timer_at > due:
                        if timer is not None:
                            timer.cancel()
                        timer, timer_at = loop.call_at(due, ring), due
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                entry = self.inbox.get_nowait()
                # This entry and every other already queued: their frames in one write.
                chunks: list[bytes] = []
                failed: str | None = None
                try:
                    while True:
                        async for frame in self._consider(entry):
                            chunks.append(frame)
                        if self.closing is not None or self.inbox.empty():
                            break
                        entry = self.inbox.get_nowait()
                except store.CursorExpired:
                    failed = frames.CURSOR_EXPIRED
                except Exception:
                    log.exception("stream gap read failed", last_seq=self.last_seq)
                    failed = frames.UNAVAILABLE
                if chunks:
                    yield _events(chunks)
                    # a heartbeat is for a quiet stream: the interval starts again after a write
                    next_heartbeat = loop.time() + self.heartbeat_seconds
                if failed is not None:
                    yield self._end(failed)
                    return
        finally:
            if timer is not None:
                timer.cancel()
        yield self._end(self.closing)

    def _end(self, reason: str) -> Frame:
        self.ended_with = reason
        return CONTROL, frames.closed_frame(reason), 1

    def _token_left(self) -> float | None:
        return None if self.expires_at is None else self.expires_at - time.time()

    async def _consider(self, entry: FeedEntry) -> AsyncIterator[bytes]:
        if entry.tenant_id != self.viewer.tenant_id or entry.seq <= self.last_seq:
            return  # another agency's (never offered), or already considered
        if entry.seq > self.last_seq + 1:
            # The topic skipped some (a lost publish, or this process started late): the
            # database has every seq up to this one, committed in order.
            async for page in self._read(through_seq=entry.seq):
                for frame in page:
                    yield frame
            return
        self.last_seq = entry.seq
        self._follow_membership(entry)
        if self.types.matches(entry.type) and sees(self.viewer, entry):
            yield self.cache.event_frame(self.viewer, entry)

    async def _read(self, *, through_seq: int | None) -> AsyncIterator[list[bytes]]:
        """The frames of the events after `last_seq` (up to `through_seq`, else the head)
        from the database, page by page, each page in its own short transaction."""
        while True:
            async with self._turn(), self.open_session() as session:
                page = await store.read_after(
                    session,
                    self.viewer,
                    self.last_seq,
                    types=self.types,
                    limit=self.page_size,
                    through_seq=through_seq,
                )
            chunks = []
            for entry in page.entries:
                self._follow_membership(entry)
                chunks.append(frames.event_frame(self.viewer, entry))
            self.last_seq = max(self.last_seq, page.through_seq)
            yield chunks
            if not page.more:
                return

    def _turn(self) -> AbstractAsyncContextManager[None]:
        if self.database_turn is None:
            return contextlib.nullcontext()
        return self.database_turn()

    def _follow_membership(self, entry: FeedEntry) -> None:
        """A project event that adds the reader to a project (or drops them) changes which
        events they see from here on, without reconnecting."""
        viewer = self.viewer
        if viewer.sees_all_projects or viewer.is_client or entry.project_id is None:
            return
        if not entry.type.startswith(PROJECT_EVENTS):
            return
        data: Any = entry.envelope.get("data") or {}
        project = data.get("project") if isinstance(data, dict) else None
        members = project.get("member_ids") if isinstance(project, dict) else None
        if not isinstance(members, list):
            return
        current = set(viewer.project_ids or ())
        if str(viewer.user_id) in {str(m) for m in members}:
            current.add(entry.project_id)
        else:
            current.discard(entry.project_id)
        self.viewer = viewer.with_projects(current)


def _events(chunks: list[bytes]) -> Frame:
    return EVENT, b"".join(chunks), len(chunks)
