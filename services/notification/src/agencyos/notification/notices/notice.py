"""What one notice says, whoever hears it: the kind, the in-app row's title, body and link,
and the email template with its context (every template also gets `recipient_name`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The template of a kind without a specific one.
GENERIC_TEMPLATE = "notice"


@dataclass(frozen=True)
class Notice:
    kind: str
    title: str
    body: str = ""
    # the API path of what it is about (`/v1/tasks/<id>`)
    link: str | None = None
    link_label: str = "Open"
    subject: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    actor_id: uuid.UUID | None = None
    template: str = GENERIC_TEMPLATE
    # the template's context when it is a specific one; the generic one is made from the rest
    context: Mapping[str, Any] = field(default_factory=dict)


def quoted(text: str) -> str:
    return f"\u201c{text}\u201d"
