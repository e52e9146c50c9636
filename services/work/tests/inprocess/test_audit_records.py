"""work records every deletion in the agency's audit log (an `audit.recorded` event in its
outbox, in the action's transaction): tasks, subtasks, milestones, deliverables, board
columns, project templates and files, with what they were; a member taken off a project; a project
archived (its DELETE); and changes to what a project is billed at. A refused action records
nothing."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.testing.audit_records import AuditRecord, audit_records
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller, ServiceInProcess

# What a maker answers: the DELETE path of what it made, its id, and the fields the audit
# record should keep as they were.
Made = tuple[str, str, dict[str, Any]]
Make = Callable[[httpx.AsyncClient, Caller], Awaitable[Made]]


@pytest.fixture
async def work_service(in_process: Any, work: httpx.AsyncClient) -> ServiceInProcess:
    service: ServiceInProcess = await in_process.service("work")
    return service


async def only(work_service: ServiceInProcess, action: str, who: Caller) -> AuditRecord:
    records = await audit_records(work_service, action=action, tenant_id=who.agency_id)
    assert len(records) == 1, [r.action for r in records]
    record = records[0]
    assert record.source_service == "work"
    return record


async def post(work: httpx.AsyncClient, who: Caller, path: str, **body: Any) -> dict[str, Any]:
    response = await work.post(path, json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def a_project(work: httpx.AsyncClient, who: Caller, **fields: Any) -> dict[str, Any]:
    return await post(work, who, "/v1/projects", name=f"Project {uuid.uuid4().hex[:6]}", **fields)


async def a_task(work: httpx.AsyncClient, who: Caller) -> Made:
    project = await a_project(work, who)
    task = await post(work, who, f"/v1/projects/{project['id']}/tasks", title="Write copy")
    return f"/v1/tasks/{task['id']}", task["id"], {"title": "Write copy", "status": task["status"]}


async def a_subtask(work: httpx.AsyncClient, who: Caller) -> Made:
    project = await a_project(work, who)
    task = await post(work, who, f"/v1/projects/{project['id']}/tasks", title="Write copy")
    subtask = await post(work, who, f"/v1/tasks/{task['id']}/subtasks", title="Proofread")
    return f"/v1/subtasks/{subtask['id']}", subtask["id"], {"title": "Proofread", "done": False}


async def a_milestone(work: httpx.AsyncClient, who: Caller) -> Made:
    project = await a_project(work, who, currency="EUR")
    milestone = await post(
        work, who, f"/v1/projects/{project['id']}/milestones", name="Launch", amount_cents=90_000
    )
    return (
        f"/v1/milestones/{milestone['id']}",
        milestone["id"],
        {"name": "Launch", "status": "open", "amount_cents": 90_000},
    )


async def a_deliverable(work: httpx.AsyncClient, who: Caller) -> Made:
    project = await a_project(work, who)
    deliverable = await post(work, who, f"/v1/projects/{project['id']}/deliverables", title="Logo")
    return (
        f"/v1/deliverables/{deliverable['id']}",
        deliverable["id"],
        {"title": "Logo", "status": "draft"},
    )


async def a_column(work: httpx.AsyncClient, who: Caller) -> Made:
    project = await a_project(work, who)
    column = await post(
        work, who, f"/v1/projects/{project['id']}/columns", name="Blocked", status="in_progress"
    )
    return f"/v1/columns/{column['id']}", column["id"], {"name": "Blocked"}


async def a_template(work: httpx.AsyncClient, who: Caller) -> Made:
    template = await post(
        work, who, "/v1/project-templates", name="Retainer", billing_type="retainer"
    )
    return f"/v1/project-templates/{template['id']}", template["id"], {"name": "Retainer"}


async def a_file(work: httpx.AsyncClient, who: Caller) -> Made:
    """A file requested (pending): deleting it removes its row and whatever is stored."""
    project = await a_project(work, who)
    ticket = await post(
        work,
        who,
        f"/v1/projects/{project['id']}/files",
        name="brief.pdf",
        content_type="application/pdf",
        size=10,
    )
    file_id = ticket["file"]["id"]
    before = {
        "name": "brief.pdf",
        "project_id": project["id"],
        "size_bytes": 10,
        "shared_with_client": False,
    }
    return f"/v1/files/{file_id}", file_id, before


DELETIONS: list[tuple[Make, str]] = [
    (a_task, "task"),
    (a_subtask, "subtask"),
    (a_milestone, "milestone"),
    (a_deliverable, "deliverable"),
    (a_column, "column"),
    (a_template, "project_template"),
    (a_file, "file"),
]


class TestDeletions:
    @pytest.mark.parametrize(("make", "entity_type"), DELETIONS, ids=[d[1] for d in DELETIONS])
    async def test_a_deletion_is_recorded_with_what_was_deleted(
        self,
        work: httpx.AsyncClient,
        work_service: ServiceInProcess,
        agency: Caller,
        make: Make,
        entity_type: str,
    ) -> None:
        path, entity_id, before = await make(work, agency)

        response = await work.delete(path, headers=agency.headers)

        assert response.status_code == 204, response.text
        record = await only(work_service, f"{entity_type}.deleted", agency)
        assert (record.actor_type, record.actor_id) == ("user", str(agency.user_id))
        assert (record.entity_type, record.entity_id) == (entity_type, entity_id)
        assert record.before == before
        assert set(record.after.values()) == {None}

    @pytest.mark.parametrize(("make", "entity_type"), DELETIONS, ids=[d[1] for d in DELETIONS])
    async def test_a_deletion_refused_to_a_client_user_records_nothing(
        self,
        work: httpx.AsyncClient,
        work_service: ServiceInProcess,
        tenant: Agency,
        make: Make,
        entity_type: str,
    ) -> None:
        path, _, _ = await make(work, tenant.owner)
        client_user = tenant.caller("client")

        response = await work.delete(path, headers=client_user.headers)

        assert response.status_code in (403, 404), response.text
        assert await audit_records(work_service) == []

    async def test_a_milestone_with_tasks_is_not_deleted_and_nothing_is_recorded(
        self, work: httpx.AsyncClient, work_service: ServiceInProcess, agency: Caller
    ) -> None:
        path, milestone_id, _ = await a_milestone(work, agency)
        milestone = (await work.get(path, headers=agency.headers)).json()
        await post(
            work,
            agency,
            f"/v1/projects/{milestone['project_id']}/tasks",
            title="Ship it",
            milestone_id=milestone_id,
        )

        response = await work.delete(path, headers=agency.headers)

        assert_problem(response, 409, "conflict")
        assert await audit_records(work_service, action="milestone.deleted") == []


class TestProjects:
    async def test_archiving_is_recorded(
        self, work: httpx.AsyncClient, work_service: ServiceInProcess, agency: Caller
    ) -> None:
        project = await a_project(work, agency)

        response = await work.delete(f"/v1/projects/{project['id']}", headers=agency.headers)

        assert response.status_code == 200, response.text
        record = await only(work_service, "project.archived", agency)
        assert record.entity_id == project["id"]
        assert record.changes == {"status": {"before": project["status"], "after": "archived"}}

    async def test_taking_a_member_off_a_project_is_recorded(
        self,
        work: httpx.AsyncClient,
        work_service: ServiceInProcess,
        tenant: Agency,
    ) -> None:
        member = tenant.caller("member")
        project = await a_project(work, tenant.owner, member_ids=[str(member.user_id)])

        response = await work.delete(
            f"/v1/projects/{project['id']}/members/{member.user_id}", headers=tenant.owner.headers
        )

        assert response.status_code == 204, response.text
        record = await only(work_service, "project.member_removed", tenant.owner)
        assert record.entity_id == project["id"]
        assert record.detail == {"user_id": str(member.user_id)}

    async def test_changing_what_a_project_is_billed_at_is_recorded_before_and_after(
        self, work: httpx.AsyncClient, work_service: ServiceInProcess, agency: Caller
    ) -> None:
        project = await a_project(
            work, agency, billing_type="hourly", hourly_rate_cents=9_500, budget_hours="100"
        )

        response = await work.patch(
            f"/v1/projects/{project['id']}",
            json={"hourly_rate_cents": 11_000, "budget_hours": "80", "name": "Renamed"},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        record = await only(work_service, "project.billing_changed", agency)
        assert (record.actor_type, record.actor_id) == ("user", str(agency.user_id))
        assert record.changes["hourly_rate_cents"] == {"before": 9_500, "after": 11_000}
        assert set(record.changes) == {"hourly_rate_cents", "budget_hours"}

    async def test_a_change_of_name_only_records_nothing(
        self, work: httpx.AsyncClient, work_service: ServiceInProcess, agency: Caller
    ) -> None:
        project = await a_project(work, agency, billing_type="hourly", hourly_rate_cents=9_500)

        response = await work.patch(
            f"/v1/projects/{project['id']}", json={"name": "Renamed"}, headers=agency.headers
        )

        assert response.status_code == 200, response.text
        assert await audit_records(work_service) == []
