"""Comments on tasks: markdown with @mentions (one work.comment.mentioned written per
mentioned member, none for the author; an edit only for the mentions it adds), edits and
deletes by the author only; members off the project and other agencies get 404. Every new
comment writes one work.comment.created naming its mentions, the task's assignees and its
followers (the author among them: commenting follows the task)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.testing.factories import new_project, new_task
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller

# The conftest's `work_events`: the events work wrote to its outbox.
WorkEvents = Callable[..., Awaitable[list[dict[str, Any]]]]


async def comment(
    work: httpx.AsyncClient, who: Caller, task_id: str, **body: Any
) -> httpx.Response:
    return await work.post(f"/v1/tasks/{task_id}/comments", json=body, headers=who.headers)


async def new_comment(
    work: httpx.AsyncClient, who: Caller, task_id: str, **body: Any
) -> dict[str, Any]:
    response = await comment(work, who, task_id, **body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def comments_of(work: httpx.AsyncClient, who: Caller, task_id: str) -> list[dict[str, Any]]:
    response = await work.get(f"/v1/tasks/{task_id}/comments", headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def mention(who: Caller, name: str = "Someone") -> str:
    return f"@[{name}]({who.user_id})"


async def mention_events(
    work_events: WorkEvents, agency: Caller, comment_id: str
) -> list[dict[str, Any]]:
    """Every work.comment.mentioned event work wrote for a comment."""
    return await work_events(agency.agency_id, "work.comment.mentioned", comment_id=comment_id)


class TestComments:
    async def test_a_comment_is_added_and_listed_oldest_first(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        first = await new_comment(work, agency, task["id"], body="First, **bold**")
        second = await new_comment(work, agency, task["id"], body="Second")

        assert first["author_id"] == str(agency.user_id)
        assert first["body"] == "First, **bold**"
        assert first["edited"] is False
        assert [c["id"] for c in await comments_of(work, agency, task["id"])] == [
            first["id"],
            second["id"],
        ]

    async def test_an_empty_body_is_refused(self, work: httpx.AsyncClient, agency: Caller) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        response = await comment(work, agency, task["id"], body="   ")

        assert_invalid_fields(response, "body")

    async def test_the_author_edits_and_deletes_their_comment(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        project = await new_project(work, agency, member)
        task = await new_task(work, agency, project["id"])
        created = await new_comment(work, member, task["id"], body="Typo hre")

        edited = await work.patch(
            f"/v1/comments/{created['id']}", json={"body": "Typo here"}, headers=member.headers
        )
        assert edited.status_code == 200, edited.text
        assert edited.json()["body"] == "Typo here"
        assert edited.json()["edited"] is True
        deleted = await work.delete(f"/v1/comments/{created['id']}", headers=member.headers)

        assert deleted.status_code == 204, deleted.text
        assert await comments_of(work, agency, task["id"]) == []

    async def test_someone_else_may_neither_edit_nor_delete_it(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        project = await new_project(work, agency, member)
        task = await new_task(work, agency, project["id"])
        created = await new_comment(work, member, task["id"], body="Mine")

        edited = await work.patch(
            f"/v1/comments/{created['id']}", json={"body": "Owner's now"}, headers=agency.headers
        )
        deleted = await work.delete(f"/v1/comments/{created['id']}", headers=agency.headers)

        assert_problem(edited, 403, "permission-denied")
        assert_problem(deleted, 403, "permission-denied")
        [kept] = await comments_of(work, agency, task["id"])
        assert kept["body"] == "Mine"

    async def test_a_member_not_on_the_project_gets_404(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        outsider = tenant.caller("member")
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])
        created = await new_comment(work, agency, task["id"], body="Internal")

        listing = await work.get(f"/v1/tasks/{task['id']}/comments", headers=outsider.headers)
        posting = await comment(work, outsider, task["id"], body="Hello?")
        editing = await work.patch(
            f"/v1/comments/{created['id']}", json={"body": "x"}, headers=outsider.headers
        )

        assert_problem(listing, 404, "not-found")
        assert_problem(posting, 404, "not-found")
        assert_problem(editing, 404, "not-found")

    async def test_another_agency_gets_404(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])
        created = await new_comment(work, agency, task["id"], body="Ours")

        listing = await work.get(f"/v1/tasks/{task['id']}/comments", headers=other_agency.headers)
        posting = await comment(work, other_agency, task["id"], body="Theirs")
        deleting = await work.delete(f"/v1/comments/{created['id']}", headers=other_agency.headers)

        assert_problem(listing, 404, "not-found")
        assert_problem(posting, 404, "not-found")
        assert_problem(deleting, 404, "not-found")


class TestMentions:
    async def test_each_mentioned_member_gets_one_event_and_the_author_none(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, work_events: WorkEvents
    ) -> None:
        dana = tenant.caller("member")
        fox = tenant.caller("member")
        project = await new_project(work, agency, dana, fox)
        task = await new_task(work, agency, project["id"], title="Pricing page")

        created = await new_comment(
            work,
            agency,
            task["id"],
            body=(
                f"{mention(dana, 'Dana')} and {mention(dana, 'Dana')} please look, "
                f"{mention(agency, 'me')} wrote it"
            ),
            mentions=[str(fox.user_id)],
        )

        mentioned = {str(dana.user_id), str(fox.user_id), str(agency.user_id)}
        assert set(created["mentions"]) == mentioned
        events = await mention_events(work_events, agency, created["id"])
        assert sorted(e["data"]["mentioned_user_id"] for e in events) == sorted(
            [str(dana.user_id), str(fox.user_id)]
        )
        assert all(e["data"]["task_title"] == "Pricing page" for e in events)
        assert all(e["subject"] == f"tasks/{task['id']}/comments/{created['id']}" for e in events)
        assert all(e["data"]["author_id"] == str(agency.user_id) for e in events)
        assert "@Dana" in events[0]["data"]["excerpt"]

    async def test_mentioning_someone_who_is_not_on_the_project_is_refused(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        outsider = tenant.caller("member")
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        in_body = await comment(work, agency, task["id"], body=f"Hi {mention(outsider)}")
        in_list = await comment(
            work, agency, task["id"], body="Hi", mentions=[str(outsider.user_id)]
        )

        assert_invalid_fields(in_body, "mentions")
        assert_invalid_fields(in_list, "mentions")
        assert await comments_of(work, agency, task["id"]) == []

    async def test_an_edit_notifies_only_the_mentions_it_adds(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, work_events: WorkEvents
    ) -> None:
        dana = tenant.caller("member")
        fox = tenant.caller("member")
        project = await new_project(work, agency, dana, fox)
        task = await new_task(work, agency, project["id"])
        created = await new_comment(work, agency, task["id"], body=f"{mention(dana)} look")

        edited = await work.patch(
            f"/v1/comments/{created['id']}",
            json={"body": f"{mention(dana)} and {mention(fox)} look"},
            headers=agency.headers,
        )

        assert edited.status_code == 200, edited.text
        events = await mention_events(work_events, agency, created["id"])
        assert sorted(e["data"]["mentioned_user_id"] for e in events) == sorted(
            [str(dana.user_id), str(fox.user_id)]
        )


async def created_events(
    work_events: WorkEvents, who: Caller, task_id: str
) -> list[dict[str, Any]]:
    """Every work.comment.created event work wrote for a task's comments, oldest first."""
    return await work_events(who.agency_id, "work.comment.created", task_id=task_id)


