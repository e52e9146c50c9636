"""Where a card lands between its neighbours, and when the column must be renumbered."""

from __future__ import annotations

import pytest

from agencyos.common.positions import MIN_GAP, POSITION_STEP, between


@pytest.mark.parametrize(
    ("above", "below", "expected"),
    [
        (None, None, POSITION_STEP),
        (2048.0, None, 2048.0 + POSITION_STEP),
        (None, 1024.0, 1024.0 - POSITION_STEP),
        (1024.0, 2048.0, 1536.0),
    ],
    ids=["empty-column", "at-the-end", "at-the-top", "between-two"],
)
def test_a_card_takes_the_midpoint_or_a_step_past_its_one_neighbour(
    above: float | None, below: float | None, expected: float
) -> None:
    assert between(above, below) == expected


def test_neighbours_closer_than_the_minimum_gap_leave_no_room() -> None:
    assert between(1.0, 1.0 + MIN_GAP / 2) is None
    assert between(1.0, 1.0) is None
