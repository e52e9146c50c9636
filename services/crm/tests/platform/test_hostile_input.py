"""Who may export the client book, through the gateway (the export permission granted by an
owner in identity reaches CRM in a refreshed token)."""

from __future__ import annotations

import httpx

from agencyos.testing.factories import AgencySession, add_member, refreshed
from agencyos.testing.http import assert_problem
from agencyos.testing.platform import Platform


class TestExportPermission:
    async def test_a_member_may_not_export_the_client_book_but_a_manager_may(
        self, gateway: httpx.AsyncClient, platform: Platform, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        manager = await add_member(platform, gateway, agency, "manager")

        refused = await gateway.get("/v1/clients/export", headers=member.headers)
        listed = await gateway.get("/v1/clients", headers=member.headers)
        exported = await gateway.get("/v1/clients/export", headers=manager.headers)

        assert_problem(refused, 403)
        assert "clients.export" in refused.json()["detail"]
        assert listed.status_code == 200, listed.text
        assert exported.status_code == 200, exported.text
        assert exported.text.startswith("company_name,")

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
