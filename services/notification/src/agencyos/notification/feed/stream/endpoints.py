"""`GET /v1/stream`: the agency's feed, live, as server-sent events."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from agencyos.common.errors import (
    BadRequest,
    Gone,
    ServiceUnavailable,
    Unauthenticated,
    field_problem,
)
from agencyos.common.logs import get_logger
from agencyos.common.web import CurrentPrincipal, service_context
from agencyos.notification.feed import cursor as feed_cursor
from agencyos.notification.feed import store
from agencyos.notification.feed.endpoints import viewer_of, viewer_without_projects
from agencyos.notification.feed.recorder import FEED_TOPIC
from agencyos.notification.feed.stream import frames
from agencyos.notification.feed.stream.connection import Connection
from agencyos.notification.feed.stream.hub import (
    CatchUpBusy,
    HubUnavailable,
    StreamHub,
    install_hub,
)
from agencyos.notification.feed.stream.metrics import STREAM_RESUMES
from agencyos.notification.feed.stream.response import HEADERS, MEDIA_TYPE, EventStreamResponse
from agencyos.notification.feed.types import InvalidTypes, TypeFilter
from agencyos.notification.feed.visibility import Viewer
from agencyos.notification.settings import NotificationSettings

log = get_logger(__name__)

router = APIRouter(tags=["events"])

STREAM_DESCRIPTION = f"""
Every event of the caller's agency that the caller may see, live, as
[server-sent events](https://html.spec.whatwg.org/multipage/server-sent-events.html): the same
events, visibility and shapes as `GET /v1/events` (a member sees only their projects' events
and no money, a client user only their client's portal-visible events, an API key what its
role sees), plus the caller's own notifications and unread count. Any authenticated caller.

**Frames.** Each event is
```
id: <cursor>
event: <type, e.g. work.task.moved>
data: <the CloudEvent as JSON, with "cursor">
```
`id` is the event's feed cursor (the same as `GET /v1/events`' cursors). Comments (lines
starting with `:`) carry no data: `: connected` first, then `: heartbeat` after 15 s without
any other frame, so proxies and clients see the connection alive.

**Resuming.** Send the last `id` you received as the `Last-Event-ID` header (browsers'
EventSource does it on reconnect) or as `?after=`: every event after it that you may see
arrives exactly once, in order, then the live ones. Without either, only live events arrive.
Either way, a `ready` event (`id:` and data `{{"cursor": ...}}`) marks the point where the stream
is caught up: resume from its `id` if nothing else arrived. Events committed just before a
resume may come right after `ready`, as live ones (still each once, in order). An id that is
not a cursor of this feed is a 400; one older than the feed keeps (retention) is a 410: start
again without one (and read what you missed from `GET /v1/events`).

**Filtering.** `?types=` keeps only some types: exact types or prefixes, comma-separated
(`work.task.*,crm.deal.won`).

**Closing.** When the server ends a stream it sends `event: stream.closed` with data
`{{"reason": ...}}` last, then closes: `token_expired` (the access token expired: reconnect
with a fresh one and `Last-Event-ID`), `too_slow` (the client did not read fast enough and fell
too far behind; reconnect and resume), `shutdown` (the server is restarting; reconnect),
`token_revoked` (the token was revoked while the stream was open: signed out, suspended, or
its role changed; checked every 30 s), `cursor_expired` (retention passed the resume point
while catching up), `unavailable` (catching up from the database failed: it timed out or is
down; reconnect after a moment). Reasons:
{", ".join(f"`{r}`" for r in frames.CLOSING_REASONS)}. A client that is too slow may get
no final frame at all.

