"""Notices end to end: identity's real events, through Kafka, into notification's directory
and its notices, read back through the gateway by the person told."""

from __future__ import annotations

from typing import Any

import httpx

from agencyos.testing.factories import AgencySession, add_member, refreshed
from agencyos.testing.infra import wait_for
from agencyos.testing.platform import Platform


async def notices(
    gateway: httpx.AsyncClient, who: AgencySession, kind: str
) -> list[dict[str, Any]]:
    response = await gateway.get("/v1/notifications", params={"kind": kind}, headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


class TestRoleChanged:
    async def test_a_member_reads_that_the_owner_changed_their_role_and_the_owner_is_not_told(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")

        changed = await gateway.patch(
            f"/v1/members/{member.user_id}", json={"role": "manager"}, headers=agency.headers
        )
        assert changed.status_code == 200, changed.text
        member = await refreshed(gateway, member)

        async def told() -> list[dict[str, Any]]:
            return await notices(gateway, member, "member.role_changed")

        [note] = await wait_for(told, timeout=90)
        assert note["title"] == "Your role is now manager"
        assert note["link"] == f"/v1/members/{member.user_id}"
        assert await notices(gateway, agency, "member.role_changed") == []
