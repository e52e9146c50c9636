"""Stripe's webhook (billing's endpoint, events shaped like Stripe's from stripe-mock's fixtures,
signed with billing's webhook secret): only correctly signed, fresh events are accepted, without
a token; anything else is a 400 that changes nothing; the endpoint documents its signature."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.billing.settings import BillingSettings
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Caller
from agencyos.testing.stripe_webhooks import sign, signed_request

WEBHOOK = "/v1/webhooks/stripe"

Balance = Callable[[Caller, uuid.UUID], Awaitable[tuple[str, int]]]
# the invoice and its conftest StripePayment (session, intent, charge, and events of them)
SentInvoice = Callable[..., Awaitable[tuple[uuid.UUID, Any]]]
Deliver = Callable[..., Awaitable[httpx.Response]]
StripeEventRow = Callable[[str], Awaitable[Any]]


class TestSignature:
    async def test_a_correctly_signed_event_is_accepted_without_a_token(
        self,
        agency: Caller,
        sent_invoice: SentInvoice,
        deliver: Deliver,
    ) -> None:
        _, payment = await sent_invoice(agency)

        response = await deliver(await payment.completed())

        assert response.status_code == 200

    async def test_an_unsigned_event_is_400_and_changes_nothing(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        sent_invoice: SentInvoice,
        balance: Balance,
        stripe_event_row: StripeEventRow,
    ) -> None:
        invoice_id, payment = await sent_invoice(agency)
        event = await payment.completed()

        response = await billing.post(WEBHOOK, content=json.dumps(event).encode())

        assert_problem(response, 400, "bad-request")
        assert await balance(agency, invoice_id) == ("sent", 0)
        assert await stripe_event_row(event["id"]) is None

    async def test_a_signature_under_another_secret_is_400(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        sent_invoice: SentInvoice,
        balance: Balance,
    ) -> None:
        invoice_id, payment = await sent_invoice(agency)
        event = await payment.completed()
        body, headers = signed_request(event, "whsec_" + uuid.uuid4().hex)

        response = await billing.post(WEBHOOK, content=body, headers=headers)

        assert_problem(response, 400, "bad-request")
        assert await balance(agency, invoice_id) == ("sent", 0)

    async def test_a_body_changed_after_signing_is_400(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        stripe_settings: BillingSettings,
        sent_invoice: SentInvoice,
        balance: Balance,
    ) -> None:
        invoice_id, payment = await sent_invoice(agency, total_cents=120_000)
        event = await payment.completed(amount_total=100)
        body, headers = signed_request(event, stripe_settings.stripe_webhook_secret)
        # keep the signature, raise the amount
        tampered = body.replace(b'"amount_total": 100,', b'"amount_total": 120000,')
        assert tampered != body

        response = await billing.post(WEBHOOK, content=tampered, headers=headers)

        assert_problem(response, 400, "bad-request")
        assert await balance(agency, invoice_id) == ("sent", 0)

    @pytest.mark.parametrize("age_seconds", [301, 3600, -3600])
    async def test_a_timestamp_outside_the_tolerance_is_400(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        stripe_settings: BillingSettings,
        sent_invoice: SentInvoice,
        balance: Balance,
        age_seconds: int,
    ) -> None:
        invoice_id, payment = await sent_invoice(agency)
        event = await payment.completed()
        body, headers = signed_request(
            event, stripe_settings.stripe_webhook_secret, timestamp=int(time.time()) - age_seconds
        )

        response = await billing.post(WEBHOOK, content=body, headers=headers)

        body_json = assert_problem(response, 400, "bad-request")
        assert "tolerance" in body_json["detail"]
        assert await balance(agency, invoice_id) == ("sent", 0)

    @pytest.mark.parametrize(
        "header",
        [
            "",
            "garbage",
            "t=notanumber,v1=abc",
            "v1=abcdef",
            "t=1700000000",
            "t={now},v0={sig}",
        ],
    )
    async def test_a_malformed_signature_header_is_400(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        stripe_settings: BillingSettings,
        sent_invoice: SentInvoice,
        balance: Balance,
        header: str,
    ) -> None:
        invoice_id, payment = await sent_invoice(agency)
        body = json.dumps(await payment.completed()).encode()
        now = int(time.time())
        good = sign(body, stripe_settings.stripe_webhook_secret, now).split("v1=")[1]

        response = await billing.post(
            WEBHOOK,
            content=body,
            headers={"Stripe-Signature": header.format(now=now, sig=good)},
        )

        assert_problem(response, 400, "bad-request")
        assert await balance(agency, invoice_id) == ("sent", 0)

    async def test_a_signed_body_that_is_not_an_event_is_400(
        self,
        billing: httpx.AsyncClient,
        stripe_settings: BillingSettings,
    ) -> None:
        for body in (b"not json", b"[1, 2]", b'{"id": "evt_1"}', b"\xff\xfe"):
            headers = {"Stripe-Signature": sign(body, stripe_settings.stripe_webhook_secret)}
            response = await billing.post(WEBHOOK, content=body, headers=headers)
            assert_problem(response, 400, "bad-request")

    async def test_the_webhook_is_documented_with_its_signature(
        self,
        billing: httpx.AsyncClient,
    ) -> None:
        response = await billing.get("/openapi.json")
        assert response.status_code == 200
        operation = response.json()["paths"][WEBHOOK]["post"]
        assert "Stripe-Signature" in operation["description"]
        assert "charge.refunded" in operation["description"]
        assert "400" in operation["responses"]
