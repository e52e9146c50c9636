"""Signing keys: created on first need, newest signs, all unretired verify (JWKS).

Rotation adds a key, which signs from then on; a key is retired only once the key that
superseded it has been signing for longer than an access token lives (plus leeway), so every
token it signed has expired before its public half leaves the JWKS.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from joserfc.jwk import RSAKey
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.identity.models import SigningKey

_KEY_LOCK = 0x1D_5161

# Private keys read from their PEM, by kid (a kid names one key for ever). Reading a PEM makes
# cryptography check the RSA key, tens of milliseconds of CPU: once per key and process, not
# once per token issued.
_private_keys: dict[str, RSAKey] = {}


def _private_key(kid: str, pem: str) -> RSAKey:
    key = _private_keys.get(kid)
    if key is None:
        key = _private_keys[kid] = RSAKey.import_key(pem)
    return key


async def active_key(session: AsyncSession, bits: int) -> tuple[str, RSAKey]:
    """The key that signs now; the first caller creates it (one creator across replicas)."""
    row = await _newest(session)
    if row is None:
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEY_LOCK})
        row = await _newest(session)
        if row is None:
            row = await create_key(session, bits)
    return row.kid, _private_key(row.kid, row.private_pem)


async def create_key(session: AsyncSession, bits: int) -> SigningKey:
    kid = secrets.token_urlsafe(12)
    key = RSAKey.generate_key(bits, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
    pem = key.as_pem(private=True)
    row = SigningKey(
        kid=kid,
        private_pem=pem.decode() if isinstance(pem, bytes) else pem,
        public_jwk=key.as_dict(private=False),
    )
    session.add(row)
    await session.flush()
    return row


async def rotate_key(
    session: AsyncSession, bits: int, retire_after: timedelta
) -> tuple[SigningKey, list[str]]:
    """Add the key that signs from now on; retire the keys whose tokens have all expired.

    Returns the new key and the kids retired. A key stops signing when a newer one appears,
    so it is retired when some newer key was created more than `retire_after` ago; not when
    the key itself is old (an old key may have signed until a moment ago).
    """
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEY_LOCK})
    row = await create_key(session, bits)
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
