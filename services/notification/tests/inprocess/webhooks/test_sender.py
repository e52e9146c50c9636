"""The HTTP sender on its own: Standard Webhooks headers, one deadline for the whole attempt,
and https to the resolved address with the certificate checked against the URL's name (TLS
SNI and Host are the name, never the address)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from standardwebhooks import Webhook

from agencyos.common.destinations import DestinationPolicy
from agencyos.notification.webhooks.secrets import new_secret
from agencyos.notification.webhooks.sender import (
    USER_AGENT,
    AttemptOutcome,
    HttpWebhookSender,
    OutgoingWebhook,
    signed_headers,
)
from agencyos.testing.webhook_receiver import Answer, WebhookReceiver

from .sending import RECEIVER_NETWORK

BODY = '{"id":"e1","type":"crm.client.created","data":{"name":"Zoë"}}'


def hook(url: str, *secrets: str) -> OutgoingWebhook:
    return OutgoingWebhook(
        url=url,
        message_id="5b2e9c1a-0000-4000-8000-000000000002",
        body=BODY,
        secrets=list(secrets) or [new_secret()],
    )


class TestHeaders:
    def test_one_signature_per_secret_each_verifiable_with_its_secret(self) -> None:
        first, second = new_secret(), new_secret()
        at = dt.datetime.now(dt.UTC)

        headers = signed_headers(hook("https://x.example", first, second), at)

        assert headers["webhook-id"] == "5b2e9c1a-0000-4000-8000-000000000002"
        assert headers["webhook-timestamp"] == str(int(at.timestamp()))
        assert headers["content-type"] == "application/json"
        assert headers["user-agent"] == USER_AGENT
        one, two = headers["webhook-signature"].split(" ")
        Webhook(first).verify(BODY.encode(), {**headers, "webhook-signature": one})
        Webhook(second).verify(BODY.encode(), {**headers, "webhook-signature": two})

    async def test_the_body_goes_out_byte_for_byte(self, receiver: WebhookReceiver) -> None:
        sender = HttpWebhookSender(DestinationPolicy.of(True, [RECEIVER_NETWORK]))

        await sender.send(hook(receiver.url("/exact")))

        [request] = receiver.received("/exact")
        assert request.body == BODY.encode()
        assert request.headers["host"] == f"{receiver.host}:{receiver.port}"


class TestDeadline:
    async def test_one_deadline_covers_the_whole_attempt(self, receiver: WebhookReceiver) -> None:
        receiver.answer("/slow", Answer(delay=3.0))
        sender = HttpWebhookSender(
            DestinationPolicy.of(True, [RECEIVER_NETWORK]), timeout_seconds=0.5
        )

        result = await sender.send(hook(receiver.url("/slow")))

        assert result.outcome is AttemptOutcome.FAILED
        assert result.status_code is None
        assert result.error == "no complete answer within 0.5s"
        assert result.latency_ms < 3000

    async def test_a_closed_port_fails_the_attempt(self, receiver: WebhookReceiver) -> None:
        sender = HttpWebhookSender(DestinationPolicy.of(True, [RECEIVER_NETWORK]))

        result = await sender.send(hook(f"http://{receiver.host}:1/hook"))

        assert result.outcome is AttemptOutcome.FAILED
        assert result.error is not None
        assert "ConnectError" in result.error


# --- https with a certificate of a test authority -------------------------------------------


@dataclass
class Authority:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def new(cls) -> Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "AgencyOS test CA")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def issue(self, dns_name: str, directory: Path) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_path, key_path = directory / f"{dns_name}.crt", directory / f"{dns_name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_path, key_path

    def trusting_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(
            cadata=self.cert.public_bytes(serialization.Encoding.PEM).decode()
        )
        return context


@dataclass
class TlsEndpoint:
    """A minimal HTTPS server on 127.0.0.1 answering 200 to anything; records the SNI name
    and Host header of each request."""

    port: int = 0
    server_names: list[str | None] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)


@pytest.fixture
def authority() -> Authority:
    return Authority.new()


async def serve_tls(cert: Path, key: Path) -> tuple[asyncio.Server, TlsEndpoint]:
    endpoint = TlsEndpoint()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def on_sni(sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        endpoint.server_names.append(name)

    context.sni_callback = on_sni

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode().split("\r\n"):
                name, _, value = line.partition(":")
                if name.lower() == "host":
                    endpoint.hosts.append(value.strip())
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            await writer.drain()
        except (ssl.SSLError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    endpoint.port = server.sockets[0].getsockname()[1]
    return server, endpoint


@pytest.fixture
async def localhost_tls(authority: Authority, tmp_path: Path) -> AsyncIterator[TlsEndpoint]:
    server, endpoint = await serve_tls(*authority.issue("localhost", tmp_path))
    async with server:
        yield endpoint


@pytest.fixture
async def other_name_tls(authority: Authority, tmp_path: Path) -> AsyncIterator[TlsEndpoint]:
    server, endpoint = await serve_tls(*authority.issue("hooks.example.org", tmp_path))
    async with server:
        yield endpoint


def loopback_sender(authority: Authority) -> HttpWebhookSender:
    # https only, loopback allowed: `localhost` resolves to 127.0.0.1 and is connected to by
    # address, while the certificate is checked against the name
    policy = DestinationPolicy.of(False, [str(ipaddress.ip_network("127.0.0.0/8"))])
    return HttpWebhookSender(policy, ssl_context=authority.trusting_context())


class TestHttps:
    async def test_the_certificate_is_checked_against_the_url_s_name_over_the_resolved_address(
        self, authority: Authority, localhost_tls: TlsEndpoint
    ) -> None:
        result = await loopback_sender(authority).send(
            hook(f"https://localhost:{localhost_tls.port}/hook")
        )

        assert result.outcome is AttemptOutcome.SUCCEEDED, result.error
        assert localhost_tls.server_names == ["localhost"]
        assert localhost_tls.hosts == [f"localhost:{localhost_tls.port}"]

    async def test_a_certificate_for_another_name_fails_the_attempt(
        self, authority: Authority, other_name_tls: TlsEndpoint
    ) -> None:
        result = await loopback_sender(authority).send(
            hook(f"https://localhost:{other_name_tls.port}/hook")
        )

        assert result.outcome is AttemptOutcome.FAILED
        assert result.error is not None
        assert "certificate" in result.error.lower()
        assert other_name_tls.hosts == [], "no request is sent over an unverified connection"

    async def test_a_certificate_of_an_unknown_authority_fails_the_attempt(
        self, localhost_tls: TlsEndpoint
    ) -> None:
        stranger = loopback_sender(Authority.new())

        result = await stranger.send(hook(f"https://localhost:{localhost_tls.port}/hook"))

        assert result.outcome is AttemptOutcome.FAILED
        assert localhost_tls.hosts == []
