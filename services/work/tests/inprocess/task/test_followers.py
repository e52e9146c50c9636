"""Task followers: a task's creator follows it; anyone who sees a task follows and unfollows it
themselves (both idempotent); a member not on the project and other agencies get 404, client
users 403, and API keys never follow; followers go with their task, and a member who leaves a
project stops following its tasks; rows are scoped to their agency."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.testing.factories import new_project, new_task
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller

# The conftest's `work_rows`: rows of work's database as stored.
WorkRows = Callable[..., Awaitable[list[Any]]]


def api_key_of(tenant: Agency) -> Caller:
    """An admin API key of the agency (its token's subject is the key, as identity mints it)."""
    key_id = uuid.uuid4()
    token = tenant.keys.mint(
        sub=str(key_id),
        akid=str(key_id),
        tid=str(tenant.id),
        role="admin",
        perms=sorted(DEFAULT_ROLE_PERMISSIONS[Role.ADMIN]),
    )
    return Caller(tenant.id, key_id, "admin", token)


def followers_url(task_id: str) -> str:
    return f"/v1/tasks/{task_id}/followers"


async def followers_of(work: httpx.AsyncClient, who: Caller, task_id: str) -> list[dict[str, Any]]:
    response = await work.get(followers_url(task_id), headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def follower_ids(work: httpx.AsyncClient, who: Caller, task_id: str) -> list[str]:
    return [f["user_id"] for f in await followers_of(work, who, task_id)]


async def follow(work: httpx.AsyncClient, who: Caller, task_id: str) -> httpx.Response:
    return await work.put(f"{followers_url(task_id)}/me", headers=who.headers)


async def unfollow(work: httpx.AsyncClient, who: Caller, task_id: str) -> httpx.Response:
    return await work.delete(f"{followers_url(task_id)}/me", headers=who.headers)


class TestTheCreatorFollows:
    async def test_a_new_task_is_followed_by_its_creator_alone(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        dana = tenant.caller("member")
        project = await new_project(work, agency, dana)

        task = await new_task(work, dana, project["id"], assignee_ids=[str(agency.user_id)])

        [only] = await followers_of(work, agency, task["id"])
        assert only["user_id"] == str(dana.user_id)
        assert only["followed_at"]


class TestFollowing:
    async def test_a_member_follows_and_following_again_keeps_the_first_follow(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        dana = tenant.caller("member")
        project = await new_project(work, agency, dana)
        task = await new_task(work, agency, project["id"])

        first = await follow(work, dana, task["id"])
        again = await follow(work, dana, task["id"])

        assert first.status_code == 200, first.text
        assert first.json()["user_id"] == str(dana.user_id)
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
        assert await follower_ids(work, agency, task["id"]) == [
            str(agency.user_id),
            str(dana.user_id),
        ]

    async def test_a_manager_who_sees_every_project_may_follow_without_being_a_member(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        manager = tenant.caller("manager")
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        response = await follow(work, manager, task["id"])

        assert response.status_code == 200, response.text
        assert str(manager.user_id) in await follower_ids(work, agency, task["id"])

    async def test_unfollowing_removes_only_the_caller_and_is_idempotent(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        dana = tenant.caller("member")
        project = await new_project(work, agency, dana)
        task = await new_task(work, agency, project["id"])
        await follow(work, dana, task["id"])

        first = await unfollow(work, agency, task["id"])
        again = await unfollow(work, agency, task["id"])

        assert first.status_code == 204, first.text
        assert again.status_code == 204, again.text
        assert await follower_ids(work, dana, task["id"]) == [str(dana.user_id)]


class TestWhoMayFollow:
    async def test_a_member_not_on_the_project_gets_404_everywhere(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        outsider = tenant.caller("member")
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        listing = await work.get(followers_url(task["id"]), headers=outsider.headers)
        following = await follow(work, outsider, task["id"])
        unfollowing = await unfollow(work, outsider, task["id"])

        assert_problem(listing, 404, "not-found")
        assert_problem(following, 404, "not-found")
        assert_problem(unfollowing, 404, "not-found")
        assert await follower_ids(work, agency, task["id"]) == [str(agency.user_id)]

    async def test_another_agency_gets_404(
        self, work: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        listing = await work.get(followers_url(task["id"]), headers=other_agency.headers)
        following = await follow(work, other_agency, task["id"])
        unfollowing = await unfollow(work, other_agency, task["id"])

        assert_problem(listing, 404, "not-found")
        assert_problem(following, 404, "not-found")
        assert_problem(unfollowing, 404, "not-found")

    async def test_an_unknown_task_gets_404(self, work: httpx.AsyncClient, agency: Caller) -> None:
        missing = "00000000-0000-4000-8000-000000000000"

        assert_problem(await follow(work, agency, missing), 404, "not-found")
        assert_problem(await unfollow(work, agency, missing), 404, "not-found")

    async def test_a_client_user_may_not_follow_nor_list_followers(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        client_user = tenant.caller("client")
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"], visible_to_client=True)

        listing = await work.get(followers_url(task["id"]), headers=client_user.headers)
        following = await follow(work, client_user, task["id"])
        unfollowing = await unfollow(work, client_user, task["id"])

        assert_problem(listing, 403, "permission-denied")
        assert_problem(following, 403, "permission-denied")
        assert_problem(unfollowing, 403, "permission-denied")
        assert await follower_ids(work, agency, task["id"]) == [str(agency.user_id)]


class TestApiKeysDoNotFollow:
    async def test_an_api_key_neither_follows_what_it_creates_or_comments_on_nor_may_follow(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        key = api_key_of(tenant)
        project = await new_project(work, agency)
        task = await new_task(work, key, project["id"])
        commented = await work.post(
            f"/v1/tasks/{task['id']}/comments", json={"body": "Synced"}, headers=key.headers
        )

        following = await follow(work, key, task["id"])

        assert commented.status_code == 201, commented.text
        assert_problem(following, 403, "permission-denied")
        assert await follower_ids(work, agency, task["id"]) == []


class TestFollowersGoWithTheirTaskAndProject:
    async def test_deleting_the_task_deletes_its_followers(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, work_rows: WorkRows
    ) -> None:
        dana = tenant.caller("member")
        project = await new_project(work, agency, dana)
        task = await new_task(work, agency, project["id"])
        await follow(work, dana, task["id"])

        deleted = await work.delete(f"/v1/tasks/{task['id']}", headers=agency.headers)

        assert deleted.status_code == 204, deleted.text
        rows = await work_rows(
            agency.agency_id, "SELECT user_id FROM task_followers WHERE task_id = $1", task["id"]
        )
        assert rows == []

    async def test_follower_rows_are_scoped_to_their_agency(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
        work_rows: WorkRows,
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])
        query = "SELECT user_id FROM task_followers WHERE task_id = $1"

        ours = await work_rows(agency.agency_id, query, task["id"])
        theirs = await work_rows(other_agency.agency_id, query, task["id"])

        assert [str(r["user_id"]) for r in ours] == [str(agency.user_id)]
        assert theirs == []

    async def test_a_member_removed_from_the_project_stops_following_its_tasks(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        dana = tenant.caller("member")
        project = await new_project(work, agency, dana)
        other = await new_project(work, agency, dana)
        task = await new_task(work, dana, project["id"])
        elsewhere = await new_task(work, dana, other["id"])

        removed = await work.delete(
            f"/v1/projects/{project['id']}/members/{dana.user_id}", headers=agency.headers
        )

        assert removed.status_code == 204, removed.text
        assert await follower_ids(work, agency, task["id"]) == []
        assert await follower_ids(work, agency, elsewhere["id"]) == [str(dana.user_id)]
