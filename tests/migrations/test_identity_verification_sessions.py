"""identity 0010: accounts that exist before it count as verified; signing keys stored in the
clear keep their PEM (renamed column) until identity first reads them and seals them."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from alembic import command
from joserfc.jwk import RSAKey

from agencyos.identity.tokens import keys
from agencyos.testing.infra import Infra

from .test_roundtrip import _config


async def _seed(infra: Infra, database: str, user_id: uuid.UUID, pem: str) -> None:
    conn = await infra.raw(database, owner=True)
    try:
        await conn.execute(
            "INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, 'Ada', 'x')",
            user_id,
            f"ada-{user_id.hex[:8]}@example.com",
        )
        await conn.execute(
            "INSERT INTO signing_keys (kid, private_pem, public_jwk) "
            "VALUES ('old-key', $1, '{}'::jsonb)",
            pem,
        )
    finally:
        await conn.close()


async def _row(infra: Infra, database: str, query: str) -> asyncpg.Record:
    conn = await infra.raw(database, owner=True)
    try:
        row = await conn.fetchrow(query)
        assert row is not None
        return row
    finally:
        await conn.close()


def test_existing_users_are_verified_and_clear_keys_are_carried_over_to_be_sealed() -> None:
    infra = Infra.from_env()
    database = f"agencyos_test_migrations_sessions_{uuid.uuid4().hex[:6]}"
    user_id = uuid.uuid4()
    pem = RSAKey.generate_key(2048).as_pem(private=True)
    pem_text = pem.decode() if isinstance(pem, bytes) else pem
    asyncio.run(infra.recreate_database(database))
    config = _config("identity", infra, database)
    try:
        command.upgrade(config, "0007")
        asyncio.run(_seed(infra, database, user_id, pem_text))

        command.upgrade(config, "0010")

        user = asyncio.run(_row(infra, database, "SELECT email_verified_at FROM users"))
        assert user["email_verified_at"] is not None
        key = asyncio.run(_row(infra, database, "SELECT private_key_sealed FROM signing_keys"))
        stored = key["private_key_sealed"]
        assert stored == pem_text  # not sealed yet: a migration cannot read the KEK
        sealer = keys.key_sealer("a key-encryption key")
        assert keys.open_private_pem(sealer, "old-key", stored) == pem_text

        command.downgrade(config, "0007")
        assert asyncio.run(_row(infra, database, "SELECT private_pem FROM signing_keys"))[0]
    finally:
        asyncio.run(infra.drop_database(database))
