"""`types=` filters: exact event types or prefixes (`work.task.*`), comma-separated."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ITEM = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)*(\.\*)?$|^\*$")
MAX_ITEMS = 50
# an event type is at most 120 characters (the feed's `type` column)
MAX_ITEM_LENGTH = 120


class InvalidTypes(ValueError):
    pass


@dataclass(frozen=True)
class TypeFilter:
    exact: frozenset[str] = frozenset()
    # each ends with "." (`work.task.*` → "work.task."); empty filter: everything
    prefixes: tuple[str, ...] = ()

    @property
    def everything(self) -> bool:
        return not self.exact and not self.prefixes

    def matches(self, event_type: str) -> bool:
        if self.everything:
            return True
        return event_type in self.exact or any(event_type.startswith(p) for p in self.prefixes)

    @classmethod
    def parse(cls, raw: str | None) -> TypeFilter:
        if raw is None or not raw.strip():
            return cls()
        items = [item.strip() for item in raw.split(",") if item.strip()]
        if len(items) > MAX_ITEMS:
            raise InvalidTypes(f"at most {MAX_ITEMS} types in one filter")
        exact: set[str] = set()
        prefixes: list[str] = []
        for item in items:
            if len(item) > MAX_ITEM_LENGTH:
                raise InvalidTypes(
                    f"'{item[:40]}…' is longer than an event type can be "
                    f"({MAX_ITEM_LENGTH} characters)"
                )
            if not _ITEM.match(item):
                raise InvalidTypes(
                    f"'{item}' is not an event type or a prefix such as 'work.task.*'"
                )
            if item == "*":
                return cls()
            if item.endswith(".*"):
                prefixes.append(item[:-1])
            else:
                exact.add(item)
        return cls(frozenset(exact), tuple(sorted(set(prefixes))))
