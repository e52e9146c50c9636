"""Moving tasks on the board: before/after anchors, fractional positions rebalanced when a
gap runs out, completion in a done column (and its events), bad targets named; and what every
task event says (the task as it is now: its due date, and what a board draws — column,
position, priority, labels)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.testing.factories import get_board, new_project, new_task
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess

# The conftest's `work_events`: the events work wrote to its outbox.
WorkEvents = Callable[..., Awaitable[list[dict[str, Any]]]]

MIN_GAP = 1e-6


async def column_ids(work: httpx.AsyncClient, who: Caller, project_id: str) -> dict[str, str]:
    """Column name → id."""
    board = await get_board(work, who, project_id)
    return {c["name"]: c["id"] for c in board["columns"]}


async def column_task_ids(
    work: httpx.AsyncClient, who: Caller, project_id: str, name: str
) -> list[str]:
    board = await get_board(work, who, project_id)
    column = next(c for c in board["columns"] if c["name"] == name)
    return [t["id"] for t in column["tasks"]]


async def get_task(work: httpx.AsyncClient, who: Caller, task_id: str) -> dict[str, Any]:
    response = await work.get(f"/v1/tasks/{task_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    return task


async def move(
    work: httpx.AsyncClient,
    who: Caller,
    task_id: str,
    column_id: str,
    *,
    if_match: str | None = None,
    **anchor: str,
) -> httpx.Response:
    headers = dict(who.headers)
    if if_match is not None:
        headers["If-Match"] = if_match
    return await work.post(
        f"/v1/tasks/{task_id}/move", json={"column_id": column_id, **anchor}, headers=headers
    )


class TestMovingTasks:
    async def test_before_and_after_place_the_task_between_its_neighbours(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        pid = project["id"]
        todo = (await column_ids(work, agency, pid))["To do"]
        a, b, c = [await new_task(work, agency, pid) for _ in range(3)]

        before = await move(work, agency, c["id"], todo, before_id=a["id"])
        assert before.status_code == 200, before.text
        assert await column_task_ids(work, agency, pid, "To do") == [c["id"], a["id"], b["id"]]

        after = await move(work, agency, c["id"], todo, after_id=a["id"])
        assert after.status_code == 200, after.text
        assert await column_task_ids(work, agency, pid, "To do") == [a["id"], c["id"], b["id"]]
        assert a["position"] < after.json()["position"] < b["position"]
        assert after.json()["version"] == 3
        assert after.headers["etag"] == '"3"'

    async def test_without_an_anchor_the_task_goes_to_the_bottom_of_the_column(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        pid = project["id"]
        columns = await column_ids(work, agency, pid)
        a = await new_task(work, agency, pid, status="review")
        b = await new_task(work, agency, pid)

        response = await move(work, agency, b["id"], columns["Review"])

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "review"
        assert await column_task_ids(work, agency, pid, "Review") == [a["id"], b["id"]]

    async def test_many_moves_into_one_gap_rebalance_the_column_and_keep_the_order(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        pid = project["id"]
        columns = await column_ids(work, agency, pid)
        top = await new_task(work, agency, pid, title="top")
        bottom = await new_task(work, agency, pid, title="bottom")
        movers = [
            await new_task(work, agency, pid, status="review", title=f"m{i}") for i in range(40)
        ]

        # Each goes right below `top`: into the ever smaller gap above the previous one.
        for mover in movers:
            response = await move(work, agency, mover["id"], columns["To do"], after_id=top["id"])
            assert response.status_code == 200, response.text

        board = await get_board(work, agency, pid)
        [todo] = [c for c in board["columns"] if c["name"] == "To do"]
        expected = [top["id"], *[m["id"] for m in reversed(movers)], bottom["id"]]
        assert [t["id"] for t in todo["tasks"]] == expected
        positions = [t["position"] for t in todo["tasks"]]
        gaps = [b - a for a, b in itertools.pairwise(positions)]
        # 40 halvings of a 1024 gap would leave ~1e-9: only a rebalance keeps them this wide.
        assert min(gaps) > MIN_GAP

    async def test_a_move_into_a_done_column_completes_the_task_and_publishes_it(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await new_project(work, agency)
        columns = await column_ids(work, agency, project["id"])
        task = await new_task(work, agency, project["id"])

        response = await move(work, agency, task["id"], columns["Done"])

        assert response.status_code == 200, response.text
        done = response.json()
        assert done["status"] == "done"
        assert done["completed_at"] is not None
        [completed] = await work_events(agency.agency_id, "work.task.completed", task_id=task["id"])
        assert completed["data"]["completed_at"]
        assert completed["data"]["task_version"] == 2
        [moved] = await work_events(agency.agency_id, "work.task.moved", task_id=task["id"])
        assert moved["data"]["from_column_id"] == columns["To do"]
        assert moved["data"]["column_id"] == columns["Done"]

    async def test_moving_out_of_done_clears_completed_at(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        columns = await column_ids(work, agency, project["id"])
        task = await new_task(work, agency, project["id"], status="done")
        assert task["completed_at"] is not None

        response = await move(work, agency, task["id"], columns["In progress"])

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "in_progress"
        assert response.json()["completed_at"] is None

    async def test_bad_targets_are_refused_naming_the_field(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        other = await new_project(work, agency)
        columns = await column_ids(work, agency, project["id"])
        foreign_column = (await column_ids(work, agency, other["id"]))["To do"]
        task = await new_task(work, agency, project["id"])
        elsewhere = await new_task(work, agency, project["id"], status="review")

        unknown = await move(work, agency, task["id"], str(uuid.uuid4()))
        foreign = await move(work, agency, task["id"], foreign_column)
        wrong_anchor = await move(
            work, agency, task["id"], columns["To do"], before_id=elsewhere["id"]
        )
        both = await move(
            work,
            agency,
            task["id"],
            columns["Review"],
            before_id=elsewhere["id"],
            after_id=elsewhere["id"],
        )
        itself = await move(work, agency, task["id"], columns["To do"], after_id=task["id"])

        assert_invalid_fields(unknown, "column_id")
        assert_invalid_fields(foreign, "column_id")
        assert_invalid_fields(wrong_anchor, "before_id")
        assert_invalid_fields(both, "before_id", "after_id")
        assert_invalid_fields(itself, "after_id")
        assert (await get_task(work, agency, task["id"]))["version"] == 1

    async def test_a_member_not_on_the_project_gets_404_and_another_agency_too(
        self, work: httpx.AsyncClient, agency: Caller, other_agency: Caller, tenant: Agency
    ) -> None:
        outsider = tenant.caller("member")
        project = await new_project(work, agency)
        columns = await column_ids(work, agency, project["id"])
        task = await new_task(work, agency, project["id"])

        hidden = await move(work, outsider, task["id"], columns["Done"])
        foreign = await move(work, other_agency, task["id"], columns["Done"])

        assert_problem(hidden, 404, "not-found")
        assert_problem(foreign, 404, "not-found")
        assert (await get_task(work, agency, task["id"]))["status"] == "todo"


class TestTaskEventsCarryTheDueDate:
    async def test_work_task_created_is_the_task_with_its_due_date(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, work_events: WorkEvents
    ) -> None:
        dana = tenant.caller("member")
        project = await new_project(work, agency, dana)

        task = await new_task(
            work,
            agency,
            project["id"],
            title="Launch",
            due_date="2027-01-31",
            assignee_ids=[str(dana.user_id)],
            visible_to_client=True,
        )

        [event] = await work_events(agency.agency_id, "work.task.created", task_id=task["id"])
        assert event["data"] == {
            "task_id": task["id"],
            "project_id": project["id"],
            "title": "Launch",
            "status": "todo",
            "column_id": task["column_id"],
            "assignee_ids": [str(dana.user_id)],
            "visible_to_client": True,
            "task_version": 1,
            "actor_id": str(agency.user_id),
            "due_date": "2027-01-31",
            "position": task["position"],
            "priority": "medium",
            "labels": [],
        }

    async def test_updates_moves_and_completion_carry_the_due_date_as_it_is_now(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await new_project(work, agency)
        columns = await column_ids(work, agency, project["id"])
        task = await new_task(work, agency, project["id"], due_date="2027-01-31")

        rescheduled = await work.patch(
            f"/v1/tasks/{task['id']}", json={"due_date": "2027-02-14"}, headers=agency.headers
        )
        renamed = await work.patch(
            f"/v1/tasks/{task['id']}", json={"title": "Later"}, headers=agency.headers
        )
        checklist = await work.post(
            f"/v1/tasks/{task['id']}/subtasks", json={"title": "Check"}, headers=agency.headers
        )
        moved = await move(work, agency, task["id"], columns["Done"])

        for response in (rescheduled, renamed, moved):
            assert response.status_code == 200, response.text
        assert checklist.status_code == 201, checklist.text
        updated = await work_events(agency.agency_id, "work.task.updated", task_id=task["id"])
        [moved_event] = await work_events(agency.agency_id, "work.task.moved", task_id=task["id"])
        [completed] = await work_events(agency.agency_id, "work.task.completed", task_id=task["id"])
        assert [e["data"]["changed_fields"] for e in updated] == [
            ["due_date"],
            ["title"],
            ["subtasks"],
        ]
        assert [e["data"]["due_date"] for e in [*updated, moved_event, completed]] == [
            "2027-02-14"
        ] * 5

    async def test_a_task_without_a_due_date_says_null(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"], due_date="2027-01-31")

        response = await work.patch(
            f"/v1/tasks/{task['id']}", json={"due_date": None}, headers=agency.headers
        )

        assert response.status_code == 200, response.text
        [event] = await work_events(agency.agency_id, "work.task.updated", task_id=task["id"])
        assert event["data"]["due_date"] is None


class TestTaskEventsCarryWhatABoardDraws:
    async def test_a_move_carries_the_new_position_priority_and_labels(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await new_project(work, agency)
        pid = project["id"]
        columns = await column_ids(work, agency, pid)
        top, bottom = [await new_task(work, agency, pid, status="review") for _ in range(2)]
        task = await new_task(work, agency, pid, priority="high", labels=["web", "copy"])

        response = await move(work, agency, task["id"], columns["Review"], before_id=bottom["id"])

        assert response.status_code == 200, response.text
        [moved] = await work_events(agency.agency_id, "work.task.moved", task_id=task["id"])
        assert top["position"] < moved["data"]["position"] < bottom["position"]
        assert moved["data"]["position"] == response.json()["position"]
        assert moved["data"]["column_id"] == columns["Review"]
        assert moved["data"]["from_column_id"] == columns["To do"]
        assert (moved["data"]["priority"], moved["data"]["labels"]) == ("high", ["web", "copy"])

    async def test_completion_by_a_move_carries_the_same_place_as_the_move(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await new_project(work, agency)
        columns = await column_ids(work, agency, project["id"])
        task = await new_task(work, agency, project["id"], labels=["ops"])

        response = await move(work, agency, task["id"], columns["Done"])

        assert response.status_code == 200, response.text
        [moved] = await work_events(agency.agency_id, "work.task.moved", task_id=task["id"])
        [completed] = await work_events(agency.agency_id, "work.task.completed", task_id=task["id"])
        board_fields = ("column_id", "position", "priority", "labels")
        assert [completed["data"][f] for f in board_fields] == [
            moved["data"][f] for f in board_fields
        ]
        assert completed["data"]["position"] == response.json()["position"]

    async def test_an_edit_carries_the_priority_and_labels_it_set(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"], labels=["draft"])

        response = await work.patch(
            f"/v1/tasks/{task['id']}",
            json={"priority": "urgent", "labels": ["ops", "ops", "web"]},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        [event] = await work_events(agency.agency_id, "work.task.updated", task_id=task["id"])
        assert event["data"]["priority"] == "urgent"
        assert event["data"]["labels"] == ["ops", "web"]
        assert event["data"]["position"] == task["position"]

    async def test_a_column_changing_status_publishes_each_card_where_it_stays(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await new_project(work, agency)
        columns = await column_ids(work, agency, project["id"])
        first, second = [
            await new_task(work, agency, project["id"], status="review") for _ in range(2)
        ]

        response = await work.patch(
            f"/v1/columns/{columns['Review']}", json={"status": "done"}, headers=agency.headers
        )

        assert response.status_code == 200, response.text
        for task in (first, second):
            [event] = await work_events(agency.agency_id, "work.task.updated", task_id=task["id"])
            assert event["data"]["status"] == "done"
            assert event["data"]["column_id"] == columns["Review"]
            assert event["data"]["position"] == task["position"]

    async def test_deleting_a_column_publishes_each_card_at_its_new_place(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await new_project(work, agency)
        pid = project["id"]
        columns = await column_ids(work, agency, pid)
        staying = await new_task(work, agency, pid)
        leaving = [await new_task(work, agency, pid, status="review") for _ in range(2)]

        response = await work.delete(
            f"/v1/columns/{columns['Review']}",
            params={"move_to": columns["To do"]},
            headers=agency.headers,
        )

        assert response.status_code == 204, response.text
        board = await get_board(work, agency, pid)
        [todo] = [c for c in board["columns"] if c["name"] == "To do"]
        placed = {t["id"]: t["position"] for t in todo["tasks"]}
        assert list(placed) == [staying["id"], *[t["id"] for t in leaving]]
        for task in leaving:
            [event] = await work_events(agency.agency_id, "work.task.moved", task_id=task["id"])
            assert event["data"]["from_column_id"] == columns["Review"]
            assert event["data"]["column_id"] == columns["To do"]
            assert event["data"]["position"] == placed[task["id"]]

    async def test_a_board_kept_from_the_events_alone_orders_a_rebalanced_column_as_the_api(
        self, work: httpx.AsyncClient, agency: Caller, in_process: InProcess
    ) -> None:
        project = await new_project(work, agency)
        pid = project["id"]
        columns = await column_ids(work, agency, pid)
        top = await new_task(work, agency, pid, title="top")
        await new_task(work, agency, pid, title="bottom")
        movers = [await new_task(work, agency, pid, status="review") for _ in range(40)]

        # Right below `top` each time: the gap runs out and the column is rebalanced.
        for mover in movers:
            response = await move(work, agency, mover["id"], columns["To do"], after_id=top["id"])
            assert response.status_code == 200, response.text

        # A board applying every task event in the order work published them, each the card
        # as it is now.
        events = await (await in_process.service("work")).outbox(agency.agency_id)
        board_kinds = ("work.task.created", "work.task.updated", "work.task.moved")
        cards: dict[str, dict[str, Any]] = {}
        for event in events:
            if event["type"] in board_kinds:
                card = event["data"]
                if card.get("changed_fields") == ["position"]:
                    # a rebalance: the same version, only the position is new
                    before = cards[card["task_id"]]
                    assert card["task_version"] == before["task_version"]
                    assert card["position"] != before["position"]
                cards[card["task_id"]] = card
        from_events = sorted(
            (c for c in cards.values() if c["column_id"] == columns["To do"]),
            key=lambda c: (c["position"], c["task_id"]),
        )
        renumbered = [
            e
            for e in events
            if e["type"] == "work.task.updated" and e["data"]["changed_fields"] == ["position"]
        ]
        assert renumbered, "40 halvings of one gap should have rebalanced the column"
        assert [c["task_id"] for c in from_events] == await column_task_ids(
            work, agency, pid, "To do"
        )
