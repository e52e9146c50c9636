"""Signup (`POST /v1/auth/signup`): the answer, duplicate emails (also at once), validation,
slugs, and the events a signup writes to the outbox."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.common.permissions import ALL_PERMISSIONS
from agencyos.testing.factories import PASSWORD, AgencySession, signup_agency
from agencyos.testing.http import assert_invalid_fields, assert_problem

AddMembership = Callable[[AgencySession, uuid.UUID, str], Awaitable[None]]
Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]


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
        self, add_membership: AddMembership, identity: httpx.AsyncClient
    ) -> None:
        name = f"Shared Name {uuid.uuid4().hex[:8]}"
        first = await signup_agency(identity, name=name)
        second = await signup_agency(identity, name=name)
        await add_membership(second, first.user_id, "member")

        response = await login(
            identity, email=first.email, password=PASSWORD, agency_slug=second.slug
        )

        assert response.status_code == 200, response.text
        assert response.json()["agency"]["id"] == str(second.agency_id)


class TestSignupEvents:
    async def test_signup_writes_agency_created_and_member_added_for_the_new_agency(
        self, identity: httpx.AsyncClient, outbox: Outbox
    ) -> None:
        owner = await signup_agency(
            identity, name=f"Evented {uuid.uuid4().hex[:8]}", verified=False
        )
        tenant = str(owner.agency_id)

        ours = await outbox(None, owner.agency_id)

        # and the owner's verification email (verification/test_endpoints.py)
        assert [e["type"] for e in ours].count("identity.email_verification.requested") == 1
        ours = [e for e in ours if e["type"] != "identity.email_verification.requested"]
        assert len(ours) == 2
        assert all(e["tenantid"] == tenant for e in ours)
        created = [e for e in ours if e["type"] == "identity.agency.created"]
        added = [e for e in ours if e["type"] == "identity.member.added"]
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
            "client_id": None,
            # The owner holds every permission there is.
            "permissions": sorted(ALL_PERMISSIONS),
        }
