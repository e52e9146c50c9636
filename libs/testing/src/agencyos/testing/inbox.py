"""What a person was told, read the way they read it: their in-app notifications through the
gateway (`GET /v1/notifications` with their token) and their email in mailpit, and the links
in either followed through the gateway."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from agencyos.testing.factories import AgencySession
from agencyos.testing.infra import wait_for
from agencyos.testing.mailpit import Mailpit, Message
from agencyos.testing.platform import Platform


async def notifications(
    gateway: httpx.AsyncClient, who: AgencySession, kind: str | None = None
) -> list[dict[str, Any]]:
    """`who`'s in-app notifications (of `kind`), newest first."""
    params: dict[str, Any] = {"per_page": 100}
    if kind is not None:
        params["kind"] = kind
    response = await gateway.get("/v1/notifications", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def wait_for_notice(
    gateway: httpx.AsyncClient,
    who: AgencySession,
    kind: str,
    where: Callable[[dict[str, Any]], bool] = lambda _: True,
    *,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """`who`'s one notification of `kind` matching `where`, once it is there."""

    async def found() -> list[dict[str, Any]]:
        return [n for n in await notifications(gateway, who, kind) if where(n)]

    matching = await wait_for(found, timeout=timeout)
    assert isinstance(matching, list)
    [notice] = matching
    return dict(notice)


async def about(
    gateway: httpx.AsyncClient, who: AgencySession, kind: str, key: str, value: object
) -> list[dict[str, Any]]:
    """`who`'s notifications of `kind` whose data names `value` under `key` (now)."""
    return [n for n in await notifications(gateway, who, kind) if n["data"].get(key) == str(value)]


async def one_email(
    mailpit: Mailpit, to: str, subject_has: str, *, timeout: float = 30.0
) -> Message:
    """The one message to `to` whose subject contains `subject_has`, once it arrived."""

    async def arrived() -> list[Message]:
        return [m for m in await mailpit.messages_to(to) if subject_has in m.subject]

    matching = await wait_for(arrived, timeout=timeout, interval=0.2)
    assert isinstance(matching, list)
    [message] = matching
    assert isinstance(message, Message)
    return message


def link_to(platform: Platform, message: Message, path_has: str) -> str:
    """The one link in `message`'s HTML leading through the gateway to a path containing
    `path_has`, as a path (the part after the gateway's address)."""
    found = [link for link in message.links if path_has in link]
    assert len(found) == 1, (path_has, message.links)
    [link] = found
    assert link.startswith(platform.gateway_url), link
    return link.removeprefix(platform.gateway_url)


def unsubscribe_link(platform: Platform, message: Message) -> str:
    """The unsubscribe link in a notice email's body, as a path through the gateway."""
    return link_to(platform, message, "/v1/notification-preferences/unsubscribe")


async def follow(
    gateway: httpx.AsyncClient, path: str, who: AgencySession | None = None
) -> httpx.Response:
    """GET `path` through the gateway, as `who` (or with no token at all)."""
    return await gateway.get(path, headers=who.headers if who is not None else None)
