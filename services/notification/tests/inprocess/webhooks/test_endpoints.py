"""`/v1/webhook-endpoints`: owners and admins register where the agency's events go; the
secret is shown once, kept encrypted, rotated with a grace; URLs and event types are checked;
nobody else, and no other agency, gets in."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from agencyos.common.db import Database, utcnow
from agencyos.notification.models import WebhookEndpoint
from agencyos.notification.settings import NotificationSettings
from agencyos.notification.webhooks.secrets import signing_secrets
from agencyos.testing.inprocess import Agency

from .conftest import ENDPOINTS, PUBLIC_URL, add_delivery, create_endpoint


def api_key(agency: Agency, role: str) -> dict[str, str]:
    key_id = str(uuid.uuid4())
    token = agency.keys.mint(sub=key_id, tid=str(agency.id), role=role, akid=key_id)
    return {"Authorization": f"Bearer {token}"}


def problem_fields(response: httpx.Response) -> list[str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return [e["field"] for e in response.json().get("errors", [])]


async def stored_row(db: Database, agency: Agency, endpoint_id: str) -> str:
    """The endpoint's whole row as text, every column."""
    async with db.transaction(agency.id) as session:
        row = (
            await session.execute(
                text("SELECT row_to_json(w)::text FROM webhook_endpoints w WHERE id = :id"),
                {"id": endpoint_id},
            )
        ).scalar_one()
    return str(row)


async def loaded(db: Database, agency: Agency, endpoint_id: str) -> WebhookEndpoint:
    async with db.transaction(agency.id) as session:
        endpoint = await session.get(WebhookEndpoint, (agency.id, uuid.UUID(endpoint_id)))
        assert endpoint is not None
        return endpoint


