"""Projects through the real gateway: creating (with a template, the agency's default template
or the default board), who sees which project, listing, updating with its events, archiving,
project members, and the gRPC methods other services call; another agency's ids answer 404
everywhere."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import grpc
import httpx
import pytest

from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc
from agencyos.testing.factories import AgencySession, add_member, as_caller, create_crm_client
from agencyos.testing.http import assert_invalid_fields, assert_problem, unverified_jwt
from agencyos.testing.kafka import events_where, read_topic
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows

START = date(2026, 12, 1)


async def create_project(
    gateway: httpx.AsyncClient, who: AgencySession, **fields: Any
) -> dict[str, Any]:
    body = {"name": f"Project {uuid.uuid4().hex[:8]}", **fields}
    response = await gateway.post("/v1/projects", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/projects/{response.json()['id']}"
    project: dict[str, Any] = response.json()
    return project


async def create_template(
    gateway: httpx.AsyncClient, who: AgencySession, **fields: Any
) -> dict[str, Any]:
    body = {"name": f"Template {uuid.uuid4().hex[:8]}", **fields}
    response = await gateway.post("/v1/project-templates", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    template: dict[str, Any] = response.json()
    return template


async def get_project(
    gateway: httpx.AsyncClient, who: AgencySession, project_id: str
) -> dict[str, Any]:
    response = await gateway.get(f"/v1/projects/{project_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    project: dict[str, Any] = response.json()
    return project


async def list_projects(
    gateway: httpx.AsyncClient, who: AgencySession, **params: Any
) -> dict[str, Any]:
    response = await gateway.get("/v1/projects", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def names(gateway: httpx.AsyncClient, who: AgencySession, **params: Any) -> list[str]:
    return [p["name"] for p in (await list_projects(gateway, who, **params))["items"]]


def member_ids(project: dict[str, Any]) -> set[str]:
    return {m["user_id"] for m in project["members"]}


async def board_rows(
    platform: Platform, who: AgencySession, project_id: str
) -> tuple[list[Any], list[Any], list[Any]]:
    """The project's columns, tasks and milestones as stored (what the board and task APIs
    serve), read under the agency's tenant."""

    async def rows(query: str) -> list[Any]:
        return await fetch_rows(
            platform.infra,
            platform.database("work"),
            query,
            uuid.UUID(project_id),
            tenant_id=who.agency_id,
        )

    columns = await rows(
        "SELECT id, name, color, status, position FROM board_columns "
        "WHERE project_id = $1 ORDER BY position"
    )
    tasks = await rows(
        "SELECT t.title, t.status, t.priority, t.due_date, t.estimate_hours, t.labels, "
        "t.visible_to_client, t.column_id, m.name AS milestone FROM tasks t "
        "LEFT JOIN milestones m ON m.id = t.milestone_id WHERE t.project_id = $1 "
        "ORDER BY t.position, t.title"
    )
    milestones = await rows(
        "SELECT name, due_date, amount_cents, status FROM milestones WHERE project_id = $1 "
        "ORDER BY name"
    )
    return columns, tasks, milestones


async def work_events(
    platform: Platform, who: AgencySession, event_type: str, project_id: str, count: int = 1
) -> list[dict[str, Any]]:
    topic = f"{platform.topic_prefix}work.events"

    def matching(records: list[Any]) -> list[dict[str, Any]]:
        return [
            e
            for e in events_where(records, tenantid=str(who.agency_id), type=event_type)
            if e["data"]["project_id"] == project_id
        ]

    records = await read_topic(
        platform.infra.kafka_bootstrap, topic, lambda rs: len(matching(rs)) >= count
    )
    return matching(records)


