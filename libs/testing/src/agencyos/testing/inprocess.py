"""The in-process tier: a service's own FastAPI app called through `httpx.ASGITransport`, in
the test's process and event loop, against a database of this test worker's own (cloned from
the migrated template) that is emptied after every test.

The service runs its real code end to end: token verification against a JWKS (the test keys),
revocation checks in the real Redis, its idempotency middleware, its row-level security, its
outbox rows. Its peers are gRPC: `settings.<peer>_grpc_target` points at one in-process gRPC
server with the typed stand-ins of `agencyos.testing.standins`, so the service's own peer code
runs too. Nothing is published to Kafka (no relay runs); tests about events belong to the
platform tier, or read the outbox rows the service wrote.
"""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import grpc
import httpx
import pytest
from aiokafka.structs import ConsumerRecord
from fastapi import FastAPI

from agencyos.common.actor_context import parse_networks
from agencyos.common.auth import JwksVerifier
from agencyos.common.consumer import ConsumerRunner
from agencyos.common.events import CloudEvent
from agencyos.common.files import FileStorageSettings, file_storage
from agencyos.common.rpc import close_channels, start_grpc_server
from agencyos.common.runtime import ServiceDefinition
from agencyos.common.services import SERVICES
from agencyos.common.settings import ServiceSettings
from agencyos.common.web import ServiceContext
from agencyos.testing.databases import TestDatabases, test_tables, truncate
from agencyos.testing.infra import Infra, free_port
from agencyos.testing.keys import TestKeys
from agencyos.testing.platform import redis_url
from agencyos.testing.s3 import fresh_bucket, s3_endpoint
from agencyos.testing.sql import fetch_rows
from agencyos.testing.standins import StandIns
from agencyos.testing.verification import register_identity_database

# Settings of some services for a test run, set where a service has them: argon2id at its
# floor (a run signs up thousands of accounts), the sign-in lockout as in production but with
# a 2 s first window.
IN_PROCESS_SETTINGS: dict[str, Any] = {
    "password_hash_time_cost": 1,
    "password_hash_memory_kib": 1024,
    "password_hash_parallelism": 1,
    "login_lockout_base_seconds": 2,
    # identity's single sign-on reaches the local OIDC provider (http://127.0.0.1:18080,
    # agencyos.testing.oidc) and nothing else private: a test turns these off to see the
    # production rule refuse it.
    "sso_allow_http": True,
    "sso_allowed_private_networks": ["127.0.0.1/32"],
}


# Tables whose rows outlive each test: identity's signing keys (a new RSA key per test would
# cost a key generation each, and outrun identity's own cache of its JWKS, which fetches an
# unknown kid again only every few seconds).
KEPT_TABLES: dict[str, frozenset[str]] = {"identity": frozenset({"signing_keys"})}


@dataclass(frozen=True)
class Caller:
    """Someone calling the service: a member of `agency_id` with `role`, holding a token
    signed with the test keys. Shaped like `AgencySession` (`agency_id`, `user_id`, `role`,
    `headers`), so a test reads the same in either tier."""

    agency_id: uuid.UUID
    user_id: uuid.UUID
    role: str
    access_token: str
    client_id: uuid.UUID | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class Agency:
    """An agency made up by a test: its members are callers minted with the test keys and
    declared to the identity stand-in, so peers' answers about them agree with their tokens."""

    def __init__(self, keys: TestKeys, standins: StandIns, *, timezone: str = "UTC") -> None:
        self.id = uuid.uuid4()
        self.keys = keys
        self.standins = standins
        standins.identity.add_agency(self.id, timezone=timezone)
        self.owner = self.caller("owner")

    def new_project(self, *members: Caller, **fields: Any) -> dict[str, Any]:
        """A project of this agency on the work stand-in with `members` and the owner (the
        creator is a member, as in work), shaped like work's API answer (`{"id": ...}`)."""
        project_id = self.standins.work.add_project(
            self.id, self.owner.user_id, *(m.user_id for m in members), **fields
        )
        return {"id": str(project_id)}

    def caller(
        self,
        role: str = "member",
        *,
        status: str = "active",
        permissions: list[str] | None = None,
        client_id: uuid.UUID | None = None,
    ) -> Caller:
        """A new person of this agency with `role` (tokens carry the role's default
        permissions unless `permissions` tunes them, as identity's tokens do)."""
        user_id = uuid.uuid4()
        if role == "client" and client_id is None:
            client_id = uuid.uuid4()
        self.standins.identity.add_member(
            self.id, user_id, role=role, status=status, client_id=client_id
        )
        claims: dict[str, Any] = {
            "sub": str(user_id),
            "tid": str(self.id),
            "role": role,
            "sid": uuid.uuid4().hex,
        }
        if permissions is not None:
            claims["perms"] = permissions
        if client_id is not None:
            claims["cid"] = str(client_id)
        token = self.keys.mint(**claims)
        return Caller(self.id, user_id, role, token, client_id)


