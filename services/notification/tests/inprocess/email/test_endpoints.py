"""`GET /v1/email-deliveries`: owners and admins see their agency's emails and where each
stands; never the bodies; never another agency's."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from agencyos.common.db import Database
from agencyos.notification.email.message import Addressee, AttachmentLink, RenderedEmail
from agencyos.notification.email.queue import queue_email
from agencyos.testing.inprocess import Agency


async def queued(
    db: Database, agency: Agency, *, to: str | None = None, template: str = "notice"
) -> str:
    to = to or f"x-{uuid.uuid4().hex[:8]}@example.com"
    async with db.transaction(agency.id) as session:
        await queue_email(
            session,
            tenant_id=agency.id,
            source_event_id=uuid.uuid4(),
            template=template,
            to=Addressee(email=to, name="Ada"),
            rendered=RenderedEmail("Subject", "<p>secret body</p>", "secret body"),
            attachments=[AttachmentLink("a.pdf", "application/pdf", "https://x/a.pdf?sig=s")],
        )
    return to


async def listing(client: httpx.AsyncClient, agency: Agency, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/email-deliveries", params=params, headers=agency.owner.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestListing:
    async def test_shows_status_attempts_and_answer_but_never_the_bodies_or_links(
        self, notification: httpx.AsyncClient, notification_db: Database, tenant: Agency
    ) -> None:
        to = await queued(notification_db, tenant)

        body = await listing(notification, tenant)

        [item] = body["items"]
        assert body["total"] == 1
        assert item["to_email"] == to
        assert item["status"] == "queued"
        assert item["attempts"] == 0
        assert item["smtp_answer"] is None
        assert item["attachments"] == [{"filename": "a.pdf", "content_type": "application/pdf"}]
        assert "secret body" not in str(body)
        assert "sig=s" not in str(body)
        assert {"html", "text"} & set(item) == set()

    async def test_filters_by_status_address_and_template(
        self, notification: httpx.AsyncClient, notification_db: Database, tenant: Agency
    ) -> None:
        ada = await queued(notification_db, tenant, to="Ada@Example.com")
        await queued(notification_db, tenant, template="mention")

        by_address = await listing(notification, tenant, to="ada@example.COM")
        by_template = await listing(notification, tenant, template="mention")
        sent = await listing(notification, tenant, status="sent")

        assert [i["to_email"] for i in by_address["items"]] == [ada]
        assert [i["template"] for i in by_template["items"]] == ["mention"]
        assert sent["items"] == []

    async def test_an_unknown_status_is_a_422_problem(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        response = await notification.get(
            "/v1/email-deliveries", params={"status": "lost"}, headers=tenant.owner.headers
        )

        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"

    async def test_pages(
        self, notification: httpx.AsyncClient, notification_db: Database, tenant: Agency
    ) -> None:
        for _ in range(3):
            await queued(notification_db, tenant)

        page = await listing(notification, tenant, page=2, per_page=2)

        assert (page["total"], len(page["items"]), page["page"]) == (3, 1, 2)


class TestOne:
    async def test_one_delivery_by_id(
        self, notification: httpx.AsyncClient, notification_db: Database, tenant: Agency
    ) -> None:
        to = await queued(notification_db, tenant)
        [item] = (await listing(notification, tenant))["items"]

        response = await notification.get(
            f"/v1/email-deliveries/{item['id']}", headers=tenant.owner.headers
        )

        assert response.status_code == 200
        assert response.json()["to_email"] == to
        assert "html" not in response.json()


class TestAccess:
    async def test_an_admin_may_read_deliveries(
        self, notification: httpx.AsyncClient, notification_db: Database, tenant: Agency
    ) -> None:
        await queued(notification_db, tenant)

        response = await notification.get(
            "/v1/email-deliveries", headers=tenant.caller("admin").headers
        )

        assert response.status_code == 200
        assert response.json()["total"] == 1

    async def test_a_member_or_manager_gets_403(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        for role in ("member", "manager"):
            response = await notification.get(
                "/v1/email-deliveries", headers=tenant.caller(role).headers
            )

            assert response.status_code == 403
            assert response.headers["content-type"] == "application/problem+json"

    async def test_another_agency_s_deliveries_are_invisible(
        self,
        notification: httpx.AsyncClient,
        notification_db: Database,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        await queued(notification_db, tenant)
        [item] = (await listing(notification, tenant))["items"]

        theirs = await listing(notification, other_tenant)
        one = await notification.get(
            f"/v1/email-deliveries/{item['id']}", headers=other_tenant.owner.headers
        )

        assert theirs["items"] == []
        assert one.status_code == 404

    async def test_without_a_token_401(self, notification: httpx.AsyncClient) -> None:
        response = await notification.get("/v1/email-deliveries")

        assert response.status_code == 401