WEBSITE_TEMPLATE: dict[str, Any] = {
    "billing_type": "fixed",
    "columns": [
        {"name": "Backlog", "color": "#111111", "status": "todo"},
        {"name": "Doing", "color": "#222222", "status": "in_progress"},
        {"name": "Shipped", "color": "#333333", "status": "done"},
    ],
    "tasks": [
        {
            "title": "Kick-off",
            "priority": "high",
            "due_offset_days": 3,
            "estimate_hours": 2.5,
            "labels": ["discovery"],
            "milestone": "Discovery",
            "visible_to_client": True,
        },
        {"title": "Wireframes", "status": "in_progress", "due_offset_days": 10},
        {"title": "Old brief", "status": "done"},
        {"title": "Design", "milestone": "Design"},
    ],
    "milestones": [
        {"name": "Discovery", "due_offset_days": 7, "amount_cents": 250_000},
        {"name": "Design", "due_offset_days": 21},
    ],
}


class TestCreatingProjects:
    async def test_a_project_without_templates_gets_the_default_board_and_its_creator(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await create_project(
            gateway,
            agency,
            name="  Website relaunch ",
            description="Redesign",
            billing_type="retainer",
            hourly_rate_cents=9500,
            budget_cents=1_000_000,
            budget_hours="120.5",
            start_date=START.isoformat(),
            deadline=(START + timedelta(days=30)).isoformat(),
        )

        assert project["name"] == "Website relaunch"
        assert project["description"] == "Redesign"
        assert (project["status"], project["billing_type"]) == ("planning", "retainer")
        assert (project["hourly_rate_cents"], project["budget_cents"]) == (9500, 1_000_000)
        assert project["budget_hours"] == 120.5
        assert project["currency"] == "USD"
        assert (project["start_date"], project["deadline"]) == ("2026-12-01", "2026-12-31")
        assert project["deal_id"] is None
        assert project["template_id"] is None
        assert (project["progress"], project["task_count"]) == (0, 0)
        assert member_ids(project) == {str(agency.user_id)}
        assert project["created_by"] == str(agency.user_id)
        assert await get_project(gateway, agency, project["id"]) == project
        columns, tasks, milestones = await board_rows(platform, agency, project["id"])
        assert [(c["name"], c["status"]) for c in columns] == [
            ("To do", "todo"),
            ("In progress", "in_progress"),
            ("Review", "review"),
            ("Done", "done"),
        ]
        assert tasks == []
        assert milestones == []

    async def test_a_template_s_board_tasks_and_milestones_are_copied_with_due_dates(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        template = await create_template(gateway, agency, **WEBSITE_TEMPLATE)

        project = await create_project(
            gateway, agency, template_id=template["id"], start_date=START.isoformat()
        )

        assert project["template_id"] == template["id"]
        assert project["billing_type"] == "fixed"
        # One of four tasks starts done.
        assert (project["task_count"], project["done_task_count"], project["progress"]) == (
            4,
            1,
            25,
        )
        columns, tasks, milestones = await board_rows(platform, agency, project["id"])
        assert [(c["name"], c["color"], c["status"]) for c in columns] == [
            ("Backlog", "#111111", "todo"),
            ("Doing", "#222222", "in_progress"),
            ("Shipped", "#333333", "done"),
        ]
        column_of = {c["id"]: c["name"] for c in columns}
        by_title = {t["title"]: t for t in tasks}
        kickoff = by_title["Kick-off"]
        assert column_of[kickoff["column_id"]] == "Backlog"
        assert (kickoff["status"], kickoff["priority"]) == ("todo", "high")
        assert kickoff["due_date"] == START + timedelta(days=3)
        assert float(kickoff["estimate_hours"]) == 2.5
        assert kickoff["labels"] == ["discovery"]
        assert kickoff["milestone"] == "Discovery"
        assert kickoff["visible_to_client"] is True
        assert column_of[by_title["Wireframes"]["column_id"]] == "Doing"
        assert by_title["Wireframes"]["due_date"] == START + timedelta(days=10)
        assert column_of[by_title["Old brief"]["column_id"]] == "Shipped"
        assert by_title["Design"]["due_date"] is None
        assert by_title["Design"]["milestone"] == "Design"
        assert [(m["name"], m["due_date"], m["amount_cents"]) for m in milestones] == [
            ("Design", START + timedelta(days=21), None),
            ("Discovery", START + timedelta(days=7), 250_000),
        ]

    async def test_without_a_template_id_the_agencys_default_template_is_used(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        template = await create_template(gateway, agency, is_default=True, **WEBSITE_TEMPLATE)

        project = await create_project(gateway, agency, start_date=START.isoformat())

        assert project["template_id"] == template["id"]
        columns, tasks, _ = await board_rows(platform, agency, project["id"])
        assert [c["name"] for c in columns] == ["Backlog", "Doing", "Shipped"]
        assert len(tasks) == 4

    async def test_template_edits_later_do_not_change_the_project(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        template = await create_template(gateway, agency, **WEBSITE_TEMPLATE)
        project = await create_project(gateway, agency, template_id=template["id"])

        response = await gateway.patch(
            f"/v1/project-templates/{template['id']}",
            json={"columns": [{"name": "Only", "status": "todo"}], "tasks": []},
            headers=agency.headers,
        )
        assert response.status_code == 200, response.text

        columns, tasks, _ = await board_rows(platform, agency, project["id"])
        assert [c["name"] for c in columns] == ["Backlog", "Doing", "Shipped"]
        assert len(tasks) == 4

    async def test_another_agencys_template_is_rejected_naming_template_id(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        theirs = await create_template(gateway, other_agency, **WEBSITE_TEMPLATE)

        for template_id in (theirs["id"], str(uuid.uuid4())):
            response = await gateway.post(
                "/v1/projects",
                json={"name": "Stolen", "template_id": template_id},
                headers=agency.headers,
            )
            assert_invalid_fields(response, "template_id")
        assert (await list_projects(gateway, agency))["total"] == 0

    async def test_named_members_join_the_creator(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")

        project = await create_project(
            gateway, agency, member_ids=[str(member.user_id), str(agency.user_id)]
        )

        assert member_ids(project) == {str(agency.user_id), str(member.user_id)}
        assert await get_project(gateway, member, project["id"]) == project

    async def test_members_must_be_active_non_client_members_of_the_agency(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        client_user = await add_member(platform, gateway, agency, "client")

        response = await gateway.post(
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
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        response = await gateway.post(
            "/v1/clients",
            json={"company_name": "Euro Corp", "currency": "EUR"},
            headers=agency.headers,
        )
        assert response.status_code == 201, response.text
        client_id = response.json()["id"]
        theirs = await create_crm_client(platform, other_agency)

        project = await create_project(gateway, agency, client_id=client_id)
        explicit = await create_project(gateway, agency, client_id=client_id, currency="GBP")
        response = await gateway.post(
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
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        fields: dict[str, Any],
        invalid: str,
    ) -> None:
        response = await gateway.post(
            "/v1/projects", json={"name": "Valid", **fields}, headers=agency.headers
        )

        assert_invalid_fields(response, invalid)

    @pytest.mark.parametrize("role", ["member", "client"])
    async def test_a_role_without_projects_write_gets_403(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession, role: str
    ) -> None:
        who = await add_member(platform, gateway, agency, role)

        response = await gateway.post("/v1/projects", json={"name": "Mine"}, headers=who.headers)

        assert_problem(response, 403, "permission-denied")

    async def test_a_manager_may_create_and_work_project_created_is_published(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")

        project = await create_project(gateway, manager, name="Managed")

        assert member_ids(project) == {str(manager.user_id)}
        [event] = await work_events(platform, agency, "work.project.created", project["id"])
        assert event["data"]["name"] == "Managed"
        assert event["data"]["deal_id"] is None
        assert event["data"]["created_by"] == str(manager.user_id)
        assert event["subject"] == f"projects/{project['id']}"


class TestVisibility:
    async def test_a_member_sees_only_the_projects_they_belong_to(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        theirs = await create_project(gateway, agency, member_ids=[str(member.user_id)])
        hidden = await create_project(gateway, agency)

        assert [p["id"] for p in (await list_projects(gateway, member))["items"]] == [theirs["id"]]
        assert (await get_project(gateway, member, theirs["id"]))["id"] == theirs["id"]
        for path in (f"/v1/projects/{hidden['id']}", f"/v1/projects/{hidden['id']}/members"):
            assert_problem(await gateway.get(path, headers=member.headers), 404, "not-found")

    async def test_a_manager_sees_every_project_of_the_agency(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")
        first = await create_project(gateway, agency)
        second = await create_project(gateway, agency)

        listed = {p["id"] for p in (await list_projects(gateway, manager))["items"]}

        assert listed == {first["id"], second["id"]}
        assert (await get_project(gateway, manager, first["id"]))["id"] == first["id"]

    async def test_a_client_user_gets_403_on_project_routes(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client_user = await add_member(platform, gateway, agency, "client")
        project = await create_project(gateway, agency)

        for path in (
            "/v1/projects",
            f"/v1/projects/{project['id']}",
            f"/v1/projects/{project['id']}/members",
            "/v1/project-templates",
        ):
            response = await gateway.get(path, headers=client_user.headers)
            assert_problem(response, 403, "permission-denied")

    async def test_another_agencys_project_answers_404_on_every_route(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        theirs = await create_project(gateway, other_agency)
        base = f"/v1/projects/{theirs['id']}"

        responses = [
            await gateway.get(base, headers=agency.headers),
            await gateway.patch(base, json={"name": "Mine now"}, headers=agency.headers),
            await gateway.delete(base, headers=agency.headers),
            await gateway.get(f"{base}/members", headers=agency.headers),
            await gateway.post(
                f"{base}/members", json={"user_id": str(agency.user_id)}, headers=agency.headers
            ),
            await gateway.delete(f"{base}/members/{other_agency.user_id}", headers=agency.headers),
        ]

        for response in responses:
            assert_problem(response, 404, "not-found")
        assert (await list_projects(gateway, agency))["total"] == 0
        untouched = await get_project(gateway, other_agency, theirs["id"])
        assert (untouched["name"], untouched["status"]) == (theirs["name"], "planning")
        assert member_ids(untouched) == {str(other_agency.user_id)}

    async def test_a_malformed_project_id_answers_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.get("/v1/projects/not-a-uuid", headers=agency.headers)

        assert_invalid_fields(response, "path.project_id")


class TestListingProjects:
    async def test_filters_combine_and_pagination_counts_all_matches(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        client_id = str(await create_crm_client(platform, agency))
        await create_project(gateway, agency, name="Alpha site", client_id=client_id)
        await create_project(gateway, agency, name="Beta app", client_id=client_id, status="active")
        await create_project(
            gateway, agency, name="Gamma site", status="active", member_ids=[str(member.user_id)]
        )
        await create_project(gateway, agency, name="100%_literal")

        assert await names(gateway, agency, client_id=client_id, sort="name") == [
            "Alpha site",
            "Beta app",
        ]
        assert await names(gateway, agency, status="active", sort="name") == [
            "Beta app",
            "Gamma site",
        ]
        assert await names(gateway, agency, member=str(member.user_id)) == ["Gamma site"]
        assert await names(gateway, agency, q="SITE", sort="name") == ["Alpha site", "Gamma site"]
        assert await names(gateway, agency, q="%_") == ["100%_literal"]
        assert await names(gateway, agency, q="site", status="active") == ["Gamma site"]
        page = await list_projects(gateway, agency, sort="name", per_page=3, page=2)
        assert (page["total"], page["page"], page["per_page"]) == (4, 2, 3)
        assert [p["name"] for p in page["items"]] == ["Gamma site"]

    async def test_sorting_by_name_created_at_and_deadline(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        await create_project(gateway, agency, name="b", deadline="2027-03-01")
        await create_project(gateway, agency, name="C")
        await create_project(gateway, agency, name="a", deadline="2027-01-01")

        assert await names(gateway, agency, sort="name") == ["a", "b", "C"]
        assert await names(gateway, agency, sort="-name") == ["C", "b", "a"]
        assert await names(gateway, agency, sort="created_at") == ["b", "C", "a"]
        assert await names(gateway, agency) == ["a", "C", "b"]  # newest first by default
        assert await names(gateway, agency, sort="deadline") == ["a", "b", "C"]
        assert await names(gateway, agency, sort="-deadline") == ["b", "a", "C"]

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
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        params: dict[str, Any],
        invalid: str,
    ) -> None:
        response = await gateway.get("/v1/projects", params=params, headers=agency.headers)

        assert_invalid_fields(response, invalid)


class TestUpdatingProjects:
    async def test_changed_fields_publish_work_project_updated(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await create_project(gateway, agency, name="Before", budget_cents=100)

        response = await gateway.patch(
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
        assert await get_project(gateway, agency, project["id"]) == updated
        [event] = await work_events(platform, agency, "work.project.updated", project["id"])
        assert event["data"]["changed_fields"] == ["budget_cents", "currency", "name"]
        assert (event["data"]["name"], event["data"]["currency"]) == ("After", "EUR")
        assert event["data"]["updated_by"] == str(agency.user_id)

    async def test_a_status_change_publishes_work_project_status_changed(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await create_project(gateway, agency)

        response = await gateway.patch(
            f"/v1/projects/{project['id']}",
            json={"status": "active", "deadline": "2027-01-31"},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "active"
        [changed] = await work_events(
            platform, agency, "work.project.status_changed", project["id"]
        )
        assert (changed["data"]["old_status"], changed["data"]["new_status"]) == (
            "planning",
            "active",
        )
        [updated] = await work_events(platform, agency, "work.project.updated", project["id"])
        assert updated["data"]["changed_fields"] == ["deadline"]

    async def test_deleting_archives_the_project_and_keeps_it(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await create_project(gateway, agency, status="active")

        response = await gateway.delete(f"/v1/projects/{project['id']}", headers=agency.headers)
        again = await gateway.delete(f"/v1/projects/{project['id']}", headers=agency.headers)

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "archived"
        assert again.status_code == 200
        assert (await get_project(gateway, agency, project["id"]))["status"] == "archived"
        assert await names(gateway, agency, status="archived") == [project["name"]]
        events = await work_events(platform, agency, "work.project.status_changed", project["id"])
        assert [(e["data"]["old_status"], e["data"]["new_status"]) for e in events] == [
            ("active", "archived")
        ]

    async def test_an_unchanged_patch_publishes_nothing(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await create_project(gateway, agency, name="Same")

        response = await gateway.patch(
            f"/v1/projects/{project['id']}", json={"name": "Same"}, headers=agency.headers
        )

        assert response.status_code == 200, response.text
        rows = await fetch_rows(
            platform.infra,
            platform.database("work"),
            "SELECT count(*) AS n FROM outbox WHERE event_type <> 'work.project.created' "
            "AND envelope->>'subject' = $1",
            f"projects/{project['id']}",
            tenant_id=agency.agency_id,
            relay=True,
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
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        fields: dict[str, Any],
        invalid: str,
    ) -> None:
        project = await create_project(
            gateway, agency, start_date="2026-12-01", deadline="2026-12-31"
        )

        response = await gateway.patch(
            f"/v1/projects/{project['id']}", json=fields, headers=agency.headers
        )

        assert_invalid_fields(response, invalid)
        assert await get_project(gateway, agency, project["id"]) == project

    async def test_the_client_must_be_one_of_the_agencys(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        project = await create_project(gateway, agency)
        ours = str(await create_crm_client(platform, agency))
        theirs = str(await create_crm_client(platform, other_agency))
        url = f"/v1/projects/{project['id']}"

        rejected = await gateway.patch(url, json={"client_id": theirs}, headers=agency.headers)
        accepted = await gateway.patch(url, json={"client_id": ours}, headers=agency.headers)
        cleared = await gateway.patch(url, json={"client_id": None}, headers=agency.headers)

        assert_invalid_fields(rejected, "client_id")
        assert accepted.json()["client_id"] == ours
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["client_id"] is None

    async def test_a_member_cannot_update_or_archive_their_project(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        project = await create_project(gateway, agency, member_ids=[str(member.user_id)])
        base = f"/v1/projects/{project['id']}"

        assert_problem(await gateway.patch(base, json={"name": "x"}, headers=member.headers), 403)
        assert_problem(await gateway.delete(base, headers=member.headers), 403)


class TestProjectMembers:
    async def test_adding_and_removing_members(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        project = await create_project(gateway, agency)
        members_url = f"/v1/projects/{project['id']}/members"

        added = await gateway.post(
            members_url, json={"user_id": str(member.user_id)}, headers=agency.headers
        )
        again = await gateway.post(
            members_url, json={"user_id": str(member.user_id)}, headers=agency.headers
        )

        assert added.status_code == 201, added.text
        assert added.json()["user_id"] == str(member.user_id)
        assert added.json()["added_by"] == str(agency.user_id)
        assert again.status_code == 200
        assert again.json() == added.json()
        listed = await gateway.get(members_url, headers=member.headers)
        assert {m["user_id"] for m in listed.json()} == {str(agency.user_id), str(member.user_id)}
        assert (await get_project(gateway, member, project["id"]))["id"] == project["id"]

        removed = await gateway.delete(f"{members_url}/{member.user_id}", headers=agency.headers)

        assert removed.status_code == 204
        assert_problem(
            await gateway.get(f"/v1/projects/{project['id']}", headers=member.headers), 404
        )
        assert member_ids(await get_project(gateway, agency, project["id"])) == {
            str(agency.user_id)
        }
        events = await work_events(platform, agency, "work.project.updated", project["id"], 2)
        assert [e["data"]["changed_fields"] for e in events] == [["members"], ["members"]]

    async def test_only_active_staff_of_the_agency_can_be_added(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        client_user = await add_member(platform, gateway, agency, "client")
        project = await create_project(gateway, agency)
        members_url = f"/v1/projects/{project['id']}/members"

        for user_id in (other_agency.user_id, client_user.user_id, uuid.uuid4()):
            response = await gateway.post(
                members_url, json={"user_id": str(user_id)}, headers=agency.headers
            )
            assert_invalid_fields(response, "user_id")
        assert_invalid_fields(
            await gateway.post(members_url, json={}, headers=agency.headers), "user_id"
        )

    async def test_removing_someone_who_is_not_a_member_answers_404(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await create_project(gateway, agency)

        response = await gateway.delete(
            f"/v1/projects/{project['id']}/members/{uuid.uuid4()}", headers=agency.headers
        )

        assert_problem(response, 404, "not-found")

    async def test_a_member_cannot_change_members(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        project = await create_project(gateway, agency, member_ids=[str(member.user_id)])
        members_url = f"/v1/projects/{project['id']}/members"

        add = await gateway.post(
            members_url, json={"user_id": str(agency.user_id)}, headers=member.headers
        )
        remove = await gateway.delete(f"{members_url}/{agency.user_id}", headers=member.headers)

        assert_problem(add, 403, "permission-denied")
        assert_problem(remove, 403, "permission-denied")


# --- gRPC ----------------------------------------------------------------------------------


@pytest.fixture
async def stub(platform: Platform) -> AsyncIterator[work_pb2_grpc.WorkServiceStub]:
    async with grpc.aio.insecure_channel(platform.grpc_target("work")) as channel:
        yield work_pb2_grpc.WorkServiceStub(channel)


async def rpc_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


class TestGetProjectsRpc:
    async def test_answers_the_callers_projects_in_request_order_and_leaves_out_the_rest(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        template = await create_template(gateway, agency, **WEBSITE_TEMPLATE)
        first = await create_project(
            gateway,
            agency,
            template_id=template["id"],
            hourly_rate_cents=12_000,
            start_date="2026-12-01",
        )
        second = await create_project(gateway, agency)
        theirs = await create_project(gateway, other_agency)

        response = await stub.GetProjects(
            work_pb2.GetProjectsRequest(
                project_ids=[second["id"], theirs["id"], str(uuid.uuid4()), first["id"]]
            ),
            metadata=as_caller(agency),
            timeout=10,
        )

        assert [p.id for p in response.projects] == [second["id"], first["id"]]
        got = response.projects[1]
        assert (got.name, got.status, got.billing_type) == (first["name"], "planning", "fixed")
        assert (got.hourly_rate_cents, got.currency, got.budget_cents) == (12_000, "USD", 0)
        assert (got.start_date, got.deadline, got.client_id, got.deal_id) == (
            "2026-12-01",
            "",
            "",
            "",
        )
        assert got.progress == 25
        assert list(got.member_ids) == [str(agency.user_id)]

    async def test_a_member_gets_only_their_projects(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        theirs = await create_project(gateway, agency, member_ids=[str(member.user_id)])
        hidden = await create_project(gateway, agency)

        response = await stub.GetProjects(
            work_pb2.GetProjectsRequest(project_ids=[theirs["id"], hidden["id"]]),
            metadata=as_caller(member),
            timeout=10,
        )

        assert [p.id for p in response.projects] == [theirs["id"]]

    async def test_malformed_or_too_many_ids_are_invalid_arguments(
        self, stub: work_pb2_grpc.WorkServiceStub, agency: AgencySession
    ) -> None:
        malformed = await rpc_error(
            stub.GetProjects(
                work_pb2.GetProjectsRequest(project_ids=["nope"]),
                metadata=as_caller(agency),
                timeout=10,
            )
        )
        too_many = await rpc_error(
            stub.GetProjects(
                work_pb2.GetProjectsRequest(project_ids=[str(uuid.uuid4()) for _ in range(501)]),
                metadata=as_caller(agency),
                timeout=10,
            )
        )
        anonymous = await rpc_error(
            stub.GetProjects(work_pb2.GetProjectsRequest(project_ids=[]), timeout=10)
        )

        assert malformed.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert too_many.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert anonymous.code() == grpc.StatusCode.UNAUTHENTICATED


class TestListClientProjectsRpc:
    async def test_a_client_user_lists_its_own_clients_projects_with_progress(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
    ) -> None:
        client_user = await add_member(platform, gateway, agency, "client")
        client_id = unverified_jwt(client_user.access_token)[1]["cid"]
        template = await create_template(gateway, agency, **WEBSITE_TEMPLATE)
        ours = await create_project(
            gateway, agency, client_id=client_id, template_id=template["id"]
        )
        await create_project(
            gateway, agency, client_id=str(await create_crm_client(platform, agency))
        )

        response = await stub.ListClientProjects(
            work_pb2.ListClientProjectsRequest(client_id=client_id),
            metadata=as_caller(client_user),
            timeout=10,
        )

        assert [(p.id, p.client_id, p.progress) for p in response.projects] == [
            (ours["id"], client_id, 25)
        ]

    async def test_a_client_user_may_not_ask_for_another_client(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
    ) -> None:
        client_user = await add_member(platform, gateway, agency, "client")
        other_client = str(await create_crm_client(platform, agency))
        await create_project(gateway, agency, client_id=other_client)

        error = await rpc_error(
            stub.ListClientProjects(
                work_pb2.ListClientProjectsRequest(client_id=other_client),
                metadata=as_caller(client_user),
                timeout=10,
            )
        )

        assert error.code() == grpc.StatusCode.PERMISSION_DENIED

    async def test_staff_need_projects_read_all_and_see_only_their_agency(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        manager = await add_member(platform, gateway, agency, "manager")
        client_id = str(await create_crm_client(platform, agency))
        project = await create_project(
            gateway, agency, client_id=client_id, member_ids=[str(member.user_id)]
        )

        denied = await rpc_error(
            stub.ListClientProjects(
                work_pb2.ListClientProjectsRequest(client_id=client_id),
                metadata=as_caller(member),
                timeout=10,
            )
        )
        managed = await stub.ListClientProjects(
            work_pb2.ListClientProjectsRequest(client_id=client_id),
            metadata=as_caller(manager),
            timeout=10,
        )
        elsewhere = await stub.ListClientProjects(
            work_pb2.ListClientProjectsRequest(client_id=client_id),
            metadata=as_caller(other_agency),
            timeout=10,
        )
        malformed = await rpc_error(
            stub.ListClientProjects(
                work_pb2.ListClientProjectsRequest(client_id="x"),
                metadata=as_caller(manager),
                timeout=10,
            )
        )

        assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
        assert [p.id for p in managed.projects] == [project["id"]]
        assert list(elsewhere.projects) == []
        assert malformed.code() == grpc.StatusCode.INVALID_ARGUMENT


class TestCheckProjectMembershipRpc:
    async def test_membership_and_whether_the_project_takes_time(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        project = await create_project(gateway, agency, member_ids=[str(member.user_id)])
        outsider = await create_project(gateway, agency)

        async def check(who: AgencySession, project_id: str, user_id: uuid.UUID) -> Any:
            return await stub.CheckProjectMembership(
                work_pb2.CheckProjectMembershipRequest(project_id=project_id, user_id=str(user_id)),
                metadata=as_caller(who),
                timeout=10,
            )

        mine = await check(member, project["id"], member.user_id)
        not_mine = await check(member, outsider["id"], member.user_id)
        asked_by_owner = await check(agency, outsider["id"], member.user_id)
        for status, accepts in (
            ("active", True),
            ("on_hold", False),
            ("completed", False),
            ("archived", False),
        ):
            response = await gateway.patch(
                f"/v1/projects/{project['id']}", json={"status": status}, headers=agency.headers
            )
            assert response.status_code == 200, response.text
            answer = await check(member, project["id"], member.user_id)
            assert (answer.is_member, answer.accepts_time, answer.status) == (
                True,
                accepts,
                status,
            )

        assert (mine.is_member, mine.accepts_time, mine.status) == (True, True, "planning")
        assert (not_mine.is_member, not_mine.accepts_time) == (False, True)
        assert asked_by_owner.is_member is False

    async def test_unknown_projects_other_agencies_and_other_users_are_refused(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        ours = await create_project(gateway, agency, member_ids=[str(member.user_id)])
        theirs = await create_project(gateway, other_agency)

        async def check(who: AgencySession, project_id: str, user_id: str) -> grpc.StatusCode:
            error = await rpc_error(
                stub.CheckProjectMembership(
                    work_pb2.CheckProjectMembershipRequest(project_id=project_id, user_id=user_id),
                    metadata=as_caller(who),
                    timeout=10,
                )
            )
            return error.code()

        assert await check(agency, str(uuid.uuid4()), str(agency.user_id)) == (
            grpc.StatusCode.NOT_FOUND
        )
        assert await check(agency, theirs["id"], str(other_agency.user_id)) == (
            grpc.StatusCode.NOT_FOUND
        )
        assert await check(agency, "nope", str(agency.user_id)) == (
            grpc.StatusCode.INVALID_ARGUMENT
        )
        assert await check(member, ours["id"], str(agency.user_id)) == (
            grpc.StatusCode.PERMISSION_DENIED
        )


async def test_concurrent_creates_each_get_their_own_board(
    platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
) -> None:
    template = await create_template(gateway, agency, **WEBSITE_TEMPLATE)

    projects = await asyncio.gather(
        *(create_project(gateway, agency, template_id=template["id"]) for _ in range(5))
    )

    assert len({p["id"] for p in projects}) == 5
    for project in projects:
        columns, tasks, milestones = await board_rows(platform, agency, project["id"])
        assert (len(columns), len(tasks), len(milestones)) == (3, 4, 2)
