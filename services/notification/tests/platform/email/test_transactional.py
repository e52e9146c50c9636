"""Transactional emails through the whole platform and a real SMTP server (mailpit): the
event crosses Kafka, the worker sends, the message is read back from mailpit's API and its
link followed through the gateway."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest

from agencyos.common.events import BillTo, CloudEvent, InvoiceSent, build_event
from agencyos.testing.factories import PASSWORD, AgencySession, invite
from agencyos.testing.inbox import one_email
from agencyos.testing.infra import wait_for
from agencyos.testing.kafka import TopicWriter, topic_writer
from agencyos.testing.mailpit import Mailpit, unique_address
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows


@pytest.fixture
async def mailpit(platform: Platform) -> AsyncIterator[Mailpit]:
    async with Mailpit(platform.mailpit_url) as client:
        yield client


@pytest.fixture
async def writer(platform: Platform) -> AsyncIterator[TopicWriter]:
    async with topic_writer(platform.infra.kafka_bootstrap) as started:
        yield started


async def deliveries(platform: Platform, agency: AgencySession, to: str) -> list[Any]:
    return await fetch_rows(
        platform.infra,
        platform.database("notification"),
        "SELECT status, attempts, html, text, smtp_answer FROM email_deliveries "
        "WHERE lower(to_email) = lower($1)",
        to,
        tenant_id=agency.agency_id,
        owner=True,
    )


class TestInvitation:
    async def test_the_invited_person_gets_a_branded_email_whose_link_accepts_the_invitation(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        mailpit: Mailpit,
        agency: AgencySession,
    ) -> None:
        to = unique_address("invitee")

        await invite(gateway, agency, to, "member")

        [message] = await mailpit.wait_for(to)
        me = await gateway.get("/v1/agency", headers=agency.headers)
        agency_name = me.json()["name"]
        assert message.from_name == agency_name
        assert message.subject.endswith(f"invited you to join {agency_name} on AgencyOS")
        assert message.header("Message-ID") is not None
        [accept] = {link for link in message.links if "/accept" in link}
        assert accept.startswith(f"{platform.gateway_url}/v1/invitations/")
        assert accept in message.text
        accepted = await gateway.post(
            accept.removeprefix(platform.gateway_url),
            json={"name": "New Member", "password": PASSWORD},
        )
        assert accepted.status_code == 201, accepted.text
        # the link lived in the queue only until it was delivered
        [row] = await deliveries(platform, agency, to)
        assert (row["status"], row["html"], row["text"]) == ("sent", "", "")


class TestPasswordReset:
    async def test_the_reset_link_in_the_email_sets_a_new_password(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        mailpit: Mailpit,
        agency: AgencySession,
    ) -> None:
        requested = await gateway.post("/v1/auth/password-reset", json={"email": agency.email})
        assert requested.status_code in (200, 202), requested.text

        # (the owner's mailbox also holds the verification email signup sent)
        message = await one_email(mailpit, agency.email, "assword")

        [link] = {link for link in message.links if "password-reset/confirm" in link}
        assert link.startswith(f"{platform.gateway_url}/v1/auth/password-reset/confirm?token=")
        token = httpx.URL(link).params["token"]
        new_password = "a brand new long passphrase"
        confirmed = await gateway.post(
            "/v1/auth/password-reset/confirm", json={"token": token, "new_password": new_password}
        )
        assert confirmed.status_code in (200, 204), confirmed.text
        login = await gateway.post(
            "/v1/auth/login", json={"email": agency.email, "password": new_password}
        )
        assert login.status_code == 200, login.text


def invoice_sent(agency: AgencySession, to: str) -> CloudEvent:
    return build_event(
        InvoiceSent(
            invoice_id=uuid.uuid4(),
            client_id=uuid.uuid4(),
            number=f"INV-{uuid.uuid4().hex[:6]}",
            total_cents=123456,
            currency="EUR",
            due_date=date(2027, 1, 31),
            payment_url=None,
            bill_to=BillTo(client_name="Globex", contact_name="Hank", email=to),
            document_url=None,
        ),
        tenant_id=agency.agency_id,
        source_service="billing",
    )


class TestRedelivery:
    async def test_an_invoice_event_published_twice_sends_one_email(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        mailpit: Mailpit,
        writer: TopicWriter,
        agency: AgencySession,
    ) -> None:
        topic = f"{platform.topic_prefix}billing.events"
        to, later = unique_address("client"), unique_address("sentinel")
        event = invoice_sent(agency, to)

        for _ in range(2):
            await writer.send_event(topic, event)
        # the same agency's events share a partition: once this one is sent, both twins were
        # handled before it
        await writer.send_event(topic, invoice_sent(agency, later))
        await mailpit.wait_for(later)

        async def sent() -> list[Any]:
            return [r for r in await deliveries(platform, agency, to) if r["status"] == "sent"]

        await wait_for(sent, timeout=90)
        [message] = await mailpit.messages_to(to)
        assert "1,234.56 EUR" in message.subject
        assert "Hello Hank," in message.text
        listed = await gateway.get(
            "/v1/email-deliveries", params={"to": to}, headers=agency.headers
        )
        assert listed.status_code == 200, listed.text
        [item] = listed.json()["items"]
        assert (item["status"], item["attempts"]) == ("sent", 1)
        assert item["smtp_answer"].startswith("250")