@dataclass
class ServiceInProcess:
    name: str
    settings: ServiceSettings
    ctx: ServiceContext
    app: FastAPI
    http: httpx.AsyncClient
    database: str
    tables: list[str]
    infra: Infra

    async def reset(self) -> None:
        """Empty every table the service has, back to the freshly migrated state."""
        conn = await self.infra.raw(self.database, owner=True)
        try:
            await truncate(conn, self.tables)
        finally:
            await conn.close()

    async def rows(
        self, query: str, *args: Any, tenant_id: uuid.UUID | None = None
    ) -> list[asyncpg.Record]:
        """`query` on the service's database as its owner, in one transaction under
        `tenant_id` (row-level security applies to the owner too)."""
        return await fetch_rows(
            self.infra, self.database, query, *args, tenant_id=tenant_id, owner=True
        )

    async def outbox(
        self, tenant_id: uuid.UUID, event_type: str | None = None
    ) -> list[dict[str, Any]]:
        """The CloudEvents the service wrote to its outbox for one agency (of `event_type`
        when given), oldest first: what its relay would publish."""
        found = await self.rows(
            "SELECT envelope FROM outbox WHERE $1::text IS NULL OR event_type = $1 ORDER BY id",
            event_type,
            tenant_id=tenant_id,
        )
        return [
            json.loads(r["envelope"]) if isinstance(r["envelope"], str) else r["envelope"]
            for r in found
        ]

    async def close(self) -> None:
        await self.http.aclose()
        await self.ctx.close()


def definition_of(service: str) -> ServiceDefinition:
    module = importlib.import_module(f"agencyos.{service}.__main__")
    definition: ServiceDefinition = module.DEFINITION
    return definition


