"""The dispatcher against the real database, Kafka and an HTTP receiver: signed deliveries a
receiver verifies with the reference library, retries under one webhook-id, failure for good
(event, dead-letter message), 410 and the failing-for-days rule disabling endpoints, a slow
endpoint that holds back nobody else, and each endpoint's events in order."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from itertools import pairwise

import pytest
from sqlalchemy import text
from standardwebhooks import Webhook, WebhookVerificationError

from agencyos.common.db import Database, utcnow
from agencyos.notification.webhooks.dead_letters import DEAD_LETTER_TOPIC
from agencyos.notification.webhooks.dispatch import WebhookDispatcher
from agencyos.notification.webhooks.secrets import new_secret
from agencyos.testing.infra import Infra
from agencyos.testing.inprocess import Agency, InProcess
from agencyos.testing.kafka import read_topic
from agencyos.testing.notices import notices_of, seed
from agencyos.testing.webhook_receiver import Answer, WebhookReceiver

from .sending import (
    attempt_rows,
    client_created,
    create_deliveries,
    create_endpoint,
    delivery_row,
    dispatcher_for,
    endpoint_row,
    eventually,
    running,
    settled,
    webhook_settings,
)


class TestSigning:
    async def test_a_delivery_arrives_signed_with_the_standard_headers_and_the_stored_body(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        dispatcher: WebhookDispatcher,
        receiver: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        endpoint_id, secret = await create_endpoint(webhooks_db, tenant, receiver.url("/hook"))
        event = client_created(tenant)
        [delivery_id] = await create_deliveries(webhooks_db, tenant, endpoint_id, [event])

        async with running(dispatcher):
            [request] = await receiver.wait_for("/hook")
            row = await settled(in_process, tenant, delivery_id)

        assert request.body.decode() == row["body"]
        assert Webhook(secret).verify(request.body, dict(request.headers)) == json.loads(
            row["body"]
        )
        assert request.headers["webhook-id"] == str(event.id)
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"] == "AgencyOS-Webhooks/1"
        assert abs(int(request.headers["webhook-timestamp"]) - utcnow().timestamp()) < 60
        assert row["attempts"] == 1
        [attempt] = await attempt_rows(in_process, tenant, delivery_id)
        assert (attempt["outcome"], attempt["response_status"]) == ("succeeded", 200)
        assert json.loads(attempt["request_headers"])["webhook-id"] == str(event.id)
        endpoint = await endpoint_row(in_process, tenant, endpoint_id)
        assert endpoint["last_success_at"] is not None
        assert endpoint["failing_since"] is None

    async def test_a_signature_made_with_another_secret_does_not_verify(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        dispatcher: WebhookDispatcher,
        receiver: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        endpoint_id, _ = await create_endpoint(webhooks_db, tenant, receiver.url("/hook"))
        await create_deliveries(webhooks_db, tenant, endpoint_id, [client_created(tenant)])

        async with running(dispatcher):
            [request] = await receiver.wait_for("/hook")

        with pytest.raises(WebhookVerificationError):
            Webhook(new_secret()).verify(request.body, dict(request.headers))

    async def test_during_a_rotation_both_secrets_sign_and_each_verifies_alone(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        dispatcher: WebhookDispatcher,
        receiver: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        old = new_secret()
        endpoint_id, new = await create_endpoint(
            webhooks_db,
            tenant,
            receiver.url("/hook"),
            previous_secret=old,
            previous_expires_at=utcnow() + timedelta(hours=1),
        )
        await create_deliveries(webhooks_db, tenant, endpoint_id, [client_created(tenant)])

        async with running(dispatcher):
            [request] = await receiver.wait_for("/hook")

        signatures = request.headers["webhook-signature"].split(" ")
        assert len(signatures) == 2
        assert all(s.startswith("v1,") for s in signatures)
        for secret, signature in zip((new, old), signatures, strict=True):
            alone = {**request.headers, "webhook-signature": signature}
            Webhook(secret).verify(request.body, alone)

    async def test_an_expired_previous_secret_signs_no_more(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        dispatcher: WebhookDispatcher,
        receiver: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        old = new_secret()
        endpoint_id, _ = await create_endpoint(
            webhooks_db,
            tenant,
            receiver.url("/hook"),
            previous_secret=old,
            previous_expires_at=utcnow() - timedelta(seconds=1),
        )
        await create_deliveries(webhooks_db, tenant, endpoint_id, [client_created(tenant)])

        async with running(dispatcher):
            [request] = await receiver.wait_for("/hook")

        assert len(request.headers["webhook-signature"].split(" ")) == 1
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(request.body, dict(request.headers))


class TestRetries:
    async def test_failed_attempts_are_retried_under_the_same_webhook_id_until_one_succeeds(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        dispatcher: WebhookDispatcher,
        receiver: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        endpoint_id, secret = await create_endpoint(webhooks_db, tenant, receiver.url("/flaky"))
        event = client_created(tenant)
        [delivery_id] = await create_deliveries(webhooks_db, tenant, endpoint_id, [event])
        receiver.script("/flaky", [500, 503])

        async with running(dispatcher):
            requests = await receiver.wait_for("/flaky", 3)
            row = await settled(in_process, tenant, delivery_id)

        assert {r.headers["webhook-id"] for r in requests} == {str(event.id)}
        for request in requests:  # each attempt signed anew, each verifies
            Webhook(secret).verify(request.body, dict(request.headers))
        assert row["attempts"] == 3
        attempts = await attempt_rows(in_process, tenant, delivery_id)
        assert [(a["attempt"], a["outcome"], a["response_status"]) for a in attempts] == [
            (1, "failed", 500),
            (2, "failed", 503),
            (3, "succeeded", 200),
        ]
        endpoint = await endpoint_row(in_process, tenant, endpoint_id)
        assert endpoint["failing_since"] is None, "a success clears the failing mark"

    async def test_the_first_failure_after_a_success_marks_the_endpoint_failing_since_then(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        dispatcher: WebhookDispatcher,
        receiver: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        receiver.answer("/down", Answer(status=500))
        endpoint_id, _ = await create_endpoint(webhooks_db, tenant, receiver.url("/down"))
        [delivery_id] = await create_deliveries(
            webhooks_db, tenant, endpoint_id, [client_created(tenant)], max_attempts=2
        )

        async with running(dispatcher):
            await receiver.wait_for("/down", 1)
            await settled(in_process, tenant, delivery_id, "failed")

        [first, second] = await attempt_rows(in_process, tenant, delivery_id)
        endpoint = await endpoint_row(in_process, tenant, endpoint_id)
        assert endpoint["failing_since"] is not None
        assert first["started_at"] <= endpoint["failing_since"] <= second["started_at"]
        assert endpoint["enabled"], "a few failures disable nothing"

    async def test_after_the_whole_schedule_the_delivery_fails_is_published_and_dead_lettered(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        infra: Infra,
        dead_letter_prefix: str,
        dispatcher: WebhookDispatcher,
        receiver: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        receiver.answer("/down", Answer(status=502, body=b"bad gateway"))
        endpoint_id, _ = await create_endpoint(webhooks_db, tenant, receiver.url("/down"))
        event = client_created(tenant)
        # the first attempt, then one after each of the schedule's 3 waits
        [delivery_id] = await create_deliveries(
            webhooks_db, tenant, endpoint_id, [event], max_attempts=4
        )

        async with running(dispatcher):
            requests = await receiver.wait_for("/down", 4)
            row = await settled(in_process, tenant, delivery_id, "failed")
            await eventually(
                lambda: _dead_lettered(in_process, tenant, delivery_id), what="dead_lettered_at"
            )

        assert len(requests) == 4
        assert {r.headers["webhook-id"] for r in requests} == {str(event.id)}
        assert (row["attempts"], row["last_status_code"]) == (4, 502)
        assert row["failed_at"] is not None
        service = await in_process.service("notification")
        [failed] = await service.outbox(tenant.id, "notification.webhook.failed")
        assert failed["data"] == {
            "endpoint_id": str(endpoint_id),
            "delivery_id": str(delivery_id),
            "event_id": str(event.id),
            "event_type": "crm.client.created",
            "attempts": 4,
            "last_status_code": 502,
        }
        records = await read_topic(
            infra.kafka_bootstrap,
            dead_letter_prefix + DEAD_LETTER_TOPIC,
            lambda got: len(got) >= 1,
        )
        [message] = [json.loads(r.value) for r in records]
        assert message["delivery"]["id"] == str(delivery_id)
        assert message["delivery"]["event_id"] == str(event.id)
        assert message["body"] == row["body"]
        assert [a["response_status"] for a in message["attempts"]] == [502] * 4
        assert records[0].key == str(tenant.id).encode()
        endpoint = await endpoint_row(in_process, tenant, endpoint_id)
        assert endpoint["enabled"], "one failed delivery disables nothing"

    async def test_a_finished_delivery_retried_by_hand_is_sent_once_more(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        dispatcher: WebhookDispatcher,
        receiver: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        receiver.script("/later", [500])
        endpoint_id, _ = await create_endpoint(webhooks_db, tenant, receiver.url("/later"))
        [delivery_id] = await create_deliveries(
            webhooks_db, tenant, endpoint_id, [client_created(tenant)], max_attempts=1
        )
        async with running(dispatcher):
            await settled(in_process, tenant, delivery_id, "failed")
            # as the API's manual retry does
            async with webhooks_db.transaction(tenant.id) as session:
                await session.execute(
                    text(
                        "UPDATE webhook_deliveries SET status = 'pending', "
                        "max_attempts = attempts + 1, next_attempt_at = now() WHERE id = :id"
                    ),
                    {"id": delivery_id},
                )
            dispatcher.wake()
            row = await settled(in_process, tenant, delivery_id)

        assert row["attempts"] == 2
        assert len(receiver.received("/later")) == 2


async def _dead_lettered(in_process: InProcess, agency: Agency, delivery_id: uuid.UUID) -> bool:
    return (await delivery_row(in_process, agency, delivery_id))["dead_lettered_at"] is not None


class TestDisabling:
    async def test_410_gone_disables_the_endpoint_at_once_and_fails_the_delivery(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        dispatcher: WebhookDispatcher,
        receiver: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        receiver.answer("/gone", Answer(status=410))
        endpoint_id, _ = await create_endpoint(webhooks_db, tenant, receiver.url("/gone"))
        first, second = await create_deliveries(
            webhooks_db,
            tenant,
            endpoint_id,
            [client_created(tenant, "First"), client_created(tenant, "Second")],
        )

        async with running(dispatcher):
            row = await settled(in_process, tenant, first, "failed")
            await asyncio.sleep(0.3)  # a few polls: the second must not go out

        assert row["attempts"] == 1
        endpoint = await endpoint_row(in_process, tenant, endpoint_id)
        assert (endpoint["enabled"], endpoint["disabled_reason"]) == (False, "gone")
        assert (await delivery_row(in_process, tenant, second))["status"] == "pending"
        assert len(receiver.received("/gone")) == 1
        service = await in_process.service("notification")
        [disabled] = await service.outbox(tenant.id, "notification.webhook_endpoint.disabled")
        assert disabled["data"] == {"endpoint_id": str(endpoint_id), "reason": "gone"}

    async def test_an_endpoint_failing_for_five_days_is_disabled_and_its_owners_told(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        dispatcher: WebhookDispatcher,
        receiver: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        await seed(in_process, tenant.owner)
        admin = tenant.caller("admin")
        await seed(in_process, admin)
        receiver.answer("/dead", Answer(status=500))
        endpoint_id, _ = await create_endpoint(
            webhooks_db,
            tenant,
            receiver.url("/dead"),
            failing_since=utcnow() - timedelta(days=5, minutes=1),
        )
        [delivery_id] = await create_deliveries(
            webhooks_db, tenant, endpoint_id, [client_created(tenant)]
        )

        async with running(dispatcher):
            await eventually(
                lambda: _disabled(in_process, tenant, endpoint_id), what="endpoint disabled"
            )

        endpoint = await endpoint_row(in_process, tenant, endpoint_id)
        assert endpoint["disabled_reason"] == "failing"
        assert (await delivery_row(in_process, tenant, delivery_id))["status"] == "pending"
        [notice] = await notices_of(in_process, tenant.owner, "webhook.disabled")
        assert receiver.url("/dead") in notice["title"]
        assert notice["link"] == f"/v1/webhook-endpoints/{endpoint_id}"
        assert await notices_of(in_process, admin, "webhook.disabled") == []
        service = await in_process.service("notification")
        emails = await service.rows(
            "SELECT to_email, kind FROM email_deliveries WHERE kind = 'webhook.disabled'",
            tenant_id=tenant.id,
        )
        assert [e["to_email"] for e in emails] == [f"{tenant.owner.user_id.hex[:10]}@example.com"]
        [disabled] = await service.outbox(tenant.id, "notification.webhook_endpoint.disabled")
        assert disabled["data"]["reason"] == "failing"

    async def test_an_endpoint_failing_for_less_than_five_days_stays_enabled(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        dispatcher: WebhookDispatcher,
        receiver: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        receiver.answer("/dead", Answer(status=500))
        endpoint_id, _ = await create_endpoint(
            webhooks_db,
            tenant,
            receiver.url("/dead"),
            failing_since=utcnow() - timedelta(days=4, hours=23),
        )
        [delivery_id] = await create_deliveries(
            webhooks_db, tenant, endpoint_id, [client_created(tenant)], max_attempts=1
        )

        async with running(dispatcher):
            await settled(in_process, tenant, delivery_id, "failed")

        assert (await endpoint_row(in_process, tenant, endpoint_id))["enabled"]

    async def test_a_disabled_endpoint_gets_nothing(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        dispatcher: WebhookDispatcher,
        receiver: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        endpoint_id, _ = await create_endpoint(
            webhooks_db, tenant, receiver.url("/off"), enabled=False
        )
        [delivery_id] = await create_deliveries(
            webhooks_db, tenant, endpoint_id, [client_created(tenant)]
        )

        await dispatcher.tick()
        await dispatcher.drain()

        assert receiver.received("/off") == []
        assert (await delivery_row(in_process, tenant, delivery_id))["status"] == "pending"


async def _disabled(in_process: InProcess, agency: Agency, endpoint_id: uuid.UUID) -> bool:
    return not (await endpoint_row(in_process, agency, endpoint_id))["enabled"]


class TestIsolation:
    async def test_a_slow_endpoint_does_not_delay_another_endpoint_s_deliveries(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        infra: Infra,
        dead_letter_prefix: str,
        receiver: WebhookReceiver,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        # two sends at once in all: the slow endpoint may hold one, never both
        dispatcher = dispatcher_for(
            webhooks_db, infra, dead_letter_prefix, webhook_settings(webhook_concurrency=2)
        )
        receiver.answer("/slow", Answer(delay=3.0))
        slow_id, _ = await create_endpoint(webhooks_db, tenant, receiver.url("/slow"))
        fast_id, _ = await create_endpoint(webhooks_db, other_tenant, receiver.url("/fast"))
        # the slow endpoint's deliveries are older: oldest-first alone would put them ahead
        slow = await create_deliveries(
            webhooks_db, tenant, slow_id, [client_created(tenant) for _ in range(5)]
        )
        fast = await create_deliveries(
            webhooks_db, other_tenant, fast_id, [client_created(other_tenant) for _ in range(8)]
        )

        async with running(dispatcher):
            await receiver.wait_for("/slow", 1)
            for delivery_id in fast:
                await settled(in_process, other_tenant, delivery_id)
            # every fast delivery is done while the slow endpoint's first is still unanswered
            first_slow = await delivery_row(in_process, tenant, slow[0])
            assert first_slow["status"] == "sending"
            assert len(receiver.received("/slow")) == 1, "one at a time per endpoint"

    async def test_an_endpoint_that_never_answers_times_out_and_is_retried(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        infra: Infra,
        dead_letter_prefix: str,
        receiver: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        dispatcher = dispatcher_for(
            webhooks_db, infra, dead_letter_prefix, webhook_settings(webhook_timeout_seconds=0.5)
        )
        receiver.script("/stuck", [Answer(delay=3.0)])
        endpoint_id, _ = await create_endpoint(webhooks_db, tenant, receiver.url("/stuck"))
        [delivery_id] = await create_deliveries(
            webhooks_db, tenant, endpoint_id, [client_created(tenant)]
        )

        async with running(dispatcher):
            row = await settled(in_process, tenant, delivery_id)

        first, second = await attempt_rows(in_process, tenant, delivery_id)
        assert first["outcome"] == "failed"
        assert first["response_status"] is None
        assert "0.5s" in first["error"]
        assert second["outcome"] == "succeeded"
        assert row["attempts"] == 2

    async def test_each_endpoint_gets_its_events_in_the_order_they_happened(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        dispatcher: WebhookDispatcher,
        receiver: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        endpoint_id, _ = await create_endpoint(webhooks_db, tenant, receiver.url("/ordered"))
        start = utcnow() - timedelta(minutes=1)
        events = [
            client_created(tenant, f"Client {n}").model_copy(
                update={"time": start + timedelta(seconds=n)}
            )
            for n in range(12)
        ]
        # created in another order than they happened
        await create_deliveries(webhooks_db, tenant, endpoint_id, events[::-1])

        async with running(dispatcher):
            requests = await receiver.wait_for("/ordered", 12)

        assert [r.headers["webhook-id"] for r in requests] == [str(e.id) for e in events]

    async def test_deliveries_of_every_agency_are_sent(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        dispatcher: WebhookDispatcher,
        receiver: WebhookReceiver,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        ours, _ = await create_endpoint(webhooks_db, tenant, receiver.url("/ours"))
        theirs, _ = await create_endpoint(webhooks_db, other_tenant, receiver.url("/theirs"))
        [mine] = await create_deliveries(webhooks_db, tenant, ours, [client_created(tenant)])
        [other] = await create_deliveries(
            webhooks_db, other_tenant, theirs, [client_created(other_tenant)]
        )

        async with running(dispatcher):
            await settled(in_process, tenant, mine)
            await settled(in_process, other_tenant, other)

        [ours_request] = receiver.received("/ours")
        assert json.loads(ours_request.body)["tenantid"] == str(tenant.id)


class TestLeasesAndReplicas:
    async def test_a_delivery_whose_sender_died_is_sent_again_when_its_lease_runs_out(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        dispatcher: WebhookDispatcher,
        receiver: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        endpoint_id, _ = await create_endpoint(webhooks_db, tenant, receiver.url("/hook"))
        [delivery_id] = await create_deliveries(
            webhooks_db, tenant, endpoint_id, [client_created(tenant)]
        )
        # claimed by a worker that died mid-send: `sending`, its lease over
        async with webhooks_db.transaction(tenant.id) as session:
            await session.execute(
                text(
                    "UPDATE webhook_deliveries SET status = 'sending', attempts = 1, "
                    "last_attempt_at = now() - interval '2 minutes', "
                    "next_attempt_at = now() - interval '1 minute' WHERE id = :id"
                ),
                {"id": delivery_id},
            )

        async with running(dispatcher):
            row = await settled(in_process, tenant, delivery_id)

        assert row["attempts"] == 2
        assert [a["attempt"] for a in await attempt_rows(in_process, tenant, delivery_id)] == [2]

    async def test_a_delivery_in_its_lease_is_left_alone(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        dispatcher: WebhookDispatcher,
        receiver: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        endpoint_id, _ = await create_endpoint(webhooks_db, tenant, receiver.url("/hook"))
        [delivery_id] = await create_deliveries(
            webhooks_db, tenant, endpoint_id, [client_created(tenant)]
        )
        async with webhooks_db.transaction(tenant.id) as session:
            await session.execute(
                text(
                    "UPDATE webhook_deliveries SET status = 'sending', attempts = 1, "
                    "last_attempt_at = now(), next_attempt_at = now() + interval '1 minute' "
                    "WHERE id = :id"
                ),
                {"id": delivery_id},
            )

        await dispatcher.tick()
        await dispatcher.drain()

        assert receiver.received("/hook") == []
        assert (await delivery_row(in_process, tenant, delivery_id))["attempts"] == 1

    async def test_two_dispatchers_send_each_delivery_once_and_one_at_a_time_per_endpoint(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        infra: Infra,
        dead_letter_prefix: str,
        receiver: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        receiver.answer("/shared", Answer(delay=0.05))
        endpoint_id, _ = await create_endpoint(webhooks_db, tenant, receiver.url("/shared"))
        events = [client_created(tenant) for _ in range(12)]
        ids = await create_deliveries(webhooks_db, tenant, endpoint_id, events)
        first = dispatcher_for(webhooks_db, infra, dead_letter_prefix)
        second = dispatcher_for(webhooks_db, infra, dead_letter_prefix)

        async with running(first), running(second):
            for delivery_id in ids:
                await settled(in_process, tenant, delivery_id)

        requests = receiver.received("/shared")
        assert sorted(r.headers["webhook-id"] for r in requests) == sorted(
            str(e.id) for e in events
        )
        # one at a time: each request arrived after the previous answer (50 ms) was due
        arrivals = [r.received_at for r in requests]
        assert all(b - a >= 0.045 for a, b in pairwise(arrivals))

    async def test_a_failed_delivery_kafka_did_not_take_is_dead_lettered_by_the_sweep(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        infra: Infra,
        dead_letter_prefix: str,
        dispatcher: WebhookDispatcher,
        tenant: Agency,
    ) -> None:
        endpoint_id, _ = await create_endpoint(webhooks_db, tenant, "https://hooks.example.com/x")
        [delivery_id] = await create_deliveries(
            webhooks_db, tenant, endpoint_id, [client_created(tenant)]
        )
        async with webhooks_db.transaction(tenant.id) as session:
            await session.execute(
                text(
                    "UPDATE webhook_deliveries SET status = 'failed', attempts = 4, "
                    "failed_at = now() - interval '1 minute' WHERE id = :id"
                ),
                {"id": delivery_id},
            )

        assert await dispatcher.sweep_dead_letters() == 1
        assert await dispatcher.sweep_dead_letters() == 0

        records = await read_topic(
            infra.kafka_bootstrap, dead_letter_prefix + DEAD_LETTER_TOPIC, lambda got: bool(got)
        )
        assert [json.loads(r.value)["delivery"]["id"] for r in records] == [str(delivery_id)]
        assert (await delivery_row(in_process, tenant, delivery_id))["dead_lettered_at"]
