"""Signing keys' private keys at rest: sealed with the key-encryption key (no PEM in the
table), bound to their kid (a row copied onto another, or altered, does not open), and a key
stored in the clear before sealing is sealed on first read and still signs."""

from __future__ import annotations

import httpx
import pytest
from joserfc.jwk import RSAKey

from agencyos.common.sealing import Unsealable
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.tokens import keys
from agencyos.testing.factories import signup_agency
from agencyos.testing.inprocess import ServiceInProcess
from agencyos.testing.sql import fetch_rows


async def stored_keys(service: ServiceInProcess) -> list[tuple[str, str]]:
    rows = await fetch_rows(
        service.infra,
        service.database,
        "SELECT kid, private_key_sealed FROM signing_keys ORDER BY created_at",
        owner=True,
    )
    return [(r["kid"], r["private_key_sealed"]) for r in rows]


def sealer(service: ServiceInProcess) -> keys.Sealer:
    settings = service.settings
    assert isinstance(settings, IdentitySettings)
    return keys.key_sealer(settings.key_encryption_key)


class TestSealedSigningKeys:
    async def test_the_stored_private_key_holds_no_pem_and_opens_to_the_signing_key(
        self, identity: httpx.AsyncClient, identity_service: ServiceInProcess
    ) -> None:
        await signup_agency(identity)

        stored = await stored_keys(identity_service)

        assert stored
        published = (await identity.get("/.well-known/jwks.json")).json()["keys"]
        for kid, sealed in stored:
            assert "BEGIN" not in sealed
            assert "PRIVATE KEY" not in sealed
            assert sealed.startswith("v1.")
            pem = keys.open_private_pem(sealer(identity_service), kid, sealed)
            public = RSAKey.import_key(pem).as_dict(private=False)
            assert any(k["kid"] == kid and k["n"] == public["n"] for k in published)

    async def test_a_tampered_or_moved_row_does_not_open(
        self, identity: httpx.AsyncClient, identity_service: ServiceInProcess
    ) -> None:
        await signup_agency(identity)
        [(kid, sealed), *_] = await stored_keys(identity_service)
        flipped = sealed[:-5] + ("A" if sealed[-5] != "A" else "B") + sealed[-4:]

        with pytest.raises(Unsealable):
            keys.open_private_pem(sealer(identity_service), kid, flipped)
        with pytest.raises(Unsealable):
            keys.open_private_pem(sealer(identity_service), "another-kid", sealed)
        with pytest.raises(Unsealable):
            keys.open_private_pem(keys.key_sealer("another key-encryption key"), kid, sealed)

    async def test_a_key_stored_in_the_clear_is_sealed_on_first_read(
        self, identity: httpx.AsyncClient, identity_service: ServiceInProcess
    ) -> None:
        key = RSAKey.generate_key(2048, parameters={"kid": "legacy-key"})
        pem = key.as_pem(private=True)
        pem_text = pem.decode() if isinstance(pem, bytes) else pem
        await fetch_rows(
            identity_service.infra,
            identity_service.database,
            "INSERT INTO signing_keys (kid, private_key_sealed, public_jwk, created_at, "
            "retired_at) VALUES ('legacy-key', $1, $2::jsonb, now() - interval '1 year', "
            "now() - interval '1 day')",
            pem_text,
            '{"kty": "RSA"}',
            owner=True,
        )
        try:
            db = identity_service.ctx.database()
            async with db.transaction(None) as session:
                assert await keys.seal_legacy_keys(session, sealer(identity_service)) == 1

            stored = dict(await stored_keys(identity_service))
            assert "BEGIN" not in stored["legacy-key"]
            opened = keys.open_private_pem(
                sealer(identity_service), "legacy-key", stored["legacy-key"]
            )
            assert opened == pem_text
        finally:
            await fetch_rows(
                identity_service.infra,
                identity_service.database,
                "DELETE FROM signing_keys WHERE kid = 'legacy-key'",
                owner=True,
            )
