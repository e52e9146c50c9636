"""SSRF, as an attacker would try it: an endpoint URL written as a private address or as a
name that resolves to one, and a redirect from an allowed receiver to loopback or to the cloud
metadata address. Each is refused before any connection, and recorded as refused; a redirect
to an allowed place is followed with the same body and signature."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from standardwebhooks import Webhook

from agencyos.common.db import Database
from agencyos.common.destinations import DestinationPolicy
from agencyos.notification.webhooks.dispatch import WebhookDispatcher
from agencyos.notification.webhooks.secrets import new_secret
from agencyos.notification.webhooks.sender import (
    AttemptOutcome,
    HttpWebhookSender,
    OutgoingWebhook,
)
from agencyos.testing.inprocess import Agency, InProcess
from agencyos.testing.webhook_receiver import Answer, WebhookReceiver

from .sending import (
    RECEIVER_NETWORK,
    attempt_rows,
    client_created,
    create_deliveries,
    create_endpoint,
    running,
    settled,
)

POLICY = DestinationPolicy.of(True, [RECEIVER_NETWORK])


def sender(**extra: float | int) -> HttpWebhookSender:
    return HttpWebhookSender(POLICY, timeout_seconds=5.0, **extra)  # type: ignore[arg-type]


def hook(url: str, secret: str | None = None) -> OutgoingWebhook:
    return OutgoingWebhook(
        url=url,
        message_id="3f1c2a8e-0000-4000-8000-000000000001",
        body='{"type":"crm.client.created"}',
        secrets=[secret or new_secret()],
    )


@pytest.fixture
def loopback() -> Iterator[WebhookReceiver]:
    """A service on 127.0.0.1, which webhooks must never reach."""
    with WebhookReceiver(host="127.0.0.1") as started:
        yield started


class TestRefusedEndpoints:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:{port}/hook",
            "http://localhost:{port}/hook",
            "http://LOCALHOST.:{port}/hook",
            "http://10.0.0.7/hook",
            "http://192.168.1.1/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:{port}/hook",
            "http://[::ffff:127.0.0.1]:{port}/hook",
            "http://0.0.0.0:{port}/hook",
            "http://2130706433:{port}/hook",  # 127.0.0.1 as one decimal number
        ],
    )
    async def test_a_private_destination_is_refused_before_connecting(
        self, loopback: WebhookReceiver, url: str
    ) -> None:
        result = await sender().send(hook(url.format(port=loopback.port)))

        assert result.outcome is AttemptOutcome.REFUSED
        assert result.status_code is None
        assert result.error is not None
        assert result.error.startswith("refused")
        assert loopback.received() == []

    async def test_plain_http_is_refused_where_it_is_not_allowed(
        self, receiver: WebhookReceiver
    ) -> None:
        strict = HttpWebhookSender(DestinationPolicy.of(False, [RECEIVER_NETWORK]))

        result = await strict.send(hook(receiver.url("/hook")))

        assert result.outcome is AttemptOutcome.REFUSED
        assert receiver.received() == []

    async def test_a_refused_endpoint_is_recorded_as_refused_and_retried_as_a_failure(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        dispatcher: WebhookDispatcher,
        loopback: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        endpoint_id, _ = await create_endpoint(webhooks_db, tenant, loopback.url("/hook"))
        [delivery_id] = await create_deliveries(
            webhooks_db, tenant, endpoint_id, [client_created(tenant)], max_attempts=2
        )

        async with running(dispatcher):
            await settled(in_process, tenant, delivery_id, "failed")

        attempts = await attempt_rows(in_process, tenant, delivery_id)
        assert [a["outcome"] for a in attempts] == ["refused", "refused"]
        assert "loopback" in attempts[0]["error"]
        assert loopback.received() == []


class TestRedirects:
    @pytest.mark.parametrize(
        "target",
        [
            "http://127.0.0.1:{port}/internal",
            "http://localhost:{port}/internal",
            "http://169.254.169.254/latest/meta-data/iam/",
            "file:///etc/passwd",
        ],
    )
    async def test_a_redirect_to_a_private_place_is_refused_and_recorded(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        dispatcher: WebhookDispatcher,
        receiver: WebhookReceiver,
        loopback: WebhookReceiver,
        tenant: Agency,
        target: str,
    ) -> None:
        location = target.format(port=loopback.port)
        receiver.answer("/bounce", Answer(status=302, location=location))
        endpoint_id, _ = await create_endpoint(webhooks_db, tenant, receiver.url("/bounce"))
        [delivery_id] = await create_deliveries(
            webhooks_db, tenant, endpoint_id, [client_created(tenant)], max_attempts=1
        )

        async with running(dispatcher):
            await settled(in_process, tenant, delivery_id, "failed")

        [attempt] = await attempt_rows(in_process, tenant, delivery_id)
        assert attempt["outcome"] == "refused"
        assert attempt["response_status"] == 302
        assert location in attempt["error"]
        assert loopback.received() == []
        assert len(receiver.received("/bounce")) == 1

    @pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
    async def test_a_redirect_to_an_allowed_place_is_followed_with_the_same_body_and_headers(
        self, receiver: WebhookReceiver, status: int
    ) -> None:
        receiver.answer("/old", Answer(status=status, location="/new?moved=1"))
        secret = new_secret()
        sent = hook(receiver.url("/old"), secret)

        result = await sender().send(sent)

        assert result.outcome is AttemptOutcome.SUCCEEDED
        assert result.redirects == (receiver.url("/new?moved=1"),)
        [first] = receiver.received("/old")
        [second] = receiver.received("/new")
        assert second.method == "POST"
        assert second.body == first.body == sent.body.encode()
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
            assert second.headers[name] == first.headers[name]
        Webhook(secret).verify(second.body, dict(second.headers))

    async def test_more_redirects_than_allowed_fail_the_attempt(
        self, receiver: WebhookReceiver
    ) -> None:
        receiver.answer("/loop", Answer(status=307, location="/loop"))

        result = await sender(max_redirects=3).send(hook(receiver.url("/loop")))

        assert result.outcome is AttemptOutcome.FAILED
        assert result.error == "more than 3 redirects"
        assert len(receiver.received("/loop")) == 4


class TestRecordedAnswer:
    async def test_the_answer_is_read_no_further_than_the_limit(
        self, receiver: WebhookReceiver
    ) -> None:
        receiver.answer("/big", Answer(body=b"x" * 2_000_000))

        result = await sender(body_limit=4096).send(hook(receiver.url("/big")))

        assert result.outcome is AttemptOutcome.SUCCEEDED
        assert result.response_body == "x" * 4096

    async def test_an_error_answer_keeps_its_first_four_kilobytes(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        dispatcher: WebhookDispatcher,
        receiver: WebhookReceiver,
        tenant: Agency,
    ) -> None:
        receiver.answer("/err", Answer(status=500, body=json.dumps({"e": "y" * 10_000}).encode()))
        endpoint_id, _ = await create_endpoint(webhooks_db, tenant, receiver.url("/err"))
        [delivery_id] = await create_deliveries(
            webhooks_db, tenant, endpoint_id, [client_created(tenant)], max_attempts=1
        )

        async with running(dispatcher):
            await settled(in_process, tenant, delivery_id, "failed")

        [attempt] = await attempt_rows(in_process, tenant, delivery_id)
        assert attempt["response_status"] == 500
        assert len(attempt["response_body"]) == 4096
        assert attempt["response_body"].startswith('{"e": "yyy')
        assert attempt["latency_ms"] >= 0
