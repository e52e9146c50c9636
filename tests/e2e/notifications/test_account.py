"""A person's own email through the whole platform: the password reset email's link is valid
and sets a new password; the unsubscribe link in a notice email, followed without a login,
stops that kind's email for that person (the in-app notice still comes) and nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from agencyos.testing.deals import create_client, create_deal
from agencyos.testing.factories import AgencySession, add_member, new_project
from agencyos.testing.inbox import link_to, one_email, open_link, unsubscribe_link, wait_for_notice
from agencyos.testing.mailpit import Mailpit
from agencyos.testing.platform import Platform

pytestmark = pytest.mark.e2e


@pytest.fixture
async def mailpit(platform: Platform) -> AsyncIterator[Mailpit]:
    async with Mailpit(platform.mailpit_url) as client:
        yield client


class TestPasswordReset:
    async def test_the_emailed_link_is_valid_and_its_token_sets_the_new_password(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        mailpit: Mailpit,
        agency: AgencySession,
    ) -> None:
        requested = await gateway.post("/v1/auth/password-reset", json={"email": agency.email})
        assert requested.status_code == 202, requested.text

        message = await one_email(mailpit, agency.email, "assword")
        assert message.to == [agency.email]
        path = link_to(platform, message, "/v1/auth/password-reset/confirm?token=")
        checked = await open_link(gateway, path)  # the link, as a mail client opens it
        assert checked.status_code == 200, checked.text
        assert checked.json()["valid"] is True
        token = httpx.URL(path).params["token"]
        new_password = "an entirely new passphrase"
        confirmed = await gateway.post(
            "/v1/auth/password-reset/confirm", json={"token": token, "new_password": new_password}
        )
        assert confirmed.status_code == 204, confirmed.text
        login = await gateway.post(
            "/v1/auth/login", json={"email": agency.email, "password": new_password}
        )
        assert login.status_code == 200, login.text
        spent = await open_link(gateway, path)
        assert spent.status_code == 400, spent.text


async def assign(
    gateway: httpx.AsyncClient, who: AgencySession, client: dict[str, Any], to: AgencySession
) -> dict[str, Any]:
    deal = await create_deal(gateway, who, client)
    response = await gateway.patch(
        f"/v1/deals/{deal['id']}", json={"assigned_to": str(to.user_id)}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    return deal


async def rejected_week(
    gateway: httpx.AsyncClient, owner: AgencySession, who: AgencySession
) -> dict[str, Any]:
    """`who` logs an hour last Monday on a new project and submits the week; the owner
    sends it back."""
    project = await new_project(gateway, owner, who)
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday() + 7)
    started = datetime(monday.year, monday.month, monday.day, 10, tzinfo=UTC)
    logged = await gateway.post(
        "/v1/time-entries",
        json={
            "project_id": project["id"],
            "started_at": started.isoformat(),
            "ended_at": (started + timedelta(hours=1)).isoformat(),
        },
        headers=who.headers,
    )
    assert logged.status_code == 201, logged.text
    week = f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}"
    sheet = (await gateway.get("/v1/timesheets", params={"week": week}, headers=who.headers)).json()
    for caller, action, body in ((who, "submit", None), (owner, "reject", {"reason": "Too short"})):
        acted = await gateway.post(
            f"/v1/timesheets/{sheet['id']}/{action}", json=body, headers=caller.headers
        )
        assert acted.status_code == 200, acted.text
    return dict(sheet)


async def deliveries(
    gateway: httpx.AsyncClient, owner: AgencySession, to: str
) -> list[dict[str, Any]]:
    """The emails queued for `to` (the agency's delivery log, read by its owner)."""
    listed = await gateway.get("/v1/email-deliveries", params={"to": to}, headers=owner.headers)
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


class TestTheUnsubscribeLink:
    async def test_stops_that_kinds_email_for_that_person_only(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        mailpit: Mailpit,
        agency: AgencySession,
    ) -> None:
        seller = await add_member(platform, gateway, agency, "member")
        colleague = await add_member(platform, gateway, agency, "member")
        client = await create_client(gateway, agency)
        first = await assign(gateway, agency, client, seller)
        message = await one_email(mailpit, seller.email, first["title"])

        unsubscribed = await open_link(gateway, unsubscribe_link(platform, message))  # no token

        assert unsubscribed.status_code == 200, unsubscribed.text
        assert (unsubscribed.json()["kind"], unsubscribed.json()["email"]) == (
            "deal.assigned",
            False,
        )
        mine = await gateway.get("/v1/notification-preferences", headers=seller.headers)
        [setting] = [p for p in mine.json()["preferences"] if p["kind"] == "deal.assigned"]
        assert setting["email"]["enabled"] is False
        assert setting["in_app"]["enabled"] is True

        second = await assign(gateway, agency, client, seller)
        theirs = await assign(gateway, agency, client, colleague)
        # the in-app row and any email are written together: once the row is there, the
        # email would have been queued
        await wait_for_notice(
            gateway, seller, "deal.assigned", lambda n: n["data"]["deal_id"] == second["id"]
        )
        assert [d["kind"] for d in await deliveries(gateway, agency, seller.email)].count(
            "deal.assigned"
        ) == 1
        # the colleague still gets the email of that kind
        await one_email(mailpit, colleague.email, theirs["title"])
        # and the seller still gets another kind's email
        sheet = await rejected_week(gateway, agency, seller)
        sent_back = await one_email(mailpit, seller.email, "was sent back")
        assert link_to(platform, sent_back, f"/v1/timesheets/{sheet['id']}")
        assert [m.subject for m in await mailpit.messages_to(seller.email)].count(
            message.subject
        ) == 1
        assert not [
            m for m in await mailpit.messages_to(seller.email) if second["title"] in m.subject
        ]


class TestTheListUnsubscribeHeader:
    async def test_carries_the_bodys_unsubscribe_link_as_a_bare_url(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        mailpit: Mailpit,
        agency: AgencySession,
    ) -> None:
        seller = await add_member(platform, gateway, agency, "member")
        deal = await assign(gateway, agency, await create_client(gateway, agency), seller)
        message = await one_email(mailpit, seller.email, deal["title"])

        header = message.header("List-Unsubscribe")

        assert header == f"<{platform.gateway_url}{unsubscribe_link(platform, message)}>"
        assert message.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
