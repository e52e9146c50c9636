"""One list shape for every API: {"items", "total", "page", "per_page"} (ARCHITECTURE.md §6)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

T = TypeVar("T")

MAX_PER_PAGE = 200
# Far past any real list; keeps the OFFSET inside what PostgreSQL accepts (else a 500).
MAX_PAGE = 1_000_000


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int


@dataclass(frozen=True)
class PageParams:
    page: int
    per_page: int

    def page_of(self, items: Sequence[T], total: int) -> Page[T]:
        return Page[T](items=list(items), total=total, page=self.page, per_page=self.per_page)


def _page_params(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description="items per page")] = 50,
) -> PageParams:
    return PageParams(page=page, per_page=per_page)


Pagination = Annotated[PageParams, Depends(_page_params)]
