"""What goes on the wire of `GET /v1/stream` (the `text/event-stream` format).

- an event: `id: <cursor>`, `event: <type>`, `data: <the CloudEvent as the reader may see it,
  with "cursor">`;
- `ready` once caught up: `id:` the cursor to resume from, data `{"cursor": ...}`;
- `stream.closed` last when the server ends the stream: data `{"reason": ...}`;
- comments (`: connected`, `: heartbeat`), which clients ignore.
"""

from __future__ import annotations

import json
from typing import Any

from agencyos.notification.feed.catalog import rule_for
from agencyos.notification.feed.visibility import FeedEntry, Viewer, shape

CONNECTED = b": connected\n\n"
HEARTBEAT = b": heartbeat\n\n"

READY = "ready"
CLOSED = "stream.closed"

# Why the server ended a stream (`stream.closed`'s `reason`).
TOKEN_EXPIRED = "token_expired"
TOO_SLOW = "too_slow"
SHUTDOWN = "shutdown"
CURSOR_EXPIRED = "cursor_expired"
# The token was revoked while the stream was open (signed out, suspended, role changed).
REVOKED = "token_revoked"
# Catching up from the database failed (it timed out or is down): resume in a moment.
UNAVAILABLE = "unavailable"
CLOSING_REASONS = (TOKEN_EXPIRED, REVOKED, TOO_SLOW, SHUTDOWN, CURSOR_EXPIRED, UNAVAILABLE)


def _json(value: Any) -> str:
    # One line: `data:` must not hold a newline (JSON escapes those inside strings).
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def frame(event: str, data: Any, *, event_id: str | None = None) -> bytes:
    lines = [] if event_id is None else [f"id: {event_id}"]
    lines += [f"event: {event}", f"data: {_json(data)}"]
    return ("\n".join(lines) + "\n\n").encode()


def _encode_event(viewer: Viewer, entry: FeedEntry) -> bytes:
    cursor = entry.cursor
    data = shape(viewer, entry)
    data["cursor"] = cursor
    return frame(entry.type, data, event_id=cursor)


def shape_key(viewer: Viewer, entry: FeedEntry) -> tuple[bool, ...]:
    """What `visibility.shape` depends on besides the entry: readers with equal keys get the
    same bytes (tested against `shape` itself over every catalog rule and role)."""
    rule = rule_for(entry.type)
    if rule is None or entry.personal:
        return ()
    if viewer.is_client:
        return (True,)
    return (False, *(permission in viewer.permissions for _, permission in rule.restricted))


class FrameCache:
    """An entry's frame, encoded once per distinct shape rather than once per connection: a
    live entry goes to every open stream of its agency. Holds the newest `size` frames."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._frames: dict[tuple[Any, ...], bytes] = {}

    def event_frame(self, viewer: Viewer, entry: FeedEntry) -> bytes:
        key = (entry.tenant_id, entry.seq, shape_key(viewer, entry))
        found = self._frames.get(key)
        if found is None:
            found = _encode_event(viewer, entry)
            if len(self._frames) >= self.size:
                del self._frames[next(iter(self._frames))]  # the oldest
            self._frames[key] = found
        return found


def event_frame(viewer: Viewer, entry: FeedEntry) -> bytes:
    return _encode_event(viewer, entry)


def ready_frame(cursor: str) -> bytes:
    return frame(READY, {"cursor": cursor}, event_id=cursor)


def closed_frame(reason: str) -> bytes:
    return frame(CLOSED, {"reason": reason})
