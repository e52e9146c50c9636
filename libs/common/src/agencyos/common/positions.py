"""Manual order in a column (kanban boards: CRM's deals in a stage, work's tasks in a column):
each card has a float `position`; a card moved between two others takes the midpoint, so a
move writes one row, until two neighbours are closer than MIN_GAP and the column is
renumbered."""

from __future__ import annotations

# The gap between consecutive cards after a renumbering, and first card's position.
POSITION_STEP = 1024.0
# Closer than this, two neighbours leave no room between them: renumber the column.
MIN_GAP = 1e-6


def between(above: float | None, below: float | None) -> float | None:
    """The position for a card placed between `above` and `below` (None: no card on that
    side); None when the two are too close and the column must be renumbered first."""
    if above is None and below is None:
        return POSITION_STEP
    if below is None:
        assert above is not None
        return above + POSITION_STEP
    if above is None:
        return below - POSITION_STEP
    if below - above > MIN_GAP:
        return (above + below) / 2
    return None
