"""The values an email is made of, shared by everything that writes one: who it goes to, the
agency it speaks for, what it says once rendered, and the files it carries by link."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Brand:
    """The agency an email speaks for: its name, logo and colour in the layout; dates and
    money in its time zone and currency."""

    name: str
    logo_url: str | None
    brand_color: str | None
    timezone: ZoneInfo
    currency: str


@dataclass(frozen=True)
class Addressee:
    """One recipient: an address, the name to greet, and the member behind it (None for a
    client's contact or someone not yet a member)."""

    email: str
    name: str | None = None
    user_id: uuid.UUID | None = None


@dataclass(frozen=True)
class RenderedEmail:
    """An email as the recipient reads it. `unsubscribe_url` (when the email carries one)
    also becomes its List-Unsubscribe header."""

    subject: str
    html: str
    text: str
    unsubscribe_url: str | None = None


@dataclass(frozen=True)
class AttachmentLink:
    """A file fetched from `url` when the email is sent (an invoice's signed PDF link)."""

    filename: str
    content_type: str
    url: str
