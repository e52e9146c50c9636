"""The signed unsubscribe link in every email: following it with no login turns off exactly
one kind's email for exactly one person; anything not signed by the service changes nothing."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from agencyos.common.settings import DevelopmentDefaultInProduction, refuse_development_defaults
from agencyos.notification.preferences.unsubscribe import sign_unsubscribe, unsubscribe_url
from agencyos.notification.settings import NotificationSettings
from agencyos.testing.http import assert_problem, problem_fields
from agencyos.testing.inprocess import Agency, Caller, InProcess

PATH = "/v1/notification-preferences/unsubscribe"


@pytest.fixture
async def settings(in_process: InProcess) -> NotificationSettings:
    service = await in_process.service("notification")
    assert isinstance(service.settings, NotificationSettings)
    return service.settings


def token_for(settings: NotificationSettings, who: Caller, kind: str) -> str:
    return sign_unsubscribe(settings.unsubscribe_signing_key, who.agency_id, who.user_id, kind)


def with_payload(token: str, tenant: uuid.UUID, user: uuid.UUID, kind: str) -> str:
    """`token`'s signature over another payload: what an attacker editing a link sends."""
    raw = json.dumps([str(tenant), str(user), kind], separators=(",", ":")).encode()
    payload = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return f"{payload}.{token.split('.')[1]}"


async def emails_of(client: httpx.AsyncClient, who: Caller) -> dict[str, dict[str, Any]]:
    response = await client.get("/v1/notification-preferences", headers=who.headers)
    assert response.status_code == 200, response.text
    return {item["kind"]: item for item in response.json()["preferences"]}


def assert_refused(response: httpx.Response) -> None:
    body = assert_problem(response, 400, "bad-request")
    assert problem_fields(body) == {"token"}


