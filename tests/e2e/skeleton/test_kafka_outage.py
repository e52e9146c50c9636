"""Kafka down is a delay, never a loss (ARCHITECTURE.md §5): with the broker stopped, clients
are still created (their events wait in crm's outbox); once it is back, every event reaches
the notification service exactly once, and the running services carry on without a restart.

This stops and starts the shared local broker (`deploy/local/stack.sh kafka stop|start`), so
it is `exclusive`: `make test` runs it alone, after the parallel run (any other test using
Kafka meanwhile would fail); the broker is started again in a `finally` whatever happens.
Readiness does not depend on Kafka: the services stay ready through the outage, and the
relay's `agencyos_kafka_reachable` gauge reports the broker instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agencyos.testing.factories import AgencySession, signup_agency
from agencyos.testing.infra import wait_for
from agencyos.testing.platform import REPO_ROOT, Platform, Process
from agencyos.testing.sql import fetch_value

pytestmark = [pytest.mark.e2e, pytest.mark.exclusive]

CLIENTS_DURING_OUTAGE = 20
STACK = REPO_ROOT / "deploy" / "local" / "stack.sh"


async def stack_kafka(action: str) -> None:
    """`stack.sh kafka <action>`; it returns once the broker is stopped / ready."""
    proc = await asyncio.create_subprocess_exec(
        "bash",
        str(STACK),
        "kafka",
        action,
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"stack.sh kafka {action} failed:\n{out.decode(errors='replace')}")


def uses_the_local_broker(platform: Platform) -> bool:
    port = os.environ.get("AGENCYOS_KAFKA_PORT", "9092")
    return platform.infra.kafka_bootstrap in (f"127.0.0.1:{port}", f"localhost:{port}")


async def notified_client_ids(gateway: httpx.AsyncClient, who: AgencySession) -> list[str]:
    response = await gateway.get("/v1/notifications", params={"per_page": 200}, headers=who.headers)
    assert response.status_code == 200, response.text
    return [item["data"]["client_id"] for item in response.json()["items"]]


async def unpublished_outbox_rows(platform: Platform, tenant_id: uuid.UUID) -> int:
    count: int = await fetch_value(
        platform.infra,
        platform.database("crm"),
        "SELECT count(*) FROM outbox WHERE tenant_id = $1 AND published_at IS NULL",
        tenant_id,
        owner=True,
        relay=True,
    )
    return count


async def _none_unpublished(platform: Platform, tenant_id: uuid.UUID) -> bool:
    return await unpublished_outbox_rows(platform, tenant_id) == 0


async def readiness(platform: Platform, service: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(f"{platform.url(service)}/readyz")


async def kafka_reachable_as_seen_by(platform: Platform, service: str) -> float | None:
    """`agencyos_kafka_reachable` from the service's /metrics (its outbox relay's view)."""
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{platform.url(service)}/metrics")
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "agencyos_kafka_reachable":
                return sample.value
    return None


async def kafka_reachable_again(platform: Platform) -> bool:
    return await kafka_reachable_as_seen_by(platform, "crm") == 1


def logged(process: Process, event: str) -> int:
    """How many of `process`'s JSON log lines are the structured event `event`."""
    count = 0
    for line in process.log_path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        count += isinstance(record, dict) and record.get("event") == event
    return count


RELAY_LOST_KAFKA = "outbox relay cannot reach kafka"


@asynccontextmanager
async def broker_stopped(platform: Platform) -> AsyncIterator[None]:
    """The shared broker is down inside the block and up again (and seen to be up by crm)
    after it, whatever happened inside."""
    if not uses_the_local_broker(platform):
        pytest.skip("the broker is not the local stack's, so this test cannot stop it")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.fail(
            "this test stops the shared Kafka broker under every other test: run it alone "
            "(`pytest -m exclusive`, as `make test` does after its parallel run)"
        )
    try:
        await stack_kafka("stop")
        # Readiness is not tied to Kafka: the outbox rides out the outage, so the API stays
        # in service instead of every pod turning unready.
        ready = await readiness(platform, "crm")
        assert ready.status_code == 200, ready.text
        yield
    finally:
        await stack_kafka("start")
    await wait_for(lambda: kafka_reachable_again(platform), timeout=60, interval=0.5)