async def followers_of(work: httpx.AsyncClient, who: Caller, task_id: str) -> list[str]:
    response = await work.get(f"/v1/tasks/{task_id}/followers", headers=who.headers)
    assert response.status_code == 200, response.text
    return [f["user_id"] for f in response.json()["items"]]


class TestCommentCreatedEvent:
    async def test_a_new_comment_names_its_mentions_the_assignees_and_the_followers(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, work_events: WorkEvents
    ) -> None:
        dana = tenant.caller("member")
        fox = tenant.caller("member")
        lee = tenant.caller("member")
        project = await new_project(work, agency, dana, fox, lee)
        task = await new_task(
            work,
            agency,
            project["id"],
            title="Pricing page",
            assignee_ids=[str(fox.user_id), str(dana.user_id)],
        )

        created = await new_comment(
            work, lee, task["id"], body=f"{mention(dana, 'Dana')}   can you\n\ncheck this?"
        )

        [event] = await created_events(work_events, agency, task["id"])
        assert event["subject"] == f"tasks/{task['id']}/comments/{created['id']}"
        assert event["data"] == {
            "comment_id": created["id"],
            "task_id": task["id"],
            "project_id": project["id"],
            "task_title": "Pricing page",
            "author_id": str(lee.user_id),
            "excerpt": "@Dana can you check this?",
            "mentioned_user_ids": [str(dana.user_id)],
            "assignee_ids": [str(fox.user_id), str(dana.user_id)],
            "follower_ids": [str(agency.user_id), str(lee.user_id)],
            "visibility": "internal",
        }

    async def test_the_excerpt_is_the_one_mentions_get(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, work_events: WorkEvents
    ) -> None:
        dana = tenant.caller("member")
        project = await new_project(work, agency, dana)
        task = await new_task(work, agency, project["id"])

        await new_comment(work, agency, task["id"], body=f"{mention(dana)} " + "long " * 100)

        [event] = await created_events(work_events, agency, task["id"])
        [mentioned] = await work_events(agency.agency_id, "work.comment.mentioned")
        assert event["data"]["excerpt"] == mentioned["data"]["excerpt"]
        assert event["data"]["excerpt"].endswith("…")

    async def test_the_author_follows_the_task_even_after_unfollowing_it(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, work_events: WorkEvents
    ) -> None:
        dana = tenant.caller("member")
        project = await new_project(work, agency, dana)
        task = await new_task(work, agency, project["id"])
        await new_comment(work, dana, task["id"], body="First")
        unfollowed = await work.delete(f"/v1/tasks/{task['id']}/followers/me", headers=dana.headers)
        assert unfollowed.status_code == 204, unfollowed.text

        await new_comment(work, dana, task["id"], body="Second")

        first, second = await created_events(work_events, agency, task["id"])
        assert first["data"]["follower_ids"] == [str(agency.user_id), str(dana.user_id)]
        assert second["data"]["follower_ids"] == [str(agency.user_id), str(dana.user_id)]
        assert await followers_of(work, agency, task["id"]) == [
            str(agency.user_id),
            str(dana.user_id),
        ]

    async def test_someone_who_unfollowed_is_left_out(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, work_events: WorkEvents
    ) -> None:
        dana = tenant.caller("member")
        project = await new_project(work, agency, dana)
        task = await new_task(work, agency, project["id"])
        unfollowed = await work.delete(
            f"/v1/tasks/{task['id']}/followers/me", headers=agency.headers
        )
        assert unfollowed.status_code == 204, unfollowed.text

        await new_comment(work, dana, task["id"], body="Anyone?")

        [event] = await created_events(work_events, agency, task["id"])
        assert event["data"]["follower_ids"] == [str(dana.user_id)]
        assert event["data"]["mentioned_user_ids"] == []
        assert event["data"]["assignee_ids"] == []

    async def test_an_edit_publishes_no_new_one(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])
        created = await new_comment(work, agency, task["id"], body="Typo hre")

        edited = await work.patch(
            f"/v1/comments/{created['id']}", json={"body": "Typo here"}, headers=agency.headers
        )

        assert edited.status_code == 200, edited.text
        [event] = await created_events(work_events, agency, task["id"])
        assert event["data"]["excerpt"] == "Typo hre"

    async def test_a_refused_comment_publishes_nothing(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, work_events: WorkEvents
    ) -> None:
        outsider = tenant.caller("member")
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        response = await comment(work, agency, task["id"], body=f"Hi {mention(outsider)}")

        assert_invalid_fields(response, "mentions")
        assert await created_events(work_events, agency, task["id"]) == []
