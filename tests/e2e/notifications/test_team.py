"""The team's notices through the whole platform: an invitation emailed to the invitee whose
link previews and accepts it (and the inviter hears it was accepted), and a role change told
to the member in the app and by email, each link followed through the gateway."""

from __future__ import annotations

import httpx
import pytest

from agencyos.testing.factories import PASSWORD, AgencySession, invite, refreshed
from agencyos.testing.inbox import (
    agency_name,
    emailed,
    follow,
    join,
    link_in,
    notices,
    wait_for_notice,
)
from agencyos.testing.mailpit import Mailpit, unique_address
from agencyos.testing.platform import Platform

pytestmark = pytest.mark.e2e


class TestInvitation:
    async def test_the_emailed_link_previews_and_accepts_and_the_inviter_hears_of_it(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        name = await agency_name(gateway, agency)
        to = unique_address("invitee")

        invitation = await invite(gateway, agency, to, "member")

        async with Mailpit(platform.mailpit_url) as mailpit:
            [message] = await mailpit.wait_for(to)
        assert message.to == [to]
        assert message.from_name == name
        assert message.subject.endswith(f"invited you to join {name} on AgencyOS")
        assert f"Sent by {name} through AgencyOS." in message.text
        accept = link_in(message, platform, f"/v1/invitations/{invitation['token']}/accept")
        preview = await follow(gateway, accept)
        assert (preview["email"], preview["role"]) == (to, "member")

        accepted = await gateway.post(accept, json={"name": "Grace Hopper", "password": PASSWORD})
        assert accepted.status_code == 201, accepted.text
        user_id = accepted.json()["user"]["id"]

        note = await wait_for_notice(gateway, agency, "invitation.accepted")
        assert note["title"] == "Grace Hopper accepted your invitation"
        assert note["link"] == f"/v1/members/{user_id}"
        member = await follow(gateway, note["link"], agency)
        assert (member["user_id"], member["email"]) == (user_id, to)


class TestRoleChanged:
    async def test_the_member_reads_it_in_the_app_and_by_email_and_the_owner_is_not_told(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        name = await agency_name(gateway, agency)
        member = await join(gateway, agency, "member", name="Ada Lovelace")
        bystander = await join(gateway, agency, "member", name="Otto Bystander")

        changed = await gateway.patch(
            f"/v1/members/{member.user_id}", json={"role": "manager"}, headers=agency.headers
        )
        assert changed.status_code == 200, changed.text
        member = await refreshed(gateway, member)

        note = await wait_for_notice(gateway, member, "member.role_changed")
        assert note["title"] == "Your role is now manager"
        assert note["link"] == f"/v1/members/{member.user_id}"
        message = await emailed(platform, member.email, "Your role is now manager")
        assert message.from_name == name
        assert "Hello Ada Lovelace," in message.text
        assert "changed your role from member to manager" in message.text
        link = link_in(message, platform, note["link"])
        shown = await follow(gateway, link, member)
        assert (shown["user_id"], shown["role"]) == (str(member.user_id), "manager")
        # the bystander's own change, told after, proves the first was handled for everyone
        await gateway.patch(
            f"/v1/members/{bystander.user_id}", json={"role": "manager"}, headers=agency.headers
        )
        bystander = await refreshed(gateway, bystander)
        await wait_for_notice(gateway, bystander, "member.role_changed")
        assert await notices(gateway, agency, "member.role_changed") == []
        assert [n["data"]["user_id"] for n in await notices(gateway, bystander)] == [
            str(bystander.user_id)
        ]
