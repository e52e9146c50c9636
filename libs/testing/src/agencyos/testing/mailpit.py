"""Reading what was delivered to mailpit (the local stack's SMTP server) through its REST API.

Tests in parallel workers share one mailpit: never clear the whole mailbox, and give every
test recipients of its own (`unique_address()`), then ask for messages to those addresses.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import httpx

DEFAULT_MAILPIT_URL = "http://127.0.0.1:8025"
DEFAULT_SMTP_HOST = "127.0.0.1"
DEFAULT_SMTP_PORT = 1025
# How long a test waits for an email. Generous: in a full parallel run one notification
# consumer hears every test's events, and a busy topic can run half a minute behind a quiet
# one. Only a failure waits it out.
DELIVERED_WITHIN_SECONDS = 90.0


def mailpit_url() -> str:
    """mailpit's API (`AGENCYOS_MAILPIT_URL` when set)."""
    return os.environ.get("AGENCYOS_MAILPIT_URL", DEFAULT_MAILPIT_URL)


def smtp_host() -> str:
    return os.environ.get("AGENCYOS_SMTP_HOST", DEFAULT_SMTP_HOST)


def smtp_port() -> int:
    return int(os.environ.get("AGENCYOS_SMTP_PORT", str(DEFAULT_SMTP_PORT)))


def unique_address(label: str = "someone") -> str:
    """An address no other test uses."""
    return f"{label}-{uuid.uuid4().hex[:12]}@example.com"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href" and value]


@dataclass(frozen=True)
class Attachment:
    part_id: str
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Message:
    """One delivered message, whole."""

    id: str
    message_id: str
    from_name: str
    from_address: str
    to: list[str]
    subject: str
    text: str
    html: str
    attachments: list[Attachment]
    headers: dict[str, list[str]] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        for key, values in self.headers.items():
            if key.lower() == name.lower() and values:
                return values[0]
        return None

    @property
    def links(self) -> list[str]:
        """Every distinct link in the HTML part, in order of appearance (entities decoded)."""
        parser = _Links()
        parser.feed(self.html)
        return list(dict.fromkeys(parser.hrefs))


class Mailpit:
    def __init__(self, base_url: str | None = None) -> None:
        self.http = httpx.AsyncClient(base_url=base_url or mailpit_url(), timeout=10.0)

    async def __aenter__(self) -> Mailpit:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    async def summaries(self, to: str) -> list[dict[str, Any]]:
        """mailpit's summaries of the messages to `to`, newest first."""
        response = await self.http.get(
            "/api/v1/search", params={"query": f'to:"{to}"', "limit": 200}
        )
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()["messages"]
        # the search matches on words; keep exactly this recipient
        return [
            m
            for m in found
            if any(a.get("Address", "").lower() == to.lower() for a in m.get("To") or [])
        ]

    async def messages_to(self, to: str) -> list[Message]:
        return [await self.message(s["ID"]) for s in await self.summaries(to)]

    async def message(self, message_id: str) -> Message:
        response = await self.http.get(f"/api/v1/message/{message_id}")
        response.raise_for_status()
        body = response.json()
        headers = await self.http.get(f"/api/v1/message/{message_id}/headers")
        headers.raise_for_status()
        return Message(
            id=body["ID"],
            message_id=body["MessageID"],
            from_name=body["From"]["Name"],
            from_address=body["From"]["Address"],
            to=[a["Address"] for a in body.get("To") or []],
            subject=body["Subject"],
            text=body.get("Text") or "",
            html=body.get("HTML") or "",
            attachments=[
                Attachment(a["PartID"], a["FileName"], a["ContentType"], a["Size"])
                for a in body.get("Attachments") or []
            ],
            headers=headers.json(),
        )

    async def attachment(self, message: Message, attachment: Attachment) -> bytes:
        response = await self.http.get(f"/api/v1/message/{message.id}/part/{attachment.part_id}")
        response.raise_for_status()
        return response.content

    async def wait_for(
        self, to: str, *, count: int = 1, timeout: float = DELIVERED_WITHIN_SECONDS
    ) -> list[Message]:
        """The messages to `to` once there are at least `count` of them (newest first)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = await self.summaries(to)
            if len(found) >= count:
                return [await self.message(s["ID"]) for s in found]
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{len(found)} of {count} messages to {to} in {timeout}s")
            await asyncio.sleep(0.2)

    async def delete(self, messages: list[Message]) -> None:
        """Delete these messages (never the whole mailbox: other tests share it)."""
        if messages:
            response = await self.http.request(
                "DELETE", "/api/v1/messages", json={"IDs": [m.id for m in messages]}
            )
            response.raise_for_status()
