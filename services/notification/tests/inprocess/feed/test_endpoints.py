"""`GET /v1/events`: each reader gets the agency's events their role may see, shaped for
them, in order, paged by cursor; never another agency's; bad cursors and filters are 400s,
an expired cursor 410."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from agencyos.common.db import Database, utcnow
from agencyos.notification.feed import cursor as cursors
from agencyos.notification.feed import store
from agencyos.notification.feed.recorder import FeedRecorder
from agencyos.testing.http import assert_invalid_fields, assert_problem, problem_fields
from agencyos.testing.inprocess import Agency, Caller

from .events import data_of
from .scene import Scene, build_scene

PATH = "/v1/events"


@pytest.fixture
async def scene(recorder: FeedRecorder, tenant: Agency, other_tenant: Agency) -> Scene:
    return await build_scene(recorder, tenant, other_tenant)


async def read(
    client: httpx.AsyncClient, who: Caller | dict[str, str], **params: Any
) -> dict[str, Any]:
    headers = who if isinstance(who, dict) else who.headers
    response = await client.get(PATH, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["items"]]


def api_key(agency: Agency, role: str) -> dict[str, str]:
    key_id = str(uuid.uuid4())
    token = agency.keys.mint(sub=key_id, tid=str(agency.id), role=role, akid=key_id)
    return {"Authorization": f"Bearer {token}"}


class TestWhoSeesWhat:
    async def test_the_owner_sees_every_event_of_the_agency_in_order_but_others_notices(
        self, notification: httpx.AsyncClient, scene: Scene
    ) -> None:
        body = await read(notification, scene.agency.owner)

        assert ids(body) == [str(e.id) for e in scene.ordered if e is not scene.notice_on]
        assert body["more"] is False
        project = body["items"][0]
        assert data_of(project)["project"]["hourly_rate_cents"] == 12_000
        assert project["specversion"] == "1.0"
        assert project["tenantid"] == str(scene.agency.id)
        assert project["subject"].startswith("projects/")
        assert project["cursor"] == cursors.encode(1)
        assert body["next_cursor"] == body["items"][-1]["cursor"]
        assert "traceparent" not in project

    async def test_a_manager_sees_billing_and_rates(
        self, notification: httpx.AsyncClient, scene: Scene
    ) -> None:
        body = await read(notification, scene.manager)

        assert str(scene.invoice_a.id) in ids(body)
        assert data_of(body["items"][0])["project"]["hourly_rate_cents"] == 12_000

    async def test_a_member_sees_their_projects_without_rates_nor_billing_and_their_own(
        self, notification: httpx.AsyncClient, scene: Scene
    ) -> None:
        body = await read(notification, scene.member_on)

        assert ids(body) == [
            str(e.id)
            for e in (
                scene.project_a,
                scene.task_visible,
                scene.task_internal,
                scene.notice_on,
                scene.timesheet_on,
            )
        ]
        project = data_of(body["items"][0])
        assert "hourly_rate_cents" not in project["project"]
        assert project["project"]["name"] == "Website relaunch"
        assert not [item for item in body["items"] if item["type"].startswith("billing.")]

    async def test_a_member_not_on_the_project_sees_none_of_it(
        self, notification: httpx.AsyncClient, scene: Scene
    ) -> None:
        body = await read(notification, scene.member_off)

        # only their own time entry on it
        assert ids(body) == [str(scene.entry_off.id)]

    async def test_a_client_user_sees_only_their_clients_visible_events_with_client_fields(
        self, notification: httpx.AsyncClient, scene: Scene
    ) -> None:
        body = await read(notification, scene.client_a)

        assert ids(body) == [
            str(scene.project_a.id),
            str(scene.task_visible.id),
            str(scene.invoice_a.id),
        ]
        project, task, invoice = (data_of(item) for item in body["items"])
        assert set(project) == {"project_id", "name", "client_id"}
        assert set(task) == {"task_id", "project_id", "title", "status", "due_date"}
        assert "assignee_ids" not in task
        assert invoice["client_id"] == str(scene.client_a.client_id)
        assert invoice["total_cents"] == 50_000

    async def test_another_clients_user_sees_only_their_own(
        self, notification: httpx.AsyncClient, scene: Scene
    ) -> None:
        body = await read(notification, scene.client_b)

        assert ids(body) == [
            str(scene.project_b.id),
            str(scene.task_b.id),
            str(scene.invoice_b.id),
        ]

    async def test_an_api_key_sees_what_its_role_sees(
        self, notification: httpx.AsyncClient, scene: Scene
    ) -> None:
        manager_key = await read(notification, api_key(scene.agency, "manager"))
        member_key = await read(notification, api_key(scene.agency, "member"))

        assert ids(manager_key) == ids(await read(notification, scene.manager))
        assert not [i for i in member_key["items"] if i["type"].startswith("billing.")]
        assert ids(member_key) == []

    async def test_another_agency_sees_none_of_it(
        self, notification: httpx.AsyncClient, scene: Scene
    ) -> None:
        body = await read(notification, scene.other.owner)

        assert ids(body) == [str(scene.other_project.id), str(scene.other_task.id)]
        assert {item["tenantid"] for item in body["items"]} == {str(scene.other.id)}

    async def test_a_caller_without_a_token_is_refused(
        self, notification: httpx.AsyncClient, scene: Scene
    ) -> None:
        assert_problem(await notification.get(PATH), 401)


class TestPaging:
    async def test_walking_next_cursor_reads_every_event_once(
        self, notification: httpx.AsyncClient, scene: Scene
    ) -> None:
        everything = ids(await read(notification, scene.agency.owner))
        walked, mores, after = [], [], None
        while True:
            params: dict[str, Any] = {"limit": 4} | ({"after": after} if after else {})
            body = await read(notification, scene.agency.owner, **params)
            walked.extend(ids(body))
            mores.append(body["more"])
            after = body["next_cursor"]
            if not body["more"]:
                break

        assert walked == everything
        assert mores == [True, True, False]
        caught_up = await read(notification, scene.agency.owner, after=after)
        assert (caught_up["items"], caught_up["next_cursor"]) == ([], after)

    async def test_an_items_cursor_resumes_right_after_it(
        self, notification: httpx.AsyncClient, scene: Scene
    ) -> None:
        first = (await read(notification, scene.member_on))["items"][0]

        body = await read(notification, scene.member_on, after=first["cursor"])

        assert ids(body)[0] == str(scene.task_visible.id)

    async def test_a_filtered_page_moves_its_cursor_past_what_it_skipped(
        self, notification: httpx.AsyncClient, scene: Scene
    ) -> None:
        body = await read(notification, scene.agency.owner, types="work.project.*")

        assert ids(body) == [str(scene.project_a.id), str(scene.project_b.id)]
        assert body["next_cursor"] == cursors.encode(len(scene.ordered))

    async def test_types_take_exact_types_and_prefixes(
        self, notification: httpx.AsyncClient, scene: Scene
    ) -> None:
        body = await read(
            notification, scene.agency.owner, types="work.task.*,billing.invoice.sent"
        )

        assert {item["type"] for item in body["items"]} == {
            "work.task.created",
            "billing.invoice.sent",
        }
        assert len(body["items"]) == 5


class TestBadRequests:
    @pytest.mark.parametrize(
        "after",
        [
            "nope",
            "ev1_",
            "ev1_AAAAAAAAAA",
            "ev2_AAAAAAAAAAE",
            "ev1_AAAAAAAAAA!",
            "ev1___________8",  # 2**64 - 1: more than any seq
            "ev1_AAAAAAAAAAF",  # not the spelling a cursor of seq 1 has
        ],
    )
    async def test_a_cursor_that_is_not_one_is_a_400_naming_after(
        self, notification: httpx.AsyncClient, agency: Caller, after: str
    ) -> None:
        response = await notification.get(PATH, params={"after": after}, headers=agency.headers)

        body = assert_problem(response, 400)
        assert problem_fields(body) == {"after"}

    async def test_a_cursor_past_the_agencys_last_event_is_a_400_not_a_position(
        self, notification: httpx.AsyncClient, scene: Scene
    ) -> None:
        # e.g. a busier agency's cursor: taken as a position it would hide every event
        # up to it from a stream resumed with it
        beyond = cursors.encode(len(scene.ordered) + 1)

        response = await notification.get(
            PATH, params={"after": beyond}, headers=scene.agency.owner.headers
        )

        body = assert_problem(response, 400)
        assert problem_fields(body) == {"after"}
        assert "not of your agency's feed" in body["detail"]

    @pytest.mark.parametrize(
        "types", ["Work.Task", "work..task", "work.*.created", "a b", "work." + "a" * 200]
    )
    async def test_a_types_filter_that_is_not_one_is_a_400_naming_types(
        self, notification: httpx.AsyncClient, agency: Caller, types: str
    ) -> None:
        response = await notification.get(PATH, params={"types": types}, headers=agency.headers)

        body = assert_problem(response, 400)
        assert problem_fields(body) == {"types"}

    @pytest.mark.parametrize("limit", [0, 501, -1])
    async def test_a_limit_outside_1_to_500_is_refused(
        self, notification: httpx.AsyncClient, agency: Caller, limit: int
    ) -> None:
        response = await notification.get(PATH, params={"limit": limit}, headers=agency.headers)

        assert_invalid_fields(response, "query.limit")


class TestRetention:
    async def test_a_cursor_older_than_what_is_kept_is_410_gone(
        self, notification: httpx.AsyncClient, feed_db: Database, scene: Scene
    ) -> None:
        old_cursor = (await read(notification, scene.agency.owner))["items"][0]["cursor"]
        async with feed_db.transaction(scene.agency.id) as session:
            await store.prune(session, utcnow() + timedelta(seconds=1))

        response = await notification.get(
            PATH, params={"after": old_cursor}, headers=scene.agency.owner.headers
        )

        body = assert_problem(response, 410)
        assert "older than the feed keeps" in body["detail"]
        assert problem_fields(body) == {"after"}
        fresh = await read(notification, scene.agency.owner)
        assert fresh["items"] == []
        assert fresh["next_cursor"] == cursors.encode(len(scene.ordered))


class TestOpenApi:
    async def test_the_route_documents_cursors_visibility_retention_and_its_errors(
        self, notification: httpx.AsyncClient
    ) -> None:
        response = await notification.get("/openapi.json")
        assert response.status_code == 200, response.text
        operation = response.json()["paths"][PATH]["get"]

        assert operation["summary"]
        for topic in ("**Cursors.**", "**Visibility.**", "**Retention.**", "410"):
            assert topic in operation["description"]
        assert {"200", "400", "401", "410", "422"} <= set(operation["responses"])
        for status in ("400", "410"):
            assert "application/problem+json" in operation["responses"][status]["content"]


class TestHostileInput:
    @pytest.mark.parametrize(
        "params",
        [
            {"after": "a\x00b"},
            {"types": "a\x00b"},
            {"limit": str(2**64)},
            {"types": ",".join(["work.task.*"] * 51)},
        ],
        ids=["nul-after", "nul-types", "huge-limit", "too-many-types"],
    )
    async def test_it_is_a_4xx(
        self, notification: httpx.AsyncClient, agency: Caller, params: dict[str, str]
    ) -> None:
        response = await notification.get(PATH, params=params, headers=agency.headers)

        assert 400 <= response.status_code < 500, response.text
