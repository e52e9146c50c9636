"""`Idempotency-Key` on mutating POSTs: a retried request has no second effect, and a key is
never shared between callers — over ASGI against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import text


def with_key(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def new_key() -> str:
    return f"key-{uuid.uuid4()}"


class TestReplay:
    async def test_the_same_key_and_body_replays_the_stored_response(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        headers = with_key(bearer(tenant, uuid.uuid4()), new_key())

        first = await client.post("/widgets", json={"name": "once"}, headers=headers)
        second = await client.post("/widgets", json={"name": "once"}, headers=headers)

        assert first.status_code == second.status_code == 201
        assert second.json() == first.json()
        assert second.headers["idempotent-replayed"] == "true"
        assert second.headers["content-type"] == first.headers["content-type"]

    async def test_a_replay_has_no_second_effect(
        self,
        client: httpx.AsyncClient,
        bearer: Any,
        tenant: uuid.UUID,
        widget_count: Any,
        app_state: Any,
    ) -> None:
        headers = with_key(bearer(tenant, uuid.uuid4()), new_key())

        for _ in range(3):
            await client.post("/widgets", json={"name": "single"}, headers=headers)

        assert await widget_count(tenant, "single") == 1
        assert app_state.calls["create"] == 1

    async def test_the_first_answer_is_not_marked_as_replayed(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        headers = with_key(bearer(tenant), new_key())

        first = await client.post("/widgets", json={"name": "fresh"}, headers=headers)

        assert "idempotent-replayed" not in first.headers

    async def test_without_a_key_every_request_runs(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID, widget_count: Any
    ) -> None:
        headers = bearer(tenant)

        await client.post("/widgets", json={"name": "twice"}, headers=headers)
        await client.post("/widgets", json={"name": "twice"}, headers=headers)

        assert await widget_count(tenant, "twice") == 2

    async def test_a_client_error_answer_is_stored_and_replayed(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        headers = with_key(bearer(tenant, uuid.uuid4()), new_key())

        first = await client.post("/widgets", json={"name": ""}, headers=headers)
        second = await client.post("/widgets", json={"name": ""}, headers=headers)

        assert first.status_code == second.status_code == 422
        assert second.headers["idempotent-replayed"] == "true"
        assert second.json() == first.json()


class TestMismatchedReuse:
    async def test_the_same_key_with_a_different_body_is_refused_with_422(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID, widget_count: Any
    ) -> None:
        headers = with_key(bearer(tenant, uuid.uuid4()), new_key())
        await client.post("/widgets", json={"name": "original"}, headers=headers)

        reused = await client.post("/widgets", json={"name": "changed"}, headers=headers)

        assert reused.status_code == 422
        assert reused.headers["content-type"] == "application/problem+json"
        assert reused.json()["type"].endswith("/invalid-input")
        assert await widget_count(tenant, "changed") == 0

    async def test_the_same_key_on_another_path_is_refused(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        headers = with_key(bearer(tenant, uuid.uuid4()), new_key())
        await client.post("/widgets", json={"name": "p"}, headers=headers)

        reused = await client.post("/widgets/conflicting", json={"name": "p"}, headers=headers)

        assert reused.status_code == 422

    async def test_an_over_long_key_is_refused(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        response = await client.post(
            "/widgets", json={"name": "k"}, headers=with_key(bearer(tenant), "k" * 256)
        )

        assert response.status_code == 422

    async def test_a_keyed_request_without_a_token_answers_401(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/widgets", json={"name": "anon"}, headers={"Idempotency-Key": new_key()}
        )

        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


class TestScope:
    async def test_another_user_with_the_same_key_gets_their_own_execution(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID, widget_count: Any
    ) -> None:
        key = new_key()
        alice = with_key(bearer(tenant, uuid.uuid4()), key)
        bob = with_key(bearer(tenant, uuid.uuid4()), key)

        first = await client.post("/widgets", json={"name": "shared-key"}, headers=alice)
        second = await client.post("/widgets", json={"name": "shared-key"}, headers=bob)

        assert second.status_code == 201
        assert "idempotent-replayed" not in second.headers
        assert second.json()["id"] != first.json()["id"]
        assert await widget_count(tenant, "shared-key") == 2

    async def test_another_agency_with_the_same_user_and_key_gets_its_own_execution(
        self,
        client: httpx.AsyncClient,
        bearer: Any,
        tenant: uuid.UUID,
        other_tenant: uuid.UUID,
        widget_count: Any,
    ) -> None:
        key, user = new_key(), uuid.uuid4()

        await client.post(
            "/widgets", json={"name": "per-agency"}, headers=with_key(bearer(tenant, user), key)
        )
        theirs = await client.post(
            "/widgets",
            json={"name": "per-agency"},
            headers=with_key(bearer(other_tenant, user), key),
        )

        assert "idempotent-replayed" not in theirs.headers
        assert await widget_count(other_tenant, "per-agency") == 1


class TestServerErrorsAreNotStored:
    async def test_a_5xx_answer_is_not_stored_so_a_retry_runs_again(
        self,
        client: httpx.AsyncClient,
        bearer: Any,
        tenant: uuid.UUID,
        widget_count: Any,
        app_state: Any,
    ) -> None:
        headers = with_key(bearer(tenant, uuid.uuid4()), new_key())

        first = await client.post("/widgets/flaky", json={"name": "retry-503"}, headers=headers)
        retry = await client.post("/widgets/flaky", json={"name": "retry-503"}, headers=headers)

        assert (first.status_code, retry.status_code) == (503, 201)
        assert "idempotent-replayed" not in retry.headers
        assert retry.json()["call"] == 2
        assert await widget_count(tenant, "retry-503") == 1

    async def test_a_crashed_request_is_not_stored_so_a_retry_runs_again(
        self,
        client: httpx.AsyncClient,
        bearer: Any,
        tenant: uuid.UUID,
        widget_count: Any,
    ) -> None:
        headers = with_key(bearer(tenant, uuid.uuid4()), new_key())

        first = await client.post("/widgets/flaky", json={"name": "crash-once"}, headers=headers)
        retry = await client.post("/widgets/flaky", json={"name": "crash-once"}, headers=headers)

        assert (first.status_code, retry.status_code) == (500, 201)
        assert await widget_count(tenant, "crash-once") == 1

    async def test_after_the_successful_retry_the_answer_is_stored(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        headers = with_key(bearer(tenant, uuid.uuid4()), new_key())
        await client.post("/widgets/flaky", json={"name": "settles"}, headers=headers)
        settled = await client.post("/widgets/flaky", json={"name": "settles"}, headers=headers)

        replay = await client.post("/widgets/flaky", json={"name": "settles"}, headers=headers)

        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.json() == settled.json()


class TestConcurrentRetry:
    async def test_a_retry_while_the_first_request_runs_answers_409(
        self,
        client: httpx.AsyncClient,
        bearer: Any,
        tenant: uuid.UUID,
        app_state: Any,
        widget_count: Any,
    ) -> None:
        headers = with_key(bearer(tenant, uuid.uuid4()), new_key())
        first = asyncio.create_task(
            client.post("/widgets/slow", json={"name": "in-flight"}, headers=headers)
        )
        try:
            await asyncio.wait_for(app_state.slow_started.wait(), 10)

            retry = await client.post("/widgets/slow", json={"name": "in-flight"}, headers=headers)
        finally:
            app_state.release_slow.set()
        finished = await asyncio.wait_for(first, 10)

        assert retry.status_code == 409
        assert finished.status_code == 201
        assert await widget_count(tenant, "in-flight") == 1


class TestOtherMethods:
    async def test_a_key_on_a_get_is_ignored(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        headers = with_key(bearer(tenant, uuid.uuid4()), new_key())
        created = await client.post("/widgets", json={"name": "g"}, headers=bearer(tenant))
        widget_id = created.json()["id"]

        first = await client.get(f"/widgets/{widget_id}", headers=headers)
        second = await client.get(f"/widgets/{widget_id}", headers=headers)

        assert first.status_code == second.status_code == 200
        assert "idempotent-replayed" not in second.headers


class TestAnAnswerShowingASecret:
    """An answer marked `Cache-Control: no-store` shows a secret once: the key store keeps
    that the request was done, never the answer."""

    async def test_a_retry_is_a_409_pointing_at_the_result_and_creates_nothing(
        self,
        client: httpx.AsyncClient,
        bearer: Any,
        tenant: uuid.UUID,
        widget_count: Any,
        app_state: Any,
    ) -> None:
        headers = with_key(bearer(tenant, uuid.uuid4()), new_key())

        first = await client.post("/widgets/with-secret", json={"name": "sec"}, headers=headers)
        second = await client.post("/widgets/with-secret", json={"name": "sec"}, headers=headers)

        assert first.status_code == 201
        assert first.json()["secret"].startswith("sk_")
        assert second.status_code == 409, second.text
        assert second.headers["content-type"] == "application/problem+json"
        assert second.headers["location"] == f"/widgets/{first.json()['id']}"
        assert "secret" in second.json()["detail"]
        assert first.json()["secret"] not in second.text
        assert await widget_count(tenant, "sec") == 1
        assert app_state.calls["create_with_secret"] == 1

    async def test_the_secret_is_nowhere_in_the_key_store(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID, db: Any
    ) -> None:
        key = new_key()
        created = await client.post(
            "/widgets/with-secret", json={"name": "kept"}, headers=with_key(bearer(tenant), key)
        )
        secret = created.json()["secret"]

        async with db.transaction(tenant) as session:
            row = (
                await session.execute(
                    text("SELECT state, response_body FROM idempotency_keys WHERE key = :key"),
                    {"key": key},
                )
            ).one()
        assert row.state == "completed"
        assert secret.encode() not in bytes(row.response_body or b"")
