"""The client export granted to a member by an owner: the grant is identity's, and reaches CRM
in the member's refreshed token."""

from __future__ import annotations

import httpx

from agencyos.testing.factories import AgencySession, add_member, refreshed
from agencyos.testing.platform import Platform


class TestExportPermission:
    async def test_an_owner_can_grant_a_member_the_export(
        self, gateway: httpx.AsyncClient, platform: Platform, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        granted = await gateway.put(
            f"/v1/members/{member.user_id}/permissions",
            json={"granted": ["clients.export"], "revoked": []},
            headers=agency.headers,
        )
        assert granted.status_code == 200, granted.text

        member = await refreshed(gateway, member)
        response = await gateway.get("/v1/clients/export", headers=member.headers)

        assert response.status_code == 200, response.text
