"""Comments and activity through the real gateway: markdown comments with @mentions (one
work.comment.mentioned per mentioned member), edits and deletes by the author only, and the
task and project activity feeds with field-level old/new values."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from agencyos.testing.factories import AgencySession, add_member, new_project, new_task
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.kafka import events_where, read_topic
from agencyos.testing.platform import Platform


async def comment(
    gateway: httpx.AsyncClient, who: AgencySession, task_id: str, **body: Any
) -> httpx.Response:
    return await gateway.post(f"/v1/tasks/{task_id}/comments", json=body, headers=who.headers)


async def new_comment(
    gateway: httpx.AsyncClient, who: AgencySession, task_id: str, **body: Any
) -> dict[str, Any]:
    response = await comment(gateway, who, task_id, **body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def comments_of(
    gateway: httpx.AsyncClient, who: AgencySession, task_id: str
) -> list[dict[str, Any]]:
    response = await gateway.get(f"/v1/tasks/{task_id}/comments", headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def activity_of(
    gateway: httpx.AsyncClient, who: AgencySession, url: str, **params: Any
) -> dict[str, Any]:
    response = await gateway.get(url, params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def mention(who: AgencySession, name: str = "Someone") -> str:
    return f"@[{name}]({who.user_id})"


def changes_of(entry: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {c["field"]: (c["old"], c["new"]) for c in entry["changes"]}


async def mention_events(
    platform: Platform,
    gateway: httpx.AsyncClient,
    agency: AgencySession,
    task_id: str,
    comment_id: str,
) -> list[dict[str, Any]]:
    """Every work.comment.mentioned event of a comment. A marker is published after them (a
    task edit, same tenant, so the same partition and later in it): once it has arrived, no
    mention event of the comment is still on its way."""
    marker = await gateway.patch(
        f"/v1/tasks/{task_id}", json={"title": f"Marker {uuid.uuid4().hex}"}, headers=agency.headers
    )
    assert marker.status_code == 200, marker.text
    marker_title = marker.json()["title"]
    topic = f"{platform.topic_prefix}work.events"

    def marker_seen(records: list[Any]) -> bool:
        return any(
            e["data"]["title"] == marker_title
            for e in events_where(records, tenantid=str(agency.agency_id), type="work.task.updated")
        )

    records = await read_topic(platform.infra.kafka_bootstrap, topic, marker_seen)
    return [
        e
        for e in events_where(
            records, tenantid=str(agency.agency_id), type="work.comment.mentioned"
        )
        if e["data"]["comment_id"] == comment_id
    ]


class TestComments:
    async def test_a_comment_is_added_and_listed_oldest_first(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])

        first = await new_comment(gateway, agency, task["id"], body="First, **bold**")
        second = await new_comment(gateway, agency, task["id"], body="Second")

        assert first["author_id"] == str(agency.user_id)
        assert first["body"] == "First, **bold**"
        assert first["edited"] is False
        assert [c["id"] for c in await comments_of(gateway, agency, task["id"])] == [
            first["id"],
            second["id"],
        ]

    async def test_an_empty_body_is_refused(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])

        response = await comment(gateway, agency, task["id"], body="   ")

        assert_invalid_fields(response, "body")

    async def test_the_author_edits_and_deletes_their_comment(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency, member)
        task = await new_task(gateway, agency, project["id"])
        created = await new_comment(gateway, member, task["id"], body="Typo hre")

        edited = await gateway.patch(
            f"/v1/comments/{created['id']}", json={"body": "Typo here"}, headers=member.headers
        )
        assert edited.status_code == 200, edited.text
        assert edited.json()["body"] == "Typo here"
        assert edited.json()["edited"] is True
        deleted = await gateway.delete(f"/v1/comments/{created['id']}", headers=member.headers)

        assert deleted.status_code == 204, deleted.text
        assert await comments_of(gateway, agency, task["id"]) == []

    async def test_someone_else_may_neither_edit_nor_delete_it(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency, member)
        task = await new_task(gateway, agency, project["id"])
        created = await new_comment(gateway, member, task["id"], body="Mine")

        edited = await gateway.patch(
            f"/v1/comments/{created['id']}", json={"body": "Owner's now"}, headers=agency.headers
        )
        deleted = await gateway.delete(f"/v1/comments/{created['id']}", headers=agency.headers)

        assert_problem(edited, 403, "permission-denied")
        assert_problem(deleted, 403, "permission-denied")
        [kept] = await comments_of(gateway, agency, task["id"])
        assert kept["body"] == "Mine"

    async def test_a_member_not_on_the_project_gets_404(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        outsider = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])
        created = await new_comment(gateway, agency, task["id"], body="Internal")

        listing = await gateway.get(f"/v1/tasks/{task['id']}/comments", headers=outsider.headers)
        posting = await comment(gateway, outsider, task["id"], body="Hello?")
        editing = await gateway.patch(
            f"/v1/comments/{created['id']}", json={"body": "x"}, headers=outsider.headers
        )

        assert_problem(listing, 404, "not-found")
        assert_problem(posting, 404, "not-found")
        assert_problem(editing, 404, "not-found")

    async def test_another_agency_gets_404(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])
        created = await new_comment(gateway, agency, task["id"], body="Ours")

        listing = await gateway.get(
            f"/v1/tasks/{task['id']}/comments", headers=other_agency.headers
        )
        posting = await comment(gateway, other_agency, task["id"], body="Theirs")
        deleting = await gateway.delete(
            f"/v1/comments/{created['id']}", headers=other_agency.headers
        )

        assert_problem(listing, 404, "not-found")
        assert_problem(posting, 404, "not-found")
        assert_problem(deleting, 404, "not-found")


class TestMentions:
    async def test_each_mentioned_member_gets_one_event_and_the_author_none(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        dana = await add_member(platform, gateway, agency, "member")
        fox = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency, dana, fox)
        task = await new_task(gateway, agency, project["id"], title="Pricing page")

        created = await new_comment(
            gateway,
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
        events = await mention_events(platform, gateway, agency, task["id"], created["id"])
        assert sorted(e["data"]["mentioned_user_id"] for e in events) == sorted(
            [str(dana.user_id), str(fox.user_id)]
        )
        assert all(e["data"]["task_title"] == "Pricing page" for e in events)
        assert all(e["subject"] == f"tasks/{task['id']}/comments/{created['id']}" for e in events)
        assert all(e["data"]["author_id"] == str(agency.user_id) for e in events)
        assert "@Dana" in events[0]["data"]["excerpt"]

    async def test_mentioning_someone_who_is_not_on_the_project_is_refused(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        outsider = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])

        in_body = await comment(gateway, agency, task["id"], body=f"Hi {mention(outsider)}")
        in_list = await comment(
            gateway, agency, task["id"], body="Hi", mentions=[str(outsider.user_id)]
        )

        assert_invalid_fields(in_body, "mentions")
        assert_invalid_fields(in_list, "mentions")
        assert await comments_of(gateway, agency, task["id"]) == []

    async def test_an_edit_notifies_only_the_mentions_it_adds(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        dana = await add_member(platform, gateway, agency, "member")
        fox = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency, dana, fox)
        task = await new_task(gateway, agency, project["id"])
        created = await new_comment(gateway, agency, task["id"], body=f"{mention(dana)} look")

        edited = await gateway.patch(
            f"/v1/comments/{created['id']}",
            json={"body": f"{mention(dana)} and {mention(fox)} look"},
            headers=agency.headers,
        )

        assert edited.status_code == 200, edited.text
        events = await mention_events(platform, gateway, agency, task["id"], created["id"])
        assert sorted(e["data"]["mentioned_user_id"] for e in events) == sorted(
            [str(dana.user_id), str(fox.user_id)]
        )


class TestActivity:
    async def test_every_change_is_logged_with_old_and_new_values_newest_first(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency, member)
        blocker = await new_task(gateway, agency, project["id"])
        task = await new_task(gateway, agency, project["id"], title="Draft", priority="low")
        board = (
            await gateway.get(f"/v1/projects/{project['id']}/board", headers=agency.headers)
        ).json()
        columns = {c["name"]: c["id"] for c in board["columns"]}

        steps = [
            await gateway.patch(
                f"/v1/tasks/{task['id']}",
                json={"title": "Final", "priority": "high", "blocked_by": [blocker["id"]]},
                headers=member.headers,
            ),
            await gateway.post(
                f"/v1/tasks/{task['id']}/move",
                json={"column_id": columns["Done"]},
                headers=member.headers,
            ),
            await gateway.post(
                f"/v1/tasks/{task['id']}/subtasks", json={"title": "Check"}, headers=member.headers
            ),
            await comment(gateway, member, task["id"], body="All done"),
        ]
        assert all(s.is_success for s in steps), [s.text for s in steps]

        page = await activity_of(gateway, agency, f"/v1/tasks/{task['id']}/activity")

        actions = [e["action"] for e in page["items"]]
        assert actions == ["comment_added", "subtask_added", "completed", "updated", "created"]
        assert page["total"] == 5
        commented, subtask, completed, updated, created = page["items"]
        assert all(e["actor_id"] == str(member.user_id) for e in page["items"][:4])
        assert created["actor_id"] == str(agency.user_id)
        assert changes_of(updated) == {
            "title": ("Draft", "Final"),
            "priority": ("low", "high"),
            "blocked_by": ([], [blocker["id"]]),
        }
        moved = changes_of(completed)
        assert moved["column_id"] == (columns["To do"], columns["Done"])
        assert moved["status"] == ("todo", "done")
        assert moved["completed_at"][0] is None
        assert moved["completed_at"][1]
        assert changes_of(subtask)["subtask"][1]["title"] == "Check"
        assert changes_of(commented)["comment"][1]["excerpt"] == "All done"
        assert changes_of(created)["title"] == (None, "Draft")
        stamps = [e["occurred_at"] for e in page["items"]]
        assert stamps == sorted(stamps, reverse=True)

    async def test_the_project_feed_covers_all_tasks_including_deleted_ones(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        kept = await new_task(gateway, agency, project["id"])
        gone = await new_task(gateway, agency, project["id"], title="Short-lived")
        deleted = await gateway.delete(f"/v1/tasks/{gone['id']}", headers=agency.headers)
        assert deleted.status_code == 204, deleted.text

        page = await activity_of(gateway, agency, f"/v1/projects/{project['id']}/activity")
        second_page = await activity_of(
            gateway,
            agency,
            f"/v1/projects/{project['id']}/activity",
            per_page=2,
            page=2,
        )

        assert [(e["task_id"], e["action"]) for e in page["items"]] == [
            (gone["id"], "deleted"),
            (gone["id"], "created"),
            (kept["id"], "created"),
        ]
        assert changes_of(page["items"][0])["title"] == ("Short-lived", None)
        assert [e["id"] for e in second_page["items"]] == [page["items"][2]["id"]]
        assert second_page["total"] == 3

    async def test_a_member_not_on_the_project_and_another_agency_get_404(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        outsider = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])

        for stranger in (outsider, other_agency):
            for url in (
                f"/v1/tasks/{task['id']}/activity",
                f"/v1/projects/{project['id']}/activity",
            ):
                response = await gateway.get(url, headers=stranger.headers)
                assert_problem(response, 404, "not-found")
