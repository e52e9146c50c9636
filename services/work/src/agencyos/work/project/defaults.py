"""What a project gets when nobody chose otherwise."""

from __future__ import annotations

from typing import Any

# Tasks are laid out POSITION_STEP apart (agencyos.common.positions).
from agencyos.common.positions import POSITION_STEP as POSITION_STEP

# (name, colour, status), in board order.
DEFAULT_COLUMNS: list[dict[str, Any]] = [
    {"name": "To do", "color": "#9CA3AF", "status": "todo"},
    {"name": "In progress", "color": "#3B82F6", "status": "in_progress"},
    {"name": "Review", "color": "#F59E0B", "status": "review"},
    {"name": "Done", "color": "#10B981", "status": "done"},
]
