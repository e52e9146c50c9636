"""The unsubscribe link in every email: a token signed with HMAC-SHA256 over the agency, the
person and the kind, so following it (no login) turns off that kind's email for that person
and nothing else. It carries no expiry: an old email's link keeps working, as mail clients'
one-click unsubscribe (RFC 8058) expects."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import quote

from agencyos.notification.settings import NotificationSettings
from agencyos.notification.signing import InvalidSignedValue, read_signed, sign_values

UNSUBSCRIBE_PATH = "/v1/notification-preferences/unsubscribe"
_PURPOSE = "agencyos.notification.unsubscribe.v1"
# Far past any real token (two UUIDs and a kind name); refused before decoding anything.
_MAX_TOKEN_LENGTH = 600


class InvalidUnsubscribeToken(ValueError):
    """Not a token this service signed, or not one any more (tampered, foreign, malformed)."""


@dataclass(frozen=True)
class UnsubscribeTarget:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    kind: str


def sign_unsubscribe(key: str, tenant_id: uuid.UUID, user_id: uuid.UUID, kind: str) -> str:
    return sign_values(key, _PURPOSE, [str(tenant_id), str(user_id), kind])


def read_unsubscribe(key: str, token: str) -> UnsubscribeTarget:
    """The target a token names, once its signature is checked; InvalidUnsubscribeToken
    otherwise."""
    try:
        tenant, user, kind = read_signed(key, _PURPOSE, token, max_length=_MAX_TOKEN_LENGTH)
        return UnsubscribeTarget(uuid.UUID(str(tenant)), uuid.UUID(str(user)), str(kind))
    except InvalidSignedValue as exc:
        raise InvalidUnsubscribeToken(f"not an unsubscribe token: {exc}") from exc
    except (ValueError, TypeError) as exc:
        raise InvalidUnsubscribeToken("not an unsubscribe token: malformed") from exc


def unsubscribe_url(
    settings: NotificationSettings, tenant_id: uuid.UUID, user_id: uuid.UUID, kind: str
) -> str:
    """The link an email about `kind` to `user_id` carries (and its List-Unsubscribe header)."""
    token = sign_unsubscribe(settings.unsubscribe_signing_key, tenant_id, user_id, kind)
    return f"{settings.public_base_url.rstrip('/')}{UNSUBSCRIBE_PATH}?token={quote(token, safe='')}"
