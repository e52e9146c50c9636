"""Small signed values handed out in links and lists (unsubscribe tokens, list cursors), signed
with itsdangerous (HMAC-SHA256 over compact JSON, base64url) and salted with a purpose, so a
value made for one use is refused for another and any edit is refused rather than read."""

from __future__ import annotations

import hashlib
from typing import Any

from itsdangerous import BadData, URLSafeSerializer


class InvalidSignedValue(ValueError):
    """Not a value this service signed for this purpose (edited, foreign or malformed)."""


def _serializer(key: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt=purpose, signer_kwargs={"digest_method": hashlib.sha256})


def sign_values(key: str, purpose: str, values: list[Any]) -> str:
    token: str = _serializer(key, purpose).dumps(values)
    return token


def read_signed(key: str, purpose: str, token: str, *, max_length: int = 1000) -> list[Any]:
    """The values `token` carries once its signature is checked; InvalidSignedValue otherwise
    (never another exception, whatever the input)."""
    if not token or len(token) > max_length:
        raise InvalidSignedValue("malformed")
    try:
        values = _serializer(key, purpose).loads(token)
    except (BadData, ValueError, UnicodeError) as exc:
        raise InvalidSignedValue("not a value signed here for this purpose") from exc
    if not isinstance(values, list):
        raise InvalidSignedValue("malformed")
    return values
