"""Boards through work's API: the board's shape (columns in order, tasks in order with
their subtask counts), and adding, renaming, remapping, reordering and removing columns
(a removed column's tasks move to the column named in `move_to`), also while tasks on the
board are being written."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from agencyos.testing.factories import (
    get_board,
    new_project,
    new_task,
)
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller

DEFAULT_BOARD = [
    ("To do", "todo"),
    ("In progress", "in_progress"),
    ("Review", "review"),
    ("Done", "done"),
]


def column_named(board: dict[str, Any], name: str) -> dict[str, Any]:
    column: dict[str, Any] = next(c for c in board["columns"] if c["name"] == name)
    return column


class TestTheBoard:
    async def test_a_new_project_has_the_default_columns_in_order_and_no_tasks(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)

        board = await get_board(work, agency, project["id"])

        assert board["project_id"] == project["id"]
        assert board["project_name"] == project["name"]
        assert [(c["name"], c["status"]) for c in board["columns"]] == DEFAULT_BOARD
        assert [c["position"] for c in board["columns"]] == [0, 1, 2, 3]
        assert all(c["tasks"] == [] and c["task_count"] == 0 for c in board["columns"])
        assert all(c["color"].startswith("#") for c in board["columns"])

    async def test_each_column_lists_its_tasks_in_order_with_subtask_counts(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        first = await new_task(work, agency, project["id"], title="First")
        second = await new_task(work, agency, project["id"], title="Second")
        reviewed = await new_task(
            work,
            agency,
            project["id"],
            title="Reviewed",
            status="review",
            priority="urgent",
            subtasks=[{"title": "Check copy", "done": True}, {"title": "Check links"}],
        )

        board = await get_board(work, agency, project["id"])

        todo = column_named(board, "To do")
        assert [t["id"] for t in todo["tasks"]] == [first["id"], second["id"]]
        assert todo["task_count"] == 2
        [card] = column_named(board, "Review")["tasks"]
        assert card["id"] == reviewed["id"]
        assert card["status"] == "review"
        assert card["priority"] == "urgent"
        assert (card["subtasks_total"], card["subtasks_done"]) == (2, 1)
        assert card["version"] == 1
        assert column_named(board, "In progress")["tasks"] == []

    async def test_a_member_who_is_not_on_the_project_gets_404(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        outsider = tenant.caller("member")
        project = await new_project(work, agency)

        response = await work.get(f"/v1/projects/{project['id']}/board", headers=outsider.headers)

        assert_problem(response, 404, "not-found")

    async def test_a_member_of_the_project_sees_its_board(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        project = await new_project(work, agency, member)

        board = await get_board(work, member, project["id"])

        assert len(board["columns"]) == 4

    async def test_another_agency_gets_404(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        project = await new_project(work, agency)

        response = await work.get(
            f"/v1/projects/{project['id']}/board", headers=other_agency.headers
        )

        assert_problem(response, 404, "not-found")

    async def test_a_client_user_gets_403(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        client_user = tenant.caller("client")
        project = await new_project(work, agency)

        response = await work.get(
            f"/v1/projects/{project['id']}/board", headers=client_user.headers
        )

        assert_problem(response, 403, "permission-denied")


class TestAddingColumns:
    async def test_a_new_column_goes_to_the_right_end_of_the_board(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)

        response = await work.post(
            f"/v1/projects/{project['id']}/columns",
            json={"name": "QA", "color": "#8B5CF6", "status": "review"},
            headers=agency.headers,
        )

        assert response.status_code == 201, response.text
        column = response.json()
        assert column["name"] == "QA"
        assert column["color"] == "#8B5CF6"
        assert column["status"] == "review"
        assert column["position"] == 4
        assert column["task_count"] == 0
        board = await get_board(work, agency, project["id"])
        assert [c["name"] for c in board["columns"]][-1] == "QA"

    async def test_a_bad_colour_or_status_is_refused_naming_the_fields(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)

        response = await work.post(
            f"/v1/projects/{project['id']}/columns",
            json={"name": "QA", "color": "purple", "status": "testing"},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "color", "status")

    async def test_a_member_without_projects_write_gets_403(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        project = await new_project(work, agency, member)

        response = await work.post(
            f"/v1/projects/{project['id']}/columns",
            json={"name": "QA", "status": "review"},
            headers=member.headers,
        )

        assert_problem(response, 403, "permission-denied")

    async def test_another_agency_gets_404(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        project = await new_project(work, agency)

        response = await work.post(
            f"/v1/projects/{project['id']}/columns",
            json={"name": "QA", "status": "review"},
            headers=other_agency.headers,
        )

        assert_problem(response, 404, "not-found")


class TestChangingColumns:
    async def test_a_column_is_renamed_and_recoloured(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        review = column_named(await get_board(work, agency, project["id"]), "Review")

        response = await work.patch(
            f"/v1/columns/{review['id']}",
            json={"name": "Client review", "color": "#F97316"},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["name"] == "Client review"
        assert response.json()["color"] == "#F97316"
        assert response.json()["status"] == "review"
        board = await get_board(work, agency, project["id"])
        assert [c["name"] for c in board["columns"]] == [
            "To do",
            "In progress",
            "Client review",
            "Done",
        ]

    async def test_a_new_status_carries_the_columns_tasks_with_it(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"], status="review")
        review = column_named(await get_board(work, agency, project["id"]), "Review")

        response = await work.patch(
            f"/v1/columns/{review['id']}", json={"status": "done"}, headers=agency.headers
        )

        assert response.status_code == 200, response.text
        moved = (await work.get(f"/v1/tasks/{task['id']}", headers=agency.headers)).json()
        assert moved["status"] == "done"
        assert moved["completed_at"] is not None
        assert moved["version"] == 2

    async def test_a_null_name_is_refused(self, work: httpx.AsyncClient, agency: Caller) -> None:
        project = await new_project(work, agency)
        review = column_named(await get_board(work, agency, project["id"]), "Review")

        response = await work.patch(
            f"/v1/columns/{review['id']}", json={"name": None}, headers=agency.headers
        )

        assert_problem(response, 422, "invalid-input")

    async def test_another_agency_gets_404(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        project = await new_project(work, agency)
        review = column_named(await get_board(work, agency, project["id"]), "Review")

        response = await work.patch(
            f"/v1/columns/{review['id']}", json={"name": "Mine"}, headers=other_agency.headers
        )

        assert_problem(response, 404, "not-found")


class TestReorderingColumns:
    async def test_the_board_takes_the_order_given(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        board = await get_board(work, agency, project["id"])
        reversed_ids = [c["id"] for c in reversed(board["columns"])]

        response = await work.put(
            f"/v1/projects/{project['id']}/columns/order",
            json={"column_ids": reversed_ids},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        assert [c["id"] for c in response.json()["columns"]] == reversed_ids
        board = await get_board(work, agency, project["id"])
        assert [c["name"] for c in board["columns"]] == ["Done", "Review", "In progress", "To do"]
        assert [c["position"] for c in board["columns"]] == [0, 1, 2, 3]

    async def test_a_list_that_is_not_exactly_the_boards_columns_is_refused(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        ids = [c["id"] for c in (await get_board(work, agency, project["id"]))["columns"]]
        url = f"/v1/projects/{project['id']}/columns/order"

        missing = await work.put(url, json={"column_ids": ids[:3]}, headers=agency.headers)
        twice = await work.put(url, json={"column_ids": [*ids, ids[0]]}, headers=agency.headers)
        unknown = await work.put(
            url, json={"column_ids": [*ids, str(uuid.uuid4())]}, headers=agency.headers
        )

        assert_invalid_fields(missing, "column_ids")
        assert_invalid_fields(twice, "column_ids")
        assert_invalid_fields(unknown, "column_ids")


class TestRemovingColumns:
    async def test_an_empty_column_is_removed_and_the_rest_close_up(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        review = column_named(await get_board(work, agency, project["id"]), "Review")

        response = await work.delete(f"/v1/columns/{review['id']}", headers=agency.headers)

        assert response.status_code == 204, response.text
        board = await get_board(work, agency, project["id"])
        assert [c["name"] for c in board["columns"]] == ["To do", "In progress", "Done"]
        assert [c["position"] for c in board["columns"]] == [0, 1, 2]

    async def test_a_column_with_tasks_needs_move_to(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        await new_task(work, agency, project["id"], status="review")
        review = column_named(await get_board(work, agency, project["id"]), "Review")

        response = await work.delete(f"/v1/columns/{review['id']}", headers=agency.headers)

        assert_invalid_fields(response, "move_to")
        board = await get_board(work, agency, project["id"])
        assert len(board["columns"]) == 4

    async def test_its_tasks_go_to_the_bottom_of_move_to_in_their_order(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        waiting = await new_task(work, agency, project["id"], title="Waiting")
        one = await new_task(work, agency, project["id"], title="One", status="review")
        two = await new_task(work, agency, project["id"], title="Two", status="review")
        board = await get_board(work, agency, project["id"])
        review, todo = column_named(board, "Review"), column_named(board, "To do")

        response = await work.delete(
            f"/v1/columns/{review['id']}",
            params={"move_to": todo["id"]},
            headers=agency.headers,
        )

        assert response.status_code == 204, response.text
        board = await get_board(work, agency, project["id"])
        todo = column_named(board, "To do")
        assert [t["id"] for t in todo["tasks"]] == [waiting["id"], one["id"], two["id"]]
        assert all(t["status"] == "todo" for t in todo["tasks"])
        assert [t["version"] for t in todo["tasks"]] == [1, 2, 2]

    async def test_tasks_moved_into_a_done_column_are_completed(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"], status="review")
        board = await get_board(work, agency, project["id"])

        response = await work.delete(
            f"/v1/columns/{column_named(board, 'Review')['id']}",
            params={"move_to": column_named(board, "Done")["id"]},
            headers=agency.headers,
        )

        assert response.status_code == 204, response.text
        done = (await work.get(f"/v1/tasks/{task['id']}", headers=agency.headers)).json()
        assert done["status"] == "done"
        assert done["completed_at"] is not None

    async def test_move_to_a_column_of_another_project_is_refused(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        other = await new_project(work, agency)
        await new_task(work, agency, project["id"], status="review")
        review = column_named(await get_board(work, agency, project["id"]), "Review")
        elsewhere = column_named(await get_board(work, agency, other["id"]), "To do")

        response = await work.delete(
            f"/v1/columns/{review['id']}",
            params={"move_to": elsewhere["id"]},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "move_to")

    async def test_the_last_column_stays(self, work: httpx.AsyncClient, agency: Caller) -> None:
        project = await new_project(work, agency)
        columns = (await get_board(work, agency, project["id"]))["columns"]
        for column in columns[1:]:
            response = await work.delete(f"/v1/columns/{column['id']}", headers=agency.headers)
            assert response.status_code == 204, response.text

        response = await work.delete(f"/v1/columns/{columns[0]['id']}", headers=agency.headers)

        assert_problem(response, 409, "conflict")
        assert len((await get_board(work, agency, project["id"]))["columns"]) == 1

    async def test_another_agency_gets_404(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        project = await new_project(work, agency)
        review = column_named(await get_board(work, agency, project["id"]), "Review")

        response = await work.delete(f"/v1/columns/{review['id']}", headers=other_agency.headers)

        assert_problem(response, 404, "not-found")
        assert len((await get_board(work, agency, project["id"]))["columns"]) == 4
