"""The invoice status machine on its own (pure: no platform, no database)."""

from __future__ import annotations

from itertools import product

import pytest

from agencyos.billing.invoice.errors import NotSendable, NotVoidable
from agencyos.billing.invoice.status import (
    OPEN_STATUSES,
    TRANSITIONS,
    InvoiceStatus,
    Move,
)
from agencyos.common.errors import Conflict

S = InvoiceStatus

# Every allowed change and the move that makes it, written out again here so that changing the
# machine means changing this list too. Everything else (any other pair, or an allowed pair
# through another move: sending a paid invoice is not a refund) is refused.
ALLOWED: dict[tuple[InvoiceStatus, InvoiceStatus], Move] = {
    (S.DRAFT, S.SENT): Move.SEND,
    (S.SENT, S.PARTIALLY_PAID): Move.SETTLE,
    (S.SENT, S.PAID): Move.SETTLE,
    (S.SENT, S.OVERDUE): Move.MARK_OVERDUE,
    (S.SENT, S.VOID): Move.VOID,
    (S.PARTIALLY_PAID, S.SENT): Move.SETTLE,
    (S.PARTIALLY_PAID, S.PAID): Move.SETTLE,
    (S.PARTIALLY_PAID, S.OVERDUE): Move.MARK_OVERDUE,
    (S.PARTIALLY_PAID, S.VOID): Move.VOID,
    (S.OVERDUE, S.PAID): Move.SETTLE,
    (S.OVERDUE, S.VOID): Move.VOID,
    (S.PAID, S.SENT): Move.SETTLE,
    (S.PAID, S.PARTIALLY_PAID): Move.SETTLE,
}
EVERY_CHANGE = [(a, b, m) for (a, b), m in ALLOWED.items()]
EVERY_REFUSAL = [(a, b, m) for a, b, m in product(S, S, Move) if ALLOWED.get((a, b)) is not m]


class TestTheTable:
    def test_is_the_list_of_allowed_changes(self) -> None:
        assert dict(TRANSITIONS) == ALLOWED

    def test_keeps_the_api_order_of_statuses(self) -> None:
        order = ["draft", "sent", "paid", "partially_paid", "overdue", "void"]
        assert [s.value for s in S] == order

    def test_open_statuses_are_those_expecting_money(self) -> None:
        assert OPEN_STATUSES == (S.SENT, S.PARTIALLY_PAID, S.OVERDUE)
        assert [s for s in S if s.is_open] == list(OPEN_STATUSES)


class TestCanBecome:
    @pytest.mark.parametrize(("current", "target"), list(product(S, S)))
    def test_answers_whether_some_move_makes_the_change(
        self, current: InvoiceStatus, target: InvoiceStatus
    ) -> None:
        assert current.can_become(target) is ((current, target) in ALLOWED)

    def test_no_status_becomes_itself(self) -> None:
        assert not any(s.can_become(s) for s in S)

    def test_void_is_final(self) -> None:
        assert not any(S.VOID.can_become(s) for s in S)


class TestTransition:
    @pytest.mark.parametrize(("current", "target", "move"), EVERY_CHANGE)
    def test_an_allowed_change_gives_its_target(
        self, current: InvoiceStatus, target: InvoiceStatus, move: Move
    ) -> None:
        assert current.transition(target, move) is target

    @pytest.mark.parametrize(("current", "target", "move"), EVERY_REFUSAL)
    def test_any_other_change_or_move_is_a_conflict(
        self, current: InvoiceStatus, target: InvoiceStatus, move: Move
    ) -> None:
        with pytest.raises(Conflict) as refused:
            current.transition(target, move)
        assert refused.value.status == 409


class TestRefusals:
    """The answers the API has always given (slug and detail)."""

    @pytest.mark.parametrize("current", [s for s in S if s is not S.DRAFT])
    def test_sending_anything_but_a_draft(self, current: InvoiceStatus) -> None:
        with pytest.raises(NotSendable) as refused:
            current.transition(S.SENT, Move.SEND)
        assert refused.value.slug == "invoice-not-sendable"
        assert refused.value.detail == f"the invoice is already {current.value}; it is sent once"

    def test_voiding_a_draft(self) -> None:
        with pytest.raises(NotVoidable) as refused:
            S.DRAFT.transition(S.VOID, Move.VOID)
        assert refused.value.slug == "invoice-not-voidable"
        assert refused.value.detail == "a draft has no number to void: delete it instead"

    @pytest.mark.parametrize("current", [S.PAID, S.VOID])
    def test_voiding_a_paid_or_void_invoice(self, current: InvoiceStatus) -> None:
        with pytest.raises(NotVoidable) as refused:
            current.transition(S.VOID, Move.VOID)
        assert refused.value.detail == f"the invoice is {current.value}"

    @pytest.mark.parametrize("current", [S.DRAFT, S.PAID, S.OVERDUE, S.VOID])
    def test_marking_overdue_only_from_sent_or_partly_paid(self, current: InvoiceStatus) -> None:
        with pytest.raises(Conflict) as refused:
            current.transition(S.OVERDUE, Move.MARK_OVERDUE)
        assert refused.value.slug == "conflict"


class TestSettled:
    TOTAL = 10_000

    @pytest.mark.parametrize("current", [S.DRAFT, S.VOID])
    @pytest.mark.parametrize("paid", [0, 1, 10_000, 20_000])
    def test_money_on_a_draft_or_void_invoice_moves_nothing(
        self, current: InvoiceStatus, paid: int
    ) -> None:
        assert current.settled(paid, self.TOTAL) is current

    @pytest.mark.parametrize("current", [S.SENT, S.PARTIALLY_PAID, S.OVERDUE, S.PAID])
    def test_paid_in_full_is_paid(self, current: InvoiceStatus) -> None:
        assert current.settled(self.TOTAL, self.TOTAL) is S.PAID
        assert current.settled(self.TOTAL + 1, self.TOTAL) is S.PAID

    @pytest.mark.parametrize("current", [S.SENT, S.PARTIALLY_PAID, S.PAID])
    def test_paid_in_part_is_partially_paid(self, current: InvoiceStatus) -> None:
        assert current.settled(1, self.TOTAL) is S.PARTIALLY_PAID

    @pytest.mark.parametrize("current", [S.SENT, S.PARTIALLY_PAID, S.PAID])
    def test_nothing_paid_is_sent(self, current: InvoiceStatus) -> None:
        assert current.settled(0, self.TOTAL) is S.SENT

    @pytest.mark.parametrize("paid", [0, 1, 9_999])
    def test_overdue_stays_overdue_until_paid_in_full(self, paid: int) -> None:
        assert S.OVERDUE.settled(paid, self.TOTAL) is S.OVERDUE

    @pytest.mark.parametrize(("current", "paid"), list(product(S, [0, 1, 9_999, 10_000])))
    def test_every_change_it_makes_is_in_the_table(self, current: InvoiceStatus, paid: int) -> None:
        after = current.settled(paid, self.TOTAL)
        assert after is current or ALLOWED[current, after] is Move.SETTLE
