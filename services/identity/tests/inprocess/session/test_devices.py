"""New device or network: a sign-in from a user agent + network (/24, /48) the user has not
signed in from before writes `identity.sign_in.new_device` (emailed by notification) and an
audit record, once; never for the first sign-in (signup)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.common.actor_context import CLIENT_IP_HEADER
from agencyos.identity.session.devices import network_of
from agencyos.testing.factories import PASSWORD, AgencySession, signup_agency

Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]

NEW_DEVICE = "identity.sign_in.new_device"
LAPTOP = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) Safari/604.1"


async def sign_in(
    identity: httpx.AsyncClient, who: AgencySession, user_agent: str, ip: str
) -> None:
    response = await identity.post(
        "/v1/auth/login",
        json={"email": who.email, "password": PASSWORD},
        headers={"User-Agent": user_agent, CLIENT_IP_HEADER: ip},
    )
    assert response.status_code == 200, response.text


async def notices(outbox: Outbox, who: AgencySession) -> list[dict[str, Any]]:
    return [
        e["data"]
        for e in await outbox(NEW_DEVICE, who.agency_id)
        if e["data"]["user_id"] == str(who.user_id)
    ]


class TestNewDevice:
    async def test_signup_is_the_first_sign_in_and_sends_no_notice(
        self, identity: httpx.AsyncClient, outbox: Outbox
    ) -> None:
        owner = await signup_agency(identity)

        assert await notices(outbox, owner) == []

    async def test_a_new_device_is_told_once_and_the_same_one_again_is_not(
        self, identity: httpx.AsyncClient, outbox: Outbox
    ) -> None:
        owner = await signup_agency(identity)

        await sign_in(identity, owner, PHONE, "198.51.100.20")
        await sign_in(identity, owner, PHONE, "198.51.100.20")
        # another address in the same /24: the same network
        await sign_in(identity, owner, PHONE, "198.51.100.99")

        [notice] = await notices(outbox, owner)
        assert notice["email"] == owner.email
        assert notice["user_agent"] == PHONE
        assert notice["ip_address"] == "198.51.100.20"
        assert notice["agency_id"] == str(owner.agency_id)
        audit = [
            e["data"]
            for e in await outbox("audit.recorded", owner.agency_id)
            if e["data"]["action"] == "auth.new_device_sign_in"
        ]
        assert len(audit) == 1
        assert audit[0]["detail"] == {"user_agent": PHONE, "ip_address": "198.51.100.20"}

    @pytest.mark.parametrize(
        ("user_agent", "ip"),
        [(LAPTOP, "192.0.2.10"), (PHONE, "127.0.0.1")],
        ids=["same-device-new-network", "new-device-same-network"],
    )
    async def test_a_new_network_or_a_new_user_agent_is_new(
        self, identity: httpx.AsyncClient, outbox: Outbox, user_agent: str, ip: str
    ) -> None:
        owner = await signup_agency(identity)  # python-httpx from 127.0.0.1
        await sign_in(identity, owner, LAPTOP, "127.0.0.1")  # the laptop, at home
        before = len(await notices(outbox, owner))

        await sign_in(identity, owner, user_agent, ip)

        assert len(await notices(outbox, owner)) == before + 1


class TestNetworks:
    @pytest.mark.parametrize(
        ("address", "network"),
        [
            ("203.0.113.7", "203.0.113.0/24"),
            ("2001:db8:1:2:3::9", "2001:db8:1::/48"),
            ("::ffff:203.0.113.7", "203.0.113.0/24"),
            ("not an address", "not an address"),
            (None, ""),
        ],
        ids=["ipv4", "ipv6", "mapped", "garbage", "none"],
    )
    def test_a_sign_in_network_is_the_address_s_24_or_48(
        self, address: str | None, network: str
    ) -> None:
        assert network_of(address) == network
