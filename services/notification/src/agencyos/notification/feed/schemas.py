"""`GET /v1/events`'s answer: CloudEvents as the reader may see them, each with its cursor."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FeedItem(BaseModel):
    """A CloudEvent (JSON format, spec 1.0) as the reader may see it, plus `cursor`: the
    position right after it, to pass as `after` (or as the stream's `Last-Event-ID`).
    Optional attributes (`subject`, `dataschema`, ...) appear when the event has them."""

    model_config = ConfigDict(extra="allow")

    specversion: str = Field(examples=["1.0"])
    id: uuid.UUID
    source: str = Field(examples=["/agencyos/work"])
    type: str = Field(examples=["work.task.created"])
    time: datetime
    tenantid: uuid.UUID
    data: dict[str, Any]
    cursor: str = Field(examples=["ev1_AAAAAAAAAAE"])


class FeedPageOut(BaseModel):
    items: list[FeedItem]
    # Where to continue: pass it as `after` (also when `items` is empty).
    next_cursor: str = Field(examples=["ev1_AAAAAAAAAAE"])
    # True when the page was full and more events may follow right away; false once the
    # reader has caught up (poll again later with `next_cursor`).
    more: bool