class TestKafkaOutage:
    async def test_clients_created_while_kafka_is_down_each_notify_once_after_it_returns(
        self, platform: Platform, gateway: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(gateway)
        created: list[str] = []

        async with broker_stopped(platform):
            for i in range(CLIENTS_DURING_OUTAGE):
                response = await gateway.post(
                    "/v1/clients",
                    json={"company_name": f"Outage client {i}"},
                    headers={**owner.headers, "Idempotency-Key": f"outage-{uuid.uuid4()}"},
                )
                assert response.status_code == 201, response.text
                created.append(response.json()["id"])
            # Held, not lost: every event is waiting in the outbox.
            assert await unpublished_outbox_rows(platform, owner.agency_id) == len(created)

        async def all_notified() -> bool:
            return len(await notified_client_ids(gateway, owner)) >= CLIENTS_DURING_OUTAGE

        await wait_for(all_notified, timeout=180, interval=0.5)

        notified = await notified_client_ids(gateway, owner)
        assert sorted(notified) == sorted(created)  # every event arrived, none twice
        assert await unpublished_outbox_rows(platform, owner.agency_id) == 0
        inbox = await fetch_value(
            platform.infra,
            platform.database("notification"),
            # notification's own consumer (its automations consumer keeps an inbox of its own),
            # and only clients (it also records the agency's own identity events)
            "SELECT count(*) FROM inbox WHERE tenant_id = $1 AND consumer = 'notification' "
            "AND event_type = 'crm.client.created'",
            owner.agency_id,
            tenant_id=owner.agency_id,
            owner=True,
        )
        assert inbox == CLIENTS_DURING_OUTAGE

    async def test_the_relay_gives_up_on_an_unreachable_broker_instead_of_waiting_forever(
        self, platform: Platform, gateway: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(gateway)
        crm = platform.processes["crm"]
        # A first event published before the outage: the relay's producer now knows the
        # topic, as it does in any service that has been running for a while.
        first = await gateway.post(
            "/v1/clients", json={"company_name": "Before the outage"}, headers=owner.headers
        )
        assert first.status_code == 201, first.text
        await wait_for(lambda: _none_unpublished(platform, owner.agency_id), timeout=30)
        failures_before = logged(crm, RELAY_LOST_KAFKA)

        async with broker_stopped(platform):
            response = await gateway.post(
                "/v1/clients", json={"company_name": "Stuck in the outbox"}, headers=owner.headers
            )
            assert response.status_code == 201, response.text

            # The producer's request timeout is 10 s: a relay that bounds its wait reports
            # the broker as unreachable (and releases its transaction) well within this.
            await wait_for(lambda: logged(crm, RELAY_LOST_KAFKA) > failures_before, timeout=40)
            # What an SRE sees instead of an unready fleet: the relay's gauge and its alert.
            assert await kafka_reachable_as_seen_by(platform, "crm") == 0

    async def test_the_platform_keeps_working_after_the_broker_came_back(
        self, platform: Platform, gateway: httpx.AsyncClient
    ) -> None:
        """Runs after the outage above: the same service processes (none restarted) publish
        and consume a new event end to end."""
        for name, process in platform.processes.items():
            assert process.popen is not None
            assert process.popen.poll() is None, f"{name} died:\n{process.log_tail()}"
        owner = await signup_agency(gateway)

        response = await gateway.post(
            "/v1/clients", json={"company_name": "After the outage"}, headers=owner.headers
        )
        assert response.status_code == 201, response.text

        async def notified() -> list[str]:
            return await notified_client_ids(gateway, owner)

        assert await wait_for(notified, timeout=60) == [response.json()["id"]]
