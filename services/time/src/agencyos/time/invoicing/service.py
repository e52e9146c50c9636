"""Taking approved time onto invoices: what is unbilled and what it is worth, reserving it
for one invoice (never for two), confirming it as invoiced, releasing it again.

An entry's life here: approved with no invoice (unbilled) → approved and held by an invoice
(reserved) → invoiced; a release from either returns it to unbilled. Every change is in the
entry's audit trail, written in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.errors import PreconditionFailed
from agencyos.common.events import TimeEntriesInvoiced
from agencyos.common.outbox import publish
from agencyos.time.audit import record, snapshot
from agencyos.time.invoicing.repository import Selection, invoicing_repository
from agencyos.time.models import TimeEntry
from agencyos.time.peers import Peers
from agencyos.time.projects.directory import ProjectFacts, known_projects
from agencyos.time.rate.resolver import RateBook, amount_cents

SERVICE = "time"
FROZEN = "frozen"

Projects = Mapping[uuid.UUID, ProjectFacts]


@dataclass(frozen=True)
class ValuedEntry:
    """An entry with what it is worth: its rate (frozen on it, else resolved for its day),
    the currency that rate is in, and duration x rate."""

    entry: TimeEntry
    rate_cents: int | None
    rate_source: str
    currency: str | None
    amount_cents: int
    cost_rate_cents: int | None


async def _rate_book(session: AsyncSession, entries: Iterable[TimeEntry]) -> RateBook:
    entries = list(entries)
    return await RateBook.load(
        session, [e.user_id for e in entries], [e.project_id for e in entries]
    )


def value(entry: TimeEntry, book: RateBook, projects: Projects) -> ValuedEntry:
    project = projects.get(entry.project_id)
    rate: int | None
    if entry.billable_rate_cents is not None:
        rate, source = entry.billable_rate_cents, FROZEN
    else:
        resolved = book.billable(
            entry.user_id,
            entry.project_id,
            entry.date,
            project.hourly_rate_cents if project else None,
        )
        rate, source = resolved.hourly_rate_cents, resolved.source
    cost: int | None = entry.cost_rate_cents
    if cost is None:
        cost = book.cost(entry.user_id, entry.date).hourly_rate_cents
    return ValuedEntry(
        entry=entry,
        rate_cents=rate,
        rate_source=source,
        currency=entry.currency or (project.currency if project else None),
        amount_cents=amount_cents(entry.duration_seconds, rate or 0),
        cost_rate_cents=cost,
    )


class InvoicingService:
    async def unbilled(
        self, session: AsyncSession, selection: Selection
    ) -> tuple[Sequence[TimeEntry], RateBook]:
        """The selection's unbilled entries and the rates that can value them (read in one
        transaction; valuing them needs work's projects, asked outside it)."""
        entries = await invoicing_repository.unbilled(session, selection)
        return entries, await _rate_book(session, entries)

    @staticmethod
    def valued(
        entries: Iterable[TimeEntry], book: RateBook, projects: Projects, currency: str | None
    ) -> list[ValuedEntry]:
        """Each entry with its value; only those in `currency` when one is named."""
        valued = [value(e, book, projects) for e in entries]
        if currency is not None:
            valued = [v for v in valued if v.currency == currency]
        return valued

    async def candidate_project_ids(
        self, session: AsyncSession, selection: Selection, invoice_id: uuid.UUID
    ) -> list[uuid.UUID]:
        return await invoicing_repository.candidate_project_ids(session, selection, invoice_id)

    async def reserve(
        self,
        session: AsyncSession,
        principal: Principal,
        invoice_id: uuid.UUID,
        selection: Selection,
        *,
        entry_ids: Sequence[uuid.UUID],
        projects: Projects,
        peers: Peers,
    ) -> list[ValuedEntry]:
        """Hand the selection's unbilled entries to the invoice and answer everything it holds.
        The rate and currency each claimed entry is billed at are frozen on it, so the entry
        and the invoice line agree whatever rates change later."""
        held = await invoicing_repository.held_by(session, invoice_id)
        self._check_invoice_may_grow(held, invoice_id, selection)
        in_currency = [p.id for p in projects.values() if p.currency == selection.currency]
        claimed = await invoicing_repository.claim(
            session,
            selection,
            invoice_id,
            entry_ids=entry_ids,
            projects_in_currency=in_currency,
        )
        if claimed:
            projects = await self._with_projects(session, principal, projects, claimed, peers)
            book = await _rate_book(session, claimed)
            for entry in claimed:
                before = {**snapshot(entry), "invoice_id": None}
                self._freeze(value(entry, book, projects))
                await record(
                    session, entry, actor_id=principal.user_id, action="reserved", before=before
                )
            await session.flush()
        held = await invoicing_repository.held_by(session, invoice_id)
        book = await _rate_book(session, held)
        valued = [value(e, book, projects) for e in held]
        self._check_one_currency(valued)
        return valued

    @staticmethod
    def _check_invoice_may_grow(
        held: Sequence[TimeEntry], invoice_id: uuid.UUID, selection: Selection
    ) -> None:
        if any(e.status == "invoiced" for e in held):
            raise PreconditionFailed(
                f"invoice {invoice_id} is already confirmed as invoiced; it takes no more time"
            )
        if any(e.client_id != selection.client_id for e in held):
            raise PreconditionFailed(
                f"invoice {invoice_id} already holds another client's time; an invoice is for "
                "one client"
            )

    @staticmethod
    def _check_one_currency(valued: Sequence[ValuedEntry]) -> None:
        unknown = sorted({str(v.entry.project_id) for v in valued if not v.currency})
        if unknown:
            raise PreconditionFailed(
                "the currency of projects " + ", ".join(unknown) + " is unknown (work does not "
                "show them to the caller); nothing was reserved"
            )
        currencies = sorted({v.currency for v in valued if v.currency})
        if len(currencies) > 1:
            raise PreconditionFailed(
                "the selected time is billed in " + " and ".join(currencies) + "; an invoice "
                "has one currency: select one (`currency`); nothing was reserved"
            )

    @staticmethod
    async def _with_projects(
        session: AsyncSession,
        principal: Principal,
        projects: Projects,
        entries: Iterable[TimeEntry],
        peers: Peers,
    ) -> Projects:
        """`projects` plus any project of `entries` it lacks (an entry approved on another
        project between the look-up and the claim)."""
        missing = {e.project_id for e in entries} - set(projects)
        if not missing:
            return projects
        return {
            **projects,
            **await known_projects(session, principal, peers.work, sorted(missing)),
        }

    @staticmethod
    def _freeze(valued: ValuedEntry) -> None:
        entry = valued.entry
        if entry.billable_rate_cents is None and valued.rate_cents is not None:
            entry.billable_rate_cents = valued.rate_cents
        if entry.cost_rate_cents is None and valued.cost_rate_cents is not None:
            entry.cost_rate_cents = valued.cost_rate_cents
        if entry.currency is None and valued.currency:
            entry.currency = valued.currency

    async def confirm_invoiced(
        self, session: AsyncSession, principal: Principal, invoice_id: uuid.UUID
    ) -> int:
        """The invoice's reserved entries become invoiced; publishes `time.entries.invoiced`
        for the ones this call changed. Answers how many the invoice holds as invoiced."""
        changed = await invoicing_repository.mark_invoiced(session, invoice_id)
        for entry in changed:
            before = {**snapshot(entry), "status": "approved"}
            await record(
                session, entry, actor_id=principal.user_id, action="invoiced", before=before
            )
        if changed:
            await publish(
                session,
                TimeEntriesInvoiced(
                    invoice_id=invoice_id,
                    entry_ids=[e.id for e in changed],
                    total_seconds=sum(e.duration_seconds for e in changed),
                ),
                source_service=SERVICE,
                subject=f"invoices/{invoice_id}",
            )
        return await invoicing_repository.count_invoiced(session, invoice_id)

    async def release(
        self, session: AsyncSession, invoice_id: uuid.UUID, *, actor_id: uuid.UUID | None
    ) -> int:
        """The invoice's entries (reserved or invoiced) are unbilled again; answers how many
        this released. `actor_id` is None when billing's void event asked."""
        held = await invoicing_repository.lock_held(session, invoice_id)
        if not held:
            return 0
        before = {e.id: snapshot(e) for e in held}
        released = await invoicing_repository.release(session, list(before))
        for entry in released:
            await record(
                session, entry, actor_id=actor_id, action="released", before=before[entry.id]
            )
        return len(released)


invoicing_service = InvoicingService()
