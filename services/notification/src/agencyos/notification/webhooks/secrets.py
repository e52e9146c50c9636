"""Endpoints' signing secrets: made in the Standard Webhooks form (`whsec_` + base64 of random
bytes), kept encrypted at rest (AES-GCM under a key stretched from `webhook_secret_key`), and
the ones a delivery is signed with right now (after a rotation, the previous one too until its
grace ends, so receivers can switch without missing a delivery).

A ciphertext is bound to its agency and endpoint (as AES-GCM associated data): one copied onto
another endpoint's row does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os
import uuid
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from agencyos.notification.models import WebhookEndpoint

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
_NONCE_BYTES = 12
_KEY_INFO = b"agencyos notification webhook signing secrets v1"


class UnreadableSecret(ValueError):
    """A stored secret that does not decrypt: the key changed, or the row was tampered with."""


def new_secret() -> str:
    """A fresh signing secret: `whsec_` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode("ascii")


def secret_bytes(secret: str) -> bytes:
    """The HMAC key a `whsec_` secret stands for (what Standard Webhooks signs with)."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def _cipher(key: str) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(
        key.encode("utf-8")
    )
    return AESGCM(derived)


def _associated(tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> bytes:
    return f"webhook-endpoint:{tenant_id}:{endpoint_id}".encode("ascii")


def encrypt_secret(secret: str, *, key: str, tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> str:
    """What `secret_ciphertext` stores: base64(nonce + ciphertext with its tag)."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _cipher(key).encrypt(
        nonce, secret.encode("utf-8"), _associated(tenant_id, endpoint_id)
    )
    return base64.b64encode(nonce + sealed).decode("ascii")


def decrypt_secret(
    ciphertext: str, *, key: str, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
) -> str:
    try:
        raw = base64.b64decode(ciphertext, validate=True)
        plain = _cipher(key).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _associated(tenant_id, endpoint_id)
        )
    except (InvalidTag, ValueError, binascii.Error) as error:
        raise UnreadableSecret(
            f"the signing secret of webhook endpoint {endpoint_id} does not decrypt "
            "(was webhook_secret_key changed?)"
        ) from error
    return plain.decode("utf-8")


def seal(endpoint: WebhookEndpoint, secret: str, *, key: str) -> str:
    """`secret` encrypted for `endpoint`'s row (its `tenant_id` and `id` must be set)."""
    return encrypt_secret(secret, key=key, tenant_id=endpoint.tenant_id, endpoint_id=endpoint.id)


def signing_secrets(endpoint: WebhookEndpoint, *, now: datetime, key: str) -> list[str]:
    """The secrets a delivery to `endpoint` is signed with at `now`: the current one, then the
    previous one while its rotation grace lasts (`previous_secret_expires_at` after `now`).
    Raises UnreadableSecret when a stored secret does not decrypt."""
    found = [
        decrypt_secret(
            endpoint.secret_ciphertext,
            key=key,
            tenant_id=endpoint.tenant_id,
            endpoint_id=endpoint.id,
        )
    ]
    if (
        endpoint.previous_secret_ciphertext is not None
        and endpoint.previous_secret_expires_at is not None
        and endpoint.previous_secret_expires_at > now
    ):
        found.append(
            decrypt_secret(
                endpoint.previous_secret_ciphertext,
                key=key,
                tenant_id=endpoint.tenant_id,
                endpoint_id=endpoint.id,
            )
        )
    return found
