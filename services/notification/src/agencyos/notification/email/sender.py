"""Sending one email: the `EmailSender` interface the delivery worker talks to, and the SMTP
implementation (STARTTLS or TLS, optional auth) over aiosmtplib.

An attempt ends in one of three ways: sent (the server accepted it), a temporary failure
(the server could not be reached or timed out, answered 4xx, or an attachment could not be
fetched: try again later), or a permanent failure (a 5xx answer, a refused recipient: trying
again would be refused again). A refused login is counted temporary even though it is a 5xx:
it is the sender's settings that are wrong, not the email, and fixing them should let every
waiting email go out."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from enum import StrEnum
from typing import Protocol

import aiosmtplib
import httpx

from agencyos.common.db import utcnow
from agencyos.notification.email.message import Addressee, AttachmentLink
from agencyos.notification.settings import NotificationSettings

# Written with lines as long as RFC 5322 allows (998): at the usual 78, a header of one long
# word (the List-Unsubscribe link with its signed token) becomes RFC 2047 encoded words, which
# mail clients do not read as a URL.
MAX_LINE_LENGTH = 998


def as_bytes(message: EmailMessage, *, utf8: bool) -> bytes:
    """The message as sent over SMTP (CRLF line ends, long lines kept)."""
    smtp = policy.SMTPUTF8 if utf8 else policy.SMTP
    return message.as_bytes(policy=smtp.clone(max_line_length=MAX_LINE_LENGTH))


class Outcome(StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    # the server's reply, or what went wrong (never the message's content)
    answer: str


@dataclass(frozen=True)
class OutgoingEmail:
    delivery_id: uuid.UUID
    from_name: str
    to: Addressee
    subject: str
    html: str
    text: str
    attachments: Sequence[AttachmentLink] = ()
    unsubscribe_url: str | None = None


class EmailSender(Protocol):
    async def send(self, email: OutgoingEmail) -> SendResult: ...

    async def close(self) -> None: ...


class AttachmentUnavailable(Exception):
    pass


def _one_line(value: str) -> str:
    return " ".join(value.split())


def build_message(
    email: OutgoingEmail, files: Sequence[tuple[AttachmentLink, bytes]], *, email_from: str
) -> EmailMessage:
    """multipart/alternative (text, then HTML), inside multipart/mixed when files come with
    it. The Message-ID is the delivery's, so a retried email is recognisably the same."""
    _, from_address = parseaddr(email_from)
    domain = from_address.rpartition("@")[2] or "agencyos.localhost"
    message = EmailMessage()
    message["From"] = Address(display_name=_one_line(email.from_name), addr_spec=from_address)
    message["To"] = Address(display_name=_one_line(email.to.name or ""), addr_spec=email.to.email)
    message["Subject"] = _one_line(email.subject)
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = f"<{email.delivery_id}@{domain}>"
    if email.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    for link, content in files:
        maintype, _, subtype = link.content_type.partition("/")
        message.add_attachment(
            content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=link.filename,
        )
    return message


def classify(error: Exception) -> SendResult:
    """What an SMTP error means for the email."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        refused = error.recipients[0] if error.recipients else None
        if refused is not None:
            return _by_code(refused.code, f"{refused.code} {refused.message}")
        return SendResult(Outcome.PERMANENT, "recipient refused")
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        return SendResult(Outcome.TEMPORARY, f"{error.code} {error.message}")
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return _by_code(error.code, f"{error.code} {error.message}")
    # connection refused, timed out, dropped: the server may be back later
    return SendResult(Outcome.TEMPORARY, f"{type(error).__name__}: {error}"[:500])


def _by_code(code: int, answer: str) -> SendResult:
    return SendResult(Outcome.PERMANENT if 500 <= code < 600 else Outcome.TEMPORARY, answer)


class SmtpSender:
    """One SMTP connection per email (a simple, robust shape; the worker sends several at
    once). Attachments are fetched over HTTP(S) from their links just before sending."""

    def __init__(
        self, settings: NotificationSettings, *, http: httpx.AsyncClient | None = None
    ) -> None:
        self.settings = settings
        self.http = http or httpx.AsyncClient(
            timeout=settings.email_attachment_timeout_seconds, follow_redirects=True
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def _fetch(self, link: AttachmentLink) -> bytes:
        try:
            response = await self.http.get(link.url)
        except httpx.HTTPError as error:
            raise AttachmentUnavailable(f"{type(error).__name__}") from error
        if response.status_code != 200:
            raise AttachmentUnavailable(f"HTTP {response.status_code}")
        return response.content

    async def send(self, email: OutgoingEmail) -> SendResult:
        files: list[tuple[AttachmentLink, bytes]] = []
        for link in email.attachments:
            try:
                files.append((link, await self._fetch(link)))
            except AttachmentUnavailable as error:
                return SendResult(
                    Outcome.TEMPORARY, f"attachment {link.filename} not fetched: {error}"
                )
        message = build_message(email, files, email_from=self.settings.email_from)
        sender = parseaddr(self.settings.email_from)[1]
        utf8 = not (sender + email.to.email).isascii()
        settings = self.settings
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            use_tls=settings.smtp_tls,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )
        try:
            async with client:
                _, answer = await client.sendmail(
                    sender,
                    [email.to.email],
                    as_bytes(message, utf8=utf8),
                    mail_options=["SMTPUTF8"] if utf8 else None,
                )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            return classify(error)
        return SendResult(Outcome.SENT, f"250 {answer}".strip()[:500])
