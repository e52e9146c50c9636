"""A rule's conditions, all of which must hold for its actions to run. Each reads one field of
the event by a dotted path (`data.status`, `data.bill_to.email`, `subject`):

- `equals` / `not_equals`: the value is (is not) the given one; an absent field equals
  nothing (so `not_equals` holds);
- `in`: the value is one of the given list;
- `gt` / `lt`: both numbers, or both strings (ISO dates and times order as text); anything
  else does not hold;
- `changed_to`: the value is the given one now AND the event says the field changed: it is in
  the event's `data.changed_fields`, or the event carries the value before it
  (`old_status` for `new_status`, `from_stage` for `to_stage`) and that differs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

MISSING = object()


class Op(StrEnum):
    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    IN = "in"
    GT = "gt"
    LT = "lt"
    CHANGED_TO = "changed_to"


def lookup(document: Any, path: str) -> Any:
    """The value at dotted `path` in `document` (dicts, and lists by index), or MISSING."""
    current = document
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ordered(left: Any, right: Any) -> bool:
    return (_number(left) and _number(right)) or (isinstance(left, str) and isinstance(right, str))


def _changed(event: Mapping[str, Any], path: str, now: Any) -> bool:
    if not path.startswith("data.") or path.count(".") != 1:
        return False
    data = event.get("data") or {}
    name = path.removeprefix("data.")
    changed = data.get("changed_fields")
    if isinstance(changed, list) and name in changed:
        return True
    for new, old in (("new_", "old_"), ("to_", "from_")):
        before_name = old + name.removeprefix(new)
        if name.startswith(new) and before_name in data:
            return bool(data[before_name] != now)
    return False


def holds(event: Mapping[str, Any], field: str, op: Op, expected: Any) -> bool:
    value = lookup(event, field)
    if op is Op.EQUALS:
        return value is not MISSING and value == expected
    if op is Op.NOT_EQUALS:
        return value is MISSING or value != expected
    if op is Op.IN:
        return value is not MISSING and isinstance(expected, list) and value in expected
    if op is Op.GT:
        return value is not MISSING and _ordered(value, expected) and value > expected
    if op is Op.LT:
        return value is not MISSING and _ordered(value, expected) and value < expected
    if op is Op.CHANGED_TO:
        return value is not MISSING and value == expected and _changed(event, field, value)
    return False


def all_hold(event: Mapping[str, Any], conditions: Sequence[Mapping[str, Any]]) -> bool:
    return all(holds(event, c["field"], Op(c["op"]), c.get("value")) for c in conditions)
