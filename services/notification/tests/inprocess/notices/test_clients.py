"""What notification makes of `crm.client.created` (the `client.created` notice), handed to its
own consumer runner (inbox, the handler in the runner's transaction) and read back through its
API. The people involved are known to it first (their `identity.member.added` delivered)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from agencyos.common.events import ClientCreated, CloudEvent, build_event
from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.notices import join, seed
from agencyos.testing.sql import fetch_rows


def client_created(
    who: Caller,
    *,
    created_by: uuid.UUID | None = None,
    owner_id: uuid.UUID | None = None,
    company_name: str | None = None,
) -> CloudEvent:
    client_id = uuid.uuid4()
    return build_event(
        ClientCreated(
            client_id=client_id,
            company_name=company_name or f"Client {client_id.hex[:8]}",
            status="lead",
            owner_id=owner_id,
            created_by=created_by or who.user_id,
        ),
        tenant_id=who.agency_id,
        source_service="crm",
        subject=f"clients/{client_id}",
    )


async def notifications_of(client: httpx.AsyncClient, who: Caller) -> list[dict[str, Any]]:
    response = await client.get("/v1/notifications", params={"per_page": 200}, headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def about(items: list[dict[str, Any]], event: CloudEvent) -> list[dict[str, Any]]:
    return [n for n in items if n["data"].get("client_id") == event.data["client_id"]]


async def rows(in_process: InProcess, event: CloudEvent, query: str, *args: Any) -> list[Any]:
    service = await in_process.service("notification")
    return await fetch_rows(
        in_process.infra, service.database, query, *args, tenant_id=event.tenantid, owner=True
    )


class TestDuplicateDelivery:
    async def test_the_same_event_delivered_again_and_again_notifies_once(
        self, in_process: InProcess, notification: httpx.AsyncClient, agency: Caller
    ) -> None:
        await seed(in_process, agency)
        event = client_created(agency)

        outcomes = [await in_process.deliver("notification", event) for _ in range(3)]

        assert outcomes == ["ok", "duplicate", "duplicate"]
        assert len(about(await notifications_of(notification, agency), event)) == 1
        notes = await rows(
            in_process,
            event,
            "SELECT user_id FROM notifications WHERE data->>'client_id' = $1",
            event.data["client_id"],
        )
        assert len(notes) == 1
        inbox = await rows(in_process, event, "SELECT 1 FROM inbox WHERE event_id = $1", event.id)
        assert len(inbox) == 1

    async def test_two_events_for_the_same_client_with_different_ids_are_two_notifications(
        self, in_process: InProcess, notification: httpx.AsyncClient, agency: Caller
    ) -> None:
        await seed(in_process, agency)
        event = client_created(agency)
        twin = event.model_copy(update={"id": uuid.uuid4()})

        assert await in_process.deliver("notification", event) == "ok"
        assert await in_process.deliver("notification", twin) == "ok"

        assert len(about(await notifications_of(notification, agency), event)) == 2


class TestRecipient:
    async def test_the_creator_who_owns_the_client_is_told_it_was_created(
        self, in_process: InProcess, notification: httpx.AsyncClient, agency: Caller
    ) -> None:
        await seed(in_process, agency)
        event = client_created(agency, company_name="Acme Corp")

        await in_process.deliver("notification", event)

        [note] = about(await notifications_of(notification, agency), event)
        assert note["kind"] == "client.created"
        assert note["title"] == "Client \u201cAcme Corp\u201d was created"
        assert note["link"] == f"/v1/clients/{event.data['client_id']}"
        assert note["subject"] == event.subject
        assert note["data"] == {"client_id": event.data["client_id"]}
        assert note["read_at"] is None

    async def test_an_owner_other_than_the_creator_is_the_one_notified(
        self,
        in_process: InProcess,
        notification: httpx.AsyncClient,
        tenant: Agency,
        agency: Caller,
    ) -> None:
        await seed(in_process, agency)
        owner = await join(in_process, tenant, "member")
        event = client_created(
            agency, created_by=agency.user_id, owner_id=owner.user_id, company_name="Globex"
        )

        await in_process.deliver("notification", event)

        [note] = about(await notifications_of(notification, owner), event)
        assert note["title"] == "You are now the owner of \u201cGlobex\u201d"
        notes = await rows(
            in_process,
            event,
            "SELECT user_id, source_event_id FROM notifications WHERE data->>'client_id' = $1",
            event.data["client_id"],
        )
        assert [(n["user_id"], n["source_event_id"]) for n in notes] == [(owner.user_id, event.id)]
        assert about(await notifications_of(notification, agency), event) == []


class TestVisibility:
    async def test_a_user_sees_only_their_own_notifications(
        self,
        in_process: InProcess,
        notification: httpx.AsyncClient,
        tenant: Agency,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        await seed(in_process, agency, other_agency)
        colleague = await join(in_process, tenant, "member")
        for_owner = client_created(agency)
        for_colleague = client_created(agency, owner_id=colleague.user_id)
        for_stranger = client_created(other_agency)
        for event in (for_owner, for_colleague, for_stranger):
            assert await in_process.deliver("notification", event) == "ok"

        mine = await notifications_of(notification, agency)
        colleagues = await notifications_of(notification, colleague)
        strangers = await notifications_of(notification, other_agency)

        assert [n["data"]["client_id"] for n in mine] == [for_owner.data["client_id"]]
        assert [n["data"]["client_id"] for n in colleagues] == [for_colleague.data["client_id"]]
        assert [n["data"]["client_id"] for n in strangers] == [for_stranger.data["client_id"]]

    async def test_listing_notifications_needs_a_token(
        self, notification: httpx.AsyncClient
    ) -> None:
        response = await notification.get("/v1/notifications")

        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"


class TestPreferences:
    async def test_an_owner_who_turned_the_kind_off_in_app_is_not_told(
        self, in_process: InProcess, notification: httpx.AsyncClient, agency: Caller
    ) -> None:
        await seed(in_process, agency)
        turned_off = await notification.put(
            "/v1/notification-preferences",
            json={"preferences": [{"kind": "client.created", "in_app": False}]},
            headers=agency.headers,
        )
        assert turned_off.status_code == 200, turned_off.text
        quiet = client_created(agency)

        assert await in_process.deliver("notification", quiet) == "ok"

        assert about(await notifications_of(notification, agency), quiet) == []


class TestNotYetKnown:
    async def test_an_owner_notification_does_not_know_yet_is_told_once_they_join(
        self,
        in_process: InProcess,
        notification: httpx.AsyncClient,
        tenant: Agency,
        agency: Caller,
    ) -> None:
        await seed(in_process, agency)
        newcomer = tenant.caller("member")
        event = client_created(agency, owner_id=newcomer.user_id, company_name="Initech")

        assert await in_process.deliver("notification", event) == "ok"
        assert about(await notifications_of(notification, newcomer), event) == []
        await seed(in_process, newcomer)

        [note] = about(await notifications_of(notification, newcomer), event)
        assert note["title"] == "You are now the owner of \u201cInitech\u201d"
