"""Who reads the feed (`Viewer`), what one feed row is (`FeedEntry`), and the one rule that
decides whether a reader sees a row and how much of it (`sees`, `shape`).

`store.read_after` applies the same rule in SQL; the stream applies it here, in memory.
Both are tested against each other, so the feed and the stream never disagree.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agencyos.common.auth import Principal
from agencyos.common.permissions import Role
from agencyos.notification.feed.catalog import FeedRule, rule_for
from agencyos.notification.feed.cursor import encode

# Envelope attributes a reader gets (never the trace context: it is ours).
PUBLIC_ATTRIBUTES = (
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "dataschema",
    "tenantid",
)


@dataclass(frozen=True)
class FeedEntry:
    """One recorded event with what deciding its readers needs (a row of `feed_events`)."""

    tenant_id: uuid.UUID
    seq: int
    event_id: uuid.UUID
    type: str
    occurred_at: datetime
    permission: str | None
    project_id: uuid.UUID | None
    client_id: uuid.UUID | None
    person_id: uuid.UUID | None
    personal: bool
    client_visible: bool
    envelope: Mapping[str, Any]

    @property
    def cursor(self) -> str:
        return encode(self.seq)

    def to_message(self) -> dict[str, Any]:
        """The entry as the feed topic carries it (JSON-ready)."""
        return {
            "tenant_id": str(self.tenant_id),
            "seq": self.seq,
            "event_id": str(self.event_id),
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat(),
            "permission": self.permission,
            "project_id": _text(self.project_id),
            "client_id": _text(self.client_id),
            "person_id": _text(self.person_id),
            "personal": self.personal,
            "client_visible": self.client_visible,
            "envelope": self.envelope,
        }

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> FeedEntry:
        return cls(
            tenant_id=uuid.UUID(message["tenant_id"]),
            seq=int(message["seq"]),
            event_id=uuid.UUID(message["event_id"]),
            type=message["type"],
            occurred_at=datetime.fromisoformat(message["occurred_at"]),
            permission=message.get("permission"),
            project_id=_uuid(message.get("project_id")),
            client_id=_uuid(message.get("client_id")),
            person_id=_uuid(message.get("person_id")),
            personal=bool(message.get("personal")),
            client_visible=bool(message.get("client_visible")),
            envelope=message["envelope"],
        )


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _uuid(value: Any) -> uuid.UUID | None:
    return None if value in (None, "") else uuid.UUID(str(value))


@dataclass(frozen=True)
class Viewer:
    """A reader of one agency's feed: a person or an API key, with their role's permissions.

    `project_ids` is the set of projects a staff reader is on, or None when they see every
    project (`projects.read_all`). A client user (`client_id` set) sees only client-visible
    events of their own client, and their own personal ones."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    role: Role
    permissions: frozenset[str]
    client_id: uuid.UUID | None = None
    project_ids: frozenset[uuid.UUID] | None = frozenset()

    @property
    def is_client(self) -> bool:
        return self.role == Role.CLIENT

    @property
    def sees_all_projects(self) -> bool:
        return self.project_ids is None

    @classmethod
    def of(cls, principal: Principal, project_ids: Iterable[uuid.UUID] | None) -> Viewer:
        """`project_ids`: the projects the caller is on (ignored with `projects.read_all`)."""
        all_projects = principal.can("projects.read_all") and principal.role != Role.CLIENT
        return cls(
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            role=principal.role,
            permissions=principal.permissions,
            client_id=principal.client_id,
            project_ids=None if all_projects else frozenset(project_ids or ()),
        )

    def with_projects(self, project_ids: Iterable[uuid.UUID]) -> Viewer:
        if self.sees_all_projects:
            return self
        return Viewer(
            self.tenant_id,
            self.user_id,
            self.role,
            self.permissions,
            self.client_id,
            frozenset(project_ids),
        )


def sees(viewer: Viewer, entry: FeedEntry) -> bool:
    """Whether `viewer` may see `entry` at all (mirrored in SQL by `store.visibility_sql`)."""
    if entry.tenant_id != viewer.tenant_id:
        return False
    mine = entry.person_id is not None and entry.person_id == viewer.user_id
    if entry.personal:
        return mine
    if viewer.is_client:
        return (
            entry.client_visible
            and viewer.client_id is not None
            and entry.client_id == viewer.client_id
        )
    if not (entry.permission is None or entry.permission in viewer.permissions or mine):
        return False
    if entry.project_id is None or viewer.project_ids is None or mine:
        return True
    return entry.project_id in viewer.project_ids


def _strip(data: dict[str, Any], path: str) -> None:
    head, _, rest = path.partition(".")
    if not rest:
        data.pop(head, None)
        return
    inner = data.get(head)
    if isinstance(inner, dict):
        inner = dict(inner)
        _strip(inner, rest)
        data[head] = inner


def shape(viewer: Viewer, entry: FeedEntry) -> dict[str, Any]:
    """The CloudEvent as `viewer` may read it (call only when `sees` is true): a client user
    gets the client fields alone; a staff reader loses the fields their permissions hide."""
    envelope = entry.envelope
    event = {key: envelope[key] for key in PUBLIC_ATTRIBUTES if key in envelope}
    data = dict(envelope.get("data") or {})
    rule: FeedRule | None = rule_for(entry.type)
    if rule is not None and not entry.personal:
        if viewer.is_client:
            allowed = rule.client_fields or frozenset()
            data = {key: value for key, value in data.items() if key in allowed}
        else:
            for path, permission in rule.restricted:
                if permission not in viewer.permissions:
                    _strip(data, path)
    event["data"] = data
    return event
