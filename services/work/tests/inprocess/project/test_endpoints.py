"""Projects through work's API: creating (members and the client checked with identity and
CRM), who sees which project, listing, updating with the events it writes, archiving and
project members; another agency's ids answer 404 everywhere."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess

START = date(2026, 12, 1)
# The conftest's `work_events` (the events work wrote to its outbox) and `work_rows`.
WorkEvents = Callable[..., Awaitable[list[dict[str, Any]]]]
WorkRows = Callable[..., Awaitable[list[Any]]]


async def create_project(work: httpx.AsyncClient, who: Caller, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Project {uuid.uuid4().hex[:8]}", **fields}
    response = await work.post("/v1/projects", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/projects/{response.json()['id']}"
    project: dict[str, Any] = response.json()
    return project


async def create_template(work: httpx.AsyncClient, who: Caller, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Template {uuid.uuid4().hex[:8]}", **fields}
    response = await work.post("/v1/project-templates", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    template: dict[str, Any] = response.json()
    return template


async def get_project(work: httpx.AsyncClient, who: Caller, project_id: str) -> dict[str, Any]:
    response = await work.get(f"/v1/projects/{project_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    project: dict[str, Any] = response.json()
    return project


async def list_projects(work: httpx.AsyncClient, who: Caller, **params: Any) -> dict[str, Any]:
    response = await work.get("/v1/projects", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def names(work: httpx.AsyncClient, who: Caller, **params: Any) -> list[str]:
    return [p["name"] for p in (await list_projects(work, who, **params))["items"]]


def member_ids(project: dict[str, Any]) -> set[str]:
    return {m["user_id"] for m in project["members"]}


class TestCreatingProjects:
    async def test_named_members_join_the_creator(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")

        project = await create_project(
            work, agency, member_ids=[str(member.user_id), str(agency.user_id)]
        )

        assert member_ids(project) == {str(agency.user_id), str(member.user_id)}
        assert await get_project(work, member, project["id"]) == project

    async def test_members_must_be_active_non_client_members_of_the_agency(
        self, work: httpx.AsyncClient, agency: Caller, other_agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        client_user = tenant.caller("client")

        response = await work.post(
            "/v1/projects",
            json={
                "name": "Team",
                "member_ids": [
                    str(member.user_id),
                    str(other_agency.user_id),
                    str(client_user.user_id),
                    str(uuid.uuid4()),
                ],
            },
            headers=agency.headers,
        )

        assert_invalid_fields(response, "member_ids.1", "member_ids.2", "member_ids.3")

    async def test_the_client_must_be_the_agencys_and_its_currency_is_the_default(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        other_tenant: Agency,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_id = str(in_process.standins.crm.add_client(tenant.id, currency="EUR"))
        theirs = in_process.standins.crm.add_client(other_tenant.id)

        project = await create_project(work, agency, client_id=client_id)
        explicit = await create_project(work, agency, client_id=client_id, currency="GBP")
        response = await work.post(
            "/v1/projects", json={"name": "X", "client_id": str(theirs)}, headers=agency.headers
        )

        assert (project["client_id"], project["currency"]) == (client_id, "EUR")
        assert explicit["currency"] == "GBP"
        assert_invalid_fields(response, "client_id")

    @pytest.mark.parametrize(
        ("fields", "invalid"),
        [
            ({"name": "   "}, "name"),
            ({"name": "x" * 201}, "name"),
            ({"status": "done"}, "status"),
            ({"billing_type": "free"}, "billing_type"),
            ({"currency": "usd"}, "currency"),
            ({"currency": "XXX"}, "currency"),
            ({"budget_cents": -1}, "budget_cents"),
            ({"hourly_rate_cents": 10**16}, "hourly_rate_cents"),
            ({"budget_hours": "1.234"}, "budget_hours"),
            ({"start_date": "2026-12-10", "deadline": "2026-12-09"}, "deadline"),
            ({"start_date": "9999-12-30"}, "start_date"),
            ({"deal_id": str(uuid.uuid4())}, "deal_id"),
            ({"member_ids": ["not-a-uuid"]}, "member_ids.0"),
            ({"template_id": "nope"}, "template_id"),
        ],
    )
    async def test_bad_input_answers_422_naming_the_field(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        fields: dict[str, Any],
        invalid: str,
    ) -> None:
        response = await work.post(
            "/v1/projects", json={"name": "Valid", **fields}, headers=agency.headers
        )

        assert_invalid_fields(response, invalid)

    @pytest.mark.parametrize("role", ["member", "client"])
    async def test_a_role_without_projects_write_gets_403(
        self, work: httpx.AsyncClient, agency: Caller, role: str, tenant: Agency
    ) -> None:
        who = tenant.caller(role)

        response = await work.post("/v1/projects", json={"name": "Mine"}, headers=who.headers)

        assert_problem(response, 403, "permission-denied")

    async def test_a_manager_may_create_and_work_project_created_is_published(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, work_events: WorkEvents
    ) -> None:
        manager = tenant.caller("manager")

        project = await create_project(work, manager, name="Managed")

        assert member_ids(project) == {str(manager.user_id)}
        [event] = await work_events(
            agency.agency_id, "work.project.created", project_id=project["id"]
        )
        assert event["data"]["name"] == "Managed"
        assert event["data"]["deal_id"] is None
        assert event["data"]["created_by"] == str(manager.user_id)
        assert event["subject"] == f"projects/{project['id']}"


class TestVisibility:
    async def test_a_member_sees_only_the_projects_they_belong_to(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        theirs = await create_project(work, agency, member_ids=[str(member.user_id)])
        hidden = await create_project(work, agency)

        assert [p["id"] for p in (await list_projects(work, member))["items"]] == [theirs["id"]]
        assert (await get_project(work, member, theirs["id"]))["id"] == theirs["id"]
        for path in (f"/v1/projects/{hidden['id']}", f"/v1/projects/{hidden['id']}/members"):
            assert_problem(await work.get(path, headers=member.headers), 404, "not-found")

    async def test_a_manager_sees_every_project_of_the_agency(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        manager = tenant.caller("manager")
        first = await create_project(work, agency)
        second = await create_project(work, agency)

        listed = {p["id"] for p in (await list_projects(work, manager))["items"]}

        assert listed == {first["id"], second["id"]}
        assert (await get_project(work, manager, first["id"]))["id"] == first["id"]

    async def test_a_client_user_gets_403_on_project_routes(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        client_user = tenant.caller("client")
        project = await create_project(work, agency)

        for path in (
            "/v1/projects",
            f"/v1/projects/{project['id']}",
            f"/v1/projects/{project['id']}/members",
            "/v1/project-templates",
        ):
            response = await work.get(path, headers=client_user.headers)
            assert_problem(response, 403, "permission-denied")

    async def test_another_agencys_project_answers_404_on_every_route(
        self, work: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        theirs = await create_project(work, other_agency)
        base = f"/v1/projects/{theirs['id']}"

        responses = [
            await work.get(base, headers=agency.headers),
            await work.patch(base, json={"name": "Mine now"}, headers=agency.headers),
            await work.delete(base, headers=agency.headers),
            await work.get(f"{base}/members", headers=agency.headers),
            await work.post(
                f"{base}/members", json={"user_id": str(agency.user_id)}, headers=agency.headers
            ),
            await work.delete(f"{base}/members/{other_agency.user_id}", headers=agency.headers),
        ]

        for response in responses:
            assert_problem(response, 404, "not-found")
        assert (await list_projects(work, agency))["total"] == 0
        untouched = await get_project(work, other_agency, theirs["id"])
        assert (untouched["name"], untouched["status"]) == (theirs["name"], "planning")
        assert member_ids(untouched) == {str(other_agency.user_id)}

    async def test_a_malformed_project_id_answers_422(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await work.get("/v1/projects/not-a-uuid", headers=agency.headers)

        assert_invalid_fields(response, "path.project_id")


class TestListingProjects:
    async def test_filters_combine_and_pagination_counts_all_matches(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, in_process: InProcess
    ) -> None:
        member = tenant.caller("member")
        client_id = str(in_process.standins.crm.add_client(tenant.id))
        await create_project(work, agency, name="Alpha site", client_id=client_id)
        await create_project(work, agency, name="Beta app", client_id=client_id, status="active")
        await create_project(
            work, agency, name="Gamma site", status="active", member_ids=[str(member.user_id)]
        )
        await create_project(work, agency, name="100%_literal")

        assert await names(work, agency, client_id=client_id, sort="name") == [
            "Alpha site",
            "Beta app",
        ]
        assert await names(work, agency, status="active", sort="name") == [
            "Beta app",
            "Gamma site",
        ]
        assert await names(work, agency, member=str(member.user_id)) == ["Gamma site"]
        assert await names(work, agency, q="SITE", sort="name") == ["Alpha site", "Gamma site"]
        assert await names(work, agency, q="%_") == ["100%_literal"]
        assert await names(work, agency, q="site", status="active") == ["Gamma site"]
        page = await list_projects(work, agency, sort="name", per_page=3, page=2)
        assert (page["total"], page["page"], page["per_page"]) == (4, 2, 3)
        assert [p["name"] for p in page["items"]] == ["Gamma site"]

    async def test_sorting_by_name_created_at_and_deadline(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        await create_project(work, agency, name="b", deadline="2027-03-01")
        await create_project(work, agency, name="C")
        await create_project(work, agency, name="a", deadline="2027-01-01")

        assert await names(work, agency, sort="name") == ["a", "b", "C"]
        assert await names(work, agency, sort="-name") == ["C", "b", "a"]
        assert await names(work, agency, sort="created_at") == ["b", "C", "a"]
        assert await names(work, agency) == ["a", "C", "b"]  # newest first by default
        assert await names(work, agency, sort="deadline") == ["a", "b", "C"]
        assert await names(work, agency, sort="-deadline") == ["b", "a", "C"]

    @pytest.mark.parametrize(
        ("params", "invalid"),
        [
            ({"sort": "budget"}, "query.sort"),
            ({"status": "done"}, "query.status"),
            ({"per_page": 201}, "query.per_page"),
            ({"member": "me"}, "query.member"),
        ],
    )
    async def test_bad_list_parameters_answer_422(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        params: dict[str, Any],
        invalid: str,
    ) -> None:
        response = await work.get("/v1/projects", params=params, headers=agency.headers)

        assert_invalid_fields(response, invalid)


class TestUpdatingProjects:
    async def test_changed_fields_publish_work_project_updated(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await create_project(work, agency, name="Before", budget_cents=100)

        response = await work.patch(
            f"/v1/projects/{project['id']}",
            json={"name": "After", "budget_cents": None, "currency": "EUR", "description": None},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        updated = response.json()
        assert (updated["name"], updated["budget_cents"], updated["currency"]) == (
            "After",
            None,
            "EUR",
        )
        assert await get_project(work, agency, project["id"]) == updated
        [event] = await work_events(
            agency.agency_id, "work.project.updated", project_id=project["id"]
        )
        assert event["data"]["changed_fields"] == ["budget_cents", "currency", "name"]
        assert (event["data"]["name"], event["data"]["currency"]) == ("After", "EUR")
        assert event["data"]["updated_by"] == str(agency.user_id)

    async def test_a_status_change_publishes_work_project_status_changed(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await create_project(work, agency)

        response = await work.patch(
            f"/v1/projects/{project['id']}",
            json={"status": "active", "deadline": "2027-01-31"},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "active"
        [changed] = await work_events(
            agency.agency_id, "work.project.status_changed", project_id=project["id"]
        )
        assert (changed["data"]["old_status"], changed["data"]["new_status"]) == (
            "planning",
            "active",
        )
        [updated] = await work_events(
            agency.agency_id, "work.project.updated", project_id=project["id"]
        )
        assert updated["data"]["changed_fields"] == ["deadline"]

    async def test_deleting_archives_the_project_and_keeps_it(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await create_project(work, agency, status="active")

        response = await work.delete(f"/v1/projects/{project['id']}", headers=agency.headers)
        again = await work.delete(f"/v1/projects/{project['id']}", headers=agency.headers)

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "archived"
        assert again.status_code == 200
        assert (await get_project(work, agency, project["id"]))["status"] == "archived"
        assert await names(work, agency, status="archived") == [project["name"]]
        events = await work_events(
            agency.agency_id, "work.project.status_changed", project_id=project["id"]
        )
        assert [(e["data"]["old_status"], e["data"]["new_status"]) for e in events] == [
            ("active", "archived")
        ]

    async def test_an_unchanged_patch_publishes_nothing(
        self, work: httpx.AsyncClient, agency: Caller, work_rows: WorkRows
    ) -> None:
        project = await create_project(work, agency, name="Same")

        response = await work.patch(
            f"/v1/projects/{project['id']}", json={"name": "Same"}, headers=agency.headers
        )

        assert response.status_code == 200, response.text
        rows = await work_rows(
            agency.agency_id,
            "SELECT count(*) AS n FROM outbox WHERE event_type <> 'work.project.created' "
            "AND envelope->>'subject' = $1",
            f"projects/{project['id']}",
        )
        assert rows[0]["n"] == 0

    @pytest.mark.parametrize(
        ("fields", "invalid"),
        [
            ({"name": None}, "name"),
            ({"status": None}, "status"),
            ({"currency": None}, "currency"),
            ({"deadline": "2026-11-30"}, "deadline"),
            ({"start_date": "2027-01-01"}, "start_date"),
            ({"deal_id": str(uuid.uuid4())}, "deal_id"),
            ({"template_id": str(uuid.uuid4())}, "template_id"),
            ({"member_ids": []}, "member_ids"),
            ({"status": "closed"}, "status"),
        ],
    )
    async def test_bad_updates_answer_422_naming_the_field(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        fields: dict[str, Any],
        invalid: str,
    ) -> None:
        project = await create_project(work, agency, start_date="2026-12-01", deadline="2026-12-31")

        response = await work.patch(
            f"/v1/projects/{project['id']}", json=fields, headers=agency.headers
        )

        assert_invalid_fields(response, invalid)
        assert await get_project(work, agency, project["id"]) == project

    async def test_the_client_must_be_one_of_the_agencys(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        tenant: Agency,
        other_tenant: Agency,
        in_process: InProcess,
    ) -> None:
        project = await create_project(work, agency)
        ours = str(in_process.standins.crm.add_client(tenant.id))
        theirs = str(in_process.standins.crm.add_client(other_tenant.id))
        url = f"/v1/projects/{project['id']}"

        rejected = await work.patch(url, json={"client_id": theirs}, headers=agency.headers)
        accepted = await work.patch(url, json={"client_id": ours}, headers=agency.headers)
        cleared = await work.patch(url, json={"client_id": None}, headers=agency.headers)

        assert_invalid_fields(rejected, "client_id")
        assert accepted.json()["client_id"] == ours
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["client_id"] is None

    async def test_a_member_cannot_update_or_archive_their_project(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        project = await create_project(work, agency, member_ids=[str(member.user_id)])
        base = f"/v1/projects/{project['id']}"

        assert_problem(await work.patch(base, json={"name": "x"}, headers=member.headers), 403)
        assert_problem(await work.delete(base, headers=member.headers), 403)


class TestProjectMembers:
    async def test_adding_and_removing_members(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, work_events: WorkEvents
    ) -> None:
        member = tenant.caller("member")
        project = await create_project(work, agency)
        members_url = f"/v1/projects/{project['id']}/members"

        added = await work.post(
            members_url, json={"user_id": str(member.user_id)}, headers=agency.headers
        )
        again = await work.post(
            members_url, json={"user_id": str(member.user_id)}, headers=agency.headers
        )

        assert added.status_code == 201, added.text
        assert added.json()["user_id"] == str(member.user_id)
        assert added.json()["added_by"] == str(agency.user_id)
        assert again.status_code == 200
        assert again.json() == added.json()
        listed = await work.get(members_url, headers=member.headers)
        assert {m["user_id"] for m in listed.json()} == {str(agency.user_id), str(member.user_id)}
        assert (await get_project(work, member, project["id"]))["id"] == project["id"]

        removed = await work.delete(f"{members_url}/{member.user_id}", headers=agency.headers)

        assert removed.status_code == 204
        assert_problem(await work.get(f"/v1/projects/{project['id']}", headers=member.headers), 404)
        assert member_ids(await get_project(work, agency, project["id"])) == {str(agency.user_id)}
        events = await work_events(
            agency.agency_id, "work.project.updated", project_id=project["id"]
        )
        assert [e["data"]["changed_fields"] for e in events] == [["members"], ["members"]]

    async def test_only_active_staff_of_the_agency_can_be_added(
        self, work: httpx.AsyncClient, agency: Caller, other_agency: Caller, tenant: Agency
    ) -> None:
        client_user = tenant.caller("client")
        project = await create_project(work, agency)
        members_url = f"/v1/projects/{project['id']}/members"

        for user_id in (other_agency.user_id, client_user.user_id, uuid.uuid4()):
            response = await work.post(
                members_url, json={"user_id": str(user_id)}, headers=agency.headers
            )
            assert_invalid_fields(response, "user_id")
        assert_invalid_fields(
            await work.post(members_url, json={}, headers=agency.headers), "user_id"
        )

    async def test_removing_someone_who_is_not_a_member_answers_404(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await create_project(work, agency)

        response = await work.delete(
            f"/v1/projects/{project['id']}/members/{uuid.uuid4()}", headers=agency.headers
        )

        assert_problem(response, 404, "not-found")

    async def test_a_member_cannot_change_members(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        project = await create_project(work, agency, member_ids=[str(member.user_id)])
        members_url = f"/v1/projects/{project['id']}/members"

        add = await work.post(
            members_url, json={"user_id": str(agency.user_id)}, headers=member.headers
        )
        remove = await work.delete(f"{members_url}/{agency.user_id}", headers=member.headers)

        assert_problem(add, 403, "permission-denied")
        assert_problem(remove, 403, "permission-denied")
