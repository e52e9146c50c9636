"""Opaque feed cursors. A cursor names a position in one agency's feed (its `seq`); callers
must not parse it. `ev1_` versions the format so it can change without breaking old cursors."""

from __future__ import annotations

import base64
import binascii

PREFIX = "ev1_"
# No seq can be larger than a PostgreSQL bigint.
MAX_SEQ = 2**63 - 1


NOT_A_CURSOR = "not a feed cursor: use the `id` of an event or a `next_cursor`"


class InvalidCursor(ValueError):
    """The text is not a cursor this service issued."""


def encode(seq: int) -> str:
    if not 0 <= seq <= MAX_SEQ:
        raise ValueError(f"seq out of range: {seq}")
    raw = seq.to_bytes(8, "big")
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> int:
    if not cursor.startswith(PREFIX) or len(cursor) != len(PREFIX) + 11:
        raise InvalidCursor(NOT_A_CURSOR)
    body = cursor[len(PREFIX) :] + "="
    try:
        raw = base64.urlsafe_b64decode(body.encode())
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor(NOT_A_CURSOR) from exc
    if len(raw) != 8:
        raise InvalidCursor(NOT_A_CURSOR)
    seq = int.from_bytes(raw, "big")
    # above a bigint (no cursor of ours), or not in the one spelling encode gives
    if seq > MAX_SEQ or encode(seq) != cursor:
        raise InvalidCursor(NOT_A_CURSOR)
    return seq
