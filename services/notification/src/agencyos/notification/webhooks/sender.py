"""Sending one webhook attempt over HTTP: Standard Webhooks headers and signatures, the
destination policy before every connection, redirects followed by hand, one deadline for all.

The name in the URL is resolved once per hop and the connection goes to the resolved (and
allowed) address, with the Host header and TLS SNI set to the name, so the certificate is
checked against the name while a DNS answer that changes in between cannot slip a private
address in. Connections are kept alive per (name, address, port): one opened for a name is
never reused for another name behind the same address.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from standardwebhooks import Webhook

from agencyos.common.destinations import (
    Destination,
    DestinationPolicy,
    IPAddress,
    RefusedDestination,
)

USER_AGENT = "AgencyOS-Webhooks/1"
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# what the attempt's row keeps of an answer
RECORDED_BODY_BYTES = 4096
ERROR_LENGTH = 500


class AttemptOutcome(StrEnum):
    SUCCEEDED = "succeeded"  # a 2xx answer
    FAILED = "failed"  # another answer, or none (connection refused, timed out, ...)
    REFUSED = "refused"  # the URL or a redirect's target is not a place webhooks may go


@dataclass(frozen=True)
class OutgoingWebhook:
    url: str
    message_id: str  # the event id: `webhook-id` on every attempt
    body: str
    secrets: Sequence[str]


@dataclass(frozen=True)
class AttemptResult:
    outcome: AttemptOutcome
    request_headers: Mapping[str, str]
    started_at: datetime
    latency_ms: int
    status_code: int | None = None
    response_body: str | None = None
    error: str | None = None
    # each URL followed after the first
    redirects: tuple[str, ...] = field(default=())

    @property
    def gone(self) -> bool:
        return self.status_code == 410 and self.outcome is AttemptOutcome.FAILED


class WebhookSender(Protocol):
    async def send(self, hook: OutgoingWebhook) -> AttemptResult: ...

    async def close(self) -> None: ...


def signed_headers(hook: OutgoingWebhook, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers: one `v1,<base64>` signature per secret."""
    signatures = " ".join(
        Webhook(secret).sign(hook.message_id, at, hook.body) for secret in hook.secrets
    )
    return {
        "webhook-id": hook.message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


class _Refused(Exception):
    """A destination the policy refused, on the way out of the redirect loop."""


@dataclass
class _Answer:
    status_code: int
    body: bytes
    location: str | None


class HttpWebhookSender:
    def __init__(
        self,
        policy: DestinationPolicy,
        *,
        timeout_seconds: float = 10.0,
        body_limit: int = 4096,
        max_redirects: int = 3,
        ssl_context: ssl.SSLContext | None = None,
        max_clients: int = 512,
    ) -> None:
        self.policy = policy
        self.timeout_seconds = timeout_seconds
        self.body_limit = body_limit
        self.max_redirects = max_redirects
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.max_clients = max_clients
        self._clients: OrderedDict[tuple[str, str, str, int], httpx.AsyncClient] = OrderedDict()
        self._closing: set[asyncio.Future[None]] = set()

    async def send(self, hook: OutgoingWebhook) -> AttemptResult:
        started_at = datetime.now(UTC)
        headers = signed_headers(hook, started_at)
        clock = time.perf_counter()
        redirects: list[str] = []
        last_status: int | None = None

        def result(outcome: AttemptOutcome, **fields: object) -> AttemptResult:
            return AttemptResult(
                outcome=outcome,
                request_headers=headers,
                started_at=started_at,
                latency_ms=int((time.perf_counter() - clock) * 1000),
                redirects=tuple(redirects),
                **fields,  # type: ignore[arg-type]
            )

        try:
            async with asyncio.timeout(self.timeout_seconds):
                url = hook.url
                while True:
                    answer = await self._post(url, headers, hook.body)
                    last_status = answer.status_code
                    if answer.status_code not in REDIRECTS or answer.location is None:
                        break
                    if len(redirects) >= self.max_redirects:
                        return result(
                            AttemptOutcome.FAILED,
                            status_code=answer.status_code,
                            error=f"more than {self.max_redirects} redirects",
                        )
                    url = urljoin(url, answer.location)
                    redirects.append(url)
        except _Refused as refused:
            where = f"redirect to {redirects[-1]}: " if redirects else ""
            return result(
                AttemptOutcome.REFUSED,
                status_code=last_status,
                error=f"refused {where}{refused}"[:ERROR_LENGTH],
            )
        except TimeoutError:
            return result(
                AttemptOutcome.FAILED,
                error=f"no complete answer within {self.timeout_seconds:g}s",
            )
        except httpx.HTTPError as error:
            return result(AttemptOutcome.FAILED, error=_describe(error))
        body = answer.body[:RECORDED_BODY_BYTES].decode("utf-8", errors="replace")
        if 200 <= answer.status_code < 300:
            return result(
                AttemptOutcome.SUCCEEDED, status_code=answer.status_code, response_body=body
            )
        return result(
            AttemptOutcome.FAILED,
            status_code=answer.status_code,
            response_body=body,
            error=f"answered {answer.status_code}",
        )

    async def _post(self, url: str, headers: Mapping[str, str], body: str) -> _Answer:
        try:
            destination = self.policy.parse(url)
            addresses = await self.policy.resolve(destination)
        except RefusedDestination as refused:
            raise _Refused(str(refused)) from None
        last_error: httpx.TransportError | None = None
        for address in addresses:
            try:
                return await self._post_to(destination, address, headers, body)
            except httpx.ConnectError as error:  # the next address may answer
                last_error = error
        assert last_error is not None
        raise last_error

    async def _post_to(
        self,
        destination: Destination,
        address: IPAddress,
        headers: Mapping[str, str],
        body: str,
    ) -> _Answer:
        parts = urlsplit(destination.url)
        literal = f"[{address}]" if address.version == 6 else str(address)
        default_port = 443 if destination.scheme == "https" else 80
        netloc = literal if destination.port == default_port else f"{literal}:{destination.port}"
        host_header = _host_header(destination, default_port)
        target = urlunsplit((destination.scheme, netloc, parts.path or "/", parts.query, ""))
        client = self._client_for(destination, address)
        async with client.stream(
            "POST",
            target,
            content=body.encode(),
            headers={**headers, "host": host_header, "accept-encoding": "identity"},
            extensions={"sni_hostname": destination.host},
        ) as response:
            received = bytearray()
            if self.body_limit > 0:
                async for chunk in response.aiter_raw():
                    received += chunk
                    if len(received) >= self.body_limit:
                        break  # the rest is never read: the connection is closed, not reused
            return _Answer(
                response.status_code,
                bytes(received[: self.body_limit]),
                response.headers.get("location"),
            )

    def _client_for(self, destination: Destination, address: IPAddress) -> httpx.AsyncClient:
        """The client for one name at one address: its kept-alive connections (and TLS
        sessions) serve that name only, never another name behind the same address."""
        key = (destination.scheme, destination.host, str(address), destination.port)
        client = self._clients.pop(key, None)
        if client is None:
            client = httpx.AsyncClient(
                verify=self.ssl_context,
                follow_redirects=False,
                trust_env=False,
                timeout=httpx.Timeout(self.timeout_seconds),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=4),
            )
            while len(self._clients) >= self.max_clients:
                _, oldest = self._clients.popitem(last=False)
                self._closing.add(asyncio.ensure_future(oldest.aclose()))
                self._closing = {t for t in self._closing if not t.done()}
        self._clients[key] = client  # the most recently used last
        return client

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), OrderedDict()
        await asyncio.gather(*(c.aclose() for c in clients), *self._closing)


def _host_header(destination: Destination, default_port: int) -> str:
    host = f"[{destination.host}]" if ":" in destination.host else destination.host
    return host if destination.port == default_port else f"{host}:{destination.port}"


def _describe(error: httpx.HTTPError) -> str:
    detail = str(error) or type(error).__name__
    return f"{type(error).__name__}: {detail}"[:ERROR_LENGTH]
