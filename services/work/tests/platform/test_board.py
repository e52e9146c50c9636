"""Boards through the real gateway: the board's shape (columns in order, tasks in order with
their subtask counts), and adding, renaming, remapping, reordering and removing columns
(a removed column's tasks move to the column named in `move_to`), also while tasks on the
board are being written."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from agencyos.testing.factories import (
    AgencySession,
    add_member,
    get_board,
    new_project,
    new_task,
)
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.platform import Platform

DEFAULT_BOARD = [
    ("To do", "todo"),
    ("In progress", "in_progress"),
    ("Review", "review"),
    ("Done", "done"),
]


def column_named(board: dict[str, Any], name: str) -> dict[str, Any]:
    column: dict[str, Any] = next(c for c in board["columns"] if c["name"] == name)
    return column


def titles(column: dict[str, Any]) -> list[str]:
    return [t["title"] for t in column["tasks"]]


class TestTheBoard:
    async def test_a_new_project_has_the_default_columns_in_order_and_no_tasks(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)

        board = await get_board(gateway, agency, project["id"])

        assert board["project_id"] == project["id"]
        assert board["project_name"] == project["name"]
        assert [(c["name"], c["status"]) for c in board["columns"]] == DEFAULT_BOARD
        assert [c["position"] for c in board["columns"]] == [0, 1, 2, 3]
        assert all(c["tasks"] == [] and c["task_count"] == 0 for c in board["columns"])
        assert all(c["color"].startswith("#") for c in board["columns"])

    async def test_each_column_lists_its_tasks_in_order_with_subtask_counts(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        first = await new_task(gateway, agency, project["id"], title="First")
        second = await new_task(gateway, agency, project["id"], title="Second")
        reviewed = await new_task(
            gateway,
            agency,
            project["id"],
            title="Reviewed",
            status="review",
            priority="urgent",
            subtasks=[{"title": "Check copy", "done": True}, {"title": "Check links"}],
        )

        board = await get_board(gateway, agency, project["id"])

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
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        outsider = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency)

        response = await gateway.get(
            f"/v1/projects/{project['id']}/board", headers=outsider.headers
        )

        assert_problem(response, 404, "not-found")

    async def test_a_member_of_the_project_sees_its_board(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency, member)

        board = await get_board(gateway, member, project["id"])

        assert len(board["columns"]) == 4

    async def test_another_agency_gets_404(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        project = await new_project(gateway, agency)

        response = await gateway.get(
            f"/v1/projects/{project['id']}/board", headers=other_agency.headers
        )

        assert_problem(response, 404, "not-found")

    async def test_a_client_user_gets_403(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client_user = await add_member(platform, gateway, agency, "client")
        project = await new_project(gateway, agency)

        response = await gateway.get(
            f"/v1/projects/{project['id']}/board", headers=client_user.headers
        )

        assert_problem(response, 403, "permission-denied")


class TestAddingColumns:
    async def test_a_new_column_goes_to_the_right_end_of_the_board(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)

        response = await gateway.post(
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
        board = await get_board(gateway, agency, project["id"])
        assert [c["name"] for c in board["columns"]][-1] == "QA"

    async def test_a_bad_colour_or_status_is_refused_naming_the_fields(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)

        response = await gateway.post(
            f"/v1/projects/{project['id']}/columns",
            json={"name": "QA", "color": "purple", "status": "testing"},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "color", "status")

    async def test_a_member_without_projects_write_gets_403(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency, member)

        response = await gateway.post(
            f"/v1/projects/{project['id']}/columns",
            json={"name": "QA", "status": "review"},
            headers=member.headers,
        )

        assert_problem(response, 403, "permission-denied")

    async def test_another_agency_gets_404(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        project = await new_project(gateway, agency)

        response = await gateway.post(
            f"/v1/projects/{project['id']}/columns",
            json={"name": "QA", "status": "review"},
            headers=other_agency.headers,
        )

        assert_problem(response, 404, "not-found")


class TestChangingColumns:
    async def test_a_column_is_renamed_and_recoloured(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        review = column_named(await get_board(gateway, agency, project["id"]), "Review")

        response = await gateway.patch(
            f"/v1/columns/{review['id']}",
            json={"name": "Client review", "color": "#F97316"},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["name"] == "Client review"
        assert response.json()["color"] == "#F97316"
        assert response.json()["status"] == "review"
        board = await get_board(gateway, agency, project["id"])
        assert [c["name"] for c in board["columns"]] == [
            "To do",
            "In progress",
            "Client review",
            "Done",
        ]

    async def test_a_new_status_carries_the_columns_tasks_with_it(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"], status="review")
        review = column_named(await get_board(gateway, agency, project["id"]), "Review")

        response = await gateway.patch(
            f"/v1/columns/{review['id']}", json={"status": "done"}, headers=agency.headers
        )

        assert response.status_code == 200, response.text
        moved = (await gateway.get(f"/v1/tasks/{task['id']}", headers=agency.headers)).json()
        assert moved["status"] == "done"
        assert moved["completed_at"] is not None
        assert moved["version"] == 2

    async def test_a_null_name_is_refused(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        review = column_named(await get_board(gateway, agency, project["id"]), "Review")

        response = await gateway.patch(
            f"/v1/columns/{review['id']}", json={"name": None}, headers=agency.headers
        )

        assert_problem(response, 422, "invalid-input")

    async def test_another_agency_gets_404(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        project = await new_project(gateway, agency)
        review = column_named(await get_board(gateway, agency, project["id"]), "Review")

        response = await gateway.patch(
            f"/v1/columns/{review['id']}", json={"name": "Mine"}, headers=other_agency.headers
        )

        assert_problem(response, 404, "not-found")


class TestReorderingColumns:
    async def test_the_board_takes_the_order_given(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        board = await get_board(gateway, agency, project["id"])
        reversed_ids = [c["id"] for c in reversed(board["columns"])]

        response = await gateway.put(
            f"/v1/projects/{project['id']}/columns/order",
            json={"column_ids": reversed_ids},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        assert [c["id"] for c in response.json()["columns"]] == reversed_ids
        board = await get_board(gateway, agency, project["id"])
        assert [c["name"] for c in board["columns"]] == ["Done", "Review", "In progress", "To do"]
        assert [c["position"] for c in board["columns"]] == [0, 1, 2, 3]

    async def test_a_list_that_is_not_exactly_the_boards_columns_is_refused(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        ids = [c["id"] for c in (await get_board(gateway, agency, project["id"]))["columns"]]
        url = f"/v1/projects/{project['id']}/columns/order"

        missing = await gateway.put(url, json={"column_ids": ids[:3]}, headers=agency.headers)
        twice = await gateway.put(url, json={"column_ids": [*ids, ids[0]]}, headers=agency.headers)
        unknown = await gateway.put(
            url, json={"column_ids": [*ids, str(uuid.uuid4())]}, headers=agency.headers
        )

        assert_invalid_fields(missing, "column_ids")
        assert_invalid_fields(twice, "column_ids")
        assert_invalid_fields(unknown, "column_ids")


class TestRemovingColumns:
    async def test_an_empty_column_is_removed_and_the_rest_close_up(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        review = column_named(await get_board(gateway, agency, project["id"]), "Review")

        response = await gateway.delete(f"/v1/columns/{review['id']}", headers=agency.headers)

        assert response.status_code == 204, response.text
        board = await get_board(gateway, agency, project["id"])
        assert [c["name"] for c in board["columns"]] == ["To do", "In progress", "Done"]
        assert [c["position"] for c in board["columns"]] == [0, 1, 2]

    async def test_a_column_with_tasks_needs_move_to(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        await new_task(gateway, agency, project["id"], status="review")
        review = column_named(await get_board(gateway, agency, project["id"]), "Review")

        response = await gateway.delete(f"/v1/columns/{review['id']}", headers=agency.headers)

        assert_invalid_fields(response, "move_to")
        board = await get_board(gateway, agency, project["id"])
        assert len(board["columns"]) == 4

    async def test_its_tasks_go_to_the_bottom_of_move_to_in_their_order(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        waiting = await new_task(gateway, agency, project["id"], title="Waiting")
        one = await new_task(gateway, agency, project["id"], title="One", status="review")
        two = await new_task(gateway, agency, project["id"], title="Two", status="review")
        board = await get_board(gateway, agency, project["id"])
        review, todo = column_named(board, "Review"), column_named(board, "To do")

        response = await gateway.delete(
            f"/v1/columns/{review['id']}",
            params={"move_to": todo["id"]},
            headers=agency.headers,
        )

        assert response.status_code == 204, response.text
        board = await get_board(gateway, agency, project["id"])
        todo = column_named(board, "To do")
        assert [t["id"] for t in todo["tasks"]] == [waiting["id"], one["id"], two["id"]]
        assert all(t["status"] == "todo" for t in todo["tasks"])
        assert [t["version"] for t in todo["tasks"]] == [1, 2, 2]

    async def test_tasks_moved_into_a_done_column_are_completed(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"], status="review")
        board = await get_board(gateway, agency, project["id"])

        response = await gateway.delete(
            f"/v1/columns/{column_named(board, 'Review')['id']}",
            params={"move_to": column_named(board, "Done")["id"]},
            headers=agency.headers,
        )

        assert response.status_code == 204, response.text
        done = (await gateway.get(f"/v1/tasks/{task['id']}", headers=agency.headers)).json()
        assert done["status"] == "done"
        assert done["completed_at"] is not None

    async def test_move_to_a_column_of_another_project_is_refused(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        other = await new_project(gateway, agency)
        await new_task(gateway, agency, project["id"], status="review")
        review = column_named(await get_board(gateway, agency, project["id"]), "Review")
        elsewhere = column_named(await get_board(gateway, agency, other["id"]), "To do")

        response = await gateway.delete(
            f"/v1/columns/{review['id']}",
            params={"move_to": elsewhere["id"]},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "move_to")

    async def test_the_last_column_stays(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        columns = (await get_board(gateway, agency, project["id"]))["columns"]
        for column in columns[1:]:
            response = await gateway.delete(f"/v1/columns/{column['id']}", headers=agency.headers)
            assert response.status_code == 204, response.text

        response = await gateway.delete(f"/v1/columns/{columns[0]['id']}", headers=agency.headers)

        assert_problem(response, 409, "conflict")
        assert len((await get_board(gateway, agency, project["id"]))["columns"]) == 1

    async def test_another_agency_gets_404(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        project = await new_project(gateway, agency)
        review = column_named(await get_board(gateway, agency, project["id"]), "Review")

        response = await gateway.delete(f"/v1/columns/{review['id']}", headers=other_agency.headers)

        assert_problem(response, 404, "not-found")
        assert len((await get_board(gateway, agency, project["id"]))["columns"]) == 4


class TestConcurrentChanges:
    async def test_column_changes_during_task_writes_never_fail_the_server(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        pid = project["id"]
        tasks = [await new_task(gateway, agency, pid) for _ in range(4)]
        board = await get_board(gateway, agency, pid)
        review, done = column_named(board, "Review"), column_named(board, "Done")

        responses = await asyncio.gather(
            *[
                gateway.post(
                    f"/v1/tasks/{t['id']}/move",
                    json={"column_id": review["id"]},
                    headers=agency.headers,
                )
                for t in tasks[:3]
            ],
            gateway.patch(
                f"/v1/columns/{review['id']}", json={"status": "done"}, headers=agency.headers
            ),
            gateway.post(
                f"/v1/projects/{pid}/columns",
                json={"name": "Later", "status": "todo"},
                headers=agency.headers,
            ),
            gateway.post(
                f"/v1/projects/{pid}/tasks",
                json={"title": "Arriving", "column_id": review["id"]},
                headers=agency.headers,
            ),
            gateway.post(
                f"/v1/tasks/{tasks[3]['id']}/comments",
                json={"body": "Meanwhile"},
                headers=agency.headers,
            ),
            gateway.patch(
                f"/v1/tasks/{tasks[3]['id']}", json={"title": "Edited"}, headers=agency.headers
            ),
            gateway.delete(f"/v1/columns/{done['id']}", headers=agency.headers),
        )

        assert all(r.is_success for r in responses), [(r.status_code, r.text) for r in responses]
        board = await get_board(gateway, agency, pid)
        remapped = column_named(board, "Review")
        assert remapped["status"] == "done"
        assert len(remapped["tasks"]) == 4
        assert all(t["status"] == "done" and t["completed_at"] for t in remapped["tasks"])
