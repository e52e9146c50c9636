"""The revocation store's rules, against the real Redis of the test run (and, for outages, a
port nothing listens on): which tokens each kind of entry refuses, namespaces, TTLs, and
what a check does when Redis cannot be reached."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from redis.asyncio import Redis

from agencyos.common.auth import Principal
from agencyos.common.errors import ServiceUnavailable, Unauthenticated
from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.common.revocation import REVOKED_DETAIL, RevocationStore
from agencyos.common.settings import ServiceSettings, service_config
from agencyos.common.web import CurrentPrincipal, ServiceContext, create_app
from agencyos.testing.infra import free_port
from agencyos.testing.keys import TestKeys
from agencyos.testing.platform import redis_url

TTL = 60


class WidgetSettings(ServiceSettings):
    service_name = "widgets"
    model_config = service_config("widgets")


def principal(**overrides: object) -> Principal:
    base = Principal(
        user_id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        role=Role.MANAGER,
        permissions=DEFAULT_ROLE_PERMISSIONS[Role.MANAGER],
        token="",
        session_id=str(uuid.uuid4()),
        issued_at_ms=int(time.time() * 1000) - 1000,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


@pytest.fixture
async def store() -> AsyncIterator[RevocationStore]:
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    revocations = RevocationStore(redis_url(), namespace=namespace, service="test")
    yield revocations
    keys = [k async for k in revocations.client.scan_iter(match=f"agencyos:rv:{namespace}:*")]
    if keys:
        await revocations.client.delete(*keys)
    await revocations.close()


async def refused(store: RevocationStore, who: Principal) -> bool:
    try:
        await store.check(who, fail_open=False)
    except Unauthenticated:
        return True
    return False


class TestEntries:
    async def test_a_revoked_session_refuses_its_tokens_only(self, store: RevocationStore) -> None:
        mine, other = principal(), principal()

        await store.revoke_sessions([uuid.UUID(str(mine.session_id))], ttl_seconds=TTL)

        assert await refused(store, mine)
        assert not await refused(store, other)

    async def test_a_user_not_before_refuses_older_tokens_in_that_agency_only(
        self, store: RevocationStore
    ) -> None:
        old = principal()
        elsewhere = replace(old, tenant_id=uuid.uuid4())

        await store.revoke_user(old.tenant_id, old.user_id, ttl_seconds=TTL)
        fresh = replace(old, issued_at_ms=int(time.time() * 1000) + 1)

        assert await refused(store, old)
        assert not await refused(store, fresh)
        assert not await refused(store, elsewhere)

    async def test_a_role_not_before_refuses_that_roles_user_tokens_not_api_keys(
        self, store: RevocationStore
    ) -> None:
        manager = principal()
        admin = replace(manager, user_id=uuid.uuid4(), role=Role.ADMIN)
        key = replace(manager, user_id=uuid.uuid4(), api_key_id=uuid.uuid4(), session_id=None)

        await store.revoke_role(manager.tenant_id, "manager", ttl_seconds=TTL)

        assert await refused(store, manager)
        assert not await refused(store, admin)
        # A key's token is re-minted by the gateway every few seconds with the tuned role.
        assert not await refused(store, key)

    async def test_a_revoked_api_key_refuses_its_tokens_whenever_issued(
        self, store: RevocationStore
    ) -> None:
        key_id = uuid.uuid4()
        key = principal(user_id=key_id, api_key_id=key_id, session_id=None)

        await store.revoke_api_key(key_id, ttl_seconds=TTL)

        assert await refused(store, replace(key, issued_at_ms=int(time.time() * 1000) + 60_000))

    async def test_a_tenant_not_before_refuses_every_older_token_of_that_agency_only(
        self, store: RevocationStore
    ) -> None:
        user = principal()
        key = replace(user, user_id=uuid.uuid4(), api_key_id=uuid.uuid4(), session_id=None)
        elsewhere = replace(user, tenant_id=uuid.uuid4())

        await store.revoke_tenant(user.tenant_id, ttl_seconds=TTL)
        later = int(time.time() * 1000) + 1

        assert await refused(store, user)
        assert await refused(store, key)  # API keys' tokens too (a new IP allowlist)
        assert not await refused(store, elsewhere)
        assert not await refused(store, replace(user, issued_at_ms=later))
        assert not await refused(store, replace(key, issued_at_ms=later))

    async def test_a_token_without_an_issue_time_is_refused_by_a_not_before(
        self, store: RevocationStore
    ) -> None:
        who = principal(issued_at_ms=None)

        await store.revoke_user(who.tenant_id, who.user_id, ttl_seconds=TTL)

        assert await refused(store, who)

    async def test_entries_expire_after_their_ttl_and_a_later_one_never_moves_back(
        self, store: RevocationStore
    ) -> None:
        who = principal()
        key = store.user_key(who.tenant_id, who.user_id)

        await store.revoke_user(who.tenant_id, who.user_id, ttl_seconds=TTL)
        first = int(await store.client.get(key))
        await store.revoke_user(who.tenant_id, who.user_id, ttl_seconds=5)

        assert int(await store.client.get(key)) >= first
        assert TTL - 5 <= await store.client.ttl(key) <= TTL

    async def test_namespaces_do_not_see_each_others_entries(self, store: RevocationStore) -> None:
        who = principal()
        await store.revoke_user(who.tenant_id, who.user_id, ttl_seconds=TTL)
        neighbour = RevocationStore(redis_url(), namespace=f"other-{uuid.uuid4().hex[:8]}")
        try:
            assert not await refused(neighbour, who)
        finally:
            await neighbour.close()


class TestRedisUnreachable:
    @pytest.fixture
    async def down(self) -> AsyncIterator[RevocationStore]:
        revocations = RevocationStore(
            f"redis://127.0.0.1:{free_port()}/0", service="test", timeout_seconds=0.2
        )
        yield revocations
        await revocations.close()

    async def test_a_check_fails_open_or_closed_as_asked(self, down: RevocationStore) -> None:
        who = principal()

        await down.check(who, fail_open=True)
        with pytest.raises(ServiceUnavailable):
            await down.check(who, fail_open=False)

    async def test_a_revocation_that_cannot_be_recorded_fails_the_request(
        self, down: RevocationStore
    ) -> None:
        with pytest.raises(ServiceUnavailable):
            await down.revoke_user(uuid.uuid4(), uuid.uuid4(), ttl_seconds=TTL)

    async def test_revocations_seen_before_the_outage_still_refuse(self) -> None:
        revocations = RevocationStore(
            redis_url(), namespace=f"test-{uuid.uuid4().hex[:8]}", timeout_seconds=0.2
        )
        who = principal()
        try:
            await revocations.revoke_sessions([uuid.UUID(str(who.session_id))], ttl_seconds=TTL)
            await revocations.revoke_user(who.tenant_id, who.user_id, ttl_seconds=TTL)
            assert await refused(revocations, who)
            await revocations.client.delete(
                revocations.session_key(str(who.session_id)),
                revocations.user_key(who.tenant_id, who.user_id),
            )
            # The outage: the store's client now talks to a port nothing listens on.
            await revocations.client.aclose()
            revocations.client = Redis.from_url(
                f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2
            )

            with pytest.raises(Unauthenticated):
                await revocations.check(who, fail_open=True)
            await revocations.check(principal(), fail_open=True)
            # Memory refuses; it never vouches: a token it does not refuse (the user's new
            # session, issued after the remembered not-before) is still unchecked.
            newer = replace(
                who, session_id=str(uuid.uuid4()), issued_at_ms=int(time.time() * 1000) + 1000
            )
            await revocations.check(newer, fail_open=True)
            with pytest.raises(ServiceUnavailable):
                await revocations.check(newer, fail_open=False)
        finally:
            await revocations.close()


class TestTheServiceEdge:
    """`current_principal` checks every token: revoked is 401; with Redis unreachable, reads
    are admitted and writes refused (503) unless the service is configured to admit them."""

    @staticmethod
    async def call(
        settings: WidgetSettings, test_keys: TestKeys, method: str, **claims: Any
    ) -> httpx.Response:
        router = APIRouter()

        @router.get("/probe")
        @router.post("/probe")
        async def probe(principal: CurrentPrincipal) -> dict[str, str]:
            return {"user": str(principal.user_id)}

        ctx = ServiceContext("widgets", settings, with_db=False)
        app = create_app(ctx, title="widgets", description="probe", routers=[router])
        token = test_keys.mint(
            tid=str(uuid.uuid4()), sub=str(uuid.uuid4()), role="member", **claims
        )
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://widgets.test") as c:
                return await c.request(
                    method, "/probe", headers={"Authorization": f"Bearer {token}"}
                )
        finally:
            await ctx.close()

    async def test_a_revoked_sessions_token_is_refused(
        self, jwks_url: str, test_keys: TestKeys
    ) -> None:
        namespace = f"test-{uuid.uuid4().hex[:8]}"
        settings = WidgetSettings(
            jwks_url=jwks_url, redis_url=redis_url(), revocation_namespace=namespace
        )
        session_id = uuid.uuid4()
        writer = RevocationStore(redis_url(), namespace=namespace)
        try:
            await writer.revoke_sessions([session_id], ttl_seconds=TTL)
        finally:
            await writer.close()

        refused_read = await self.call(settings, test_keys, "GET", sid=str(session_id))
        other = await self.call(settings, test_keys, "GET", sid=str(uuid.uuid4()))

        assert refused_read.status_code == 401
        assert refused_read.json()["detail"] == REVOKED_DETAIL
        assert other.status_code == 200

    async def test_with_redis_down_reads_pass_and_writes_are_503_unless_configured(
        self, jwks_url: str, test_keys: TestKeys
    ) -> None:
        down = WidgetSettings(
            jwks_url=jwks_url,
            redis_url=f"redis://127.0.0.1:{free_port()}/0",
            revocation_redis_timeout_seconds=0.2,
        )
        lenient = down.model_copy(update={"revocation_fail_closed_writes": False})

        read = await self.call(down, test_keys, "GET")
        write = await self.call(down, test_keys, "POST")
        lenient_write = await self.call(lenient, test_keys, "POST")

        assert read.status_code == 200
        assert write.status_code == 503
        assert write.headers["content-type"].startswith("application/problem+json")
        assert lenient_write.status_code == 200
