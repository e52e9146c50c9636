"""What was sent to an endpoint, and sending again: the deliveries with their attempts, a
retry (same webhook-id), a replay of a past window from the feed (original ids, event
order), a test ping."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from agencyos.common.db import Database, utcnow
from agencyos.notification.models import WebhookDelivery
from agencyos.notification.settings import NotificationSettings
from agencyos.notification.webhooks import service as webhook_service
from agencyos.testing.feed_events import invoice_event, notice_event, task_event
from agencyos.testing.inprocess import Agency

from .conftest import ENDPOINTS, add_delivery, at, create_endpoint, record_events


async def deliveries_of(db: Database, agency: Agency, endpoint_id: str) -> list[WebhookDelivery]:
    async with db.transaction(agency.id) as session:
        rows = await session.execute(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == uuid.UUID(endpoint_id))
            .order_by(WebhookDelivery.occurred_at)
        )
        return list(rows.scalars())


async def insertion_order(db: Database, agency: Agency) -> list[uuid.UUID]:
    """The agency's deliveries' event ids in the order their rows were written (a table only
    inserted into keeps rows in the order written: the physical position tells it)."""
    async with db.transaction(agency.id) as session:
        rows = await session.execute(text("SELECT event_id FROM webhook_deliveries ORDER BY ctid"))
        return list(rows.scalars())


async def delivery_row(db: Database, agency: Agency, delivery_id: uuid.UUID) -> WebhookDelivery:
    async with db.transaction(agency.id) as session:
        found = await session.get(WebhookDelivery, (agency.id, delivery_id))
        assert found is not None
        return found


class TestListing:
    async def test_shows_each_delivery_with_its_attempts_newest_first(
        self, notification: httpx.AsyncClient, webhooks_db: Database, tenant: Agency
    ) -> None:
        endpoint = await create_endpoint(notification, tenant)
        older = await add_delivery(
            webhooks_db, tenant, endpoint["id"], status="failed", attempts=2, attempt_rows=2
        )
        newer = await add_delivery(webhooks_db, tenant, endpoint["id"])

        response = await notification.get(
            f"{ENDPOINTS}/{endpoint['id']}/deliveries", headers=tenant.owner.headers
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == 2
        assert [d["id"] for d in body["items"]] == [str(newer), str(older)]
        pending, failed = body["items"]
        assert pending["status"] == "pending"
        assert pending["next_attempt_at"] is not None
        assert pending["attempts_detail"] == []
        assert failed["status"] == "failed"
        assert failed["next_attempt_at"] is None
        assert failed["last_status_code"] == 500
        assert failed["origin"] == "live"
        assert failed["event_type"] == "billing.invoice.paid"
        assert [a["attempt"] for a in failed["attempts_detail"]] == [1, 2]
        first = failed["attempts_detail"][0]
        assert first["request_headers"]["webhook-id"] == failed["event_id"]
        assert (first["response_status"], first["response_body"], first["outcome"]) == (
            500,
            "oops",
            "failed",
        )
        assert first["latency_ms"] == 12
        assert "body" not in failed

    async def test_filters_by_status_and_event_type(
        self, notification: httpx.AsyncClient, webhooks_db: Database, tenant: Agency
    ) -> None:
        endpoint = await create_endpoint(notification, tenant)
        failed = await add_delivery(webhooks_db, tenant, endpoint["id"], status="failed")
        sent = await add_delivery(
            webhooks_db, tenant, endpoint["id"], status="succeeded", event_type="crm.deal.won"
        )
        path = f"{ENDPOINTS}/{endpoint['id']}/deliveries"

        by_status = await notification.get(
            path, params={"status": "failed"}, headers=tenant.owner.headers
        )
        by_type = await notification.get(
            path, params={"event_type": "crm.deal.won"}, headers=tenant.owner.headers
        )
        unknown = await notification.get(
            path, params={"status": "lost"}, headers=tenant.owner.headers
        )

        assert [d["id"] for d in by_status.json()["items"]] == [str(failed)]
        assert [d["id"] for d in by_type.json()["items"]] == [str(sent)]
        assert unknown.status_code == 422

    async def test_one_delivery_by_id(
        self, notification: httpx.AsyncClient, webhooks_db: Database, tenant: Agency
    ) -> None:
        endpoint = await create_endpoint(notification, tenant)
        delivery_id = await add_delivery(
            webhooks_db, tenant, endpoint["id"], status="failed", attempts=1, attempt_rows=1
        )

        response = await notification.get(
            f"{ENDPOINTS}/{endpoint['id']}/deliveries/{delivery_id}",
            headers=tenant.owner.headers,
        )
        unknown = await notification.get(
            f"{ENDPOINTS}/{endpoint['id']}/deliveries/{uuid.uuid4()}",
            headers=tenant.owner.headers,
        )

        assert response.status_code == 200
        assert response.json()["id"] == str(delivery_id)
        assert len(response.json()["attempts_detail"]) == 1
        assert unknown.status_code == 404

    async def test_an_unknown_endpoint_s_deliveries_are_a_404(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        response = await notification.get(
            f"{ENDPOINTS}/{uuid.uuid4()}/deliveries", headers=tenant.owner.headers
        )

        assert response.status_code == 404


class TestRetry:
    @pytest.mark.parametrize("status", ["failed", "succeeded"])
    async def test_a_finished_delivery_gets_one_more_attempt_now_with_the_same_event_id(
        self,
        notification: httpx.AsyncClient,
        webhooks_db: Database,
        tenant: Agency,
        status: str,
    ) -> None:
        endpoint = await create_endpoint(notification, tenant)
        delivery_id = await add_delivery(
            webhooks_db, tenant, endpoint["id"], status=status, attempts=9, attempt_rows=1
        )
        before = await delivery_row(webhooks_db, tenant, delivery_id)

        response = await notification.post(
            f"{ENDPOINTS}/{endpoint['id']}/deliveries/{delivery_id}/retry",
            headers=tenant.owner.headers,
        )

        assert response.status_code == 202, response.text
        assert response.json()["status"] == "pending"
        after = await delivery_row(webhooks_db, tenant, delivery_id)
        assert (after.status, after.attempts, after.max_attempts) == ("pending", 9, 10)
        assert after.event_id == before.event_id
        assert after.body == before.body
        assert after.next_attempt_at <= utcnow()
        assert (after.failed_at, after.succeeded_at, after.dead_lettered_at) == (None, None, None)
        assert len(await deliveries_of(webhooks_db, tenant, endpoint["id"])) == 1

    async def test_a_pending_delivery_is_moved_to_now(
        self, notification: httpx.AsyncClient, webhooks_db: Database, tenant: Agency
    ) -> None:
        endpoint = await create_endpoint(notification, tenant)
        delivery_id = await add_delivery(webhooks_db, tenant, endpoint["id"], attempts=3)
        async with webhooks_db.transaction(tenant.id) as session:
            await session.execute(
                text("UPDATE webhook_deliveries SET next_attempt_at = now() + interval '5 hours'")
            )

        response = await notification.post(
            f"{ENDPOINTS}/{endpoint['id']}/deliveries/{delivery_id}/retry",
            headers=tenant.owner.headers,
        )

        assert response.status_code == 202
        after = await delivery_row(webhooks_db, tenant, delivery_id)
        assert after.next_attempt_at <= utcnow()
        assert (after.status, after.attempts, after.max_attempts) == ("pending", 3, 9)

    async def test_a_delivery_being_sent_is_a_409(
        self, notification: httpx.AsyncClient, webhooks_db: Database, tenant: Agency
    ) -> None:
        endpoint = await create_endpoint(notification, tenant)
        delivery_id = await add_delivery(
            webhooks_db, tenant, endpoint["id"], status="sending", attempts=1
        )

        response = await notification.post(
            f"{ENDPOINTS}/{endpoint['id']}/deliveries/{delivery_id}/retry",
            headers=tenant.owner.headers,
        )

        assert response.status_code == 409
        assert (await delivery_row(webhooks_db, tenant, delivery_id)).status == "sending"

    async def test_a_delivery_of_a_disabled_endpoint_is_a_409(
        self, notification: httpx.AsyncClient, webhooks_db: Database, tenant: Agency
    ) -> None:
        endpoint = await create_endpoint(notification, tenant)
        delivery_id = await add_delivery(webhooks_db, tenant, endpoint["id"], status="failed")
        await notification.post(
            f"{ENDPOINTS}/{endpoint['id']}/disable", headers=tenant.owner.headers
        )

        response = await notification.post(
            f"{ENDPOINTS}/{endpoint['id']}/deliveries/{delivery_id}/retry",
            headers=tenant.owner.headers,
        )

        assert response.status_code == 409
        assert (await delivery_row(webhooks_db, tenant, delivery_id)).status == "failed"


def window(since: datetime, until: datetime, **extra: Any) -> dict[str, Any]:
    return {"since": since.isoformat(), "until": until.isoformat(), **extra}


class TestReplay:
    async def test_queues_the_window_s_subscribed_events_with_their_ids_in_event_order(
        self,
        notification: httpx.AsyncClient,
        webhooks_db: Database,
        notification_settings: NotificationSettings,
        tenant: Agency,
    ) -> None:
        endpoint = await create_endpoint(notification, tenant, event_types=["billing.invoice.*"])
        start = utcnow() - timedelta(hours=3)
        client_id, project_id = uuid.uuid4(), uuid.uuid4()
        before = at(invoice_event(tenant.id, client_id), start - timedelta(minutes=1))
        first = at(invoice_event(tenant.id, client_id), start + timedelta(minutes=1))
        task = at(task_event(tenant.id, project_id), start + timedelta(minutes=2))
        notice = at(notice_event(tenant.id, tenant.owner.user_id), start + timedelta(minutes=3))
        second = at(invoice_event(tenant.id, client_id), start + timedelta(minutes=4))
        after = at(invoice_event(tenant.id, client_id), start + timedelta(hours=2))
        await record_events(webhooks_db, tenant, [before, first, task, notice, second, after])

        response = await notification.post(
            f"{ENDPOINTS}/{endpoint['id']}/replay",
            json=window(start, start + timedelta(hours=1)),
            headers=tenant.owner.headers,
        )

        assert response.status_code == 202, response.text
        body = response.json()
        assert body["queued"] == 2
        rows = await deliveries_of(webhooks_db, tenant, endpoint["id"])
        assert [r.event_id for r in rows] == [first.id, second.id]
        assert await insertion_order(webhooks_db, tenant) == [first.id, second.id]
        assert {r.origin for r in rows} == {f"replay:{body['replay_id']}"}
        assert {(r.status, r.attempts) for r in rows} == {("pending", 0)}
        assert {r.max_attempts for r in rows} == {
            1 + len(notification_settings.webhook_retry_seconds)
        }
        assert [r.occurred_at for r in rows] == [first.time, second.time]
        assert json.loads(rows[0].body)["id"] == str(first.id)
        assert json.loads(rows[0].body)["data"] == first.data
        listed = await notification.get(
            f"{ENDPOINTS}/{endpoint['id']}/deliveries", headers=tenant.owner.headers
        )
        assert {d["event_id"] for d in listed.json()["items"]} == {str(first.id), str(second.id)}

    async def test_a_replay_beside_the_live_delivery_of_the_same_event_is_a_row_of_its_own(
        self, notification: httpx.AsyncClient, webhooks_db: Database, tenant: Agency
    ) -> None:
        endpoint = await create_endpoint(notification, tenant)
        start = utcnow() - timedelta(hours=1)
        event = at(invoice_event(tenant.id, uuid.uuid4()), start + timedelta(minutes=1))
        await record_events(webhooks_db, tenant, [event])
        path = f"{ENDPOINTS}/{endpoint['id']}/replay"

        once = await notification.post(
            path, json=window(start, utcnow()), headers=tenant.owner.headers
        )
        twice = await notification.post(
            path, json=window(start, utcnow()), headers=tenant.owner.headers
        )

        assert (once.json()["queued"], twice.json()["queued"]) == (1, 1)
        assert once.json()["replay_id"] != twice.json()["replay_id"]
        rows = await deliveries_of(webhooks_db, tenant, endpoint["id"])
        assert [r.event_id for r in rows] == [event.id, event.id]

    async def test_narrows_to_the_event_types_asked_for(
        self, notification: httpx.AsyncClient, webhooks_db: Database, tenant: Agency
    ) -> None:
        endpoint = await create_endpoint(notification, tenant, event_types=["*"])
        start = utcnow() - timedelta(hours=1)
        invoice = at(invoice_event(tenant.id, uuid.uuid4()), start + timedelta(minutes=1))
        task = at(task_event(tenant.id, uuid.uuid4()), start + timedelta(minutes=2))
        await record_events(webhooks_db, tenant, [invoice, task])

        response = await notification.post(
            f"{ENDPOINTS}/{endpoint['id']}/replay",
            json=window(start, utcnow(), event_types=["work.task.*"]),
            headers=tenant.owner.headers,
        )

        assert response.json()["queued"] == 1
        [row] = await deliveries_of(webhooks_db, tenant, endpoint["id"])
        assert row.event_id == task.id

    async def test_never_replays_another_agency_s_events(
        self,
        notification: httpx.AsyncClient,
        webhooks_db: Database,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        endpoint = await create_endpoint(notification, tenant, event_types=["*"])
        start = utcnow() - timedelta(hours=1)
        theirs = at(invoice_event(other_tenant.id, uuid.uuid4()), start + timedelta(minutes=1))
        await record_events(webhooks_db, other_tenant, [theirs])

        response = await notification.post(
            f"{ENDPOINTS}/{endpoint['id']}/replay",
            json=window(start, utcnow()),
            headers=tenant.owner.headers,
        )

        assert response.json()["queued"] == 0
        assert await deliveries_of(webhooks_db, tenant, endpoint["id"]) == []

    @pytest.mark.parametrize(
        ("shift", "field"),
        [
            ({"until": timedelta(minutes=5)}, "until"),
            ({"since": timedelta(hours=2)}, "since"),
            ({"since": -timedelta(days=31)}, "since"),
        ],
        ids=["until-in-the-future", "since-after-until", "longer-than-retention"],
    )
    async def test_a_bad_window_is_a_422_naming_the_field(
        self,
        notification: httpx.AsyncClient,
        tenant: Agency,
        shift: dict[str, timedelta],
        field: str,
    ) -> None:
        endpoint = await create_endpoint(notification, tenant)
        now = utcnow()
        since = now - timedelta(hours=1) + shift.get("since", timedelta())
        until = now - timedelta(seconds=1) + shift.get("until", timedelta())

        response = await notification.post(
            f"{ENDPOINTS}/{endpoint['id']}/replay",
            json=window(since, until),
            headers=tenant.owner.headers,
        )

        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == [field]

    @pytest.mark.parametrize(
        ("since", "until", "field"),
        [
            ("0001-01-01T00:00:00+14:00", "0001-01-02T00:00:00+14:00", "since"),
            ("0001-01-01T10:00:00+00:00", "0001-01-01T00:00:00+14:00", "until"),
            ("9999-12-30T00:00:00-14:00", "9999-12-31T23:59:59-14:00", "until"),
        ],
        ids=["before-year-one-in-utc", "until-before-year-one-in-utc", "far-future"],
    )
    async def test_times_at_the_edge_of_the_calendar_are_a_422(
        self,
        notification: httpx.AsyncClient,
        tenant: Agency,
        since: str,
        until: str,
        field: str,
    ) -> None:
        endpoint = await create_endpoint(notification, tenant)

        response = await notification.post(
            f"{ENDPOINTS}/{endpoint['id']}/replay",
            json={"since": since, "until": until},
            headers=tenant.owner.headers,
        )

        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == [field]

    async def test_a_time_without_an_offset_is_a_422(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        endpoint = await create_endpoint(notification, tenant)

        response = await notification.post(
            f"{ENDPOINTS}/{endpoint['id']}/replay",
            json={"since": "2026-12-01T00:00:00", "until": "2026-12-01T01:00:00Z"},
            headers=tenant.owner.headers,
        )

        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["since"]

    @pytest.mark.parametrize(
        "asked",
        [["work.task.created"], ["billing.*"], ["*"], ["nope.nope"]],
        ids=["outside-type", "wider-prefix", "everything", "unknown"],
    )
    async def test_event_types_outside_the_endpoint_s_are_a_422(
        self, notification: httpx.AsyncClient, tenant: Agency, asked: list[str]
    ) -> None:
        endpoint = await create_endpoint(notification, tenant, event_types=["billing.invoice.*"])

        response = await notification.post(
            f"{ENDPOINTS}/{endpoint['id']}/replay",
            json=window(utcnow() - timedelta(hours=1), utcnow(), event_types=asked),
            headers=tenant.owner.headers,
        )

        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == ["event_types"]

    async def test_a_disabled_endpoint_is_a_409(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        endpoint = await create_endpoint(notification, tenant, enabled=False)

        response = await notification.post(
            f"{ENDPOINTS}/{endpoint['id']}/replay",
            json=window(utcnow() - timedelta(hours=1), utcnow()),
            headers=tenant.owner.headers,
        )

        assert response.status_code == 409

    async def test_more_events_than_one_replay_takes_is_a_422_and_queues_nothing(
        self,
        notification: httpx.AsyncClient,
        webhooks_db: Database,
        tenant: Agency,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(webhook_service, "MAX_REPLAY_EVENTS", 2)
        endpoint = await create_endpoint(notification, tenant)
        start = utcnow() - timedelta(hours=1)
        events = [
            at(invoice_event(tenant.id, uuid.uuid4()), start + timedelta(minutes=n))
            for n in range(1, 4)
        ]
        await record_events(webhooks_db, tenant, events)

        response = await notification.post(
            f"{ENDPOINTS}/{endpoint['id']}/replay",
            json=window(start, utcnow()),
            headers=tenant.owner.headers,
        )

        assert response.status_code == 422
        assert "narrower" in response.json()["detail"]
        assert await deliveries_of(webhooks_db, tenant, endpoint["id"]) == []


class TestPing:
    async def test_queues_a_webhook_ping_for_this_endpoint_alone(
        self,
        notification: httpx.AsyncClient,
        webhooks_db: Database,
        notification_settings: NotificationSettings,
        tenant: Agency,
    ) -> None:
        endpoint = await create_endpoint(notification, tenant)
        other = await create_endpoint(notification, tenant)

        response = await notification.post(
            f"{ENDPOINTS}/{endpoint['id']}/test", headers=tenant.owner.headers
        )

        assert response.status_code == 202, response.text
        shown = response.json()
        assert (shown["event_type"], shown["origin"], shown["status"]) == (
            "webhook.ping",
            "test",
            "pending",
        )
        assert shown["max_attempts"] == 1 + len(notification_settings.webhook_retry_seconds)
        [row] = await deliveries_of(webhooks_db, tenant, endpoint["id"])
        assert await deliveries_of(webhooks_db, tenant, other["id"]) == []
        ping = json.loads(row.body)
        assert ping["id"] == shown["event_id"] == str(row.event_id)
        assert ping["type"] == "webhook.ping"
        assert ping["source"] == "/agencyos/notification"
        assert ping["tenantid"] == str(tenant.id)
        assert ping["data"]["endpoint_id"] == endpoint["id"]
        assert ping["data"]["message"]
        sent_at = datetime.fromisoformat(ping["time"])
        assert abs(sent_at - datetime.now(UTC)) < timedelta(minutes=1)

    async def test_every_test_is_a_new_event(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        endpoint = await create_endpoint(notification, tenant)
        path = f"{ENDPOINTS}/{endpoint['id']}/test"

        one = await notification.post(path, headers=tenant.owner.headers)
        two = await notification.post(path, headers=tenant.owner.headers)

        assert one.json()["event_id"] != two.json()["event_id"]

    async def test_a_disabled_endpoint_is_a_409(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        endpoint = await create_endpoint(notification, tenant, enabled=False)

        response = await notification.post(
            f"{ENDPOINTS}/{endpoint['id']}/test", headers=tenant.owner.headers
        )

        assert response.status_code == 409