@dataclass
class InProcess:
    """This test worker's in-process services (one of each, made on first use) and the gRPC
    server of peer stand-ins they call."""

    infra: Infra
    keys: TestKeys
    jwks_url: str
    standins: StandIns = field(default_factory=StandIns)
    databases: TestDatabases | None = None
    revocation_namespace: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:8]}")
    services: dict[str, ServiceInProcess] = field(default_factory=dict)
    grpc_servers: dict[str, tuple[grpc.aio.Server, str]] = field(default_factory=dict)
    runners: dict[str, ConsumerRunner] = field(default_factory=dict)
    peers_target: str = ""
    s3_bucket: str = field(default_factory=fresh_bucket)
    _peers: grpc.aio.Server | None = None
    _verifier: JwksVerifier | None = None

    async def start(self) -> None:
        self.databases = TestDatabases(self.infra)
        self._verifier = JwksVerifier(self.jwks_url, issuer="agencyos", audience="agencyos-api")
        port = free_port()
        self.standins.identity.keys = self.keys
        # work's stand-in signs file links as work does, into this run's bucket (made on its
        # first use: only tests about files need the S3 server).
        self.standins.work.s3_bucket = self.s3_bucket
        self._peers = await start_grpc_server(
            "standins",
            self._verifier,
            self.standins.register,
            "127.0.0.1",
            port,
            # What the services here send (their settings' default), as identity demands it.
            service_credential=ServiceSettings.model_fields["service_credential"].default,
        )
        self.peers_target = f"127.0.0.1:{port}"

    def agency(self, *, timezone: str = "UTC") -> Agency:
        return Agency(self.keys, self.standins, timezone=timezone)

    async def service(self, name: str, *, real_peers: Sequence[str] = ()) -> ServiceInProcess:
        """Service `name` in this process, made on first use (later calls answer the same
        one). Its peers are the stand-ins, except those named in `real_peers`: their own
        servicers in this process (e.g. billing with the real time service)."""
        if name in self.services:
            return self.services[name]
        assert self.databases is not None, "start() first"
        database = await self.databases.clone(name)
        definition = definition_of(name)
        settings_type = type(definition.settings_factory())
        overrides: dict[str, Any] = {
            "database_name": database,
            "jwks_url": self.jwks_url,
            "redis_url": redis_url(),
            "revocation_namespace": self.revocation_namespace,
            "log_json": True,
            "database_pool_size": 5,
        }
        for key, value in IN_PROCESS_SETTINGS.items():
            if key in settings_type.model_fields:
                overrides[key] = value
        if "login_lockout_namespace" in settings_type.model_fields:
            overrides["login_lockout_namespace"] = self.revocation_namespace
        for peer in SERVICES:
            if f"{peer}_grpc_target" in settings_type.model_fields:
                overrides[f"{peer}_grpc_target"] = (
                    await self.grpc_target(peer) if peer in real_peers else self.peers_target
                )
        if issubclass(settings_type, FileStorageSettings):
            # The local S3 server, a bucket of this test run's own.
            overrides["s3_endpoint_url"] = s3_endpoint()
            overrides["s3_bucket"] = self.s3_bucket
        settings = settings_type(**overrides)
        if isinstance(settings, FileStorageSettings):
            await file_storage(settings).ensure_bucket()
        ctx = ServiceContext(name, settings)
        app = definition.create_app(ctx)
        if name == "identity":
            # identity verifies the tokens it signs itself: its verifier reads identity's own
            # JWKS from the app in this process (the test keys sign for every other service).
            await ctx.verifier.close()
            ctx.verifier = JwksVerifier(
                "http://identity/.well-known/jwks.json",
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                transport=httpx.ASGITransport(app=app),
            )
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=f"http://{name}", timeout=30.0
        )
        started = ServiceInProcess(
            name=name,
            settings=settings,
            ctx=ctx,
            app=app,
            http=http,
            database=database,
            tables=[
                t
                for t in await test_tables(self.infra, database)
                if t not in KEPT_TABLES.get(name, frozenset())
            ],
            infra=self.infra,
        )
        self.services[name] = started
        if name == "identity":
            register_identity_database(str(http.base_url), self.infra, database)
        return started

    async def deliver(self, name: str, event: CloudEvent) -> str:
        """Hand `event` to service `name`'s own consumer runner, as a record read from its
        topic would be (inbox, retries, the handler in the runner's transaction), without
        Kafka; answers the runner's outcome ("ok", "duplicate", "ignored"…). A record the
        runner would dead-letter needs Kafka: that belongs to the platform tier."""
        service = await self.service(name)
        definition = definition_of(name)
        assert definition.subscription is not None, f"{name} consumes no events"
        if name not in self.runners:
            self.runners[name] = ConsumerRunner(
                name,
                service.ctx.database(),
                service.settings.kafka_bootstrap,
                definition.subscription,
                max_attempts=1,
            )
        record: ConsumerRecord[bytes, bytes] = ConsumerRecord(
            topic=event.type.split(".", 1)[0] + ".events",
            partition=0,
            offset=0,
            timestamp=0,
            timestamp_type=0,
            key=str(event.tenantid).encode(),
            value=event.model_dump_json(exclude_none=True).encode(),
            checksum=None,
            serialized_key_size=-1,
            serialized_value_size=-1,
            headers=[],
        )
        return await self.runners[name].handle_record(record)

    async def grpc_target(self, name: str) -> str:
        """The service's own gRPC servicers, served in this process as in production (the same
        interceptor: the caller's token verified, one transaction per call over the service's
        database); made on first use."""
        if name not in self.grpc_servers:
            service = await self.service(name)
            definition = definition_of(name)
            assert definition.grpc_registrar is not None, f"{name} serves no gRPC methods"
            port = free_port()
            server = await start_grpc_server(
                name,
                service.ctx.verifier,
                definition.grpc_registrar(service.ctx),
                "127.0.0.1",
                port,
                revocations=service.ctx.revocations,
                database=service.ctx.db,
                service_credential=service.settings.service_credential,
                trusted_peers=parse_networks(service.settings.trusted_peer_networks),
            )
            self.grpc_servers[name] = (server, f"127.0.0.1:{port}")
        return self.grpc_servers[name][1]

    async def stop(self) -> None:
        for server, _ in self.grpc_servers.values():
            await server.stop(1)
        for service in self.services.values():
            await service.close()
        if self._peers is not None:
            await self._peers.stop(1)
        if self._verifier is not None:
            await self._verifier.close()
        await close_channels()
        if self.databases is not None:
            await self.databases.close()


def service_client(name: str) -> Any:
    """A pytest fixture (named by the conftest that assigns it) answering an httpx client of
    service `name` in-process; the service's tables are emptied after each test."""

    async def fixture(in_process: InProcess) -> AsyncIterator[httpx.AsyncClient]:
        service = await in_process.service(name)
        try:
            yield service.http
        finally:
            await service.reset()

    fixture.__name__ = name
    fixture.__doc__ = f"{name}'s FastAPI app in this process (its tables emptied after the test)"
    return pytest.fixture(fixture)
