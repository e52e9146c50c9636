"""An invoice's status and the one table of how it may change.

    draft ──send──▶ sent
    sent ⇄ partially_paid ⇄ paid ⇄ sent   (settle: payments forward, refunds back)
    sent, partially_paid ──mark overdue──▶ overdue ──settle──▶ paid
    sent, partially_paid, overdue ──void──▶ void

- send: a draft gets its number and goes out; it is sent once.
- settle: a payment or refund moves the balance, and the balance decides the status
  (`settled`). Refunds go back: paid → partially_paid or sent, partially_paid → sent. An
  overdue invoice stays overdue until it is paid in full (overdue is what an agency acts on).
  Money on a draft or void invoice is recorded but moves nothing.
- mark overdue: the scheduler, once a sent or partly paid invoice is past its due date.
- void: a sent, partly paid or overdue invoice; the status allows it, and issuing adds the
  rule that nothing may have been paid (so a partly paid one is refused for its money).

`TRANSITIONS` is the whole machine: every change of status and the one move that makes it.
A status changes only through `transition` (or `settled`), which refuses any other change
with the error its caller has always answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from agencyos.billing.invoice.errors import NotSendable, NotVoidable
from agencyos.common.errors import Conflict


class InvoiceStatus(StrEnum):
    # The order is the API's: the list's totals are sorted in it.
    DRAFT = "draft"
    SENT = "sent"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    OVERDUE = "overdue"
    VOID = "void"

    @property
    def is_open(self) -> bool:
        """Sent and not fully paid: still expecting money (manual payments, a payment page,
        reminders, overdue notices)."""
        return self in OPEN_STATUSES

    def can_become(self, target: InvoiceStatus) -> bool:
        """Whether some move changes this status into `target`."""
        return (self, target) in TRANSITIONS

    def transition(self, target: InvoiceStatus, move: Move) -> InvoiceStatus:
        """`target`, if `move` may change this status into it; else the move's refusal."""
        if TRANSITIONS.get((self, target)) is not move:
            raise refusal(self, target, move)
        return target

    def settled(self, amount_paid_cents: int, total_cents: int) -> InvoiceStatus:
        """The status once the invoice's payments add up to `amount_paid_cents`."""
        if self in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
            return self
        if amount_paid_cents >= total_cents:
            target = InvoiceStatus.PAID
        elif self is InvoiceStatus.OVERDUE:
            target = InvoiceStatus.OVERDUE
        elif amount_paid_cents > 0:
            target = InvoiceStatus.PARTIALLY_PAID
        else:
            target = InvoiceStatus.SENT
        return self if target is self else self.transition(target, Move.SETTLE)


class Move(StrEnum):
    SEND = "send"
    SETTLE = "settle"
    MARK_OVERDUE = "mark_overdue"
    VOID = "void"


OPEN_STATUSES: tuple[InvoiceStatus, ...] = (
    InvoiceStatus.SENT,
    InvoiceStatus.PARTIALLY_PAID,
    InvoiceStatus.OVERDUE,
)

_S = InvoiceStatus
TRANSITIONS: Mapping[tuple[InvoiceStatus, InvoiceStatus], Move] = {
    (_S.DRAFT, _S.SENT): Move.SEND,
    (_S.SENT, _S.PARTIALLY_PAID): Move.SETTLE,
    (_S.SENT, _S.PAID): Move.SETTLE,
    (_S.SENT, _S.OVERDUE): Move.MARK_OVERDUE,
    (_S.SENT, _S.VOID): Move.VOID,
    (_S.PARTIALLY_PAID, _S.SENT): Move.SETTLE,
    (_S.PARTIALLY_PAID, _S.PAID): Move.SETTLE,
    (_S.PARTIALLY_PAID, _S.OVERDUE): Move.MARK_OVERDUE,
    (_S.PARTIALLY_PAID, _S.VOID): Move.VOID,
    (_S.OVERDUE, _S.PAID): Move.SETTLE,
    (_S.OVERDUE, _S.VOID): Move.VOID,
    (_S.PAID, _S.SENT): Move.SETTLE,
    (_S.PAID, _S.PARTIALLY_PAID): Move.SETTLE,
}


def refusal(current: InvoiceStatus, target: InvoiceStatus, move: Move) -> Conflict:
    """What refusing `move` from `current` answers (its slug and detail are the API's)."""
    if move is Move.SEND:
        return NotSendable(f"the invoice is already {current}; it is sent once")
    if move is Move.VOID:
        if current is InvoiceStatus.DRAFT:
            return NotVoidable("a draft has no number to void: delete it instead")
        return NotVoidable(f"the invoice is {current}")
    # Settling and marking overdue pick only allowed targets; this guards that they do.
    return Conflict(f"an invoice that is {current} cannot become {target} ({move})")
