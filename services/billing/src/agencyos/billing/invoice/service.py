"""Invoices: drafts built from reserved time and claimed milestones, manual lines, reads.
Sending and voiding live in `issuing`, the PDF's content in `document`.

Most rules run in the request's one transaction. Two operations here talk to time's gRPC,
whose effects cannot ride in billing's transaction, so they are given `Transactions` and open
short ones themselves, never holding a lock across a call that can be slow, and compensating
where a later step fails:

- create: time is reserved under the new invoice's id before the draft is written; when
  anything after the reservation fails, the reservation is released.
- delete (draft): time is released while the draft's row is locked, then the draft goes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.billing.invoice import money
from agencyos.billing.invoice.errors import (
    CurrencyMismatch,
    LineLocked,
    NotDraft,
    NothingToInvoice,
    UnpricedTime,
)
from agencyos.billing.invoice.lines import (
    LineDraft,
    Names,
    manual_line,
    milestone_lines,
    time_lines,
)
from agencyos.billing.invoice.repository import (
    InvoiceFilters,
    MilestoneSelection,
    TotalsRow,
    invoice_repository,
)
from agencyos.billing.invoice.schemas import (
    MAX_LINES,
    GroupBy,
    IncludeSource,
    InvoiceCreate,
    InvoiceUpdate,
    LineCreate,
    LineUpdate,
)
from agencyos.billing.invoice.status import InvoiceStatus
from agencyos.billing.models import BillableMilestone, Invoice, InvoiceLine
from agencyos.billing.models.settings import DEFAULT_PAYMENT_TERMS_DAYS
from agencyos.billing.peers import Peers
from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.db import Transactions
from agencyos.common.errors import Conflict, InvalidInput, NotFound, field_error
from agencyos.common.logs import get_logger
from agencyos.common.pagination import PageParams
from agencyos.common.peers.crm import Client as ClientInfo
from agencyos.common.peers.identity import Agency as AgencyInfo
from agencyos.common.peers.time import BillableEntry, TimeSelection

log = get_logger(__name__)

SERVICE = "billing"
# far past any real invoice, and far inside BIGINT
MAX_TOTAL_CENTS = 10**15
# what one invoice may name in a problem before it says "and N more"
MAX_NAMED = 50


@dataclass(frozen=True)
class InvoiceView:
    invoice: Invoice
    lines: list[InvoiceLine]


def _named(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return list(items[:MAX_NAMED])


def _more(items: Sequence[object]) -> str:
    return f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else ""


def check_time(entries: Sequence[BillableEntry], currency: str) -> None:
    """Refuse time valued in another currency (no silent conversion) or with no rate."""
    foreign = [e for e in entries if e.currency != currency]
    if foreign:
        named = [
            {"kind": "time_entry", "id": str(e.id), "currency": e.currency or None} for e in foreign
        ]
        ids = ", ".join(str(n["id"]) for n in named[:MAX_NAMED])
        raise CurrencyMismatch(
            f"the invoice is in {currency}, but time entries {ids}{_more(foreign)} are valued "
            "in another currency; narrow `project_ids` or pick `currency` (nothing was "
            "reserved or converted)",
            errors=[
                {
                    "field": "currency",
                    "message": f"time in another currency than {currency}",
                    "type": "currency_mismatch",
                }
            ],
            extra={"mismatched": _named(named)},
        )
    unpriced = [e for e in entries if e.rate_cents <= 0]
    if unpriced:
        named = [{"kind": "time_entry", "id": str(e.id)} for e in unpriced]
        ids = ", ".join(str(n["id"]) for n in named[:MAX_NAMED])
        raise UnpricedTime(
            f"time entries {ids}{_more(unpriced)} have no billable rate; set a rate for their "
            "project or people, or leave them out with `project_ids` or the period",
            errors=[
                {
                    "field": "include",
                    "message": "billable time without a rate",
                    "type": "unpriced_time",
                }
            ],
            extra={"unpriced": _named(named)},
        )


def check_milestones(milestones: Sequence[BillableMilestone], currency: str) -> None:
    foreign = [m for m in milestones if m.currency != currency]
    if foreign:
        named = [
            {"kind": "milestone", "id": str(m.milestone_id), "currency": m.currency}
            for m in foreign
        ]
        ids = ", ".join(str(n["id"]) for n in named[:MAX_NAMED])
        raise CurrencyMismatch(
            f"the invoice is in {currency}, but milestones {ids}{_more(foreign)} are in "
            "another currency; narrow `project_ids` or pick `currency` (nothing was converted)",
            errors=[
                {
                    "field": "currency",
                    "message": f"milestones in another currency than {currency}",
                    "type": "currency_mismatch",
                }
            ],
            extra={"mismatched": _named(named)},
        )


def _apply_totals(invoice: Invoice, lines: Sequence[InvoiceLine | LineDraft]) -> None:
    subtotal, tax, total = money.totals((line.amount_cents, line.tax_cents) for line in lines)
    if max(abs(subtotal), abs(tax), abs(total)) > MAX_TOTAL_CENTS:
        raise InvalidInput(
            f"an invoice's amounts stay within {MAX_TOTAL_CENTS} minor units",
            errors=[
                {
                    "field": "unit_price_cents",
                    "message": "the total is too large",
                    "type": "too_large",
                }
            ],
        )
    invoice.subtotal_cents, invoice.tax_cents, invoice.total_cents = subtotal, tax, total


def _line_row(invoice: Invoice, position: int, draft: LineDraft) -> InvoiceLine:
    return InvoiceLine(
        tenant_id=invoice.tenant_id,
        id=uuid.uuid4(),
        invoice_id=invoice.id,
        position=position,
        description=draft.description,
        quantity=draft.quantity,
        unit_price_cents=draft.unit_price_cents,
        amount_cents=draft.amount_cents,
        tax_rate_bps=draft.tax_rate_bps,
        tax_cents=draft.tax_cents,
        source_type=draft.source_type,
        time_entry_ids=list(draft.time_entry_ids),
        milestone_id=draft.milestone_id,
        project_id=draft.project_id,
    )


class InvoiceService:
    # --- reads -------------------------------------------------------------------------------

    async def get(
        self, session: AsyncSession, principal: Principal, invoice_id: uuid.UUID
    ) -> InvoiceView:
        principal.require("invoices.read")
        invoice = await invoice_repository.get(session, invoice_id)
        if invoice is None:
            raise NotFound("no such invoice")
        return InvoiceView(invoice, await invoice_repository.lines(session, invoice.id))

    async def list_invoices(
        self,
        session: AsyncSession,
        principal: Principal,
        params: PageParams,
        filters: InvoiceFilters,
        sort: str,
    ) -> tuple[Sequence[Invoice], int, list[TotalsRow]]:
        principal.require("invoices.read")
        for low, high, field in (
            (filters.issue_from, filters.issue_to, "issue_to"),
            (filters.due_from, filters.due_to, "due_to"),
        ):
            if low is not None and high is not None and low > high:
                raise field_error(field, "the range ends before it starts")
        stmt = invoice_repository.listing(filters, sort)
        items, total = await invoice_repository.paginate(
            session, stmt, page=params.page, per_page=params.per_page
        )
        return items, total, await invoice_repository.totals(session, filters)

    # --- creating a draft --------------------------------------------------------------------

    async def create(
        self, tx: Transactions, principal: Principal, peers: Peers, data: InvoiceCreate
    ) -> InvoiceView:
        principal.require("invoices.write")
        if data.period_from and data.period_to and data.period_from > data.period_to:
            raise field_error("period_to", "period_to must not be before period_from")
        include = set(data.include)
        agency = await peers.identity.agency(principal)
        client = await peers.crm.client(principal, data.client_id)
        if client is None:
            raise field_error("client_id", "no such client in your agency", "not_found")
        project_ids = tuple(dict.fromkeys(data.project_ids))
        await self._check_projects(principal, peers, client, project_ids)
        currency = data.currency or client.currency or agency.currency
        tax_rate = (
            data.tax_rate_bps if data.tax_rate_bps is not None else agency.default_tax_rate_bps
        )
        milestones_wanted = MilestoneSelection(
            client.id, project_ids, data.period_from, data.period_to, agency.timezone
        )
        if IncludeSource.MILESTONES in include:
            # checked before any time is reserved, so a mismatch costs no reserve/release
            async with tx() as session:
                check_milestones(
                    await invoice_repository.unbilled_milestones(session, milestones_wanted),
                    currency,
                )
        selection = TimeSelection(client.id, project_ids, data.period_from, data.period_to)
        unbilled: list[BillableEntry] = []
        if IncludeSource.TIME in include:
            unbilled = await peers.time.unbilled_entries(principal, selection)
            check_time(unbilled, currency)

        invoice_id = uuid.uuid4()
        reserved: list[BillableEntry] = []
        try:
            if unbilled:
                # Only the entries checked above; entries another run took meanwhile are
                # simply not handed to this invoice.
                reserved = await peers.time.reserve_entries(
                    principal,
                    invoice_id,
                    replace(selection, currency=currency),
                    [e.id for e in unbilled],
                )
                check_time(reserved, currency)
            names = await self._names(principal, peers, reserved, data.group_by)
            async with tx() as session:
                return await self._write_draft(
                    session,
                    principal,
                    invoice_id=invoice_id,
                    data=data,
                    currency=currency,
                    tax_rate=tax_rate,
                    project_ids=project_ids,
                    reserved=reserved,
                    names=names,
                    milestones_wanted=milestones_wanted
                    if IncludeSource.MILESTONES in include
                    else None,
                )
        except BaseException:
            if unbilled:
                await self._release_quietly(principal, peers, invoice_id)
            raise

    async def _check_projects(
        self,
        principal: Principal,
        peers: Peers,
        client: ClientInfo,
        project_ids: Sequence[uuid.UUID],
    ) -> None:
        if not project_ids:
            return
        projects = await peers.work.projects(principal, project_ids)
        strangers = [
            str(p) for p in project_ids if p not in projects or projects[p].client_id != client.id
        ]
        if strangers:
            raise field_error(
                "project_ids", "not projects of this client: " + ", ".join(strangers), "not_found"
            )

    async def _names(
        self,
        principal: Principal,
        peers: Peers,
        entries: Sequence[BillableEntry],
        group_by: GroupBy,
    ) -> Names:
        if not entries:
            return Names({}, {}, {})
        projects = await peers.work.projects(principal, [e.project_id for e in entries])
        members: dict[uuid.UUID, str] = {}
        tasks: dict[uuid.UUID, str] = {}
        if group_by is GroupBy.MEMBER:
            people = await peers.identity.members(principal, [e.user_id for e in entries])
            members = {user_id: m.display_name for user_id, m in people.items()}
        if group_by is GroupBy.TASK:
            task_ids = [e.task_id for e in entries if e.task_id is not None]
            found = await peers.work.tasks(principal, task_ids) if task_ids else {}
            tasks = {task_id: t.title for task_id, t in found.items()}
        return Names(members, {p.id: p.name for p in projects.values()}, tasks)

    async def _write_draft(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        invoice_id: uuid.UUID,
        data: InvoiceCreate,
        currency: str,
        tax_rate: int,
        project_ids: tuple[uuid.UUID, ...],
        reserved: Sequence[BillableEntry],
        names: Names,
        milestones_wanted: MilestoneSelection | None,
    ) -> InvoiceView:
        claimed: list[BillableMilestone] = []
        if milestones_wanted is not None:
            candidates = await invoice_repository.unbilled_milestones(session, milestones_wanted)
            check_milestones(candidates, currency)
            claimed = await invoice_repository.claim_milestones(
                session, milestones_wanted, invoice_id, [m.milestone_id for m in candidates]
            )
            check_milestones(claimed, currency)
        include = set(data.include)
        if include and not reserved and not claimed:
            what = " or ".join(sorted(str(i) for i in include))
            raise NothingToInvoice(
                f"the client has no unbilled {what} in this selection; create the draft with "
                '`"include": []` to bill manual lines only'
            )
        drafts = [
            *time_lines(reserved, data.group_by, names, tax_rate),
            *milestone_lines(claimed, tax_rate),
        ]
        settings = await invoice_repository.billing_settings(session)
        due_in_days = data.due_in_days
        if due_in_days is None:
            due_in_days = settings.payment_terms_days if settings else DEFAULT_PAYMENT_TERMS_DAYS
        covered = project_ids or tuple(
            dict.fromkeys(d.project_id for d in drafts if d.project_id is not None)
        )
        invoice = Invoice(
            tenant_id=principal.tenant_id,
            id=invoice_id,
            client_id=data.client_id,
            project_ids=list(covered),
            status=InvoiceStatus.DRAFT.value,
            currency=currency,
            due_in_days=due_in_days,
            period_from=data.period_from,
            period_to=data.period_to,
            notes=data.notes,
            created_by=principal.user_id,
            version=1,
        )
        _apply_totals(invoice, drafts)
        await invoice_repository.create(session, invoice)
        lines = [_line_row(invoice, i, d) for i, d in enumerate(drafts, start=1)]
        session.add_all(lines)
        await session.flush()
        return InvoiceView(invoice, lines)

    async def _release_quietly(
        self, principal: Principal, peers: Peers, invoice_id: uuid.UUID
    ) -> None:
        try:
            await peers.time.release_entries(principal, invoice_id)
        except Exception:
            log.exception(
                "releasing time for an invoice that was not made failed", invoice_id=str(invoice_id)
            )

    # --- editing a draft ---------------------------------------------------------------------

    async def _draft(
        self, session: AsyncSession, principal: Principal, invoice_id: uuid.UUID
    ) -> Invoice:
        principal.require("invoices.write")
        invoice = await invoice_repository.lock(session, invoice_id)
        if invoice is None:
            raise NotFound("no such invoice")
        if invoice.status != InvoiceStatus.DRAFT:
            raise NotDraft(f"the invoice is {invoice.status}; only a draft can be changed")
        return invoice

    async def _retotal(self, session: AsyncSession, invoice: Invoice) -> InvoiceView:
        lines = await invoice_repository.lines(session, invoice.id)
        _apply_totals(invoice, lines)
        invoice.version += 1
        await session.flush()
        return InvoiceView(invoice, lines)

    async def update(
        self,
        session: AsyncSession,
        principal: Principal,
        invoice_id: uuid.UUID,
        data: InvoiceUpdate,
    ) -> InvoiceView:
        invoice = await self._draft(session, principal, invoice_id)
        sent = data.model_dump(exclude_unset=True)
        if "due_in_days" in sent and sent["due_in_days"] is None:
            raise field_error("due_in_days", "due_in_days cannot be null")
        changes = {k: v for k, v in sent.items() if getattr(invoice, k) != v}
        if changes:
            await invoice_repository.update(session, invoice, changes)
            invoice.version += 1
            await session.flush()
        return InvoiceView(invoice, await invoice_repository.lines(session, invoice.id))

    async def add_line(
        self,
        session: AsyncSession,
        principal: Principal,
        invoice_id: uuid.UUID,
        data: LineCreate,
        default_tax_rate_bps: int,
    ) -> InvoiceView:
        """A manual line at the end; `tax_rate_bps` defaults to `default_tax_rate_bps`."""
        invoice = await self._draft(session, principal, invoice_id)
        lines = await invoice_repository.lines(session, invoice.id)
        if len(lines) >= MAX_LINES:
            raise Conflict(f"an invoice has at most {MAX_LINES} lines")
        tax_rate = data.tax_rate_bps if data.tax_rate_bps is not None else default_tax_rate_bps
        draft = manual_line(data.description, data.quantity, data.unit_price_cents, tax_rate)
        position = max((line.position for line in lines), default=0) + 1
        session.add(_line_row(invoice, position, draft))
        await session.flush()
        return await self._retotal(session, invoice)

    async def update_line(
        self,
        session: AsyncSession,
        principal: Principal,
        invoice_id: uuid.UUID,
        line_id: uuid.UUID,
        data: LineUpdate,
    ) -> InvoiceView:
        invoice = await self._draft(session, principal, invoice_id)
        line = await invoice_repository.line(session, invoice.id, line_id)
        if line is None:
            raise NotFound("no such line on this invoice")
        sent = data.model_dump(exclude_unset=True)
        for required in ("description", "quantity", "unit_price_cents", "tax_rate_bps"):
            if required in sent and sent[required] is None:
                raise field_error(required, f"{required} cannot be null")
        if line.source_type != "manual" and {"quantity", "unit_price_cents"} & set(sent):
            raise LineLocked(
                f"this line bills {line.source_type}: its quantity and price come from what it "
                "bills; change its description or tax rate, or delete the draft and rebuild it"
            )
        if "description" in sent:
            line.description = sent["description"]
        quantity = sent.get("quantity", line.quantity)
        unit_price = sent.get("unit_price_cents", line.unit_price_cents)
        if line.source_type == "manual":
            line.quantity, line.unit_price_cents = quantity, unit_price
            line.amount_cents = money.line_amount_cents(quantity, unit_price)
        if "tax_rate_bps" in sent:
            line.tax_rate_bps = sent["tax_rate_bps"]
        line.tax_cents = money.tax_cents(line.amount_cents, line.tax_rate_bps)
        await session.flush()
        return await self._retotal(session, invoice)

    async def delete_line(
        self,
        session: AsyncSession,
        principal: Principal,
        invoice_id: uuid.UUID,
        line_id: uuid.UUID,
    ) -> InvoiceView:
        """Manual lines go; a milestone line goes and frees its milestone for a later invoice.
        Time lines stay: time is reserved per invoice, and handing back part of it would let
        another run take entries this draft still shows (delete the draft to release it)."""
        invoice = await self._draft(session, principal, invoice_id)
        line = await invoice_repository.line(session, invoice.id, line_id)
        if line is None:
            raise NotFound("no such line on this invoice")
        if line.source_type == "time":
            raise LineLocked(
                "a time line cannot be removed from a draft: delete the draft (which releases "
                "its time) and build it again with a narrower `project_ids` or period"
            )
        if line.source_type == "milestone" and line.milestone_id is not None:
            await invoice_repository.release_milestones(session, invoice.id, [line.milestone_id])
        await invoice_repository.delete_line(session, line)
        return await self._retotal(session, invoice)

    async def delete(
        self, tx: Transactions, principal: Principal, peers: Peers, invoice_id: uuid.UUID
    ) -> None:
        """A draft goes, with its lines; its time and milestones are unbilled again. Time is
        released while the draft is locked and before it is deleted: should the delete then
        fail, the draft remains, and sending it notices that its time is no longer held."""
        async with tx() as session:
            invoice = await self._draft(session, principal, invoice_id)
            lines = await invoice_repository.lines(session, invoice.id)
            if any(line.time_entry_ids for line in lines):
                await peers.time.release_entries(principal, invoice.id)
            await invoice_repository.release_milestones(session, invoice.id)
            await session.delete(invoice)
            await session.flush()
            await record_audit(
                session,
                action="invoice.deleted",
                entity_type="invoice",
                entity_id=invoice.id,
                actor=principal,
                source_service=SERVICE,
                before={"status": invoice.status, "total_cents": invoice.total_cents},
                detail={
                    "client_id": str(invoice.client_id),
                    "currency": invoice.currency,
                    "lines": len(lines),
                    "time_entries_released": sum(len(line.time_entry_ids) for line in lines),
                },
            )

    @staticmethod
    def today(agency: AgencyInfo) -> date:
        """The agency's date now (in its time zone)."""
        return datetime.now(agency.timezone).date()


invoice_service = InvoiceService()