Responses are never buffered (`Cache-Control: no-cache`, `X-Accel-Buffering: no`); a
proxy in front must allow idle reads of at least the heartbeat interval.
"""

TypesQuery = Annotated[
    str | None,
    Query(
        description="Only these event types: exact types or prefixes, comma-separated "
        "(`work.task.*,crm.deal.won`)",
    ),
]
AfterQuery = Annotated[
    str | None,
    Query(description="Resume after this cursor (like `Last-Event-ID`, which wins)"),
]
LastEventIdHeader = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        description="The `id` of the last event received: resume after it",
    ),
]


def _settings(request: Request) -> NotificationSettings:
    settings = service_context(request).settings
    assert isinstance(settings, NotificationSettings)
    return settings


def _cursor(last_event_id: str | None, after: str | None) -> tuple[str, int] | None:
    for name, value in (("Last-Event-ID", last_event_id), ("after", after)):
        if value is None or not value.strip():
            continue
        try:
            return name, feed_cursor.decode(value.strip())
        except feed_cursor.InvalidCursor as exc:
            raise BadRequest(
                f"{name}: {exc}", errors=[field_problem(name, str(exc), "invalid_cursor")]
            ) from exc
    return None


@router.get(
    "/v1/stream",
    summary="The agency's events, live (server-sent events)",
    description=STREAM_DESCRIPTION,
    response_class=Response,
    responses={
        200: {
            "description": "The stream (`text/event-stream`), open until the server or the "
            "client ends it",
            "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
            "headers": {
                name: {"schema": {"type": "string", "enum": [value]}}
                for name, value in HEADERS.items()
            },
        },
        400: {"description": "`Last-Event-ID` or `after` is not a cursor of this feed"},
        410: {"description": "The cursor is older than the feed keeps"},
        503: {
            "description": "The live feed cannot be read right now (the feed topic, or the "
            "database while opening the stream): retry after `Retry-After` seconds",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        },
    },
)
async def stream_events(
    request: Request,
    principal: CurrentPrincipal,
    types: TypesQuery = None,
    after: AfterQuery = None,
    last_event_id: LastEventIdHeader = None,
) -> Response:
    try:
        type_filter = TypeFilter.parse(types)
    except InvalidTypes as exc:
        raise BadRequest(
            str(exc), errors=[field_problem("types", str(exc), "invalid_types")]
        ) from exc
    resume = _cursor(last_event_id, after)
    settings = _settings(request)
    ctx = service_context(request)
    db = ctx.database()
    hub = install_hub(
        request.app,
        settings.kafka_bootstrap,
        settings.kafka_topic_prefix + FEED_TOPIC,
        replay_entries=settings.stream_replay_entries_per_agency,
        replay_max_age=settings.stream_replay_max_age_seconds,
        catch_up_concurrency=settings.stream_catch_up_concurrency,
    )
    try:
        await hub.start()
    except HubUnavailable as exc:
        raise ServiceUnavailable("the live stream is not available right now") from exc

    def open_session() -> AbstractAsyncContextManager[AsyncSession]:
        return db.transaction(principal.tenant_id, user_id=principal.user_id)

    def database_turn() -> AbstractAsyncContextManager[None]:
        return hub.catch_up_turn(settings.stream_catch_up_wait_seconds)

    async def still_admitted() -> bool:
        # Redis out of reach keeps the stream (a read: fail open, like every GET).
        try:
            await ctx.revocations.check(principal, fail_open=True)
        except Unauthenticated:
            return False
        return True

    connection = Connection(
        Viewer.of(principal, ()),
        type_filter,
        open_session=open_session,
        last_seq=0,
        queue_size=settings.stream_queue_size,
        heartbeat_seconds=settings.stream_heartbeat_seconds,
        page_size=settings.stream_catch_up_page,
        expires_at=principal.expires_at,
        cache=hub.frames,
        still_admitted=still_admitted,
        recheck_seconds=settings.stream_revocation_check_seconds,
        database_turn=database_turn,
    )
    try:
        viewer = viewer_without_projects(principal)
        if resume is not None:
            if viewer is None and hub.holds(principal.tenant_id, resume[1]):
                # A member resuming within memory: their projects are the one read.
                async with database_turn(), open_session() as session:
                    viewer = await viewer_of(session, principal)
            if viewer is not None and _resume_from_memory(hub, connection, viewer, resume[1]):
                STREAM_RESUMES.labels("memory").inc()
                return EventStreamResponse(hub, connection, resume=True)
        # Registered before the head is read: whatever commits after the read arrives live.
        hub.register(connection)
        try:
            async with database_turn(), open_session() as session:
                connection.viewer = viewer or await viewer_of(session, principal)
                head, pruned_through = await store.position(session)
            if resume is None:
                connection.last_seq = head
            else:
                name, seq = resume
                if seq < pruned_through:
                    raise Gone(
                        f"{name}: this cursor is older than the feed keeps; events after it "
                        "were deleted by retention. Reconnect without it (and read what you "
                        "missed from GET /v1/events)."
                    )
                if seq > head:
                    message = f"{name}: not a cursor of this agency's feed"
                    raise BadRequest(
                        message, errors=[field_problem(name, message, "invalid_cursor")]
                    )
                connection.last_seq = seq
        except BaseException:
            hub.unregister(connection)
            raise
    except (CatchUpBusy, SQLAlchemyError, OSError) as exc:
        log.warning("stream: opening failed", error=repr(exc))
        raise ServiceUnavailable(
            "the live stream cannot read the feed right now: retry after a moment",
            headers={"Retry-After": str(settings.stream_retry_after_seconds)},
        ) from exc
    if resume is not None:
        STREAM_RESUMES.labels("database").inc()
    return EventStreamResponse(hub, connection, resume=resume is not None)


def _resume_from_memory(
    hub: StreamHub, connection: Connection, viewer: Viewer, after_seq: int
) -> bool:
    """Serve the resume from the hub's memory when it holds every entry after `after_seq`.
    Taking them and registering happen in this one event-loop step, so nothing falls between
    them and the live ones. A cursor inside the run is a seq of the agency the hub saw: neither
    past the head (400) nor behind retention (410)."""
    replay = hub.replay(connection.tenant_id, after_seq)
    if replay is None:
        return False
    connection.viewer = viewer
    connection.last_seq = after_seq
    connection.replay = replay
    hub.register(connection)
    return True
