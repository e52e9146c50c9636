"""The SMTP sender against a real SMTP server: the message's shape and what each answer
means for the email."""

from __future__ import annotations

import uuid
from email.message import Message

import httpx

from agencyos.notification.email.message import Addressee, AttachmentLink
from agencyos.notification.email.sender import Outcome, OutgoingEmail, SmtpSender
from agencyos.testing.infra import free_port
from agencyos.testing.smtp_sink import SmtpSink

from .conftest import settings_for

PDF = b"%PDF-1.4 test"


def outgoing(**changes: object) -> OutgoingEmail:
    values: dict[str, object] = {
        "delivery_id": uuid.uuid4(),
        "from_name": "Acme Studio",
        "to": Addressee(email=f"ada-{uuid.uuid4().hex[:8]}@example.com", name="Ada"),
        "subject": "Invoice INV-1",
        "html": "<p>Hello</p>",
        "text": "Hello",
    }
    values.update(changes)
    return OutgoingEmail(**values)  # type: ignore[arg-type]


def serving_pdf(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/doc.pdf":
        return httpx.Response(200, content=PDF)
    return httpx.Response(404)


def parts(message: Message) -> dict[str, Message]:
    return {part.get_content_type(): part for part in message.walk()}


class TestTheMessage:
    async def test_is_text_and_html_from_the_agency_with_a_stable_message_id(
        self, smtp_sink: SmtpSink
    ) -> None:
        email = outgoing()
        sender = SmtpSender(settings_for(smtp_sink))

        result = await sender.send(email)
        await sender.close()

        assert result.outcome is Outcome.SENT
        assert result.answer.startswith("250")
        [received] = smtp_sink.to(email.to.email)
        message = received.message
        assert message["From"] == "Acme Studio <no-reply@agencyos.localhost>"
        assert message["To"] == f"Ada <{email.to.email}>"
        assert message["Subject"] == "Invoice INV-1"
        assert message["Message-ID"] == f"<{email.delivery_id}@agencyos.localhost>"
        assert message.get_content_type() == "multipart/alternative"
        found = parts(message)
        assert found["text/plain"].get_payload(decode=True).strip() == b"Hello"
        assert found["text/html"].get_payload(decode=True).strip() == b"<p>Hello</p>"
        assert message["List-Unsubscribe"] is None

    async def test_an_unsubscribe_link_becomes_one_click_list_unsubscribe_headers(
        self, smtp_sink: SmtpSink
    ) -> None:
        email = outgoing(unsubscribe_url="http://127.0.0.1:8080/v1/unsub?token=t")
        sender = SmtpSender(settings_for(smtp_sink))

        await sender.send(email)
        await sender.close()

        [received] = smtp_sink.to(email.to.email)
        assert received.message["List-Unsubscribe"] == "<http://127.0.0.1:8080/v1/unsub?token=t>"
        assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    async def test_a_long_unsubscribe_link_stays_one_plain_url_in_its_header(
        self, smtp_sink: SmtpSink
    ) -> None:
        token = "WyIxNzBmM2Q5NS0yM2ZmLTQ3NGYtYmIxZC0xZGE3Y2UwM2QzMjAiLCJ0YXNrLmFzc2lnbmVkIl0" * 3
        url = f"https://app.example.com/v1/notification-preferences/unsubscribe?token={token}"
        email = outgoing(unsubscribe_url=url)
        sender = SmtpSender(settings_for(smtp_sink))

        await sender.send(email)
        await sender.close()

        # not folded into RFC 2047 encoded words, which mail clients do not read as a URL
        [received] = smtp_sink.to(email.to.email)
        assert received.message["List-Unsubscribe"] == f"<{url}>"

    async def test_an_attachment_is_fetched_from_its_link_and_attached(
        self, smtp_sink: SmtpSink
    ) -> None:
        link = AttachmentLink("invoice-INV-1.pdf", "application/pdf", "http://files/doc.pdf")
        email = outgoing(attachments=[link])
        http = httpx.AsyncClient(transport=httpx.MockTransport(serving_pdf))
        sender = SmtpSender(settings_for(smtp_sink), http=http)

        result = await sender.send(email)
        await sender.close()

        assert result.outcome is Outcome.SENT
        [received] = smtp_sink.to(email.to.email)
        assert received.message.get_content_type() == "multipart/mixed"
        pdf = parts(received.message)["application/pdf"]
        assert pdf.get_filename() == "invoice-INV-1.pdf"
        assert pdf.get_payload(decode=True) == PDF
        assert "text/plain" in parts(received.message)

    async def test_a_non_ascii_agency_name_is_encoded_in_the_header(
        self, smtp_sink: SmtpSink
    ) -> None:
        email = outgoing(from_name="Zoë & Søn\r\nBcc: x@evil.example")
        sender = SmtpSender(settings_for(smtp_sink))

        assert (await sender.send(email)).outcome is Outcome.SENT
        await sender.close()

        [received] = smtp_sink.to(email.to.email)
        assert received.recipients == [email.to.email]
        assert received.message["Bcc"] is None


class TestOutcomes:
    async def test_a_4xx_answer_is_a_temporary_failure(self, smtp_sink: SmtpSink) -> None:
        smtp_sink.replies.append("421 try again later")
        sender = SmtpSender(settings_for(smtp_sink))

        result = await sender.send(outgoing())
        await sender.close()

        assert result.outcome is Outcome.TEMPORARY
        assert result.answer == "421 try again later"

    async def test_a_5xx_answer_is_a_permanent_failure(self, smtp_sink: SmtpSink) -> None:
        smtp_sink.replies.append("554 message rejected")
        sender = SmtpSender(settings_for(smtp_sink))

        result = await sender.send(outgoing())
        await sender.close()

        assert (result.outcome, result.answer) == (Outcome.PERMANENT, "554 message rejected")

    async def test_a_refused_recipient_is_a_permanent_failure(self, smtp_sink: SmtpSink) -> None:
        email = outgoing()
        smtp_sink.refused[email.to.email] = "550 no such mailbox"
        sender = SmtpSender(settings_for(smtp_sink))

        result = await sender.send(email)
        await sender.close()

        assert (result.outcome, result.answer) == (Outcome.PERMANENT, "550 no such mailbox")

    async def test_a_server_that_cannot_be_reached_is_a_temporary_failure(self) -> None:
        sender = SmtpSender(settings_for(SmtpSink(port=free_port())))

        result = await sender.send(outgoing())
        await sender.close()

        assert result.outcome is Outcome.TEMPORARY
        assert result.answer

    async def test_an_attachment_that_cannot_be_fetched_is_a_temporary_failure(
        self, smtp_sink: SmtpSink
    ) -> None:
        link = AttachmentLink("invoice.pdf", "application/pdf", "http://files/missing.pdf")
        email = outgoing(attachments=[link])
        http = httpx.AsyncClient(transport=httpx.MockTransport(serving_pdf))
        sender = SmtpSender(settings_for(smtp_sink), http=http)

        result = await sender.send(email)
        await sender.close()

        assert result.outcome is Outcome.TEMPORARY
        assert result.answer == "attachment invoice.pdf not fetched: HTTP 404"
        assert smtp_sink.to(email.to.email) == []
