import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from agencyos.common.errors import field_error
from agencyos.common.pagination import Page, Pagination
from agencyos.common.types import IsoDate
from agencyos.common.web import TenantSession, service_context
from agencyos.time.entry.export import export_csv, record_export
from agencyos.time.entry.permissions import TimeRead, TimeWrite
from agencyos.time.entry.repository import EntryFilters
from agencyos.time.entry.schemas import (
    EntryChange,
    EntrySort,
    EntryStatus,
    LoggedEntries,
    TimeEntry,
    TimeEntryCreate,
    TimeEntryUpdate,
    change_out,
    entry_out,
)
from agencyos.time.entry.service import entry_service
from agencyos.time.peers import Peers

router = APIRouter(prefix="/v1/time-entries", tags=["time-entries"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {
        "description": (
            "No such entry in your agency, or one you may not see (members see their own)"
        )
    }
}
_LOCKED: dict[int | str, dict[str, Any]] = {
    409: {
        "description": (
            "The entry is not `draft` or `rejected` (`entry_status` names its status), or "
            "its week's timesheet is submitted or approved (`week_start`, "
            "`timesheet_status`), or the new interval overlaps another entry "
            "(`clashing_entry_id`) or the running timer (`clashing_timer_id`)"
        )
    }
}
_RULES = (
    "**Rules.** The project must be one you are a member of (403 otherwise) and planning or "
    "active (409 `project_status` otherwise); `task_id` a task of it (422). Nothing is dated "
    "after today in the agency's timezone, and an interval never ends after now (422). An "
    "entry lasts 1 second to 12 hours (422). Intervals of one person never overlap: 409 "
    "naming the clashing entry in `clashing_entry_id` (the database's exclusion constraint "
    "holds this under concurrent requests too), and an interval may not reach into your "
    "running timer (409 `clashing_timer_id`). A week whose timesheet is submitted or "
    "approved takes no entries (409). Timestamps are kept to whole seconds."
)


def peers_of(request: Request) -> Peers:
    return Peers.of(request)


PeersDep = Annotated[Peers, Depends(peers_of)]


def entry_filters(
    user_id: Annotated[
        uuid.UUID | None,
        Query(description="Someone else's entries need `timesheets.approve`"),
    ] = None,
    project_id: uuid.UUID | None = None,
    task_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    date_from: Annotated[IsoDate | None, Query(description="Inclusive")] = None,
    date_to: Annotated[IsoDate | None, Query(description="Inclusive")] = None,
    is_billable: bool | None = None,
    status_filter: Annotated[EntryStatus | None, Query(alias="status")] = None,
) -> EntryFilters:
    if date_from is not None and date_to is not None and date_from > date_to:
        raise field_error("date_to", "date_to must not be before date_from")
    return EntryFilters(
        user_id=user_id,
        project_id=project_id,
        task_id=task_id,
        client_id=client_id,
        date_from=date_from,
        date_to=date_to,
        is_billable=is_billable,
        status=status_filter.value if status_filter else None,
    )


Filters = Annotated[EntryFilters, Depends(entry_filters)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=LoggedEntries,
    summary="Log time",
    description=(
        "Logs your own time on a project: an interval (`started_at`, `ended_at`) or a "
        "`date` with a `duration_seconds`. `is_billable` defaults to the project's billing "
        "type (billable when it is billed hourly); `client_id` is the project's client. An "
        "interval that crosses midnight in the agency's timezone is split into one entry per "
        "day, so the answer is a list (`split` says whether that happened). Each entry "
        "starts as `draft`, is recorded in its audit trail and publishes `time.entry.logged`."
        "\n\n" + _RULES + " Needs `time.write`."
    ),
    responses={
        403: {"description": "No `time.write`, or not a member of the project"},
        409: {
            "description": (
                "The project is not open for work (`project_status`), the interval overlaps "
                "another entry (`clashing_entry_id`) or your running timer "
                "(`clashing_timer_id`), or the week is submitted or approved (`week_start`)"
            )
        },
        422: {"description": "Invalid fields, named in `errors`"},
    },
)
async def create_entry(
    body: TimeEntryCreate,
    principal: TimeWrite,
    session: TenantSession,
    peers: PeersDep,
    response: Response,
) -> LoggedEntries:
    logged = await entry_service.create(session, principal, peers, body)
    response.headers["Location"] = f"/v1/time-entries/{logged.entries[0].id}"
    return LoggedEntries(entries=[entry_out(e) for e in logged.entries], split=logged.split)


@router.get(
    "",
    response_model=Page[TimeEntry],
    summary="List time entries",
    description=(
        "Your own entries; with `timesheets.approve` (managers and above) everyone's, and "
        "`user_id` picks one person (a member naming someone else gets 403). Filters "
        "combine: `project_id`, `task_id`, `client_id`, `date_from` / `date_to` (inclusive), "
        "`is_billable`, `status`. Sort: `-date` (newest day first, the default), `date`, "
        "`created_at`, `-created_at`."
    ),
    responses={
        403: {"description": "Client users, or a member asking for someone else's entries"},
        422: {"description": "Invalid filters, named in `errors`"},
    },
)
async def list_entries(
    principal: TimeRead,
    session: TenantSession,
    pagination: Pagination,
    filters: Filters,
    sort: EntrySort = EntrySort.DATE_DESC,
) -> Page[TimeEntry]:
    entries, total = await entry_service.list_entries(
        session, principal, filters, sort=sort.value, params=pagination
    )
    return pagination.page_of([entry_out(e) for e in entries], total)


@router.get(
    "/export",
    response_class=StreamingResponse,
    summary="Export time entries as CSV",
    description=(
        "The entries the list would show for the same filters and sort (all of them, not a "
        "page), as CSV with a header row: `id, date, user_id, person, project_id, project, "
        "task_id, task, client_id, started_at, ended_at, duration_seconds, hours, "
        "description, is_billable, status, invoice_id`. `hours` has two decimals. Cells a "
        "spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or "
        "carriage return) get a leading `'`. Each export is recorded in the agency's audit "
        "log (who, with which filters)."
    ),
    responses={
        200: {"content": {"text/csv": {}}, "description": "The entries, as CSV"},
        403: {"description": "Client users, or a member asking for someone else's entries"},
        422: {"description": "Invalid filters, named in `errors`"},
    },
)
async def export_entries(
    principal: TimeRead,
    request: Request,
    session: TenantSession,
    peers: PeersDep,
    filters: Filters,
    sort: EntrySort = EntrySort.DATE_DESC,
) -> StreamingResponse:
    scoped = entry_service.scoped_filters(principal, filters)
    await record_export(session, principal, scoped, sort.value)
    db = service_context(request).database()
    filename = f"time-entries-{datetime.now(UTC).date().isoformat()}.csv"
    return StreamingResponse(
        export_csv(db, principal, peers, scoped, sort.value),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/{entry_id}",
    response_model=TimeEntry,
    summary="Get a time entry",
    description="Your own entry, or anyone's with `timesheets.approve`.",
    responses=_NOT_FOUND,
)
async def get_entry(entry_id: uuid.UUID, principal: TimeRead, session: TenantSession) -> TimeEntry:
    return entry_out(await entry_service.get(session, principal, entry_id))


@router.patch(
    "/{entry_id}",
    response_model=TimeEntry,
    summary="Edit a time entry",
    description=(
        "Only your own entry, and only while it is `draft` or `rejected`; only the fields "
        "sent change, and each change is recorded in the audit trail (the version goes up). "
        "A timed entry's `date` and `duration_seconds` follow its interval; an edited "
        "interval must stay within one day of the agency's timezone (log the rest as a new "
        "entry). Moving the entry to another project checks that project like logging does."
        "\n\n" + _RULES + " Approvers never edit others' entries: they approve or reject "
        "the week (403)."
    ),
    responses={
        **_NOT_FOUND,
        **_LOCKED,
        403: {"description": "Not your entry, not a member of a new project, or no time.write"},
        422: {"description": "Invalid fields, named in `errors`"},
    },
)
async def update_entry(
    entry_id: uuid.UUID,
    body: TimeEntryUpdate,
    principal: TimeWrite,
    session: TenantSession,
    peers: PeersDep,
) -> TimeEntry:
    return entry_out(await entry_service.update(session, principal, peers, entry_id, body))


@router.delete(
    "/{entry_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a time entry",
    description=(
        "Only your own entry, only while it is `draft` or `rejected`, and not in a submitted "
        "or approved week. The audit trail keeps a `deleted` row with every old value."
    ),
    responses={
        **_NOT_FOUND,
        **_LOCKED,
        403: {"description": "Not your entry, or no time.write"},
    },
)
async def delete_entry(
    entry_id: uuid.UUID, principal: TimeWrite, session: TenantSession
) -> Response:
    await entry_service.delete(session, principal, entry_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{entry_id}/history",
    response_model=Page[EntryChange],
    summary="An entry's audit trail",
    description=(
        "Every change to the entry, oldest first: who (`actor_id`), when (`at`), what "
        "(`action`: created, updated, deleted, submitted, approved, rejected, reserved, "
        "invoiced, released) and the old and new value of each field that changed. The "
        "trail outlives the entry: a deleted entry's history stays readable by the same "
        "people (its author, and holders of `timesheets.approve`)."
    ),
    responses=_NOT_FOUND,
)
async def entry_history(
    entry_id: uuid.UUID, principal: TimeRead, session: TenantSession, pagination: Pagination
) -> Page[EntryChange]:
    changes, total = await entry_service.history(session, principal, entry_id, pagination)
    return pagination.page_of([change_out(c) for c in changes], total)
