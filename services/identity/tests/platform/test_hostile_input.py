"""The `clients.export` permission given to a role in identity, enforced by CRM once the
member's token is refreshed."""

from __future__ import annotations

import httpx

from agencyos.testing.factories import AgencySession, add_member, refreshed
from agencyos.testing.platform import Platform


class TestExportPermission:
    async def test_an_owner_can_give_the_member_role_the_export(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        listed = await gateway.get("/v1/roles", headers=agency.headers)
        member_role = {i["role"]: i for i in listed.json()["items"]}["member"]

        tuned = await gateway.put(
            "/v1/roles/member",
            json={"permissions": [*member_role["permissions"], "clients.export"]},
            headers=agency.headers,
        )
        member = await refreshed(gateway, member)
        export = await gateway.get("/v1/clients/export", headers=member.headers)

        assert tuned.status_code == 200, tuned.text
        assert "clients.export" in tuned.json()["permissions"]
        assert export.status_code == 200, export.text
