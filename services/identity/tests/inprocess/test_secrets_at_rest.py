"""Secrets at rest: the refresh token only as its SHA-256, the password only as an argon2id
hash at the configured cost (and a hash made under another cost still verifies)."""

from __future__ import annotations

import hashlib

import httpx

from agencyos.identity.passwords import hash_password
from agencyos.identity.settings import IdentitySettings
from agencyos.testing.factories import PASSWORD, signup_agency
from agencyos.testing.inprocess import ServiceInProcess
from agencyos.testing.sql import fetch_rows, fetch_value


class TestSecretsAtRest:
    async def test_the_refresh_token_is_stored_only_as_its_sha256(
        self, identity_service: ServiceInProcess, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        database = identity_service.database

        holding_raw = await fetch_value(
            identity_service.infra,
            database,
            "SELECT count(*) FROM refresh_tokens r WHERE strpos(r::text, $1) > 0",
            owner.refresh_token,
            tenant_id=owner.agency_id,
            owner=True,
        )
        hashed = await fetch_rows(
            identity_service.infra,
            database,
            "SELECT user_id FROM refresh_tokens WHERE token_hash = $1",
            hashlib.sha256(owner.refresh_token.encode()).hexdigest(),
            tenant_id=owner.agency_id,
            owner=True,
        )

        assert holding_raw == 0
        assert [row["user_id"] for row in hashed] == [owner.user_id]

    async def test_the_password_is_stored_only_as_an_argon2id_hash(
        self, identity_service: ServiceInProcess, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        stored = await fetch_value(
            identity_service.infra,
            identity_service.database,
            "SELECT password_hash FROM users WHERE id = $1",
            owner.user_id,
            owner=True,
        )

        assert stored.startswith("$argon2id$")
        assert PASSWORD not in stored
        # the cost the service was configured with (the in-process tier's floor)
        assert "$m=1024,t=1,p=1$" in stored

    async def test_a_hash_made_under_another_cost_still_logs_in(
        self, identity_service: ServiceInProcess, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        # as if hashed before the cost changed: the production default cost
        default_cost = IdentitySettings.model_fields
        production = await hash_password(
            IdentitySettings(
                password_hash_time_cost=default_cost["password_hash_time_cost"].default,
                password_hash_memory_kib=default_cost["password_hash_memory_kib"].default,
                password_hash_parallelism=default_cost["password_hash_parallelism"].default,
            ),
            "an older password of theirs",
        )
        assert "$m=65536,t=3,p=4$" in production
        await fetch_value(
            identity_service.infra,
            identity_service.database,
            "UPDATE users SET password_hash = $1 WHERE id = $2 RETURNING id",
            production,
            owner.user_id,
            owner=True,
        )

        right = await identity.post(
            "/v1/auth/login",
            json={"email": owner.email, "password": "an older password of theirs"},
        )
        wrong = await identity.post(
            "/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
        )

        assert right.status_code == 200, right.text
        assert wrong.status_code == 401, wrong.text
