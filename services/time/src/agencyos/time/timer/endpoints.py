from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from agencyos.common.db import utcnow
from agencyos.common.web import TenantSession
from agencyos.time.entry.permissions import TimeWrite
from agencyos.time.entry.schemas import entry_out
from agencyos.time.models import Timer as TimerRow
from agencyos.time.peers import Peers
from agencyos.time.timer.schemas import Timer, TimerStart, TimerStarted, TimerStopped
from agencyos.time.timer.service import Stopped, timer_service

router = APIRouter(prefix="/v1/timers", tags=["timers"])

_NO_TIMER: dict[int | str, dict[str, Any]] = {404: {"description": "No timer is running"}}
_NO_TIME_WRITE: dict[int | str, dict[str, Any]] = {
    403: {"description": "The caller lacks `time.write` (client users)"}
}
_STOP_409 = (
    "Saving the timer clashes: its time overlaps an entry logged by hand "
    "(`clashing_entry_id`) or falls in a week that was submitted or approved meanwhile "
    "(`week_start`). The timer keeps running; fix the clash or discard the timer."
)


def peers_of(request: Request) -> Peers:
    return Peers.of(request)


PeersDep = Annotated[Peers, Depends(peers_of)]


def timer_out(timer: TimerRow, until: datetime | None = None) -> Timer:
    elapsed = int(((until or utcnow()) - timer.started_at).total_seconds())
    return Timer(
        id=timer.id,
        user_id=timer.user_id,
        project_id=timer.project_id,
        task_id=timer.task_id,
        client_id=timer.client_id,
        description=timer.description,
        is_billable=timer.is_billable,
        started_at=timer.started_at,
        elapsed_seconds=max(elapsed, 0),
    )


def stopped_out(stopped: Stopped) -> TimerStopped:
    return TimerStopped(
        timer=timer_out(stopped.timer, stopped.stopped_at),
        entries=[entry_out(e) for e in stopped.entries],
        discarded=stopped.discarded,
        capped=stopped.capped,
        detail=stopped.detail,
    )


@router.post(
    "/start",
    status_code=status.HTTP_201_CREATED,
    response_model=TimerStarted,
    summary="Start a timer",
    description=(
        "Starts your timer on a project you are a member of that is open for work (a "
        "`task_id` must be a task of it). You have at most one running timer: a timer "
        "already running is stopped and saved first, exactly as `POST /v1/timers/stop` "
        "would (it is in `stopped`); if saving it fails, nothing changes. `is_billable` "
        "defaults to the project's billing type. Needs `time.write`."
    ),
    responses={
        403: {"description": "No `time.write`, or not a member of the project"},
        409: {
            "description": (
                "The project is not open for work (`project_status`), this week is "
                "submitted or approved, or the running timer could not be saved"
            )
        },
        422: {"description": "Invalid fields (an unknown project or task), named in `errors`"},
    },
)
async def start_timer(
    body: TimerStart, principal: TimeWrite, session: TenantSession, peers: PeersDep
) -> TimerStarted:
    timer, stopped = await timer_service.start(session, principal, peers, body)
    return TimerStarted(timer=timer_out(timer), stopped=stopped_out(stopped) if stopped else None)


@router.post(
    "/stop",
    response_model=TimerStopped,
    summary="Stop the running timer",
    description=(
        "Stops your timer and logs its time as `draft` entries (each publishing "
        "`time.entry.logged`): one entry, or one per day when it ran past midnight in the "
        "agency's timezone. A timer that ran less than a second is discarded (`discarded`, "
        "no entries). A timer that ran longer than 12 hours (the most an entry may hold) "
        "logs only its first 12 hours (`capped`): a forgotten timer's extra hours are not "
        "billed by accident; log what you really did by hand. `detail` says what happened."
    ),
    responses={**_NO_TIMER, **_NO_TIME_WRITE, 409: {"description": _STOP_409}},
)
async def stop_timer(principal: TimeWrite, session: TenantSession, peers: PeersDep) -> TimerStopped:
    return stopped_out(await timer_service.stop(session, principal, peers))


@router.get(
    "/current",
    response_model=Timer | None,
    summary="Your running timer",
    description=(
        "Your running timer with `elapsed_seconds`, or `null` when none runs (having no "
        "timer is the normal state, not an error)."
    ),
    responses=_NO_TIME_WRITE,
)
async def current_timer(principal: TimeWrite, session: TenantSession) -> Timer | None:
    timer = await timer_service.current(session, principal)
    return timer_out(timer) if timer else None


@router.delete(
    "/current",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Discard the running timer",
    description="Throws your running timer away without logging anything.",
    responses={**_NO_TIMER, **_NO_TIME_WRITE},
)
async def discard_timer(principal: TimeWrite, session: TenantSession) -> Response:
    await timer_service.discard(session, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
