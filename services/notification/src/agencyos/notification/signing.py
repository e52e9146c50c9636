"""Small signed values handed out in links and lists (unsubscribe tokens, list cursors): a
JSON list, base64url, and an HMAC-SHA256 over it bound to a purpose, so a value made for one
use is refused for another and any edit is refused rather than read."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any


class InvalidSignedValue(ValueError):
    """Not a value this service signed for this purpose (edited, foreign or malformed)."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, purpose: str, payload: str) -> bytes:
    message = f"{purpose}.{payload}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).digest()


def sign_values(key: str, purpose: str, values: list[Any]) -> str:
    payload = _b64(json.dumps(values, separators=(",", ":")).encode())
    return f"{payload}.{_b64(_mac(key, purpose, payload))}"


def read_signed(key: str, purpose: str, token: str, *, max_length: int = 1000) -> list[Any]:
    """The values `token` carries once its signature is checked; InvalidSignedValue otherwise
    (never another exception, whatever the input)."""
    if not token or len(token) > max_length or token.count(".") != 1:
        raise InvalidSignedValue("malformed")
    payload, signature = token.split(".")
    try:
        given = _unb64(signature)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignedValue("malformed") from exc
    if not hmac.compare_digest(given, _mac(key, purpose, payload)):
        raise InvalidSignedValue("the signature does not match")
    try:
        values = json.loads(_unb64(payload))
    except (binascii.Error, ValueError) as exc:
        # Signed by us yet unreadable: only a change of format could do that.
        raise InvalidSignedValue("malformed") from exc
    if not isinstance(values, list):
        raise InvalidSignedValue("malformed")
    return values