class TestCreate:
    async def test_answers_201_with_the_endpoint_and_its_secret(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        response = await notification.post(
            ENDPOINTS,
            json={
                "url": PUBLIC_URL,
                "event_types": ["billing.invoice.*", "crm.deal.won"],
                "description": "Accounting sync",
            },
            headers=tenant.owner.headers,
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert response.headers["location"] == f"{ENDPOINTS}/{body['id']}"
        assert body["secret"].startswith("whsec_")
        assert response.headers["cache-control"] == "no-store"
        assert body["url"] == PUBLIC_URL
        assert body["event_types"] == ["billing.invoice.*", "crm.deal.won"]
        assert body["description"] == "Accounting sync"
        assert body["enabled"] is True
        assert body["disabled_reason"] is None
        assert body["secret_rotation_ends_at"] is None
        assert body["version"] == 1

    async def test_duplicate_event_types_are_dropped_in_order(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        body = await create_endpoint(
            notification,
            tenant,
            event_types=["crm.deal.won", "billing.invoice.*", "crm.deal.won", "*"],
        )

        assert body["event_types"] == ["crm.deal.won", "billing.invoice.*", "*"]

    async def test_may_be_created_disabled(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        body = await create_endpoint(notification, tenant, enabled=False)

        assert body["enabled"] is False
        assert body["disabled_reason"] == "manual"
        assert body["disabled_at"] is not None

    async def test_the_secret_is_stored_encrypted_and_appears_nowhere_in_the_row(
        self,
        notification: httpx.AsyncClient,
        webhooks_db: Database,
        notification_settings: NotificationSettings,
        tenant: Agency,
    ) -> None:
        body = await create_endpoint(notification, tenant)
        secret = body["secret"]

        row = await stored_row(webhooks_db, tenant, body["id"])
        endpoint = await loaded(webhooks_db, tenant, body["id"])

        assert secret not in row
        assert secret.removeprefix("whsec_") not in row
        assert signing_secrets(
            endpoint, now=utcnow(), key=notification_settings.webhook_secret_key
        ) == [secret]

    async def test_a_retry_with_the_same_idempotency_key_creates_nothing_more(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        body = {"url": PUBLIC_URL, "event_types": ["*"]}
        headers = {**tenant.owner.headers, "Idempotency-Key": "create-hook-1"}

        first = await notification.post(ENDPOINTS, json=body, headers=headers)
        again = await notification.post(ENDPOINTS, json=body, headers=headers)
        listed = await notification.get(ENDPOINTS, headers=tenant.owner.headers)

        # the answer showed the secret, so it is not kept to be shown again: the retry is told
        # the endpoint exists, and where
        assert (first.status_code, again.status_code) == (201, 409)
        assert again.headers["location"] == f"{ENDPOINTS}/{first.json()['id']}"
        assert first.json()["secret"] not in again.text
        assert listed.json()["total"] == 1


class TestSecretShownOnce:
    async def test_no_read_ever_shows_a_secret(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        created = await create_endpoint(notification, tenant)
        secret = created["secret"]
        endpoint = f"{ENDPOINTS}/{created['id']}"
        headers = tenant.owner.headers

        answers = [
            await notification.get(ENDPOINTS, headers=headers),
            await notification.get(endpoint, headers=headers),
            await notification.patch(endpoint, json={"description": "x"}, headers=headers),
            await notification.post(f"{endpoint}/disable", headers=headers),
            await notification.post(f"{endpoint}/enable", headers=headers),
        ]

        for answer in answers:
            assert answer.status_code == 200, answer.text
            assert secret not in answer.text
            assert "secret" not in answer.text.replace("secret_rotation_ends_at", "")


class TestValidation:
    @pytest.mark.parametrize(
        ("url", "why"),
        [
            ("http://hooks.example.com/x", "https"),
            ("https://127.0.0.1/x", "loopback"),
            ("https://localhost:8443/x", "loopback"),
            ("https://api.localhost/x", "loopback"),
            ("https://169.254.169.254/latest/meta-data", "metadata"),
            ("https://[::1]/x", "loopback"),
            ("https://10.0.0.1/x", "private"),
            ("https://[fd00::1]/x", "private"),
            ("https://[::ffff:10.0.0.1]/x", "private"),
            ("https://100.64.0.1/x", "shared"),
            ("https://0.0.0.0/x", "unspecified"),
            ("ftp://hooks.example.com/x", "https"),
            ("https://user:pw@hooks.example.com/x", "password"),
            ("hooks.example.com/x", "https"),
        ],
    )
    async def test_a_refused_url_is_a_422_naming_url_with_the_reason(
        self, notification: httpx.AsyncClient, tenant: Agency, url: str, why: str
    ) -> None:
        response = await notification.post(
            ENDPOINTS,
            json={"url": url, "event_types": ["*"]},
            headers=tenant.owner.headers,
        )

        assert response.status_code == 422, response.text
        assert problem_fields(response) == ["url"]
        assert why in response.json()["errors"][0]["message"]

    async def test_http_and_private_networks_are_accepted_only_where_allowed(
        self,
        notification: httpx.AsyncClient,
        notification_settings: NotificationSettings,
        tenant: Agency,
    ) -> None:
        notification_settings.webhook_allow_http = True
        notification_settings.webhook_allowed_private_networks = ["127.0.0.0/8"]

        allowed = await notification.post(
            ENDPOINTS,
            json={"url": "http://127.0.0.2:9000/hook", "event_types": ["*"]},
            headers=tenant.owner.headers,
        )
        still_private = await notification.post(
            ENDPOINTS,
            json={"url": "http://10.0.0.1/hook", "event_types": ["*"]},
            headers=tenant.owner.headers,
        )

        assert allowed.status_code == 201, allowed.text
        assert still_private.status_code == 422
        assert problem_fields(still_private) == ["url"]

    @pytest.mark.parametrize(
        ("event_types", "named"),
        [
            (["billing.invoice.exploded"], "billing.invoice.exploded"),
            (["billing.*", "nothing.here.*"], "nothing.here.*"),
            (["billing.invoice.paid.*"], "billing.invoice.paid.*"),
            (["billing*"], "billing*"),
            (["billing.*.paid"], "billing.*.paid"),
            (["Billing.Invoice.Paid"], "Billing.Invoice.Paid"),
            (["identity.password_reset.requested"], "identity.password_reset.requested"),
            (["notification.notice.created"], "notification.notice.created"),
        ],
        ids=[
            "unknown-type",
            "prefix-matching-nothing",
            "prefix-below-a-type",
            "star-without-dot",
            "star-inside",
            "upper-case",
            "secret-carrying-type",
            "personal-type",
        ],
    )
    async def test_an_event_type_webhooks_do_not_deliver_is_a_422_naming_it(
        self,
        notification: httpx.AsyncClient,
        tenant: Agency,
        event_types: list[str],
        named: str,
    ) -> None:
        response = await notification.post(
            ENDPOINTS,
            json={"url": PUBLIC_URL, "event_types": event_types},
            headers=tenant.owner.headers,
        )

        assert response.status_code == 422, response.text
        assert problem_fields(response) == ["event_types"]
        assert named in response.json()["errors"][0]["message"]

    @pytest.mark.parametrize(
        "event_types", [[], ["crm.deal.won"] * 51], ids=["empty", "more-than-50"]
    )
    async def test_none_or_more_than_50_event_types_is_a_422(
        self, notification: httpx.AsyncClient, tenant: Agency, event_types: list[str]
    ) -> None:
        response = await notification.post(
            ENDPOINTS,
            json={"url": PUBLIC_URL, "event_types": event_types},
            headers=tenant.owner.headers,
        )

        assert response.status_code == 422
        assert problem_fields(response) == ["event_types"]

    async def test_a_change_is_checked_as_a_creation_is_and_nothing_is_saved(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        created = await create_endpoint(notification, tenant)
        endpoint = f"{ENDPOINTS}/{created['id']}"

        bad_url = await notification.patch(
            endpoint,
            json={"url": "https://169.254.169.254/", "description": "changed"},
            headers=tenant.owner.headers,
        )
        bad_types = await notification.patch(
            endpoint, json={"event_types": ["no.such.type"]}, headers=tenant.owner.headers
        )
        null_url = await notification.patch(
            endpoint, json={"url": None}, headers=tenant.owner.headers
        )
        after = (await notification.get(endpoint, headers=tenant.owner.headers)).json()

        assert (bad_url.status_code, problem_fields(bad_url)) == (422, ["url"])
        assert (bad_types.status_code, problem_fields(bad_types)) == (422, ["event_types"])
        assert (null_url.status_code, problem_fields(null_url)) == (422, ["url"])
        assert after["description"] is None
        assert after["version"] == 1


class TestListAndRead:
    async def test_lists_newest_first_and_filters_by_enabled(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        first = await create_endpoint(notification, tenant, description="first")
        second = await create_endpoint(notification, tenant, description="second", enabled=False)

        everything = (await notification.get(ENDPOINTS, headers=tenant.owner.headers)).json()
        enabled = (
            await notification.get(
                ENDPOINTS, params={"enabled": "true"}, headers=tenant.owner.headers
            )
        ).json()
        disabled = (
            await notification.get(
                ENDPOINTS, params={"enabled": "false"}, headers=tenant.owner.headers
            )
        ).json()

        assert [e["id"] for e in everything["items"]] == [second["id"], first["id"]]
        assert everything["total"] == 2
        assert [e["id"] for e in enabled["items"]] == [first["id"]]
        assert [e["id"] for e in disabled["items"]] == [second["id"]]

    async def test_pages(self, notification: httpx.AsyncClient, tenant: Agency) -> None:
        for _ in range(3):
            await create_endpoint(notification, tenant)

        page = (
            await notification.get(
                ENDPOINTS, params={"page": 2, "per_page": 2}, headers=tenant.owner.headers
            )
        ).json()

        assert (page["total"], len(page["items"]), page["page"], page["per_page"]) == (3, 1, 2, 2)

    async def test_an_unknown_id_is_a_404(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        response = await notification.get(
            f"{ENDPOINTS}/{uuid.uuid4()}", headers=tenant.owner.headers
        )

        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


class TestUpdate:
    async def test_changes_only_what_is_sent_and_bumps_the_version(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        created = await create_endpoint(notification, tenant, description="keep me")
        endpoint = f"{ENDPOINTS}/{created['id']}"

        changed = await notification.patch(
            endpoint,
            json={"url": "https://other.example.com/hook", "event_types": ["work.task.*"]},
            headers=tenant.owner.headers,
        )
        cleared = await notification.patch(
            endpoint, json={"description": None}, headers=tenant.owner.headers
        )

        assert changed.status_code == 200, changed.text
        assert changed.json()["url"] == "https://other.example.com/hook"
        assert changed.json()["event_types"] == ["work.task.*"]
        assert changed.json()["description"] == "keep me"
        assert changed.json()["version"] == 2
        assert cleared.json()["description"] is None
        assert cleared.json()["version"] == 3

    async def test_an_unknown_field_is_a_422(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        created = await create_endpoint(notification, tenant)

        response = await notification.patch(
            f"{ENDPOINTS}/{created['id']}",
            json={"secret": "whsec_mine"},
            headers=tenant.owner.headers,
        )

        assert response.status_code == 422
        assert problem_fields(response) == ["secret"]


class TestDelete:
    async def test_deletes_the_endpoint_with_its_deliveries_and_attempts(
        self, notification: httpx.AsyncClient, webhooks_db: Database, tenant: Agency
    ) -> None:
        created = await create_endpoint(notification, tenant)
        await add_delivery(
            webhooks_db, tenant, created["id"], status="failed", attempts=2, attempt_rows=2
        )

        response = await notification.delete(
            f"{ENDPOINTS}/{created['id']}", headers=tenant.owner.headers
        )
        after = await notification.get(f"{ENDPOINTS}/{created['id']}", headers=tenant.owner.headers)

        assert response.status_code == 204
        assert response.content == b""
        assert after.status_code == 404
        async with webhooks_db.transaction(tenant.id) as session:
            left = (
                await session.execute(
                    text(
                        "SELECT (SELECT count(*) FROM webhook_deliveries), "
                        "(SELECT count(*) FROM webhook_attempts)"
                    )
                )
            ).one()
        assert tuple(left) == (0, 0)


class TestEnableAndDisable:
    async def test_disabling_is_manual_and_enabling_clears_reason_time_and_failing_clock(
        self, notification: httpx.AsyncClient, webhooks_db: Database, tenant: Agency
    ) -> None:
        created = await create_endpoint(notification, tenant)
        endpoint = f"{ENDPOINTS}/{created['id']}"

        disabled = await notification.post(f"{endpoint}/disable", headers=tenant.owner.headers)
        async with webhooks_db.transaction(tenant.id) as session:
            await session.execute(
                text("UPDATE webhook_endpoints SET failing_since = now() - interval '1 day'")
            )
        enabled = await notification.post(f"{endpoint}/enable", headers=tenant.owner.headers)

        assert disabled.status_code == 200, disabled.text
        assert disabled.json()["enabled"] is False
        assert disabled.json()["disabled_reason"] == "manual"
        assert disabled.json()["disabled_at"] is not None
        assert enabled.status_code == 200
        assert enabled.json()["enabled"] is True
        assert enabled.json()["disabled_reason"] is None
        assert enabled.json()["disabled_at"] is None
        assert enabled.json()["failing_since"] is None

    async def test_disabling_an_endpoint_the_dispatcher_disabled_keeps_its_reason(
        self, notification: httpx.AsyncClient, webhooks_db: Database, tenant: Agency
    ) -> None:
        created = await create_endpoint(notification, tenant)
        async with webhooks_db.transaction(tenant.id) as session:
            await session.execute(
                text(
                    "UPDATE webhook_endpoints SET enabled = false, disabled_reason = 'gone', "
                    "disabled_at = now()"
                )
            )

        response = await notification.post(
            f"{ENDPOINTS}/{created['id']}/disable", headers=tenant.owner.headers
        )

        assert response.json()["disabled_reason"] == "gone"


class TestRotateSecret:
    async def test_the_old_secret_keeps_signing_for_the_grace_then_only_the_new_one(
        self,
        notification: httpx.AsyncClient,
        webhooks_db: Database,
        notification_settings: NotificationSettings,
        tenant: Agency,
    ) -> None:
        notification_settings.webhook_secret_rotation_grace_seconds = 3600
        created = await create_endpoint(notification, tenant)
        before = utcnow()

        response = await notification.post(
            f"{ENDPOINTS}/{created['id']}/rotate-secret", headers=tenant.owner.headers
        )

        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        rotated = response.json()
        new, old = rotated["secret"], created["secret"]
        assert new.startswith("whsec_")
        assert new != old
        endpoint = await loaded(webhooks_db, tenant, created["id"])
        expires = endpoint.previous_secret_expires_at
        assert expires is not None
        assert before + timedelta(seconds=3590) < expires <= utcnow() + timedelta(seconds=3600)
        key = notification_settings.webhook_secret_key
        assert signing_secrets(endpoint, now=utcnow(), key=key) == [new, old]
        assert signing_secrets(endpoint, now=expires + timedelta(seconds=1), key=key) == [new]
        shown = (
            await notification.get(f"{ENDPOINTS}/{created['id']}", headers=tenant.owner.headers)
        ).json()
        assert shown["secret_rotation_ends_at"] == rotated["previous_secret_expires_at"]
        assert new not in str(shown)
        row = await stored_row(webhooks_db, tenant, created["id"])
        assert new not in row
        assert old not in row

    async def test_a_second_rotation_drops_the_first_secret_at_once(
        self,
        notification: httpx.AsyncClient,
        webhooks_db: Database,
        notification_settings: NotificationSettings,
        tenant: Agency,
    ) -> None:
        created = await create_endpoint(notification, tenant)
        path = f"{ENDPOINTS}/{created['id']}/rotate-secret"

        second = (await notification.post(path, headers=tenant.owner.headers)).json()["secret"]
        third = (await notification.post(path, headers=tenant.owner.headers)).json()["secret"]

        endpoint = await loaded(webhooks_db, tenant, created["id"])
        key = notification_settings.webhook_secret_key
        assert signing_secrets(endpoint, now=utcnow(), key=key) == [third, second]


def _routes(endpoint_id: str, delivery_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    base = f"{ENDPOINTS}/{endpoint_id}"
    now = utcnow()
    return [
        ("GET", base, None),
        ("PATCH", base, {"description": "mine now"}),
        ("DELETE", base, None),
        ("POST", f"{base}/enable", None),
        ("POST", f"{base}/disable", None),
        ("POST", f"{base}/rotate-secret", None),
        ("GET", f"{base}/deliveries", None),
        ("GET", f"{base}/deliveries/{delivery_id}", None),
        ("POST", f"{base}/deliveries/{delivery_id}/retry", None),
        (
            "POST",
            f"{base}/replay",
            {
                "since": (now - timedelta(hours=1)).isoformat(),
                "until": (now - timedelta(seconds=1)).isoformat(),
            },
        ),
        ("POST", f"{base}/test", None),
    ]


ROUTE_NAMES = [
    "get",
    "patch",
    "delete",
    "enable",
    "disable",
    "rotate-secret",
    "deliveries",
    "delivery",
    "retry",
    "replay",
    "test",
]


class TestAccess:
    @pytest.mark.parametrize("index", range(len(ROUTE_NAMES)), ids=ROUTE_NAMES)
    async def test_another_agency_gets_404_on_every_route_and_nothing_changes(
        self,
        notification: httpx.AsyncClient,
        webhooks_db: Database,
        tenant: Agency,
        other_tenant: Agency,
        index: int,
    ) -> None:
        created = await create_endpoint(notification, tenant)
        delivery_id = await add_delivery(
            webhooks_db, tenant, created["id"], status="failed", attempts=1
        )
        method, path, body = _routes(created["id"], str(delivery_id))[index]

        response = await notification.request(
            method, path, json=body, headers=other_tenant.owner.headers
        )

        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
        mine = await notification.get(f"{ENDPOINTS}/{created['id']}", headers=tenant.owner.headers)
        assert mine.json() == {k: v for k, v in created.items() if k != "secret"}
        async with webhooks_db.transaction(tenant.id) as session:
            status, count = (
                await session.execute(
                    text(
                        "SELECT (SELECT status FROM webhook_deliveries WHERE id = :id), "
                        "(SELECT count(*) FROM webhook_deliveries)"
                    ),
                    {"id": delivery_id},
                )
            ).one()
        assert (status, count) == ("failed", 1)

    async def test_another_agency_s_list_is_empty(
        self, notification: httpx.AsyncClient, tenant: Agency, other_tenant: Agency
    ) -> None:
        await create_endpoint(notification, tenant)

        theirs = await notification.get(ENDPOINTS, headers=other_tenant.owner.headers)

        assert theirs.json()["items"] == []
        assert theirs.json()["total"] == 0

    async def test_a_delivery_of_another_endpoint_of_the_same_agency_is_a_404(
        self, notification: httpx.AsyncClient, webhooks_db: Database, tenant: Agency
    ) -> None:
        one = await create_endpoint(notification, tenant)
        other = await create_endpoint(notification, tenant)
        delivery_id = await add_delivery(webhooks_db, tenant, one["id"])

        read = await notification.get(
            f"{ENDPOINTS}/{other['id']}/deliveries/{delivery_id}", headers=tenant.owner.headers
        )
        retried = await notification.post(
            f"{ENDPOINTS}/{other['id']}/deliveries/{delivery_id}/retry",
            headers=tenant.owner.headers,
        )

        assert (read.status_code, retried.status_code) == (404, 404)

    async def test_an_admin_may_do_everything_an_owner_may(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        admin = tenant.caller("admin")

        created = await create_endpoint(notification, admin)
        listed = await notification.get(ENDPOINTS, headers=admin.headers)
        rotated = await notification.post(
            f"{ENDPOINTS}/{created['id']}/rotate-secret", headers=admin.headers
        )
        deleted = await notification.delete(f"{ENDPOINTS}/{created['id']}", headers=admin.headers)

        assert listed.json()["total"] == 1
        assert (rotated.status_code, deleted.status_code) == (200, 204)

    async def test_an_api_key_with_the_owner_role_may_manage_endpoints(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        response = await notification.post(
            ENDPOINTS,
            json={"url": PUBLIC_URL, "event_types": ["*"]},
            headers=api_key(tenant, "owner"),
        )

        assert response.status_code == 201, response.text

    @pytest.mark.parametrize(
        "who", ["manager", "member", "client", "member-api-key", "manager-api-key"]
    )
    @pytest.mark.parametrize("index", range(len(ROUTE_NAMES)), ids=ROUTE_NAMES)
    async def test_a_role_without_webhooks_manage_gets_403_on_every_route(
        self, notification: httpx.AsyncClient, tenant: Agency, who: str, index: int
    ) -> None:
        # The permission is checked before anything is looked up: any ids do.
        headers = (
            api_key(tenant, who.removesuffix("-api-key"))
            if who.endswith("-api-key")
            else tenant.caller(who).headers
        )
        method, path, body = _routes(str(uuid.uuid4()), str(uuid.uuid4()))[index]

        response = await notification.request(method, path, json=body, headers=headers)

        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "webhooks.manage" in response.json()["detail"]

    @pytest.mark.parametrize("who", ["manager", "member", "client", "member-api-key"])
    async def test_a_role_without_webhooks_manage_cannot_list_or_create(
        self, notification: httpx.AsyncClient, tenant: Agency, who: str
    ) -> None:
        headers = (
            api_key(tenant, who.removesuffix("-api-key"))
            if who.endswith("-api-key")
            else tenant.caller(who).headers
        )

        listed = await notification.get(ENDPOINTS, headers=headers)
        created = await notification.post(
            ENDPOINTS, json={"url": PUBLIC_URL, "event_types": ["*"]}, headers=headers
        )

        assert (listed.status_code, created.status_code) == (403, 403)

    async def test_an_owner_whose_token_lacks_webhooks_manage_gets_403(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        tuned = tenant.caller("owner", permissions=["agency.read"])

        response = await notification.get(ENDPOINTS, headers=tuned.headers)

        assert response.status_code == 403
