"""Operational commands (`python -m agencyos.identity <command>`)."""

from __future__ import annotations

from datetime import timedelta

from agencyos.common.db import Database
from agencyos.common.logs import get_logger
from agencyos.common.settings import ServiceSettings
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.tokens.keys import key_sealer, rotate_key

log = get_logger(__name__)


async def rotate_signing_key(settings: ServiceSettings) -> None:
    """Add a signing key that signs from now on and retire keys no live token can need.

    Run it on a schedule (e.g. monthly) or at once if a key may have leaked — in that case
    also retire the leaked key by hand, accepting that its tokens stop verifying.
    """
    assert isinstance(settings, IdentitySettings)
    retire_after = timedelta(
        seconds=settings.access_token_ttl_seconds + settings.signing_key_retire_leeway_seconds
    )
    db = Database(settings.database_url, pool_size=1, pgbouncer=settings.database_pgbouncer)
    try:
        async with db.transaction(None) as session:
            key, retired = await rotate_key(
                session,
                settings.signing_key_bits,
                retire_after,
                key_sealer(settings.key_encryption_key),
            )
            kid = key.kid
        log.info("signing key rotated", kid=kid, retired=retired)
    finally:
        await db.dispose()
