"""Deliverables through work's API: the state machine (draft, submitted, changes requested,
approved) with its history and the events it writes, edits and decisions in the wrong state
(409), listing, validation, permissions and another agency's ids answering 404."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller

# The conftest's `work_events`: the events work wrote to its outbox.
WorkEvents = Callable[..., Awaitable[list[dict[str, Any]]]]


async def create_project(work: httpx.AsyncClient, who: Caller, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Project {uuid.uuid4().hex[:8]}", **fields}
    response = await work.post("/v1/projects", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    return project


async def create_deliverable(
    work: httpx.AsyncClient, who: Caller, project_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"title": f"Deliverable {uuid.uuid4().hex[:6]}", **fields}
    response = await work.post(
        f"/v1/projects/{project_id}/deliverables", json=body, headers=who.headers
    )
    assert response.status_code == 201, response.text
    deliverable: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/v1/deliverables/{deliverable['id']}"
    return deliverable


async def submit(
    work: httpx.AsyncClient, who: Caller, deliverable_id: str, **body: Any
) -> dict[str, Any]:
    response = await work.post(
        f"/v1/deliverables/{deliverable_id}/submit", json=body or None, headers=who.headers
    )
    assert response.status_code == 200, response.text
    deliverable: dict[str, Any] = response.json()
    return deliverable


async def history(
    work: httpx.AsyncClient, who: Caller, deliverable_id: str
) -> list[tuple[str, str | None, str]]:
    response = await work.get(f"/v1/deliverables/{deliverable_id}/history", headers=who.headers)
    assert response.status_code == 200, response.text
    return [(d["decision"], d["comment"], d["actor_id"]) for d in response.json()["items"]]


class TestDeliverableLifecycle:
    async def test_draft_submitted_changes_requested_submitted_approved_with_history_and_events(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await create_project(work, agency)
        deliverable = await create_deliverable(
            work,
            agency,
            project["id"],
            title=" Homepage design ",
            description="Mockups",
            link_url="https://www.figma.com/file/abc",
        )
        did, url = deliverable["id"], f"/v1/deliverables/{deliverable['id']}"
        me = str(agency.user_id)
        assert deliverable["title"] == "Homepage design"
        assert (deliverable["status"], deliverable["created_by"]) == ("draft", me)
        assert (deliverable["submitted_at"], deliverable["decided_at"]) == (None, None)
        assert deliverable["link_url"] == "https://www.figma.com/file/abc"

        edited = await work.patch(
            url, json={"file_ref": "files/home-v1.pdf"}, headers=agency.headers
        )
        assert edited.json()["file_ref"] == "files/home-v1.pdf"
        first = await submit(work, agency, did, comment="First round")
        assert first["status"] == "submitted"
        assert first["submitted_at"] is not None
        changes = await work.post(
            f"{url}/request-changes", json={"comment": "Bigger logo"}, headers=agency.headers
        )
        assert changes.status_code == 200, changes.text
        assert changes.json()["status"] == "changes_requested"
        assert changes.json()["decided_at"] is not None
        reworked = await work.patch(
            url, json={"link_url": "https://www.figma.com/file/abc-v2"}, headers=agency.headers
        )
        assert reworked.status_code == 200, reworked.text
        second = await submit(work, agency, did)
        assert (second["status"], second["decided_at"]) == ("submitted", None)
        assert second["submitted_at"] > first["submitted_at"]
        approved = await work.post(f"{url}/approve", headers=agency.headers)
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"
        assert approved.json()["decided_at"] >= second["submitted_at"]
        assert (await work.get(url, headers=agency.headers)).json() == approved.json()

        assert await history(work, agency, did) == [
            ("approved", None, me),
            ("submitted", None, me),
            ("changes_requested", "Bigger logo", me),
            ("submitted", "First round", me),
        ]

        submitted = await work_events(
            agency.agency_id, "work.deliverable.submitted", deliverable_id=did
        )
        requested = await work_events(
            agency.agency_id, "work.deliverable.changes_requested", deliverable_id=did
        )
        approvals = await work_events(
            agency.agency_id, "work.deliverable.approved", deliverable_id=did
        )
        assert [e["data"]["comment"] for e in submitted] == ["First round", None]
        assert [e["data"]["comment"] for e in requested] == ["Bigger logo"]
        assert len(approvals) == 1
        for event in [*submitted, *requested, *approvals]:
            assert event["subject"] == f"deliverables/{did}"
            assert event["data"]["project_id"] == project["id"]
            assert event["data"]["title"] == "Homepage design"
            assert event["data"]["actor_id"] == me

    async def test_edits_and_decisions_in_the_wrong_state_are_409(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await create_project(work, agency)
        draft = await create_deliverable(work, agency, project["id"])
        sent = await create_deliverable(work, agency, project["id"])
        await submit(work, agency, sent["id"])
        draft_url, sent_url = f"/v1/deliverables/{draft['id']}", f"/v1/deliverables/{sent['id']}"

        refused = {
            "approve draft": await work.post(f"{draft_url}/approve", headers=agency.headers),
            "changes on draft": await work.post(
                f"{draft_url}/request-changes", json={"comment": "x"}, headers=agency.headers
            ),
            "edit submitted": await work.patch(
                sent_url, json={"title": "Sneaky"}, headers=agency.headers
            ),
            "delete submitted": await work.delete(sent_url, headers=agency.headers),
            "resubmit": await work.post(f"{sent_url}/submit", headers=agency.headers),
        }
        for name, response in refused.items():
            body = assert_problem(response, 409, "conflict")
            assert body["current_status"] in ("draft", "submitted"), name

        approved = await work.post(f"{sent_url}/approve", headers=agency.headers)
        assert approved.status_code == 200, approved.text
        after = [
            await work.patch(sent_url, json={"title": "Late"}, headers=agency.headers),
            await work.post(f"{sent_url}/approve", headers=agency.headers),
            await work.post(
                f"{sent_url}/request-changes", json={"comment": "x"}, headers=agency.headers
            ),
            await work.post(f"{sent_url}/submit", headers=agency.headers),
        ]
        for response in after:
            assert assert_problem(response, 409)["current_status"] == "approved"
        assert (await work.get(sent_url, headers=agency.headers)).json()["title"] == sent["title"]
        assert [h[0] for h in await history(work, agency, sent["id"])] == [
            "approved",
            "submitted",
        ]

        deleted = await work.delete(draft_url, headers=agency.headers)
        assert deleted.status_code == 204, deleted.text
        assert_problem(await work.get(draft_url, headers=agency.headers), 404)

    async def test_listing_filters_by_status(self, work: httpx.AsyncClient, agency: Caller) -> None:
        project = await create_project(work, agency)
        draft = await create_deliverable(work, agency, project["id"], title="B draft")
        sent = await create_deliverable(work, agency, project["id"], title="A sent")
        await submit(work, agency, sent["id"])
        url = f"/v1/projects/{project['id']}/deliverables"

        everything = await work.get(url, params={"sort": "title"}, headers=agency.headers)
        drafts = await work.get(url, params={"status": "draft"}, headers=agency.headers)

        assert [d["id"] for d in everything.json()["items"]] == [sent["id"], draft["id"]]
        assert everything.json()["total"] == 2
        assert [d["id"] for d in drafts.json()["items"]] == [draft["id"]]

    async def test_bad_input_is_422_naming_the_field(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await create_project(work, agency)
        url = f"/v1/projects/{project['id']}/deliverables"
        deliverable = await create_deliverable(work, agency, project["id"])
        one = f"/v1/deliverables/{deliverable['id']}"
        h = agency.headers

        cases = [
            (await work.post(url, json={"title": ""}, headers=h), "title"),
            (await work.post(url, json={"title": "x" * 301}, headers=h), "title"),
            (
                await work.post(
                    url, json={"title": "X", "link_url": "http://example.com/a"}, headers=h
                ),
                "link_url",
            ),
            (
                await work.post(url, json={"title": "X", "link_url": "not a url"}, headers=h),
                "link_url",
            ),
            (
                await work.post(
                    url, json={"title": "X", "link_url": "ftp://example.com/a"}, headers=h
                ),
                "link_url",
            ),
            (
                await work.post(url, json={"title": "X", "description": "a\u0000"}, headers=h),
                "description",
            ),
            (
                await work.post(url, json={"title": "X", "status": "approved"}, headers=h),
                "status",
            ),
            (await work.patch(one, json={"title": None}, headers=h), "title"),
            (await work.patch(one, json={"file_ref": ""}, headers=h), "file_ref"),
            (await work.post(f"{one}/submit", json={"comment": ""}, headers=h), "comment"),
            (await work.post(f"{one}/request-changes", json={}, headers=h), "comment"),
            (
                await work.post(f"{one}/request-changes", json={"comment": "  "}, headers=h),
                "comment",
            ),
            (await work.get(url, params={"status": "lost"}, headers=h), "query.status"),
        ]
        for response, field in cases:
            assert_invalid_fields(response, field)
        assert (await work.get(one, headers=h)).json()["status"] == "draft"

    async def test_members_without_projects_write_get_403_on_writes(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        project = await create_project(work, agency)
        await work.post(
            f"/v1/projects/{project['id']}/members",
            json={"user_id": str(member.user_id)},
            headers=agency.headers,
        )
        deliverable = await create_deliverable(work, agency, project["id"])
        one = f"/v1/deliverables/{deliverable['id']}"
        h = member.headers

        assert (await work.get(one, headers=h)).status_code == 200
        assert (await work.get(f"{one}/history", headers=h)).status_code == 200
        writes = [
            await work.post(
                f"/v1/projects/{project['id']}/deliverables", json={"title": "T"}, headers=h
            ),
            await work.patch(one, json={"title": "T"}, headers=h),
            await work.delete(one, headers=h),
            await work.post(f"{one}/submit", headers=h),
            await work.post(f"{one}/approve", headers=h),
            await work.post(f"{one}/request-changes", json={"comment": "c"}, headers=h),
        ]
        for response in writes:
            assert_problem(response, 403, "permission-denied")

    async def test_another_agency_gets_404_on_every_route(
        self, work: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        project = await create_project(work, agency)
        deliverable = await create_deliverable(work, agency, project["id"])
        submitted = await create_deliverable(work, agency, project["id"])
        await submit(work, agency, submitted["id"])
        one, sent = f"/v1/deliverables/{deliverable['id']}", f"/v1/deliverables/{submitted['id']}"
        list_url = f"/v1/projects/{project['id']}/deliverables"
        them = other_agency.headers

        responses = [
            await work.get(list_url, headers=them),
            await work.post(list_url, json={"title": "Mine"}, headers=them),
            await work.get(one, headers=them),
            await work.patch(one, json={"title": "Mine"}, headers=them),
            await work.delete(one, headers=them),
            await work.post(f"{one}/submit", headers=them),
            await work.get(f"{one}/history", headers=them),
            await work.post(f"{sent}/approve", headers=them),
            await work.post(f"{sent}/request-changes", json={"comment": "c"}, headers=them),
        ]
        for response in responses:
            assert_problem(response, 404, "not-found")
        assert (await work.get(one, headers=agency.headers)).json() == deliverable
        assert (await work.get(sent, headers=agency.headers)).json()["status"] == "submitted"
