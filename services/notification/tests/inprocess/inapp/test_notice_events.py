"""What notification tells a person's feed and streams about their own notices: a new notice
(`notification.notice.created`, with their unread count after it) and an unread count that
changed on reading (`notification.unread_count.changed`), through the outbox in the same
transaction; nothing when nothing changed. And notification never consumes its own events."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from agencyos.notification.consumers import SUBSCRIPTION
from agencyos.notification.inapp.service import add_notification
from agencyos.testing.inprocess import Agency, Caller, InProcess

PATH = "/v1/notifications"
CREATED = "notification.notice.created"
CHANGED = "notification.unread_count.changed"


async def notify(in_process: InProcess, who: Caller, event_id: uuid.UUID) -> bool:
    database = (await in_process.service("notification")).ctx.database()
    async with database.transaction(who.agency_id) as session:
        return await add_notification(
            session,
            tenant_id=who.agency_id,
            user_id=who.user_id,
            kind="task.assigned",
            title="A task was assigned to you",
            body="Write the brief",
            link="/v1/tasks/1",
            source_event_id=event_id,
            actor_id=None,
        )


async def outbox(in_process: InProcess, who: Caller, event_type: str) -> list[dict[str, Any]]:
    service = await in_process.service("notification")
    return await service.outbox(who.agency_id, event_type)


async def notice_ids(client: httpx.AsyncClient, who: Caller) -> list[str]:
    response = await client.get(PATH, params={"per_page": 200}, headers=who.headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


class TestNoticeCreated:
    async def test_each_new_notice_is_told_with_the_unread_count_after_it(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")

        await notify(in_process, member, uuid.uuid4())
        await notify(in_process, member, uuid.uuid4())

        told = await outbox(in_process, member, CREATED)
        assert [event["data"]["unread_count"] for event in told] == [1, 2]
        first = told[0]
        assert first["source"] == "/agencyos/notification"
        assert first["tenantid"] == str(tenant.id)
        assert first["data"]["recipient_id"] == str(member.user_id)
        assert first["data"]["title"] == "A task was assigned to you"
        assert first["data"]["link"] == "/v1/tasks/1"
        assert sorted(event["data"]["notification_id"] for event in told) == sorted(
            await notice_ids(notification, member)
        )

    async def test_a_notice_written_once_is_told_once(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member, event_id = tenant.caller("member"), uuid.uuid4()

        assert await notify(in_process, member, event_id) is True
        assert await notify(in_process, member, event_id) is False

        assert len(await outbox(in_process, member, CREATED)) == 1


class TestUnreadCountChanged:
    async def test_reading_one_tells_the_new_count_and_reading_it_again_tells_nothing(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        await notify(in_process, member, uuid.uuid4())
        await notify(in_process, member, uuid.uuid4())
        newest = (await notice_ids(notification, member))[0]

        for _ in range(2):
            response = await notification.post(f"{PATH}/{newest}/read", headers=member.headers)
            assert response.status_code == 200, response.text

        told = await outbox(in_process, member, CHANGED)
        assert [event["data"] for event in told] == [
            {"recipient_id": str(member.user_id), "unread_count": 1}
        ]

    async def test_reading_all_tells_zero_once_and_nothing_when_none_was_unread(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        await notify(in_process, member, uuid.uuid4())
        await notify(in_process, member, uuid.uuid4())

        for _ in range(2):
            response = await notification.post(f"{PATH}/read-all", headers=member.headers)
            assert response.status_code == 200, response.text

        told = await outbox(in_process, member, CHANGED)
        assert [event["data"]["unread_count"] for event in told] == [0]


class TestOwnEvents:
    def test_notification_does_not_consume_its_own_events(self) -> None:
        assert not [t for t in SUBSCRIPTION.handlers if t.startswith("notification.")]
        assert "notification.events" not in SUBSCRIPTION.topics
