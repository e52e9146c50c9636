"""Page sessions in the real Redis: found by the cookie value under its own agency's slug only,
stored under the value's hash (Redis holds no usable cookie), expiring."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from agencyos.portal.settings import PortalSettings
from agencyos.portal.web.session import KEY_PREFIX, SessionStore, WebSession
from agencyos.testing.platform import redis_url


@pytest.fixture
async def store() -> AsyncIterator[SessionStore]:
    client = Redis.from_url(redis_url())
    namespace = f"test-{uuid.uuid4().hex[:12]}"
    settings = PortalSettings(
        web_session_namespace=namespace,
        web_session_idle_seconds=600,
        web_anonymous_session_seconds=60,
    )
    yield SessionStore(client, settings)
    async for key in client.scan_iter(f"{KEY_PREFIX}{namespace}:*"):
        await client.delete(key)
    await client.aclose()


def signed_in(slug: str) -> WebSession:
    return WebSession(
        slug=slug,
        agency_id=str(uuid.uuid4()),
        access_token="at",
        refresh_token="rt",
        access_expires_at=1.0,
    )


class TestPageSessions:
    async def test_a_session_is_found_by_its_cookie_under_its_own_slug(
        self, store: SessionStore
    ) -> None:
        cookie = await store.create(signed_in("acme"))

        found = await store.load(cookie, "acme")

        assert found is not None
        assert found.refresh_token == "rt"

    async def test_under_another_agencys_slug_it_is_no_session(self, store: SessionStore) -> None:
        cookie = await store.create(signed_in("acme"))

        assert await store.load(cookie, "globex") is None

    @pytest.mark.parametrize(
        "cookie", ["", "not-a-session", "x" * 500], ids=["empty", "unknown", "long"]
    )
    async def test_an_unknown_cookie_is_no_session(self, store: SessionStore, cookie: str) -> None:
        assert await store.load(cookie, "acme") is None

    async def test_redis_keeps_the_cookies_hash_not_the_cookie(self, store: SessionStore) -> None:
        cookie = await store.create(signed_in("acme"))

        keys = [k.decode() async for k in store.client.scan_iter(f"{store.prefix}*")]

        assert keys == [store.prefix + hashlib.sha256(cookie.encode()).hexdigest()]
        assert cookie not in keys[0]

    async def test_a_signed_out_session_lives_shorter_than_a_signed_in_one(
        self, store: SessionStore
    ) -> None:
        anonymous = await store.create(WebSession(slug="acme"))
        member = await store.create(signed_in("acme"))

        ttl_anonymous = await store.client.ttl(store._key(anonymous))
        ttl_member = await store.client.ttl(store._key(member))

        assert 0 < ttl_anonymous <= 60
        assert 60 < ttl_member <= 600

    async def test_a_deleted_session_is_gone(self, store: SessionStore) -> None:
        cookie = await store.create(signed_in("acme"))

        await store.delete(cookie)

        assert await store.load(cookie, "acme") is None

    def test_the_csrf_token_must_match_exactly(self) -> None:
        web_session = WebSession(slug="acme")

        assert web_session.csrf_matches(web_session.csrf_token)
        assert not web_session.csrf_matches(None)
        assert not web_session.csrf_matches("")
        assert not web_session.csrf_matches(web_session.csrf_token[:-1])