class TestFollowingTheLink:
    async def test_the_link_turns_off_exactly_that_kinds_email_with_no_login(
        self, notification: httpx.AsyncClient, settings: NotificationSettings, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        before = await emails_of(notification, member)

        response = await notification.get(
            PATH, params={"token": token_for(settings, member, "task.assigned")}
        )

        assert response.status_code == 200, response.text
        assert response.json() == {
            "kind": "task.assigned",
            "label": "A task was assigned to you",
            "email": False,
        }
        after = await emails_of(notification, member)
        assert after["task.assigned"]["email"] == {"enabled": False, "source": "you"}
        assert after["task.assigned"]["in_app"] == before["task.assigned"]["in_app"]
        assert {k: v for k, v in after.items() if k != "task.assigned"} == {
            k: v for k, v in before.items() if k != "task.assigned"
        }

    async def test_one_click_post_does_the_same(
        self, notification: httpx.AsyncClient, settings: NotificationSettings, tenant: Agency
    ) -> None:
        member = tenant.caller("member")

        response = await notification.post(
            PATH,
            params={"token": token_for(settings, member, "deal.assigned")},
            content="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

        assert response.status_code == 200, response.text
        found = await emails_of(notification, member)
        assert found["deal.assigned"]["email"] == {"enabled": False, "source": "you"}

    async def test_a_garbage_authorization_header_does_not_matter(
        self, notification: httpx.AsyncClient, settings: NotificationSettings, tenant: Agency
    ) -> None:
        member = tenant.caller("member")

        response = await notification.get(
            PATH,
            params={"token": token_for(settings, member, "task.assigned")},
            headers={"Authorization": "Bearer garbage"},
        )

        assert response.status_code == 200, response.text

    async def test_following_it_twice_is_the_same_answer(
        self, notification: httpx.AsyncClient, settings: NotificationSettings, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        params = {"token": token_for(settings, member, "task.assigned")}

        first = await notification.get(PATH, params=params)
        second = await notification.post(PATH, params=params)

        assert (first.status_code, second.status_code) == (200, 200)
        assert first.json() == second.json()

    async def test_it_leaves_colleagues_and_other_agencies_alone(
        self,
        notification: httpx.AsyncClient,
        settings: NotificationSettings,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        member, colleague = tenant.caller("member"), tenant.caller("member")
        stranger = other_tenant.caller("member")

        await notification.get(PATH, params={"token": token_for(settings, member, "task.assigned")})

        for other in (colleague, stranger):
            found = await emails_of(notification, other)
            assert found["task.assigned"]["email"] == {"enabled": True, "source": "default"}

    async def test_the_url_an_email_carries_leads_to_it(
        self, notification: httpx.AsyncClient, settings: NotificationSettings, tenant: Agency
    ) -> None:
        member = tenant.caller("member")

        url = unsubscribe_url(settings, member.agency_id, member.user_id, "invoice.overdue")

        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == settings.public_base_url
        assert parts.path == PATH
        [token] = parse_qs(parts.query)["token"]
        response = await notification.get(parts.path, params={"token": token})
        assert response.json()["kind"] == "invoice.overdue"


class TestRefusedTokens:
    async def test_a_token_edited_to_name_another_persons_kind_changes_nothing(
        self, notification: httpx.AsyncClient, settings: NotificationSettings, tenant: Agency
    ) -> None:
        attacker, victim = tenant.caller("member"), tenant.caller("member")
        genuine = token_for(settings, attacker, "task.assigned")

        response = await notification.get(
            PATH,
            params={"token": with_payload(genuine, tenant.id, victim.user_id, "task.assigned")},
        )

        assert_refused(response)
        found = await emails_of(notification, victim)
        assert found["task.assigned"]["email"] == {"enabled": True, "source": "default"}

    async def test_a_token_edited_to_name_another_kind_changes_nothing(
        self, notification: httpx.AsyncClient, settings: NotificationSettings, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        genuine = token_for(settings, member, "task.assigned")

        response = await notification.post(
            PATH,
            params={"token": with_payload(genuine, tenant.id, member.user_id, "import.failed")},
        )

        assert_refused(response)
        found = await emails_of(notification, member)
        assert found["import.failed"]["email"] == {"enabled": True, "source": "default"}

    async def test_a_token_edited_to_name_another_agency_changes_nothing(
        self,
        notification: httpx.AsyncClient,
        settings: NotificationSettings,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        attacker = tenant.caller("member")
        victim = other_tenant.caller("member")
        genuine = token_for(settings, attacker, "task.assigned")

        response = await notification.get(
            PATH,
            params={
                "token": with_payload(genuine, other_tenant.id, victim.user_id, "task.assigned")
            },
        )

        assert_refused(response)
        found = await emails_of(notification, victim)
        assert found["task.assigned"]["email"] == {"enabled": True, "source": "default"}

    async def test_a_token_signed_with_another_key_is_refused(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        foreign = sign_unsubscribe("not-our-key", tenant.id, member.user_id, "task.assigned")

        assert_refused(await notification.get(PATH, params={"token": foreign}))
        found = await emails_of(notification, member)
        assert found["task.assigned"]["email"] == {"enabled": True, "source": "default"}

    async def test_a_signed_token_for_a_kind_without_email_is_refused(
        self, notification: httpx.AsyncClient, settings: NotificationSettings, tenant: Agency
    ) -> None:
        member = tenant.caller("member")

        response = await notification.get(
            PATH, params={"token": token_for(settings, member, "no.such.kind")}
        )

        assert_refused(response)

    @pytest.mark.parametrize(
        "token",
        ["", "abc", "a.b.c", "!!!.???", ".", "x" * 5000, "e30.AAAA", "\u00e9.\u00e9"],
        ids=[
            "empty",
            "no dot",
            "two dots",
            "not base64",
            "bare dot",
            "huge",
            "short mac",
            "non-ascii",
        ],
    )
    async def test_a_malformed_token_is_a_400_naming_it_never_a_500(
        self, notification: httpx.AsyncClient, token: str
    ) -> None:
        assert_refused(await notification.get(PATH, params={"token": token}))
        assert_refused(await notification.post(PATH, params={"token": token}))

    async def test_no_token_at_all_is_a_400_naming_it(
        self, notification: httpx.AsyncClient
    ) -> None:
        assert_refused(await notification.get(PATH))


class TestSigningKey:
    def test_production_refuses_to_start_with_the_development_key(self) -> None:
        with pytest.raises(DevelopmentDefaultInProduction, match="UNSUBSCRIBE_SIGNING_KEY"):
            refuse_development_defaults(NotificationSettings(environment="production"))

    def test_production_starts_with_a_key_of_its_own(self) -> None:
        refuse_development_defaults(
            NotificationSettings(
                environment="production",
                unsubscribe_signing_key="s3cret",
                smtp_host="smtp.example.com",
                public_base_url="https://app.example.com",
                webhook_secret_key="an0ther-s3cret",
                service_credential="a-th1rd-s3cret",
            )
        )
