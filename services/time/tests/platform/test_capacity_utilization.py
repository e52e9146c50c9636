"""Time's roster through the real Kafka topic: identity's member events, published by the real
identity service, keep the roster current, and a `member.added` redelivered through the topic
(after a later suspension) has no second effect. The roster's and capacity's own rules and the
utilization report are tested in the in-process tier (`tests/inprocess/team/`, `.../report/`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.common.events import CloudEvent, MemberAdded, build_event
from agencyos.testing.factories import AgencySession, add_member
from agencyos.testing.kafka import events_where, read_topic, topic_writer
from agencyos.testing.platform import Platform


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60.0
) -> None:
    """Wait until `check()` holds (the roster follows identity's events asynchronously)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.25)


async def roster(
    gateway: httpx.AsyncClient, who: AgencySession, **params: Any
) -> dict[str, dict[str, Any]]:
    response = await gateway.get(
        "/v1/capacity", params={"per_page": 200, **params}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    return {m["user_id"]: m for m in response.json()["items"]}


async def wait_for_member(
    gateway: httpx.AsyncClient,
    viewer: AgencySession,
    person: AgencySession,
    status: str | None = None,
    **expected: Any,
) -> dict[str, Any]:
    """`person`'s roster row once it matches `expected` (in the `status` list, if given)."""
    found: dict[str, Any] = {}

    async def check() -> bool:
        params = {"status": status} if status else {}
        row = (await roster(gateway, viewer, **params)).get(str(person.user_id))
        if row is None or any(row.get(k) != v for k, v in expected.items()):
            return False
        found.update(row)
        return True

    await eventually(check, f"{person.user_id} in the roster with {expected}")
    return found


# --- the roster ------------------------------------------------------------------------------


class TestRoster:
    async def test_a_redelivered_event_has_no_second_effect(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        topic = f"{platform.topic_prefix}identity.events"

        def added(records: list[Any]) -> list[dict[str, Any]]:
            return [
                e
                for e in events_where(
                    records, tenantid=str(agency.agency_id), type="identity.member.added"
                )
                if e["data"]["user_id"] == str(member.user_id)
            ]

        [original] = added(
            await read_topic(platform.infra.kafka_bootstrap, topic, lambda rs: len(added(rs)) >= 1)
        )
        await wait_for_member(gateway, agency, member, role="member")
        suspended = await gateway.post(
            f"/v1/members/{member.user_id}/suspend", headers=agency.headers
        )
        assert suspended.status_code == 200, suspended.text
        await wait_for_member(gateway, agency, member, "suspended")

        # the same `member.added` again (a redelivery), then a new person as a marker: once
        # the marker is in the roster, the redelivery before it has been handled
        marker = uuid.uuid4()
        marker_event = build_event(
            MemberAdded(
                agency_id=agency.agency_id,
                user_id=marker,
                email=f"marker-{marker.hex[:8]}@example.com",
                name="Zz Marker",
                role="member",
            ),
            tenant_id=agency.agency_id,
            source_service="identity",
        )
        async with topic_writer(platform.infra.kafka_bootstrap) as writer:
            await writer.send_event(topic, CloudEvent.model_validate(original))
            await writer.send_event(topic, marker_event)

        async def marker_arrived() -> bool:
            return str(marker) in await roster(gateway, agency)

        await eventually(marker_arrived, "the marker member in the roster")
        row = (await roster(gateway, agency, status="suspended"))[str(member.user_id)]
        assert row["status"] == "suspended"
