"""Secrets kept encrypted at rest under a key-encryption key from settings (AES-256-GCM).

    sealer = Sealer(settings.key_encryption_key, purpose="identity sso client secrets v1")
    stored = sealer.seal(b"client-secret", context=f"sso:{tenant_id}")
    sealer.open(stored, context=f"sso:{tenant_id}")  # b"client-secret"

The AES key is derived from the key-encryption key and `purpose` (HKDF-SHA256), so one setting
serves several kinds of secret without one kind's ciphertext opening as another's. `context`
binds a ciphertext to the row it belongs to (AES-GCM associated data): one copied onto another
row does not open. The stored form is `v1.` + base64url(nonce + ciphertext and tag).
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["Sealer", "Unsealable"]

_VERSION = "v1."
_NONCE_BYTES = 12


class Unsealable(ValueError):
    """A stored secret that does not open: the key changed, or the row was tampered with."""


class Sealer:
    def __init__(self, key_encryption_key: str, *, purpose: str) -> None:
        if not key_encryption_key:
            raise ValueError("a key-encryption key is required")
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode("utf-8")
        ).derive(key_encryption_key.encode("utf-8"))
        self._aead = AESGCM(derived)

    def seal(self, plaintext: bytes, *, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, context.encode("utf-8"))
        return _VERSION + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, stored: str, *, context: str) -> bytes:
        if not stored.startswith(_VERSION):
            raise Unsealable("the stored secret is not in a known sealed form")
        try:
            raw = base64.urlsafe_b64decode(stored[len(_VERSION) :].encode("ascii"))
            return self._aead.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode("utf-8")
            )
        except (InvalidTag, ValueError, binascii.Error) as error:
            raise Unsealable(
                "the stored secret does not open (was the key-encryption key changed, "
                "or the row altered?)"
            ) from error
