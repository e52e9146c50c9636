"""A real SMTP server for tests that need one under their own control (aiosmtpd in a thread
of the test process): it records what it accepts, and can answer with scripted replies or be
stopped and started again on the same port to play an outage."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from agencyos.testing.infra import free_port


@dataclass(frozen=True)
class Received:
    sender: str
    recipients: list[str]
    message: Message


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    # aiosmtpd calls its hooks by these names
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self.sink.refused.get(address.lower())
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.sink.lock:
            scripted = self.sink.replies.pop(0) if self.sink.replies else None
        if scripted is not None and not scripted.startswith("2"):
            return scripted
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        with self.sink.lock:
            self.sink.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(raw))
            )
        return scripted or "250 OK queued"


@dataclass
class SmtpSink:
    """`start()` listens on 127.0.0.1:`port`; `replies` are answered to DATA first ("421
    busy", "550 no"), then "250"; `refused` maps an address to its RCPT answer."""

    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if address in r.recipients]
