"""Endpoint signing secrets at rest: AES-GCM under a key stretched (SHA-256) from
`webhook_secret_key`; a stored value is base64(12-byte nonce + ciphertext and tag)."""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from agencyos.notification.models import WebhookEndpoint

NONCE_BYTES = 12


def _aead(key: str) -> AESGCM:
    return AESGCM(hashlib.sha256(key.encode()).digest())


def encrypt_secret(plain: str, key: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = _aead(key).encrypt(nonce, plain.encode(), None)
    return base64.b64encode(nonce + sealed).decode("ascii")


def decrypt_secret(stored: str, key: str) -> str:
    raw = base64.b64decode(stored)
    return _aead(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None).decode()


def signing_secrets(endpoint: WebhookEndpoint, *, now: datetime, key: str) -> list[str]:
    """The secrets that sign the endpoint's deliveries now: its secret, and after a rotation
    the previous one too until it expires (a receiver holding either verifies)."""
    secrets = [decrypt_secret(endpoint.secret_ciphertext, key)]
    if (
        endpoint.previous_secret_ciphertext is not None
        and endpoint.previous_secret_expires_at is not None
        and endpoint.previous_secret_expires_at > now
    ):
        secrets.append(decrypt_secret(endpoint.previous_secret_ciphertext, key))
    return secrets
