"""TOTP (RFC 6238, through pyotp) and backup codes: making, checking and hashing them.

A TOTP code is checked against the time steps now-1, now and now+1 (30 s each), and only
against steps after the last one the account used: a code is good once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass

import pyotp
import segno

STEP_SECONDS = 30
DIGITS = 6
# Steps either side of now that are accepted (clock drift, typing time).
WINDOW = 1
BACKUP_CODE_COUNT = 10
# 10 characters of Crockford's base32 (no I, L, O, U): 50 bits, shown as xxxxx-xxxxx.
_BACKUP_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_BACKUP_LENGTH = 10


@dataclass(frozen=True)
class Enrollment:
    secret: str
    otpauth_uri: str
    qr_code: str  # a data: URI of an SVG image


def new_secret() -> str:
    """160 random bits in base32, as RFC 4226 recommends and authenticator apps take."""
    return pyotp.random_base32(32)


def enrollment(secret: str, *, account: str, issuer: str) -> Enrollment:
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )
    qr = segno.make(uri, error="m").svg_data_uri(scale=4)
    return Enrollment(secret=secret, otpauth_uri=uri, qr_code=qr)


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP_SECONDS)


def matching_step(
    secret: str, code: str, *, after: int | None, now: float | None = None
) -> int | None:
    """The time step within the window whose code `code` is, if it is later than `after`
    (the last step used); every candidate is compared, in constant time each."""
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    step = current_step(now)
    found: int | None = None
    for candidate in range(step - WINDOW, step + WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code) and found is None:
            found = candidate
    if found is None or (after is not None and found <= after):
        return None
    return found


def new_backup_codes() -> list[str]:
    codes = []
    for _ in range(BACKUP_CODE_COUNT):
        raw = "".join(secrets.choice(_BACKUP_ALPHABET) for _ in range(_BACKUP_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def normalize_backup_code(code: str) -> str:
    """As typed: any letter case, with or without the dash and spaces."""
    return "".join(ch for ch in code.lower() if ch not in "- ")


def hash_backup_code(user_id: uuid.UUID, code: str) -> str:
    """Bound to the user: one account's hashes say nothing about another's codes."""
    return hashlib.sha256(f"{user_id}:{normalize_backup_code(code)}".encode()).hexdigest()


def new_mfa_token() -> str:
    return f"mfa_{secrets.token_urlsafe(32)}"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
