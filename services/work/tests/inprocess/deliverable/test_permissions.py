"""Who may read one deliverable (`GET /v1/deliverables/{id}`): staff who see its project, and a
client's own users for what that client sees (the link in the "awaiting your approval" email):
never a draft, never another client's, never another agency's."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from agencyos.testing.http import assert_problem, unverified_jwt
from agencyos.testing.inprocess import Agency, Caller, InProcess


async def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def client_project(
    in_process: InProcess, tenant: Agency, work: httpx.AsyncClient
) -> tuple[Caller, str]:
    """A client user of `tenant` and a project of its client (declared on CRM's stand-in)."""
    client_user = tenant.caller("client", client_id=in_process.standins.crm.add_client(tenant.id))
    client_id = unverified_jwt(client_user.access_token)[1]["cid"]
    project = await created(
        await work.post(
            "/v1/projects",
            json={"name": f"Site {uuid.uuid4().hex[:6]}", "client_id": client_id},
            headers=tenant.owner.headers,
        )
    )
    return client_user, str(project["id"])


async def deliverable(
    work: httpx.AsyncClient, tenant: Agency, project_id: str, *, submitted: bool
) -> str:
    made = await created(
        await work.post(
            f"/v1/projects/{project_id}/deliverables",
            json={"title": f"Mockups {uuid.uuid4().hex[:6]}"},
            headers=tenant.owner.headers,
        )
    )
    if submitted:
        response = await work.post(
            f"/v1/deliverables/{made['id']}/submit", headers=tenant.owner.headers
        )
        assert response.status_code == 200, response.text
    return str(made["id"])


class TestAClientUser:
    async def test_reads_a_submitted_deliverable_of_its_own_clients_project(
        self, in_process: InProcess, tenant: Agency, work: httpx.AsyncClient
    ) -> None:
        client_user, project_id = await client_project(in_process, tenant, work)
        submitted = await deliverable(work, tenant, project_id, submitted=True)

        response = await work.get(f"/v1/deliverables/{submitted}", headers=client_user.headers)

        assert response.status_code == 200, response.text
        assert (response.json()["id"], response.json()["status"]) == (submitted, "submitted")

    async def test_never_sees_a_draft(
        self, in_process: InProcess, tenant: Agency, work: httpx.AsyncClient
    ) -> None:
        client_user, project_id = await client_project(in_process, tenant, work)
        draft = await deliverable(work, tenant, project_id, submitted=False)

        response = await work.get(f"/v1/deliverables/{draft}", headers=client_user.headers)

        assert_problem(response, 404, "not-found")

    async def test_never_sees_another_clients_deliverable(
        self, in_process: InProcess, tenant: Agency, work: httpx.AsyncClient
    ) -> None:
        _, theirs = await client_project(in_process, tenant, work)
        other_client_user, _ = await client_project(in_process, tenant, work)
        submitted = await deliverable(work, tenant, theirs, submitted=True)

        response = await work.get(
            f"/v1/deliverables/{submitted}", headers=other_client_user.headers
        )

        assert_problem(response, 404, "not-found")

    async def test_of_another_agency_never_sees_it(
        self,
        in_process: InProcess,
        tenant: Agency,
        other_tenant: Agency,
        work: httpx.AsyncClient,
    ) -> None:
        _, project_id = await client_project(in_process, tenant, work)
        submitted = await deliverable(work, tenant, project_id, submitted=True)
        stranger, _ = await client_project(in_process, other_tenant, work)

        response = await work.get(f"/v1/deliverables/{submitted}", headers=stranger.headers)

        assert_problem(response, 404, "not-found")

    async def test_still_cannot_list_the_projects_deliverables(
        self, in_process: InProcess, tenant: Agency, work: httpx.AsyncClient
    ) -> None:
        client_user, project_id = await client_project(in_process, tenant, work)

        response = await work.get(
            f"/v1/projects/{project_id}/deliverables", headers=client_user.headers
        )

        assert_problem(response, 403, "permission-denied")


class TestStaff:
    async def test_a_member_not_on_the_project_does_not_see_it(
        self, in_process: InProcess, tenant: Agency, work: httpx.AsyncClient
    ) -> None:
        _, project_id = await client_project(in_process, tenant, work)
        submitted = await deliverable(work, tenant, project_id, submitted=True)

        response = await work.get(
            f"/v1/deliverables/{submitted}", headers=tenant.caller("member").headers
        )

        assert_problem(response, 404, "not-found")
