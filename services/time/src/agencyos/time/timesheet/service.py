"""Weekly timesheets and their approval.

A timesheet is one person's ISO week; its entries are that person's entries dated in the week.
The state machine, with its explicit transitions:

    open ──submit──▶ submitted ──approve──▶ approved (final)
      ▲                  │
      └── (edit, add) ◀─ rejected ◀──reject──┘      rejected ──submit──▶ submitted

- submit (its owner only): the week's draft and rejected entries become `submitted`; the week
  is locked (`week.LOCKED_STATUSES`), so entry writes answer 409 until it is decided. A week
  with nothing to submit is refused (409): there would be nothing to approve, and it is
  usually a week someone forgot to log. A timer still running in (or before the end of) the
  week is refused too, since stopping it could no longer write its entry.
- approve (`timesheets.approve`): submitted entries become `approved` with their billable and
  cost rates and currency frozen (pricing.py); publishes `time.timesheet.approved`.
- reject (`timesheets.approve`, a reason): submitted entries become `rejected` and go back to
  the owner to fix and resubmit; publishes `time.timesheet.rejected`.
- Owners and admins may decide on their own timesheet; anyone else (managers) may not.

Every transition takes `lock_week(..., for_update=True)`, which serialises it against entry
writes (they take the same row's shared lock first) and against a second decision; each
changed entry gets an audit row in the same transaction, and the event goes out through the
outbox in that transaction too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.db import utcnow
from agencyos.common.errors import Conflict, NotFound, PermissionDenied
from agencyos.common.events import TimesheetApproved, TimesheetRejected, TimesheetSubmitted
from agencyos.common.outbox import publish
from agencyos.common.pagination import PageParams
from agencyos.common.permissions import Role
from agencyos.time import audit
from agencyos.time.models import TimeEntry, Timesheet
from agencyos.time.models.entry import EDITABLE_STATUSES
from agencyos.time.peers import Peers
from agencyos.time.rate.resolver import amount_cents
from agencyos.time.team.service import team_service
from agencyos.time.timesheet.permissions import APPROVE, LOG_TIME, may_approve
from agencyos.time.timesheet.pricing import freeze_rates
from agencyos.time.timesheet.repository import SheetTotals, timesheet_repository
from agencyos.time.timesheet.week import iso_week_label, lock_week

SERVICE = "time"
# Who may decide on their own timesheet.
SELF_APPROVING_ROLES = (Role.OWNER, Role.ADMIN)


@dataclass
class TimesheetView:
    sheet: Timesheet
    entries: list[TimeEntry]


def _not_found() -> NotFound:
    return NotFound("no such timesheet")


def _seconds(entries: Sequence[TimeEntry]) -> tuple[int, int]:
    total = sum(e.duration_seconds for e in entries)
    billable = sum(e.duration_seconds for e in entries if e.is_billable)
    return total, billable


def _billable_cents(entries: Sequence[TimeEntry]) -> int:
    """What the billable entries are worth at their frozen rates (an entry without one: 0)."""
    return sum(
        amount_cents(e.duration_seconds, e.billable_rate_cents)
        for e in entries
        if e.is_billable and e.billable_rate_cents is not None
    )


def _state_conflict(sheet: Timesheet, action: str) -> Conflict:
    label = iso_week_label(sheet.week_start)
    explanations = {
        "open": "it has not been submitted",
        "submitted": "it is already submitted and waits for a decision",
        "approved": "it is already approved, and approved time never changes",
        "rejected": "it was rejected and waits for its owner to fix and resubmit it",
    }
    return Conflict(
        f"the timesheet for {label} cannot be {action}: {explanations[sheet.status]}",
        extra={"timesheet_status": sheet.status},
    )


def _change_status(
    entries: Sequence[TimeEntry], status: str
) -> list[tuple[TimeEntry, dict[str, Any]]]:
    """Set `status` on `entries` (bumping their version); answers each entry with its
    snapshot from before, for the audit trail."""
    changed = []
    for entry in entries:
        before = audit.snapshot(entry)
        entry.status = status
        entry.version += 1
        changed.append((entry, before))
    return changed


class TimesheetService:
    # --- reading ----------------------------------------------------------------------------

    async def week(
        self,
        session: AsyncSession,
        principal: Principal,
        peers: Peers,
        *,
        user_id: uuid.UUID | None,
        monday: date,
    ) -> TimesheetView:
        """`user_id`'s (default: the caller's) timesheet of the week starting `monday`,
        created `open` if it does not exist yet."""
        owner = user_id or principal.user_id
        if owner == principal.user_id:
            if not (principal.can(LOG_TIME) or may_approve(principal)):
                raise PermissionDenied(f"timesheets need the '{LOG_TIME}' permission")
        else:
            if not may_approve(principal):
                raise PermissionDenied(f"someone else's timesheet needs the '{APPROVE}' permission")
            await team_service.ensure_member(session, principal, peers, owner)
        sheet = await lock_week(session, principal.tenant_id, owner, monday)
        entries = await timesheet_repository.week_entries(session, owner, sheet.week_start)
        return TimesheetView(sheet, entries)

    async def get(
        self, session: AsyncSession, principal: Principal, timesheet_id: uuid.UUID
    ) -> TimesheetView:
        sheet = await self._visible(session, principal, timesheet_id)
        entries = await timesheet_repository.week_entries(session, sheet.user_id, sheet.week_start)
        return TimesheetView(sheet, entries)

    async def list_timesheets(
        self,
        session: AsyncSession,
        principal: Principal,
        pagination: PageParams,
        *,
        user_id: uuid.UUID | None,
        status: str | None,
        week_from: date | None,
        week_to: date | None,
        sort: str,
    ) -> tuple[list[tuple[Timesheet, SheetTotals]], int]:
        """Timesheets that exist (viewing a week creates its row): everyone's for approvers,
        the caller's own for anyone else."""
        if not may_approve(principal):
            if user_id is not None and user_id != principal.user_id:
                raise PermissionDenied(f"someone else's timesheets need the '{APPROVE}' permission")
            if not principal.can(LOG_TIME):
                raise PermissionDenied(f"timesheets need the '{LOG_TIME}' permission")
            user_id = principal.user_id
        stmt = timesheet_repository.listing(
            user_id=user_id, status=status, week_from=week_from, week_to=week_to, sort=sort
        )
        sheets, total = await timesheet_repository.paginate(
            session, stmt, page=pagination.page, per_page=pagination.per_page
        )
        sums = await timesheet_repository.totals(session, sheets)
        return [(s, sums.get(s.id, SheetTotals())) for s in sheets], total

    async def _visible(
        self, session: AsyncSession, principal: Principal, timesheet_id: uuid.UUID
    ) -> Timesheet:
        """The timesheet if the caller may see it: their own, or anyone's for approvers.
        Someone else's answers 404 to everyone else, like a missing one."""
        sheet = await timesheet_repository.get(session, timesheet_id)
        if sheet is None:
            raise _not_found()
        if sheet.user_id != principal.user_id and not may_approve(principal):
            raise _not_found()
        return sheet

    async def _locked(
        self, session: AsyncSession, principal: Principal, sheet: Timesheet
    ) -> Timesheet:
        """The same timesheet, locked exclusively and re-read."""
        return await lock_week(
            session, principal.tenant_id, sheet.user_id, sheet.week_start, for_update=True
        )

    # --- transitions ------------------------------------------------------------------------

    async def submit(
        self,
        session: AsyncSession,
        principal: Principal,
        peers: Peers,
        timesheet_id: uuid.UUID,
    ) -> TimesheetView:
        sheet = await self._visible(session, principal, timesheet_id)
        if sheet.user_id != principal.user_id:
            raise PermissionDenied("only the timesheet's owner may submit it")
        sheet = await self._locked(session, principal, sheet)
        if sheet.status not in ("open", "rejected"):
            raise _state_conflict(sheet, "submitted")
        await self._refuse_running_timer(session, principal, peers, sheet)
        pending = await timesheet_repository.week_entries(
            session, sheet.user_id, sheet.week_start, statuses=EDITABLE_STATUSES, for_update=True
        )
        if not pending:
            raise Conflict(
                f"the timesheet for {iso_week_label(sheet.week_start)} has no draft or "
                "rejected entries to submit; log the week's time first",
                extra={"timesheet_status": sheet.status},
            )
        for entry, before in _change_status(pending, "submitted"):
            await audit.record(
                session, entry, actor_id=principal.user_id, action="submitted", before=before
            )
        sheet.status = "submitted"
        sheet.submitted_at = utcnow()
        sheet.submitted_by = principal.user_id
        # a fresh round: the last decision no longer describes the week
        sheet.decided_at = None
        sheet.decided_by = None
        sheet.rejection_reason = None
        await session.flush()
        entries = await timesheet_repository.week_entries(session, sheet.user_id, sheet.week_start)
        total, billable = _seconds(entries)
        await publish(
            session,
            TimesheetSubmitted(
                timesheet_id=sheet.id,
                user_id=sheet.user_id,
                week_start=sheet.week_start,
                total_seconds=total,
                billable_seconds=billable,
            ),
            source_service=SERVICE,
            subject=f"timesheets/{sheet.id}",
        )
        return TimesheetView(sheet, entries)

    async def approve(
        self,
        session: AsyncSession,
        principal: Principal,
        peers: Peers,
        timesheet_id: uuid.UUID,
    ) -> TimesheetView:
        sheet = await self._decidable(session, principal, timesheet_id, "approve")
        if sheet.status != "submitted":
            raise _state_conflict(sheet, "approved")
        submitted = await timesheet_repository.week_entries(
            session, sheet.user_id, sheet.week_start, statuses=("submitted",), for_update=True
        )
        befores = [audit.snapshot(entry) for entry in submitted]
        await freeze_rates(session, principal, peers, sheet.user_id, submitted)
        _change_status(submitted, "approved")
        for entry, before in zip(submitted, befores, strict=True):
            # one trail row per entry: the status and the rates frozen with it
            await audit.record(
                session, entry, actor_id=principal.user_id, action="approved", before=before
            )
        sheet.status = "approved"
        sheet.decided_at = utcnow()
        sheet.decided_by = principal.user_id
        await session.flush()
        total, billable = _seconds(submitted)
        await publish(
            session,
            TimesheetApproved(
                timesheet_id=sheet.id,
                user_id=sheet.user_id,
                week_start=sheet.week_start,
                approved_by=principal.user_id,
                entry_ids=sorted((e.id for e in submitted), key=str),
                total_seconds=total,
                billable_seconds=billable,
            ),
            source_service=SERVICE,
            subject=f"timesheets/{sheet.id}",
        )
        # Approval releases the week's billable time to invoicing at the rates frozen now.
        await record_audit(
            session,
            action="timesheet.approved",
            entity_type="timesheet",
            entity_id=sheet.id,
            actor=principal,
            source_service=SERVICE,
            before={"status": "submitted"},
            after={"status": "approved"},
            detail={
                "user_id": str(sheet.user_id),
                "week_start": sheet.week_start.isoformat(),
                "entries": len(submitted),
                "total_seconds": total,
                "billable_seconds": billable,
                "billable_amount_cents": _billable_cents(submitted),
            },
        )
        entries = await timesheet_repository.week_entries(session, sheet.user_id, sheet.week_start)
        return TimesheetView(sheet, entries)

    async def reject(
        self,
        session: AsyncSession,
        principal: Principal,
        timesheet_id: uuid.UUID,
        reason: str,
    ) -> TimesheetView:
        sheet = await self._decidable(session, principal, timesheet_id, "reject")
        if sheet.status != "submitted":
            raise _state_conflict(sheet, "rejected")
        submitted = await timesheet_repository.week_entries(
            session, sheet.user_id, sheet.week_start, statuses=("submitted",), for_update=True
        )
        for entry, before in _change_status(submitted, "rejected"):
            await audit.record(
                session, entry, actor_id=principal.user_id, action="rejected", before=before
            )
        sheet.status = "rejected"
        sheet.decided_at = utcnow()
        sheet.decided_by = principal.user_id
        sheet.rejection_reason = reason
        await session.flush()
        await publish(
            session,
            TimesheetRejected(
                timesheet_id=sheet.id,
                user_id=sheet.user_id,
                week_start=sheet.week_start,
                rejected_by=principal.user_id,
                reason=reason,
            ),
            source_service=SERVICE,
            subject=f"timesheets/{sheet.id}",
        )
        await record_audit(
            session,
            action="timesheet.rejected",
            entity_type="timesheet",
            entity_id=sheet.id,
            actor=principal,
            source_service=SERVICE,
            before={"status": "submitted"},
            after={"status": "rejected"},
            detail={
                "user_id": str(sheet.user_id),
                "week_start": sheet.week_start.isoformat(),
                "entries": len(submitted),
                "reason": reason,
            },
        )
        entries = await timesheet_repository.week_entries(session, sheet.user_id, sheet.week_start)
        return TimesheetView(sheet, entries)

    async def _decidable(
        self, session: AsyncSession, principal: Principal, timesheet_id: uuid.UUID, action: str
    ) -> Timesheet:
        """The timesheet, locked, if the caller may approve or reject it."""
        principal.require(APPROVE)
        sheet = await self._visible(session, principal, timesheet_id)
        if sheet.user_id == principal.user_id and principal.role not in SELF_APPROVING_ROLES:
            raise PermissionDenied(
                f"you cannot {action} your own timesheet: only owners and admins may; ask "
                "another approver"
            )
        return await self._locked(session, principal, sheet)

    async def _refuse_running_timer(
        self, session: AsyncSession, principal: Principal, peers: Peers, sheet: Timesheet
    ) -> None:
        timer = await timesheet_repository.running_timer(session, sheet.user_id)
        if timer is None:
            return
        zone = await peers.timezone(principal)
        started_on = timer.started_at.astimezone(zone).date()
        if started_on <= sheet.week_start + timedelta(days=6):
            raise Conflict(
                f"a timer started on {started_on.isoformat()} is still running; stop it "
                "before submitting the week, so its time lands in the timesheet",
                extra={"timesheet_status": sheet.status, "timer_id": str(timer.id)},
            )


timesheet_service = TimesheetService()
