"""What every typed peer client shares: its channel, the timeout and the per-request memo."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Generic, TypeVar

from agencyos.common.auth import Principal

V = TypeVar("V")


class ByIdMemo(Generic[V]):
    """Answers by id remembered for one client's lifetime, per caller: `get` asks `fetch` only
    for the ids no earlier call answered (found or not found)."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, uuid.UUID], V | None] = {}

    async def get(
        self,
        principal: Principal,
        ids: Iterable[uuid.UUID],
        fetch: Callable[[Sequence[uuid.UUID]], Awaitable[dict[uuid.UUID, V]]],
    ) -> dict[uuid.UUID, V]:
        wanted = list(dict.fromkeys(ids))
        caller = principal.token
        missing = [i for i in wanted if (caller, i) not in self._known]
        if missing:
            found = await fetch(missing)
            for i in missing:
                self._known[(caller, i)] = found.get(i)
        answer: dict[uuid.UUID, V] = {}
        for i in wanted:
            value = self._known[(caller, i)]
            if value is not None:
                answer[i] = value
        return answer


def optional_uuid(raw: str) -> uuid.UUID | None:
    return uuid.UUID(raw) if raw else None
