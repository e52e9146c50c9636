"""What a person was told, read the way they read it: their in-app notifications through the
gateway, their emails in mailpit, and the links in both followed through the gateway."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from agencyos.testing.factories import PASSWORD, AgencySession, invite, new_project, new_task
from agencyos.testing.infra import wait_for
from agencyos.testing.mailpit import Mailpit, Message, unique_address
from agencyos.testing.platform import Platform

Notice = dict[str, Any]

# How long a journey waits for what it expects to be told. Generous: in a full parallel run
# one notification consumer hears every test's events, and a busy topic (identity's, where
# every signup lands) can run half a minute behind a quiet one. Only a failure waits it out.
TOLD_WITHIN_SECONDS = 90.0


async def join(
    gateway: httpx.AsyncClient,
    inviter: AgencySession,
    role: str,
    *,
    name: str,
    client_id: uuid.UUID | str | None = None,
) -> AgencySession:
    """A new person of the inviter's agency with `role` and `name` and an address of their
    own, through the invitation API (a client user bound to `client_id`)."""
    email = unique_address(role)
    invitation = await invite(
        gateway, inviter, email, role, uuid.UUID(str(client_id)) if client_id else None
    )
    response = await gateway.post(
        f"/v1/invitations/{invitation['token']}/accept",
        json={"name": name, "password": PASSWORD},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return AgencySession(
        agency_id=inviter.agency_id,
        slug=inviter.slug,
        user_id=uuid.UUID(body["user"]["id"]),
        email=email,
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        role=role,
    )


async def notices(
    gateway: httpx.AsyncClient, who: AgencySession, kind: str | None = None
) -> list[Notice]:
    """`who`'s in-app notifications (of `kind`), newest first, as the API lists them."""
    params: dict[str, str | int] = {"per_page": 100}
    if kind:
        params["kind"] = kind
    response = await gateway.get("/v1/notifications", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[Notice] = response.json()["items"]
    return items


async def wait_for_notice(
    gateway: httpx.AsyncClient,
    who: AgencySession,
    kind: str,
    where: Callable[[Notice], bool] = lambda _: True,
    *,
    timeout: float = TOLD_WITHIN_SECONDS,
) -> Notice:
    """The one notification of `kind` to `who` matching `where`, once it is there (fails
    if there are two)."""

    async def found() -> list[Notice]:
        return [n for n in await notices(gateway, who, kind) if where(n)]

    matching = await wait_for(found, timeout=timeout)
    assert isinstance(matching, list)
    [notice] = matching
    found_notice: Notice = notice
    return found_notice


def about(key: str, value: object) -> Callable[[Notice], bool]:
    """A notice whose data names `key` = `value` (a task, a deliverable, a project)."""
    return lambda notice: notice["data"].get(key) == str(value)


async def emailed(
    platform: Platform, to: str, subject: str, *, timeout: float = TOLD_WITHIN_SECONDS
) -> Message:
    """The one email to `to` whose subject is `subject`, once mailpit has it (fails if there
    are two: nothing is sent twice)."""
    async with Mailpit(platform.mailpit_url) as mailpit:

        async def found() -> list[Message]:
            return [m for m in await mailpit.messages_to(to) if m.subject == subject]

        matching = await wait_for(found, timeout=timeout)
    assert isinstance(matching, list)
    [message] = matching
    assert isinstance(message, Message)
    assert message.to == [to]
    return message


async def subjects(platform: Platform, to: str) -> list[str]:
    """The subjects of every email mailpit holds for `to`."""
    async with Mailpit(platform.mailpit_url) as mailpit:
        return [s["Subject"] for s in await mailpit.summaries(to)]


def link_in(message: Message, platform: Platform, path: str) -> str:
    """The one link of `message` to `path` through this run's gateway (a path under it)."""
    url = f"{platform.gateway_url}{path}"
    matching = [link for link in message.links if link == url]
    assert matching == [url], message.links
    assert url in message.text
    return path


async def follow(
    gateway: httpx.AsyncClient, path: str, who: AgencySession | None = None
) -> dict[str, Any]:
    """GET `path` through the gateway (as `who`), expecting 200; its JSON."""
    response = await gateway.get(path, headers=who.headers if who else None)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    return body


async def agency_name(gateway: httpx.AsyncClient, owner: AgencySession) -> str:
    name: str = (await follow(gateway, "/v1/agency", owner))["name"]
    return name


async def heard_only_a_later_notice(
    gateway: httpx.AsyncClient, owner: AgencySession, who: AgencySession
) -> None:
    """`who` (a member) is given a task of a new project of their own; once that reaches
    them, every earlier event of work was handled (one agency's events keep their order),
    and it must be all they were told."""
    side = await new_project(gateway, owner, who)
    sentinel = await new_task(gateway, owner, side["id"], assignee_ids=[str(who.user_id)])
    await wait_for_notice(gateway, who, "task.assigned", about("task_id", sentinel["id"]))
    told = await notices(gateway, who)
    assert [n["data"].get("task_id") for n in told] == [sentinel["id"]], told


async def notices_about(
    gateway: httpx.AsyncClient, who: AgencySession, kind: str, key: str, value: object
) -> list[Notice]:
    """`who`'s notifications of `kind` whose data names `value` under `key` (now)."""
    return [n for n in await notices(gateway, who, kind) if about(key, value)(n)]


async def one_email(
    mailpit: Mailpit, to: str, subject_has: str, *, timeout: float = TOLD_WITHIN_SECONDS
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


async def open_link(
    gateway: httpx.AsyncClient, path: str, who: AgencySession | None = None
) -> httpx.Response:
    """GET `path` through the gateway, as `who` (or with no token at all), whatever it answers."""
    return await gateway.get(path, headers=who.headers if who is not None else None)
