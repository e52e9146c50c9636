"""`GET /v1/events`: the caller's agency's event feed, as the caller may see it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.errors import BadRequest, Gone, field_problem
from agencyos.common.permissions import Role
from agencyos.common.web import CurrentPrincipal, TenantSession
from agencyos.notification.directory.projects import project_repository
from agencyos.notification.feed import cursor as cursors
from agencyos.notification.feed.schemas import FeedPageOut
from agencyos.notification.feed.store import CursorExpired, CursorUnknown, read_after
from agencyos.notification.feed.types import InvalidTypes, TypeFilter
from agencyos.notification.feed.visibility import Viewer, shape

router = APIRouter(prefix="/v1/events", tags=["events"])

DEFAULT_LIMIT = 100
MAX_LIMIT = 500

DESCRIPTION = """\
Every domain event of the caller's agency that the caller may see, oldest first, as
CloudEvents (JSON format, spec 1.0), each with a `cursor`.

**Cursors.** The feed is one ordered sequence per agency; a cursor is an opaque position in
it (`ev1_...`): do not parse or build one. Start without `after` (from the oldest event kept),
then pass the answer's `next_cursor` as `after` to continue. `next_cursor` is given also when
`items` is empty: keep it and poll again later. `more` is true when the page was full and
more events follow right away. An event's own `cursor` is the position right after it (the
same value the live stream `GET /v1/stream` sends as the SSE `id`, so either can resume the
other). A cursor never skips or repeats an event, whatever order events were written in.

**Visibility.** The feed shows what the caller's role may see, as it is when the page is read:
a member sees the events of the projects they are on, never invoices, payments or rates (a
project's `hourly_rate_cents` is removed for whoever may not see rates); a client user sees
only their own client's client-visible events, with only the fields meant for clients; an API
key sees what its role sees. Everyone also sees their own notification events
(`notification.notice.created`, `notification.unread_count.changed`). Events that carry
secrets (sign-in, invitation and password-reset tokens) are never in the feed.

**Filter.** `types`: comma-separated event types or prefixes, e.g.
`work.task.*,billing.invoice.paid` (at most 50). Paging with a filter skips the other types
but still moves `next_cursor` past them.

**Retention.** Events are kept for a configured number of days (30 by default). A cursor
older than what is kept answers **410 Gone**: start again without `after`.
"""


def _bad(field: str, message: str) -> BadRequest:
    return BadRequest(message, errors=[field_problem(field, message)])


def viewer_without_projects(principal: Principal) -> Viewer | None:
    """The caller as a reader of the feed when which projects they are on does not matter
    (client users, and whoever may read every project): no database read needed."""
    if principal.role == Role.CLIENT or principal.can("projects.read_all"):
        return Viewer.of(principal, None)
    return None


async def viewer_of(session: AsyncSession, principal: Principal) -> Viewer:
    """The caller as a reader of the feed, with the projects they are on (when it matters)."""
    viewer = viewer_without_projects(principal)
    if viewer is not None:
        return viewer
    return Viewer.of(
        principal, await project_repository.ids_with_member(session, principal.user_id)
    )


@router.get(
    "",
    response_model=FeedPageOut,
    summary="The agency's event feed, after a cursor",
    description=DESCRIPTION,
    responses={
        400: {"description": "`after` is not a cursor, or `types` is not a type filter"},
        410: {"description": "`after` is older than the feed keeps (retention)"},
    },
)
async def list_events(
    principal: CurrentPrincipal,
    session: TenantSession,
    after: Annotated[
        str | None,
        Query(description="A cursor: an item's `cursor` or a page's `next_cursor`"),
    ] = None,
    types: Annotated[
        str | None,
        Query(description="Event types or prefixes, comma-separated: `work.task.*,crm.deal.won`"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> dict[str, Any]:
    try:
        after_seq = cursors.decode(after) if after is not None else None
    except cursors.InvalidCursor as exc:
        raise _bad("after", str(exc)) from exc
    try:
        wanted = TypeFilter.parse(types)
    except InvalidTypes as exc:
        raise _bad("types", str(exc)) from exc
    viewer = await viewer_of(session, principal)
    try:
        page = await read_after(session, viewer, after_seq, types=wanted, limit=limit)
    except CursorExpired as exc:
        raise Gone(str(exc), errors=[field_problem("after", str(exc), "expired")]) from exc
    except CursorUnknown as exc:
        raise _bad("after", str(exc)) from exc
    return {
        "items": [shape(viewer, entry) | {"cursor": entry.cursor} for entry in page.entries],
        "next_cursor": cursors.encode(page.through_seq),
        "more": page.more,
    }
