"""Deal notices through the whole platform: CRM's API assigns, wins and loses deals; the
assignee (never the one who acted, never another member) hears in the app, gets the
`deal.assigned` email, and its link opens the deal through the gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from agencyos.testing.deals import create_client, create_deal, moved
from agencyos.testing.factories import AgencySession, add_member
from agencyos.testing.inbox import link_to, notices_about, one_email, open_link, wait_for_notice
from agencyos.testing.mailpit import Mailpit
from agencyos.testing.platform import Platform

pytestmark = pytest.mark.e2e


@pytest.fixture
async def mailpit(platform: Platform) -> AsyncIterator[Mailpit]:
    async with Mailpit(platform.mailpit_url) as client:
        yield client


async def assign(
    gateway: httpx.AsyncClient, who: AgencySession, deal_id: str, to: AgencySession
) -> None:
    response = await gateway.patch(
        f"/v1/deals/{deal_id}", json={"assigned_to": str(to.user_id)}, headers=who.headers
    )
    assert response.status_code == 200, response.text


class TestADealAssignedToAMember:
    async def test_tells_them_in_the_app_and_by_email_whose_link_opens_the_deal(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        mailpit: Mailpit,
        agency: AgencySession,
    ) -> None:
        seller = await add_member(platform, gateway, agency, "member")
        bystander = await add_member(platform, gateway, agency, "member")
        client = await create_client(gateway, agency)
        deal = await create_deal(gateway, agency, client, value_cents=1_250_000, currency="EUR")

        await assign(gateway, agency, deal["id"], seller)

        notice = await wait_for_notice(
            gateway, seller, "deal.assigned", lambda n: n["data"]["deal_id"] == deal["id"]
        )
        assert deal["title"] in notice["title"]
        assert "12,500.00 EUR" in notice["body"]
        assert (notice["link"], notice["actor_id"]) == (
            f"/v1/deals/{deal['id']}",
            str(agency.user_id),
        )
        message = await one_email(mailpit, seller.email, deal["title"])
        assert message.to == [seller.email]
        assert message.subject == notice["title"]
        brand = (await gateway.get("/v1/agency", headers=agency.headers)).json()["name"]
        assert message.from_name == brand
        assert "12,500.00 EUR" in message.text
        opened = await open_link(
            gateway, link_to(platform, message, f"/v1/deals/{deal['id']}"), seller
        )
        assert opened.status_code == 200, opened.text
        assert opened.json()["id"] == deal["id"]
        # a later assignment to the bystander proves the first was handled: nobody else heard
        sentinel = await create_deal(gateway, agency, client)
        await assign(gateway, agency, sentinel["id"], bystander)
        await wait_for_notice(
            gateway, bystander, "deal.assigned", lambda n: n["data"]["deal_id"] == sentinel["id"]
        )
        assert await notices_about(gateway, bystander, "deal.assigned", "deal_id", deal["id"]) == []
        assert await notices_about(gateway, agency, "deal.assigned", "deal_id", deal["id"]) == []


class TestADealWonOrLost:
    async def test_tells_its_assignee_and_not_the_one_who_moved_it_nor_anyone_else(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        seller = await add_member(platform, gateway, agency, "member")
        bystander = await add_member(platform, gateway, agency, "member")
        manager = await add_member(platform, gateway, agency, "manager")
        client = await create_client(gateway, agency)
        won = await create_deal(
            gateway, agency, client, assigned_to=str(seller.user_id), value_cents=990_000
        )
        lost = await create_deal(gateway, agency, client, assigned_to=str(seller.user_id))
        own = await create_deal(gateway, manager, client, assigned_to=str(manager.user_id))

        await moved(gateway, manager, won["id"], stage="won")
        await moved(gateway, manager, lost["id"], stage="lost", lost_reason="Went in-house")
        await moved(gateway, manager, own["id"], stage="won")

        won_notice = await wait_for_notice(
            gateway, seller, "deal.won", lambda n: n["data"]["deal_id"] == won["id"]
        )
        assert won_notice["title"] == f"Your deal {quote(won['title'])} was won"
        assert "9,900.00 EUR" in won_notice["body"]
        assert won_notice["actor_id"] == str(manager.user_id)
        followed = await open_link(gateway, won_notice["link"], seller)
        assert followed.status_code == 200, followed.text
        assert (followed.json()["id"], followed.json()["probability"]) == (won["id"], 100)
        lost_notice = await wait_for_notice(
            gateway, seller, "deal.lost", lambda n: n["data"]["deal_id"] == lost["id"]
        )
        assert lost_notice["title"] == f"Your deal {quote(lost['title'])} was lost"
        assert lost_notice["body"] == "Reason: Went in-house"
        # a later notice (the sentinel) proves every move before it was handled
        sentinel = await create_deal(gateway, agency, client)
        await moved(gateway, agency, sentinel["id"], stage="won")
        await assign(gateway, agency, sentinel["id"], bystander)
        await wait_for_notice(
            gateway, bystander, "deal.assigned", lambda n: n["data"]["deal_id"] == sentinel["id"]
        )
        # the manager won their own deal: an actor is never told what they did
        assert await notices_about(gateway, manager, "deal.won", "deal_id", own["id"]) == []
        for other in (bystander, manager, agency):
            for kind, deal in (("deal.won", won), ("deal.lost", lost)):
                assert await notices_about(gateway, other, kind, "deal_id", deal["id"]) == []


def quote(title: str) -> str:
    return f"\u201c{title}\u201d"
