"""The unsubscribe link in every email: a token signed with HMAC-SHA256 over the agency, the
person and the kind, so following it (no login) turns off that kind's email for that person
and nothing else. It carries no expiry: an old email's link keeps working, as mail clients'
one-click unsubscribe (RFC 8058) expects."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from urllib.parse import quote

from agencyos.notification.settings import NotificationSettings

UNSUBSCRIBE_PATH = "/v1/notification-preferences/unsubscribe"
# Binds a signature to this use: the key may one day sign something else too.
_PURPOSE = b"agencyos.notification.unsubscribe.v1"
# Far past any real token (two UUIDs and a kind name); refused before decoding anything.
_MAX_TOKEN_LENGTH = 600


class InvalidUnsubscribeToken(ValueError):
    """Not a token this service signed, or not one any more (tampered, foreign, malformed)."""


@dataclass(frozen=True)
class UnsubscribeTarget:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    kind: str


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, payload: str) -> bytes:
    return hmac.new(key.encode(), _PURPOSE + b"." + payload.encode(), hashlib.sha256).digest()


def sign_unsubscribe(key: str, tenant_id: uuid.UUID, user_id: uuid.UUID, kind: str) -> str:
    payload = _b64(json.dumps([str(tenant_id), str(user_id), kind], separators=(",", ":")).encode())
    return f"{payload}.{_b64(_mac(key, payload))}"


def read_unsubscribe(key: str, token: str) -> UnsubscribeTarget:
    """The target a token names, once its signature is checked; InvalidUnsubscribeToken
    otherwise."""
    if not token or len(token) > _MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise InvalidUnsubscribeToken("not an unsubscribe token")
    payload, signature = token.split(".")
    try:
        given = _unb64(signature)
    except (binascii.Error, ValueError) as exc:
        raise InvalidUnsubscribeToken("not an unsubscribe token") from exc
    if not hmac.compare_digest(given, _mac(key, payload)):
        raise InvalidUnsubscribeToken("the token's signature does not match")
    try:
        tenant, user, kind = json.loads(_unb64(payload))
        return UnsubscribeTarget(uuid.UUID(tenant), uuid.UUID(user), str(kind))
    except (binascii.Error, ValueError, TypeError) as exc:
        # Signed by us yet unreadable: only a change of format could do that.
        raise InvalidUnsubscribeToken("not an unsubscribe token") from exc


def unsubscribe_url(
    settings: NotificationSettings, tenant_id: uuid.UUID, user_id: uuid.UUID, kind: str
) -> str:
    """The link an email about `kind` to `user_id` carries (and its List-Unsubscribe header)."""
    token = sign_unsubscribe(settings.unsubscribe_signing_key, tenant_id, user_id, kind)
    return f"{settings.public_base_url.rstrip('/')}{UNSUBSCRIBE_PATH}?token={quote(token, safe='')}"
