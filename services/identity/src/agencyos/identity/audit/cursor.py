"""Opaque audit-log cursors: a position in one agency's log (a `seq`) that callers must not
parse. `al1_` versions the format.

Why a cursor and not page numbers: the log only grows, at its newest end, which is where a
newest-first listing starts. Page 2 asked for after ten new records arrived would repeat ten
records of page 1; a cursor names the last record seen, so the next page starts right after it
however much was appended meanwhile, and reading deep into the log costs no OFFSET scan."""

from __future__ import annotations

import base64
import binascii

PREFIX = "al1_"
MAX_SEQ = 2**63 - 1
NOT_A_CURSOR = "not an audit-log cursor: use the `next_cursor` of a previous page"


class InvalidCursor(ValueError):
    """The text is not a cursor this service issued."""


def encode(seq: int) -> str:
    if not 0 <= seq <= MAX_SEQ:
        raise ValueError(f"seq out of range: {seq}")
    return PREFIX + base64.urlsafe_b64encode(seq.to_bytes(8, "big")).decode().rstrip("=")


def decode(cursor: str) -> int:
    if not cursor.startswith(PREFIX) or len(cursor) != len(PREFIX) + 11:
        raise InvalidCursor(NOT_A_CURSOR)
    try:
        raw = base64.urlsafe_b64decode(cursor[len(PREFIX) :] + "=")
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor(NOT_A_CURSOR) from exc
    if len(raw) != 8:
        raise InvalidCursor(NOT_A_CURSOR)
    seq = int.from_bytes(raw, "big")
    if seq > MAX_SEQ or encode(seq) != cursor:
        raise InvalidCursor(NOT_A_CURSOR)
    return seq
