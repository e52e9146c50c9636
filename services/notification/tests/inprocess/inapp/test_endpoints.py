"""`/v1/notifications`: a person's own notices, newest first, filtered, paged by page or by
cursor, marked read one by one or all at once; nobody else's, never another agency's."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agencyos.notification.inapp.service import add_notification
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess

PATH = "/v1/notifications"


async def notify(
    in_process: InProcess, who: Caller, *kinds: str, read: bool = False
) -> list[uuid.UUID]:
    """One notice per kind for `who`, all in one transaction (so all at one now())."""
    database = (await in_process.service("notification")).ctx.database()
    written: list[uuid.UUID] = []
    async with database.transaction(who.agency_id) as session:
        for kind in kinds or ("task.assigned",):
            event_id = uuid.uuid4()
            await add_notification(
                session,
                tenant_id=who.agency_id,
                user_id=who.user_id,
                kind=kind,
                title=f"About {kind}",
                body="",
                subject=None,
                link=None,
                data={"event": str(event_id)},
                source_event_id=event_id,
                actor_id=None,
            )
            written.append(event_id)
    if read:
        service = await in_process.service("notification")
        await service.rows(
            "UPDATE notifications SET read_at = now() WHERE source_event_id = ANY($1::uuid[])",
            written,
            tenant_id=who.agency_id,
        )
    return written


def events(body: dict[str, Any]) -> list[str]:
    return [item["data"]["event"] for item in body["items"]]


async def listed(client: httpx.AsyncClient, who: Caller, **params: Any) -> dict[str, Any]:
    response = await client.get(PATH, params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def unread(client: httpx.AsyncClient, who: Caller) -> int:
    response = await client.get(f"{PATH}/unread-count", headers=who.headers)
    assert response.status_code == 200, response.text
    count: int = response.json()["unread"]
    return count


async def ids_of(client: httpx.AsyncClient, who: Caller) -> list[str]:
    return [item["id"] for item in (await listed(client, who, per_page=200))["items"]]


class TestListing:
    async def test_newest_first_in_page_mode(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        [older] = await notify(in_process, member, "deal.won")
        [newer] = await notify(in_process, member, "task.assigned")

        body = await listed(notification, member)

        assert events(body) == [str(newer), str(older)]
        assert (body["total"], body["page"], body["per_page"], body["next_cursor"]) == (
            2,
            1,
            50,
            None,
        )
        [first, _] = body["items"]
        assert set(first) == {
            "id",
            "kind",
            "title",
            "body",
            "subject",
            "link",
            "actor_id",
            "data",
            "created_at",
            "read_at",
        }

    async def test_unread_true_lists_only_the_unread_and_false_only_the_read(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        [was_read] = await notify(in_process, member, read=True)
        [fresh] = await notify(in_process, member)

        assert events(await listed(notification, member, unread="true")) == [str(fresh)]
        assert events(await listed(notification, member, unread="false")) == [str(was_read)]

    async def test_kind_lists_only_that_kind(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        [won, _] = await notify(in_process, member, "deal.won", "task.assigned")

        body = await listed(notification, member, kind="deal.won")

        assert events(body) == [str(won)]
        assert body["total"] == 1

    async def test_an_unknown_kind_is_a_422_naming_kind(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        response = await notification.get(
            PATH, params={"kind": "no.such.kind"}, headers=tenant.owner.headers
        )

        assert_invalid_fields(response, "kind")

    async def test_a_person_sees_neither_a_colleagues_nor_another_agencys_notices(
        self,
        in_process: InProcess,
        notification: httpx.AsyncClient,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        member, colleague = tenant.caller("member"), tenant.caller("member")
        stranger = other_tenant.caller("member")
        [mine] = await notify(in_process, member)
        await notify(in_process, colleague)
        await notify(in_process, stranger)

        assert events(await listed(notification, member)) == [str(mine)]
        assert events(await listed(notification, member, limit=10)) == [str(mine)]


class TestCursorPaging:
    async def test_walking_the_cursor_lists_every_notice_once_in_the_page_modes_order(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        await notify(in_process, member, *["task.assigned"] * 4)
        # Seven at one instant: only the id orders them, and it must do so the same each time.
        await notify(in_process, member, *["deal.won"] * 7)
        expected = await ids_of(notification, member)

        walked: list[str] = []
        body = await listed(notification, member, limit=3)
        pages = 1
        while body["next_cursor"] is not None:
            assert (body["total"], body["page"], body["per_page"]) == (None, None, 3)
            assert len(body["items"]) == 3
            walked += [item["id"] for item in body["items"]]
            body = await listed(notification, member, limit=3, cursor=body["next_cursor"])
            pages += 1
        walked += [item["id"] for item in body["items"]]

        assert pages == 4
        assert walked == expected
        assert len(set(walked)) == 11

    async def test_a_cursor_keeps_its_filters(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        await notify(in_process, member, *["deal.won"] * 3, read=True)
        unread_won = await notify(in_process, member, *["deal.won"] * 3)
        await notify(in_process, member, *["task.assigned"] * 3)

        first = await listed(notification, member, limit=2, unread="true", kind="deal.won")
        second = await listed(
            notification,
            member,
            limit=2,
            unread="true",
            kind="deal.won",
            cursor=first["next_cursor"],
        )

        assert sorted(events(first) + events(second)) == sorted(str(e) for e in unread_won)
        assert second["next_cursor"] is None

    async def test_a_new_notice_does_not_shift_the_pages_already_walked(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        for _ in range(4):
            await notify(in_process, member)
        first = await listed(notification, member, limit=2)

        await notify(in_process, member)
        second = await listed(notification, member, limit=2, cursor=first["next_cursor"])

        assert not set(events(first)) & set(events(second))
        assert len(events(second)) == 2

    async def test_page_mode_also_hands_out_a_cursor_for_the_rest(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        await notify(in_process, member, *["task.assigned"] * 3)
        expected = await ids_of(notification, member)

        first = await listed(notification, member, per_page=2)
        rest = await listed(notification, member, limit=5, cursor=first["next_cursor"])

        assert [i["id"] for i in first["items"] + rest["items"]] == expected

    @pytest.mark.parametrize(
        "edit",
        [
            lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"),
            lambda c: ("B" if c[0] != "B" else "C") + c[1:],
            lambda c: "garbage",
            lambda c: c + "." + c,
        ],
        ids=["signature edited", "payload edited", "garbage", "two cursors"],
    )
    async def test_an_edited_cursor_is_a_422_naming_cursor(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency, edit: Any
    ) -> None:
        member = tenant.caller("member")
        await notify(in_process, member, *["task.assigned"] * 3)
        cursor = (await listed(notification, member, limit=1))["next_cursor"]

        response = await notification.get(
            PATH, params={"limit": 1, "cursor": edit(cursor)}, headers=member.headers
        )

        assert_invalid_fields(response, "cursor")

    async def test_another_persons_cursor_is_a_422(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member, colleague = tenant.caller("member"), tenant.caller("member")
        await notify(in_process, member, *["task.assigned"] * 3)
        cursor = (await listed(notification, member, limit=1))["next_cursor"]

        response = await notification.get(
            PATH, params={"limit": 1, "cursor": cursor}, headers=colleague.headers
        )

        assert_invalid_fields(response, "cursor")

    async def test_a_cursor_used_with_other_filters_is_a_422(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        await notify(in_process, member, *["task.assigned"] * 3)
        cursor = (await listed(notification, member, limit=1))["next_cursor"]

        response = await notification.get(
            PATH, params={"limit": 1, "cursor": cursor, "unread": "true"}, headers=member.headers
        )

        assert_invalid_fields(response, "cursor")

    async def test_mixing_page_and_cursor_is_a_422(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        response = await notification.get(
            PATH, params={"limit": 5, "page": 2}, headers=tenant.owner.headers
        )

        assert_invalid_fields(response, "cursor")


class TestReadingOne:
    async def test_marking_read_answers_the_notice_with_its_read_time_and_is_idempotent(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        await notify(in_process, member, "task.assigned", "deal.won")
        [newest, _] = await ids_of(notification, member)

        first = await notification.post(f"{PATH}/{newest}/read", headers=member.headers)
        again = await notification.post(f"{PATH}/{newest}/read", headers=member.headers)

        assert first.status_code == 200, first.text
        assert first.json()["id"] == newest
        assert first.json()["read_at"] is not None
        assert again.json()["read_at"] == first.json()["read_at"]
        assert await unread(notification, member) == 1

    async def test_someone_elses_notice_is_404_and_stays_unread(
        self,
        in_process: InProcess,
        notification: httpx.AsyncClient,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        member = tenant.caller("member")
        await notify(in_process, member)
        [theirs] = await ids_of(notification, member)

        for intruder in (tenant.caller("member"), tenant.owner, other_tenant.owner):
            response = await notification.post(f"{PATH}/{theirs}/read", headers=intruder.headers)
            assert_problem(response, 404, "not-found")

        assert await unread(notification, member) == 1

    async def test_an_unknown_notice_is_404(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        response = await notification.post(
            f"{PATH}/{uuid.uuid4()}/read", headers=tenant.owner.headers
        )

        assert_problem(response, 404, "not-found")


class TestReadingAll:
    async def test_read_all_marks_only_the_callers_own(
        self,
        in_process: InProcess,
        notification: httpx.AsyncClient,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        member, colleague = tenant.caller("member"), tenant.caller("member")
        stranger = other_tenant.caller("member")
        await notify(in_process, member, "task.assigned", "deal.won")
        await notify(in_process, member, read=True)
        await notify(in_process, colleague)
        await notify(in_process, stranger)

        response = await notification.post(f"{PATH}/read-all", headers=member.headers)

        assert response.status_code == 200, response.text
        assert response.json() == {"marked": 2}
        assert await unread(notification, member) == 0
        assert await unread(notification, colleague) == 1
        assert await unread(notification, stranger) == 1

    async def test_read_all_of_one_kind_leaves_the_other_kinds_unread(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        await notify(in_process, member, "deal.won", "deal.won", "task.assigned")

        response = await notification.post(
            f"{PATH}/read-all", params={"kind": "deal.won"}, headers=member.headers
        )

        assert response.json() == {"marked": 2}
        left = await listed(notification, member, unread="true")
        assert [item["kind"] for item in left["items"]] == ["task.assigned"]

    async def test_read_all_of_an_unknown_kind_is_a_422(
        self, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        response = await notification.post(
            f"{PATH}/read-all", params={"kind": "nope"}, headers=tenant.owner.headers
        )

        assert_invalid_fields(response, "kind")


class TestUnreadCount:
    async def test_counts_the_callers_unread_only(
        self,
        in_process: InProcess,
        notification: httpx.AsyncClient,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        member = tenant.caller("member")
        await notify(in_process, member, "task.assigned", "deal.won")
        await notify(in_process, member, read=True)
        await notify(in_process, tenant.caller("member"))
        await notify(in_process, other_tenant.caller("member"))

        assert await unread(notification, member) == 2


class TestPermission:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", PATH),
            ("GET", f"{PATH}/unread-count"),
            ("POST", f"{PATH}/read-all"),
            ("POST", f"{PATH}/00000000-0000-4000-8000-000000000001/read"),
        ],
    )
    async def test_a_caller_without_notifications_read_is_refused(
        self, notification: httpx.AsyncClient, tenant: Agency, method: str, path: str
    ) -> None:
        limited = tenant.caller("member", permissions=["agency.read"])

        response = await notification.request(method, path, headers=limited.headers)

        assert_problem(response, 403, "permission-denied")
