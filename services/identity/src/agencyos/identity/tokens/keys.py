"""Signing keys: created on first need, newest signs, all unretired verify (JWKS).

Rotation adds a key, which signs from then on; a key is retired only once the key that
superseded it has been signing for longer than an access token lives (plus leeway), so every
token it signed has expired before its public half leaves the JWKS.

Private keys are stored sealed with the key-encryption key (agencyos.common.sealing, bound to
their kid): a copy of the table signs nothing. Rows written before sealing (their PEM in the
clear, carried over by migration 0010, which cannot read settings) are sealed by the first
process that reads the keys (`seal_legacy_keys`).
"""

from __future__ import annotations

import functools
import secrets
from datetime import timedelta
from typing import Any

from joserfc.jwk import RSAKey
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.sealing import Sealer
from agencyos.identity.models import SigningKey

_KEY_LOCK = 0x1D_5161
SEALING_PURPOSE = "identity signing keys v1"
_PEM_START = "-----BEGIN"

# Private keys read from their PEM, by kid (a kid names one key for ever). Reading a PEM makes
# cryptography check the RSA key, tens of milliseconds of CPU: once per key and process, not
# once per token issued.
_private_keys: dict[str, RSAKey] = {}


# Whether this process has seen no row left in the clear from before sealing (then it stops
# looking).
_legacy_sealed = False


@functools.cache
def key_sealer(key_encryption_key: str) -> Sealer:
    return Sealer(key_encryption_key, purpose=SEALING_PURPOSE)


def open_private_pem(sealer: Sealer, kid: str, stored: str) -> str:
    """The PEM of a stored private key; raises `Unsealable` for a row that does not open
    (another key-encryption key, or the row altered or copied from another kid)."""
    if stored.startswith(_PEM_START):
        return stored  # a row from before sealing, not yet sealed (see the module docstring)
    return sealer.open(stored, context=f"signing-key:{kid}").decode("ascii")


def _private_key(sealer: Sealer, row: SigningKey) -> RSAKey:
    key = _private_keys.get(row.kid)
    if key is None:
        pem = open_private_pem(sealer, row.kid, row.private_key_sealed)
        key = _private_keys[row.kid] = RSAKey.import_key(pem)
    return key


async def seal_legacy_keys(session: AsyncSession, sealer: Sealer) -> int:
    """Seal every key still stored in the clear; how many were. Rows are locked, so two
    processes doing this at once seal each row once."""
    rows = (
        await session.execute(
            select(SigningKey)
            .where(SigningKey.private_key_sealed.startswith(_PEM_START))
            .with_for_update()
        )
    ).scalars()
    sealed = 0
    for row in rows:
        row.private_key_sealed = sealer.seal(
            row.private_key_sealed.encode("ascii"), context=f"signing-key:{row.kid}"
        )
        sealed += 1
    if sealed:
        await session.flush()
    return sealed


async def active_key(session: AsyncSession, bits: int, sealer: Sealer) -> tuple[str, RSAKey]:
    """The key that signs now; the first caller creates it (one creator across replicas)."""
    global _legacy_sealed
    if not _legacy_sealed:
        # Until a pass finds nothing left: the transaction that sealed may yet roll back.
        _legacy_sealed = await seal_legacy_keys(session, sealer) == 0
    row = await _newest(session)
    if row is None:
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEY_LOCK})
        row = await _newest(session)
        if row is None:
            row = await create_key(session, bits, sealer)
    return row.kid, _private_key(sealer, row)


async def create_key(session: AsyncSession, bits: int, sealer: Sealer) -> SigningKey:
    kid = secrets.token_urlsafe(12)
    key = RSAKey.generate_key(bits, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
    pem = key.as_pem(private=True)
    pem_bytes = pem if isinstance(pem, bytes) else pem.encode("ascii")
    row = SigningKey(
        kid=kid,
        private_key_sealed=sealer.seal(pem_bytes, context=f"signing-key:{kid}"),
        public_jwk=key.as_dict(private=False),
    )
    session.add(row)
    await session.flush()
    return row


async def rotate_key(
    session: AsyncSession, bits: int, retire_after: timedelta, sealer: Sealer
) -> tuple[SigningKey, list[str]]:
    """Add the key that signs from now on; retire the keys whose tokens have all expired.

    Returns the new key and the kids retired. A key stops signing when a newer one appears,
    so it is retired when some newer key was created more than `retire_after` ago; not when
    the key itself is old (an old key may have signed until a moment ago).
    """
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEY_LOCK})
    row = await create_key(session, bits, sealer)
    newer = SigningKey.__table__.alias("newer")
    retired = (
        await session.execute(
            update(SigningKey)
            .where(
                SigningKey.retired_at.is_(None),
                select(newer.c.kid)
                .where(
                    newer.c.created_at > SigningKey.created_at,
                    newer.c.created_at <= func.now() - retire_after,
                )
                .exists(),
            )
            .values(retired_at=func.now())
            .returning(SigningKey.kid)
        )
    ).scalars()
    return row, sorted(retired)


async def public_jwks(session: AsyncSession) -> dict[str, Any]:
    rows = (
        await session.execute(
            select(SigningKey.public_jwk)
            .where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.created_at.desc())
        )
    ).scalars()
    return {"keys": list(rows)}


async def _newest(session: AsyncSession) -> SigningKey | None:
    return (
        await session.execute(
            select(SigningKey)
            .where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.created_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
