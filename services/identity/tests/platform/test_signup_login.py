"""Signup, login, access tokens and /v1/me against the real identity service (its own process,
database and Kafka topic), called directly on its HTTP port."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from agencyos.common.permissions import ALL_PERMISSIONS, DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.identity.passwords import hash_password
from agencyos.identity.settings import IdentitySettings
from agencyos.testing.factories import (
    PASSWORD,
    add_member,
    add_membership,
    signup_agency,
)
from agencyos.testing.http import (
    assert_invalid_fields,
    assert_problem,
    unverified_jwt,
    without_trace,
)
from agencyos.testing.kafka import events_where, read_topic
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows, fetch_value

ISSUER = "agencyos"
AUDIENCE = "agencyos-api"


@pytest.fixture
async def identity(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("identity"), timeout=30.0) as client:
        yield client


def signup_body(**overrides: Any) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:10]
    body: dict[str, Any] = {
        "agency_name": f"Studio {tag}",
        "email": f"ada-{tag}@example.com",
        "password": PASSWORD,
        "name": "Ada Lovelace",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def jwks(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    keys: dict[str, Any] = response.json()
    return keys


async def login(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/v1/auth/login", json=body)


class TestSignup:
    async def test_signup_answers_201_with_exactly_the_agency_the_owner_and_a_token_pair(
        self, identity: httpx.AsyncClient
    ) -> None:
        body = signup_body(agency_name="Northwind Studio", name="Ada Lovelace")

        response = await identity.post("/v1/auth/signup", json=body)

        assert response.status_code == 201, response.text
        created = response.json()
        assert set(created) == {
            "agency",
            "user",
            "access_token",
            "refresh_token",
            "token_type",
            "expires_in",
        }
        assert set(created["agency"]) == {"id", "slug", "name"}
        assert set(created["user"]) == {"id", "email", "name"}
        uuid.UUID(created["agency"]["id"])
        uuid.UUID(created["user"]["id"])
        assert created["agency"]["name"] == "Northwind Studio"
        assert created["agency"]["slug"].startswith("northwind-studio")
        assert created["user"] == {
            "id": created["user"]["id"],
            "email": body["email"],
            "name": "Ada Lovelace",
        }
        assert created["token_type"] == "bearer"
        assert created["expires_in"] > 0
        assert created["access_token"].count(".") == 2
        assert created["refresh_token"]
        assert created["refresh_token"] != created["access_token"]

    async def test_the_email_is_stored_in_lower_case(self, identity: httpx.AsyncClient) -> None:
        body = signup_body()
        body["email"] = body["email"].replace("ada", "ADA.Upper")

        response = await identity.post("/v1/auth/signup", json=body)

        assert response.status_code == 201, response.text
        assert response.json()["user"]["email"] == body["email"].lower()

    async def test_an_email_that_already_has_an_account_is_refused_with_409(
        self, identity: httpx.AsyncClient
    ) -> None:
        first = signup_body()
        assert (await identity.post("/v1/auth/signup", json=first)).status_code == 201

        again = await identity.post(
            "/v1/auth/signup", json=signup_body(email=first["email"], agency_name="Another")
        )

        assert_problem(again, 409, "conflict")

    async def test_the_same_email_in_other_letter_case_is_also_a_duplicate(
        self, identity: httpx.AsyncClient
    ) -> None:
        first = signup_body()
        assert (await identity.post("/v1/auth/signup", json=first)).status_code == 201

        again = await identity.post(
            "/v1/auth/signup", json=signup_body(email=first["email"].upper())
        )

        assert_problem(again, 409, "conflict")


class TestConcurrentSignups:
    async def test_two_simultaneous_signups_with_one_email_create_one_account(
        self, identity: httpx.AsyncClient
    ) -> None:
        email = f"race-{uuid.uuid4().hex[:8]}@example.com"

        answers = await asyncio.gather(
            identity.post("/v1/auth/signup", json=signup_body(email=email)),
            identity.post("/v1/auth/signup", json=signup_body(email=email)),
        )

        assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
        assert_problem(next(r for r in answers if r.status_code == 409), 409, "conflict")

    async def test_two_simultaneous_agencies_with_one_name_get_different_slugs(
        self, identity: httpx.AsyncClient
    ) -> None:
        name = f"Race Studio {uuid.uuid4().hex[:8]}"

        answers = await asyncio.gather(
            *(identity.post("/v1/auth/signup", json=signup_body(agency_name=name)) for _ in "ab")
        )

        assert [r.status_code for r in answers] == [201, 201], [r.text for r in answers]
        slugs = {r.json()["agency"]["slug"] for r in answers}
        assert len(slugs) == 2


class TestSignupValidation:
    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            pytest.param({"password": "short"}, "password", id="weak-password"),
            pytest.param({"email": "not-an-email"}, "email", id="bad-email"),
            pytest.param({"name": None}, "name", id="missing-name"),
            pytest.param({"agency_name": None}, "agency_name", id="missing-agency-name"),
            pytest.param({"agency_name": "   "}, "agency_name", id="blank-agency-name"),
            pytest.param({"is_admin": True}, "is_admin", id="unknown-field"),
        ],
    )
    async def test_bad_input_is_a_422_problem_naming_the_field(
        self, identity: httpx.AsyncClient, overrides: dict[str, Any], field: str
    ) -> None:
        response = await identity.post("/v1/auth/signup", json=signup_body(**overrides))

        body = assert_invalid_fields(response, field)
        assert field in body["detail"]

    async def test_a_rejected_signup_creates_no_account(self, identity: httpx.AsyncClient) -> None:
        body = signup_body(password="short")
        assert (await identity.post("/v1/auth/signup", json=body)).status_code == 422

        response = await login(identity, email=body["email"], password="short")

        assert_problem(response, 401, "unauthenticated")


class TestSlugs:
    async def test_the_slug_is_the_name_in_lower_case_ascii_with_dashes(
        self, identity: httpx.AsyncClient
    ) -> None:
        tag = uuid.uuid4().hex[:8]

        response = await identity.post(
            "/v1/auth/signup", json=signup_body(agency_name=f"Café Müller & Söhne {tag}")
        )

        assert response.status_code == 201, response.text
        assert response.json()["agency"]["slug"] == f"cafe-muller-sohne-{tag}"

    async def test_two_agencies_with_the_same_name_get_different_slugs(
        self, identity: httpx.AsyncClient
    ) -> None:
        name = f"Twin Studio {uuid.uuid4().hex[:8]}"

        first = await signup_agency(identity, name=name)
        second = await signup_agency(identity, name=name)

        assert first.slug == name.lower().replace(" ", "-")
        assert second.slug != first.slug
        assert second.slug.startswith(first.slug + "-")

    async def test_each_agency_with_a_shared_name_can_be_chosen_by_its_slug(
        self, platform: Platform, identity: httpx.AsyncClient
    ) -> None:
        name = f"Shared Name {uuid.uuid4().hex[:8]}"
        first = await signup_agency(identity, name=name)
        second = await signup_agency(identity, name=name)
        await add_membership(platform, second, first.user_id, "member")

        response = await login(
            identity, email=first.email, password=PASSWORD, agency_slug=second.slug
        )

        assert response.status_code == 200, response.text
        assert response.json()["agency"]["id"] == str(second.agency_id)


class TestAccessToken:
    async def test_the_claims_name_the_user_the_agency_and_the_role(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        before = int(time.time())

        header, claims = unverified_jwt(owner.access_token)

        assert header["alg"] == "RS256"
        assert claims["sub"] == str(owner.user_id)
        assert claims["tid"] == str(owner.agency_id)
        assert claims["role"] == "owner"
        assert claims["iss"] == ISSUER
        assert claims["aud"] == AUDIENCE
        assert "cid" not in claims
        assert claims["iat"] <= before + 5
        assert claims["iat"] >= before - 60
        assert 0 < claims["exp"] - claims["iat"] <= 3600
        uuid.UUID(hex=claims["jti"])

    async def test_the_token_is_signed_by_a_key_published_in_the_jwks(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        published = await jwks(identity)
        header, _ = unverified_jwt(owner.access_token)

        assert header["kid"] in {key["kid"] for key in published["keys"]}
        assert all(key["kty"] == "RSA" for key in published["keys"])
        assert all("d" not in key and "p" not in key for key in published["keys"])
        decoded = jwt.decode(
            owner.access_token, KeySet.import_key_set(published), algorithms=["RS256"]
        )
        assert decoded.claims["sub"] == str(owner.user_id)

    async def test_every_token_has_its_own_jti(self, identity: httpx.AsyncClient) -> None:
        owner = await signup_agency(identity)

        again = await login(identity, email=owner.email, password=PASSWORD)

        assert again.status_code == 200, again.text
        _, first = unverified_jwt(owner.access_token)
        _, second = unverified_jwt(again.json()["access_token"])
        assert first["jti"] != second["jti"]

    async def test_a_client_users_token_carries_its_client_id(
        self, platform: Platform, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        client_user = await add_member(platform, identity, owner, "client")

        _, claims = unverified_jwt(client_user.access_token)
        assert claims["role"] == "client"
        assert uuid.UUID(claims["cid"])


class TestLogin:
    async def test_the_right_password_returns_tokens_for_the_users_agency(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        response = await login(identity, email=owner.email, password=PASSWORD)

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["agency"]["id"] == str(owner.agency_id)
        assert body["user"]["id"] == str(owner.user_id)
        assert body["token_type"] == "bearer"
        _, claims = unverified_jwt(body["access_token"])
        assert (claims["sub"], claims["tid"], claims["role"]) == (
            str(owner.user_id),
            str(owner.agency_id),
            "owner",
        )

    async def test_the_email_matches_in_any_letter_case(self, identity: httpx.AsyncClient) -> None:
        owner = await signup_agency(identity)

        response = await login(identity, email=owner.email.upper(), password=PASSWORD)

        assert response.status_code == 200, response.text

    async def test_a_wrong_password_and_an_unknown_email_get_the_identical_401(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        wrong_password = await login(identity, email=owner.email, password="not the password")
        unknown_email = await login(
            identity, email=f"nobody-{uuid.uuid4().hex[:8]}@example.com", password=PASSWORD
        )

        first = assert_problem(wrong_password, 401, "unauthenticated")
        second = assert_problem(unknown_email, 401, "unauthenticated")
        assert without_trace(first) == without_trace(second)
        challenges = {r.headers["www-authenticate"] for r in (wrong_password, unknown_email)}
        assert len(challenges) == 1
        assert "access_token" not in wrong_password.text


class TestLoginWithAgencySlug:
    async def test_a_user_in_two_agencies_gets_a_token_for_the_agency_named_by_slug(
        self, platform: Platform, identity: httpx.AsyncClient
    ) -> None:
        home = await signup_agency(identity)
        second = await signup_agency(identity)
        await add_membership(platform, second, home.user_id, "manager")

        response = await login(
            identity, email=home.email, password=PASSWORD, agency_slug=second.slug
        )

        assert response.status_code == 200, response.text
        assert response.json()["agency"]["id"] == str(second.agency_id)
        _, claims = unverified_jwt(response.json()["access_token"])
        assert claims["tid"] == str(second.agency_id)
        assert claims["role"] == "manager"

    async def test_without_a_slug_the_user_gets_their_first_agency(
        self, platform: Platform, identity: httpx.AsyncClient
    ) -> None:
        home = await signup_agency(identity)
        second = await signup_agency(identity)
        await add_membership(platform, second, home.user_id, "manager")

        response = await login(identity, email=home.email, password=PASSWORD)

        assert response.status_code == 200, response.text
        assert response.json()["agency"]["id"] == str(home.agency_id)

    @pytest.mark.parametrize("whose", ["another-agency", "no-agency"])
    async def test_a_slug_the_user_is_not_a_member_of_gets_the_same_401_as_a_bad_password(
        self, identity: httpx.AsyncClient, whose: str
    ) -> None:
        owner = await signup_agency(identity)
        stranger = await signup_agency(identity)
        slug = stranger.slug if whose == "another-agency" else f"none-{uuid.uuid4().hex[:8]}"

        not_member = await login(identity, email=owner.email, password=PASSWORD, agency_slug=slug)
        bad_password = await login(identity, email=owner.email, password="not the password")

        assert without_trace(assert_problem(not_member, 401, "unauthenticated")) == (
            without_trace(assert_problem(bad_password, 401, "unauthenticated"))
        )


class TestMe:
    async def test_the_owner_sees_their_role_every_permission_and_their_one_membership(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        response = await identity.get("/v1/me", headers=owner.headers)

        assert response.status_code == 200, response.text
        me = response.json()
        assert set(me) == {"kind", "user", "agency", "role", "permissions", "memberships"}
        assert me["kind"] == "user"
        assert me["user"] == {
            "id": str(owner.user_id),
            "email": owner.email,
            "name": me["user"]["name"],
        }
        assert me["agency"]["id"] == str(owner.agency_id)
        assert me["agency"]["slug"] == owner.slug
        assert me["role"] == "owner"
        assert me["permissions"] == sorted(ALL_PERMISSIONS)
        assert me["memberships"] == [{"agency": me["agency"], "role": "owner", "status": "active"}]

    async def test_a_member_sees_the_member_roles_default_permissions(
        self, platform: Platform, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        member = await add_member(platform, identity, owner, "member")

        response = await identity.get("/v1/me", headers=member.headers)

        assert response.status_code == 200, response.text
        me = response.json()
        assert me["role"] == "member"
        assert me["permissions"] == sorted(DEFAULT_ROLE_PERMISSIONS[Role.MEMBER])
        assert "clients.write" not in me["permissions"]
        assert [m["role"] for m in me["memberships"]] == ["member"]

    async def test_a_user_in_two_agencies_sees_both_memberships_and_the_current_agency(
        self, platform: Platform, identity: httpx.AsyncClient
    ) -> None:
        home = await signup_agency(identity)
        second = await signup_agency(identity)
        await add_membership(platform, second, home.user_id, "admin")
        switched = await login(
            identity, email=home.email, password=PASSWORD, agency_slug=second.slug
        )
        headers = {"Authorization": f"Bearer {switched.json()['access_token']}"}

        response = await identity.get("/v1/me", headers=headers)

        assert response.status_code == 200, response.text
        me = response.json()
        assert me["agency"]["id"] == str(second.agency_id)
        assert me["role"] == "admin"
        assert {(m["agency"]["id"], m["role"]) for m in me["memberships"]} == {
            (str(home.agency_id), "owner"),
            (str(second.agency_id), "admin"),
        }

    async def test_me_without_a_token_is_a_401_problem(self, identity: httpx.AsyncClient) -> None:
        response = await identity.get("/v1/me")

        assert_problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")


class TestSecretsAtRest:
    async def test_the_refresh_token_is_stored_only_as_its_sha256(
        self, platform: Platform, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        database = platform.database("identity")

        holding_raw = await fetch_value(
            platform.infra,
            database,
            "SELECT count(*) FROM refresh_tokens r WHERE strpos(r::text, $1) > 0",
            owner.refresh_token,
            tenant_id=owner.agency_id,
            owner=True,
        )
        hashed = await fetch_rows(
            platform.infra,
            database,
            "SELECT user_id FROM refresh_tokens WHERE token_hash = $1",
            hashlib.sha256(owner.refresh_token.encode()).hexdigest(),
            tenant_id=owner.agency_id,
            owner=True,
        )

        assert holding_raw == 0
        assert [row["user_id"] for row in hashed] == [owner.user_id]

    async def test_the_password_is_stored_only_as_an_argon2id_hash(
        self, platform: Platform, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        stored = await fetch_value(
            platform.infra,
            platform.database("identity"),
            "SELECT password_hash FROM users WHERE id = $1",
            owner.user_id,
            owner=True,
        )

        assert stored.startswith("$argon2id$")
        assert PASSWORD not in stored
        # the cost the platform was configured with (the test platform's floor)
        assert "$m=1024,t=1,p=1$" in stored

    async def test_a_hash_made_under_another_cost_still_logs_in(
        self, platform: Platform, identity: httpx.AsyncClient
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
            platform.infra,
            platform.database("identity"),
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


class TestSignupEvents:
    async def test_signup_publishes_agency_created_and_member_added_for_the_new_agency(
        self, platform: Platform, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity, name=f"Evented {uuid.uuid4().hex[:8]}")
        tenant = str(owner.agency_id)
        topic = f"{platform.topic_prefix}identity.events"

        def both_published(records: list[Any]) -> bool:
            types = {e["type"] for e in events_where(records, tenantid=tenant)}
            return {"identity.agency.created", "identity.member.added"} <= types

        records = await read_topic(platform.infra.kafka_bootstrap, topic, both_published)

        ours = [r for r in records if r.key == tenant.encode()]
        assert len(ours) == 2
        created = events_where(records, tenantid=tenant, type="identity.agency.created")
        added = events_where(records, tenantid=tenant, type="identity.member.added")
        assert len(created) == 1
        assert len(added) == 1
        for event in (*created, *added):
            assert event["specversion"] == "1.0"
            assert event["source"] == "/agencyos/identity"
            assert uuid.UUID(event["id"])
            assert event["dataschema"].endswith(f"/{event['type']}/v1")
        assert created[0]["subject"] == f"agencies/{tenant}"
        assert created[0]["data"]["agency_id"] == tenant
        assert created[0]["data"]["slug"] == owner.slug
        assert created[0]["data"]["owner_user_id"] == str(owner.user_id)
        assert added[0]["data"] == {
            "agency_id": tenant,
            "user_id": str(owner.user_id),
            "email": owner.email,
            "name": added[0]["data"]["name"],
            "role": "owner",
        }
