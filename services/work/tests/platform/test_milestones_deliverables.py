"""Milestones and deliverables through the real gateway and work's gRPC server: milestone CRUD
and completion with its event (once), the deliverable state machine with its history and
events, the client's decisions over gRPC (only the project's own client, or agency staff with
`projects.write`), permissions, validation, and another agency's ids answering 404."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest

from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc
from agencyos.testing.factories import AgencySession, add_member, as_caller
from agencyos.testing.http import assert_invalid_fields, assert_problem, unverified_jwt
from agencyos.testing.kafka import events_where, read_topic
from agencyos.testing.platform import Platform

# --- helpers ---------------------------------------------------------------------------------


async def create_project(
    gateway: httpx.AsyncClient, who: AgencySession, **fields: Any
) -> dict[str, Any]:
    body = {"name": f"Project {uuid.uuid4().hex[:8]}", **fields}
    response = await gateway.post("/v1/projects", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    return project


async def create_milestone(
    gateway: httpx.AsyncClient, who: AgencySession, project_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"name": f"Milestone {uuid.uuid4().hex[:6]}", **fields}
    response = await gateway.post(
        f"/v1/projects/{project_id}/milestones", json=body, headers=who.headers
    )
    assert response.status_code == 201, response.text
    milestone: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/v1/milestones/{milestone['id']}"
    return milestone


async def create_deliverable(
    gateway: httpx.AsyncClient, who: AgencySession, project_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"title": f"Deliverable {uuid.uuid4().hex[:6]}", **fields}
    response = await gateway.post(
        f"/v1/projects/{project_id}/deliverables", json=body, headers=who.headers
    )
    assert response.status_code == 201, response.text
    deliverable: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/v1/deliverables/{deliverable['id']}"
    return deliverable


async def submit(
    gateway: httpx.AsyncClient, who: AgencySession, deliverable_id: str, **body: Any
) -> dict[str, Any]:
    response = await gateway.post(
        f"/v1/deliverables/{deliverable_id}/submit", json=body or None, headers=who.headers
    )
    assert response.status_code == 200, response.text
    deliverable: dict[str, Any] = response.json()
    return deliverable


async def history(
    gateway: httpx.AsyncClient, who: AgencySession, deliverable_id: str
) -> list[tuple[str, str | None, str]]:
    response = await gateway.get(f"/v1/deliverables/{deliverable_id}/history", headers=who.headers)
    assert response.status_code == 200, response.text
    return [(d["decision"], d["comment"], d["actor_id"]) for d in response.json()["items"]]


async def work_events(
    platform: Platform,
    who: AgencySession,
    event_type: str,
    subject_field: str,
    subject_id: str,
    count: int,
) -> list[dict[str, Any]]:
    """The first `count` events of `event_type` in `who`'s agency about `subject_id`."""
    topic = f"{platform.topic_prefix}work.events"

    def matching(records: list[Any]) -> list[dict[str, Any]]:
        return [
            e
            for e in events_where(records, tenantid=str(who.agency_id), type=event_type)
            if e["data"][subject_field] == subject_id
        ]

    records = await read_topic(
        platform.infra.kafka_bootstrap,
        topic,
        lambda rs: len(matching(rs)) >= count,
        timeout=60.0,
    )
    return matching(records)


@pytest.fixture
async def stub(platform: Platform) -> AsyncIterator[work_pb2_grpc.WorkServiceStub]:
    async with grpc.aio.insecure_channel(platform.grpc_target("work")) as channel:
        yield work_pb2_grpc.WorkServiceStub(channel)


async def rpc_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


def approve_rpc(
    stub: work_pb2_grpc.WorkServiceStub, who: AgencySession, deliverable_id: str, comment: str = ""
) -> Any:
    return stub.ApproveDeliverable(
        work_pb2.DeliverableDecisionRequest(deliverable_id=deliverable_id, comment=comment),
        metadata=as_caller(who),
        timeout=30,
    )


def changes_rpc(
    stub: work_pb2_grpc.WorkServiceStub, who: AgencySession, deliverable_id: str, comment: str = ""
) -> Any:
    return stub.RequestDeliverableChanges(
        work_pb2.DeliverableDecisionRequest(deliverable_id=deliverable_id, comment=comment),
        metadata=as_caller(who),
        timeout=30,
    )


def list_rpc(stub: work_pb2_grpc.WorkServiceStub, who: AgencySession, project_id: str) -> Any:
    return stub.ListClientDeliverables(
        work_pb2.ListClientDeliverablesRequest(project_id=project_id),
        metadata=as_caller(who),
        timeout=30,
    )


async def client_project(
    platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
) -> tuple[AgencySession, dict[str, Any]]:
    """A client user of `agency` and a project of that user's client."""
    client_user = await add_member(platform, gateway, agency, "client")
    client_id = unverified_jwt(client_user.access_token)[1]["cid"]
    project = await create_project(gateway, agency, client_id=client_id)
    assert project["client_id"] == client_id
    return client_user, project


# --- milestones ------------------------------------------------------------------------------


class TestMilestones:
    async def test_create_list_get_update_and_delete(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await create_project(gateway, agency, currency="EUR")
        pid = project["id"]
        later = await create_milestone(
            gateway, agency, pid, name="  Launch ", due_date="2027-02-01", amount_cents=500_000
        )
        sooner = await create_milestone(gateway, agency, pid, name="Design", due_date="2027-01-01")
        undated = await create_milestone(gateway, agency, pid, name="Polish")

        assert later["name"] == "Launch"
        assert (later["amount_cents"], later["currency"]) == (500_000, "EUR")
        assert (later["status"], later["completed_at"]) == ("open", None)
        assert later["project_id"] == pid
        assert sooner["amount_cents"] is None

        listed = await gateway.get(f"/v1/projects/{pid}/milestones", headers=agency.headers)
        assert listed.status_code == 200, listed.text
        page = listed.json()
        assert (page["total"], page["page"]) == (3, 1)
        assert [m["name"] for m in page["items"]] == ["Design", "Launch", "Polish"]
        by_name = await gateway.get(
            f"/v1/projects/{pid}/milestones",
            params={"sort": "-name", "per_page": 2},
            headers=agency.headers,
        )
        assert [m["name"] for m in by_name.json()["items"]] == ["Polish", "Launch"]
        assert by_name.json()["total"] == 3

        got = await gateway.get(f"/v1/milestones/{later['id']}", headers=agency.headers)
        assert got.json() == later

        patched = await gateway.patch(
            f"/v1/milestones/{later['id']}",
            json={"name": "Go live", "due_date": None, "amount_cents": 0},
            headers=agency.headers,
        )
        assert patched.status_code == 200, patched.text
        assert (patched.json()["name"], patched.json()["due_date"]) == ("Go live", None)
        assert patched.json()["amount_cents"] == 0

        deleted = await gateway.delete(f"/v1/milestones/{undated['id']}", headers=agency.headers)
        assert deleted.status_code == 204, deleted.text
        gone = await gateway.get(f"/v1/milestones/{undated['id']}", headers=agency.headers)
        assert_problem(gone, 404, "not-found")
        open_only = await gateway.get(
            f"/v1/projects/{pid}/milestones", params={"status": "open"}, headers=agency.headers
        )
        assert {m["id"] for m in open_only.json()["items"]} == {later["id"], sooner["id"]}

    async def test_completing_publishes_the_event_once_and_a_second_completion_is_409(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await create_project(gateway, agency, currency="GBP")
        milestone = await create_milestone(gateway, agency, project["id"], amount_cents=120_000)
        url = f"/v1/milestones/{milestone['id']}"

        completed = await gateway.post(f"{url}/complete", headers=agency.headers)
        again = await gateway.post(f"{url}/complete", headers=agency.headers)
        undelete = await gateway.delete(url, headers=agency.headers)
        # Reopened (billing dedupes by id) and completed again through PATCH: a second event.
        reopened = await gateway.patch(url, json={"status": "open"}, headers=agency.headers)
        recompleted = await gateway.patch(url, json={"status": "completed"}, headers=agency.headers)

        assert completed.status_code == 200, completed.text
        assert completed.json()["status"] == "completed"
        assert completed.json()["completed_at"] is not None
        assert_problem(again, 409, "conflict")
        assert_problem(undelete, 409, "conflict")
        assert reopened.status_code == 200, reopened.text
        assert (reopened.json()["status"], reopened.json()["completed_at"]) == ("open", None)
        assert recompleted.json()["status"] == "completed"

        events = await work_events(
            platform, agency, "work.milestone.completed", "milestone_id", milestone["id"], 2
        )
        assert len(events) == 2
        first = events[0]
        assert first["subject"] == f"milestones/{milestone['id']}"
        assert first["source"].endswith("work")
        assert {k: first["data"][k] for k in ("project_id", "name", "amount_cents")} == {
            "project_id": project["id"],
            "name": milestone["name"],
            "amount_cents": 120_000,
        }
        assert (first["data"]["currency"], first["data"]["client_id"]) == ("GBP", None)
        # The 409 published nothing: the events are the two real completions, in order.
        assert [e["data"]["completed_at"] for e in events] == [
            completed.json()["completed_at"],
            recompleted.json()["completed_at"],
        ]

    async def test_two_simultaneous_completions_complete_it_once(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await create_project(gateway, agency)
        milestone = await create_milestone(gateway, agency, project["id"], amount_cents=1)
        url = f"/v1/milestones/{milestone['id']}/complete"

        answers = await asyncio.gather(
            *(gateway.post(url, headers=agency.headers) for _ in range(3))
        )

        assert sorted(r.status_code for r in answers) == [200, 409, 409]
        [winner] = [r for r in answers if r.status_code == 200]
        [event] = await work_events(
            platform, agency, "work.milestone.completed", "milestone_id", milestone["id"], 1
        )
        assert event["data"]["completed_at"] == winner.json()["completed_at"]

    async def test_a_milestone_with_tasks_cannot_be_deleted(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await create_project(gateway, agency)
        milestone = await create_milestone(gateway, agency, project["id"])
        task = await gateway.post(
            f"/v1/projects/{project['id']}/tasks",
            json={"title": "Build it", "milestone_id": milestone["id"]},
            headers=agency.headers,
        )
        assert task.status_code == 201, task.text

        refused = await gateway.delete(f"/v1/milestones/{milestone['id']}", headers=agency.headers)

        body = assert_problem(refused, 409, "conflict")
        assert "task" in body["detail"]
        still = await gateway.get(f"/v1/milestones/{milestone['id']}", headers=agency.headers)
        assert still.status_code == 200

    async def test_bad_input_is_422_naming_the_field(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await create_project(gateway, agency)
        url = f"/v1/projects/{project['id']}/milestones"
        milestone = await create_milestone(gateway, agency, project["id"])
        one = f"/v1/milestones/{milestone['id']}"

        cases = [
            (await gateway.post(url, json={"name": " "}, headers=agency.headers), "name"),
            (await gateway.post(url, json={}, headers=agency.headers), "name"),
            (
                await gateway.post(url, json={"name": "x\u0000y"}, headers=agency.headers),
                "name",
            ),
            (
                await gateway.post(
                    url, json={"name": "X", "amount_cents": -1}, headers=agency.headers
                ),
                "amount_cents",
            ),
            (
                await gateway.post(
                    url, json={"name": "X", "due_date": "soon"}, headers=agency.headers
                ),
                "due_date",
            ),
            (
                await gateway.post(url, json={"name": "X", "owner": 1}, headers=agency.headers),
                "owner",
            ),
            (await gateway.patch(one, json={"name": None}, headers=agency.headers), "name"),
            (await gateway.patch(one, json={"status": None}, headers=agency.headers), "status"),
            (
                await gateway.patch(one, json={"status": "billed"}, headers=agency.headers),
                "status",
            ),
            (
                await gateway.get(url, params={"sort": "amount"}, headers=agency.headers),
                "query.sort",
            ),
        ]
        for response, field in cases:
            assert_invalid_fields(response, field)
        malformed = await gateway.get("/v1/milestones/not-a-uuid", headers=agency.headers)
        assert_invalid_fields(malformed, "path.milestone_id")

    async def test_members_read_their_projects_milestones_but_cannot_write(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        project = await create_project(gateway, agency)
        milestone = await create_milestone(gateway, agency, project["id"])
        list_url = f"/v1/projects/{project['id']}/milestones"
        one = f"/v1/milestones/{milestone['id']}"

        # Not on the project: it does not exist for them.
        assert_problem(await gateway.get(one, headers=member.headers), 404)
        assert_problem(await gateway.get(list_url, headers=member.headers), 404)
        added = await gateway.post(
            f"/v1/projects/{project['id']}/members",
            json={"user_id": str(member.user_id)},
            headers=agency.headers,
        )
        assert added.status_code in (200, 201), added.text
        assert (await gateway.get(one, headers=member.headers)).status_code == 200
        assert (await gateway.get(list_url, headers=member.headers)).json()["total"] == 1

        writes = [
            await gateway.post(list_url, json={"name": "M"}, headers=member.headers),
            await gateway.patch(one, json={"name": "M"}, headers=member.headers),
            await gateway.post(f"{one}/complete", headers=member.headers),
            await gateway.delete(one, headers=member.headers),
        ]
        for response in writes:
            assert_problem(response, 403, "permission-denied")

    async def test_another_agency_gets_404_on_every_route(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        project = await create_project(gateway, agency)
        milestone = await create_milestone(gateway, agency, project["id"])
        list_url = f"/v1/projects/{project['id']}/milestones"
        one = f"/v1/milestones/{milestone['id']}"
        them = other_agency.headers

        responses = [
            await gateway.get(list_url, headers=them),
            await gateway.post(list_url, json={"name": "Mine now"}, headers=them),
            await gateway.get(one, headers=them),
            await gateway.patch(one, json={"name": "Mine now"}, headers=them),
            await gateway.post(f"{one}/complete", headers=them),
            await gateway.delete(one, headers=them),
        ]
        for response in responses:
            assert_problem(response, 404, "not-found")
        unchanged = await gateway.get(one, headers=agency.headers)
        assert (unchanged.json()["name"], unchanged.json()["status"]) == (
            milestone["name"],
            "open",
        )


# --- deliverables over HTTP ------------------------------------------------------------------


class TestDeliverableLifecycle:
    async def test_draft_submitted_changes_requested_submitted_approved_with_history_and_events(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await create_project(gateway, agency)
        deliverable = await create_deliverable(
            gateway,
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

        edited = await gateway.patch(
            url, json={"file_ref": "files/home-v1.pdf"}, headers=agency.headers
        )
        assert edited.json()["file_ref"] == "files/home-v1.pdf"
        first = await submit(gateway, agency, did, comment="First round")
        assert first["status"] == "submitted"
        assert first["submitted_at"] is not None
        changes = await gateway.post(
            f"{url}/request-changes", json={"comment": "Bigger logo"}, headers=agency.headers
        )
        assert changes.status_code == 200, changes.text
        assert changes.json()["status"] == "changes_requested"
        assert changes.json()["decided_at"] is not None
        reworked = await gateway.patch(
            url, json={"link_url": "https://www.figma.com/file/abc-v2"}, headers=agency.headers
        )
        assert reworked.status_code == 200, reworked.text
        second = await submit(gateway, agency, did)
        assert (second["status"], second["decided_at"]) == ("submitted", None)
        assert second["submitted_at"] > first["submitted_at"]
        approved = await gateway.post(f"{url}/approve", headers=agency.headers)
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"
        assert approved.json()["decided_at"] >= second["submitted_at"]
        assert (await gateway.get(url, headers=agency.headers)).json() == approved.json()

        assert await history(gateway, agency, did) == [
            ("approved", None, me),
            ("submitted", None, me),
            ("changes_requested", "Bigger logo", me),
            ("submitted", "First round", me),
        ]

        submitted = await work_events(
            platform, agency, "work.deliverable.submitted", "deliverable_id", did, 2
        )
        requested = await work_events(
            platform, agency, "work.deliverable.changes_requested", "deliverable_id", did, 1
        )
        approvals = await work_events(
            platform, agency, "work.deliverable.approved", "deliverable_id", did, 1
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
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await create_project(gateway, agency)
        draft = await create_deliverable(gateway, agency, project["id"])
        sent = await create_deliverable(gateway, agency, project["id"])
        await submit(gateway, agency, sent["id"])
        draft_url, sent_url = f"/v1/deliverables/{draft['id']}", f"/v1/deliverables/{sent['id']}"

        refused = {
            "approve draft": await gateway.post(f"{draft_url}/approve", headers=agency.headers),
            "changes on draft": await gateway.post(
                f"{draft_url}/request-changes", json={"comment": "x"}, headers=agency.headers
            ),
            "edit submitted": await gateway.patch(
                sent_url, json={"title": "Sneaky"}, headers=agency.headers
            ),
            "delete submitted": await gateway.delete(sent_url, headers=agency.headers),
            "resubmit": await gateway.post(f"{sent_url}/submit", headers=agency.headers),
        }
        for name, response in refused.items():
            body = assert_problem(response, 409, "conflict")
            assert body["current_status"] in ("draft", "submitted"), name

        approved = await gateway.post(f"{sent_url}/approve", headers=agency.headers)
        assert approved.status_code == 200, approved.text
        after = [
            await gateway.patch(sent_url, json={"title": "Late"}, headers=agency.headers),
            await gateway.post(f"{sent_url}/approve", headers=agency.headers),
            await gateway.post(
                f"{sent_url}/request-changes", json={"comment": "x"}, headers=agency.headers
            ),
            await gateway.post(f"{sent_url}/submit", headers=agency.headers),
        ]
        for response in after:
            assert assert_problem(response, 409)["current_status"] == "approved"
        assert (await gateway.get(sent_url, headers=agency.headers)).json()["title"] == sent[
            "title"
        ]
        assert [h[0] for h in await history(gateway, agency, sent["id"])] == [
            "approved",
            "submitted",
        ]

        deleted = await gateway.delete(draft_url, headers=agency.headers)
        assert deleted.status_code == 204, deleted.text
        assert_problem(await gateway.get(draft_url, headers=agency.headers), 404)

    async def test_listing_filters_by_status(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await create_project(gateway, agency)
        draft = await create_deliverable(gateway, agency, project["id"], title="B draft")
        sent = await create_deliverable(gateway, agency, project["id"], title="A sent")
        await submit(gateway, agency, sent["id"])
        url = f"/v1/projects/{project['id']}/deliverables"

        everything = await gateway.get(url, params={"sort": "title"}, headers=agency.headers)
        drafts = await gateway.get(url, params={"status": "draft"}, headers=agency.headers)

        assert [d["id"] for d in everything.json()["items"]] == [sent["id"], draft["id"]]
        assert everything.json()["total"] == 2
        assert [d["id"] for d in drafts.json()["items"]] == [draft["id"]]

    async def test_bad_input_is_422_naming_the_field(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await create_project(gateway, agency)
        url = f"/v1/projects/{project['id']}/deliverables"
        deliverable = await create_deliverable(gateway, agency, project["id"])
        one = f"/v1/deliverables/{deliverable['id']}"
        h = agency.headers

        cases = [
            (await gateway.post(url, json={"title": ""}, headers=h), "title"),
            (await gateway.post(url, json={"title": "x" * 301}, headers=h), "title"),
            (
                await gateway.post(
                    url, json={"title": "X", "link_url": "http://example.com/a"}, headers=h
                ),
                "link_url",
            ),
            (
                await gateway.post(url, json={"title": "X", "link_url": "not a url"}, headers=h),
                "link_url",
            ),
            (
                await gateway.post(
                    url, json={"title": "X", "link_url": "ftp://example.com/a"}, headers=h
                ),
                "link_url",
            ),
            (
                await gateway.post(url, json={"title": "X", "description": "a\u0000"}, headers=h),
                "description",
            ),
            (
                await gateway.post(url, json={"title": "X", "status": "approved"}, headers=h),
                "status",
            ),
            (await gateway.patch(one, json={"title": None}, headers=h), "title"),
            (await gateway.patch(one, json={"file_ref": ""}, headers=h), "file_ref"),
            (await gateway.post(f"{one}/submit", json={"comment": ""}, headers=h), "comment"),
            (await gateway.post(f"{one}/request-changes", json={}, headers=h), "comment"),
            (
                await gateway.post(f"{one}/request-changes", json={"comment": "  "}, headers=h),
                "comment",
            ),
            (await gateway.get(url, params={"status": "lost"}, headers=h), "query.status"),
        ]
        for response, field in cases:
            assert_invalid_fields(response, field)
        assert (await gateway.get(one, headers=h)).json()["status"] == "draft"

    async def test_members_without_projects_write_get_403_on_writes(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        project = await create_project(gateway, agency)
        await gateway.post(
            f"/v1/projects/{project['id']}/members",
            json={"user_id": str(member.user_id)},
            headers=agency.headers,
        )
        deliverable = await create_deliverable(gateway, agency, project["id"])
        one = f"/v1/deliverables/{deliverable['id']}"
        h = member.headers

        assert (await gateway.get(one, headers=h)).status_code == 200
        assert (await gateway.get(f"{one}/history", headers=h)).status_code == 200
        writes = [
            await gateway.post(
                f"/v1/projects/{project['id']}/deliverables", json={"title": "T"}, headers=h
            ),
            await gateway.patch(one, json={"title": "T"}, headers=h),
            await gateway.delete(one, headers=h),
            await gateway.post(f"{one}/submit", headers=h),
            await gateway.post(f"{one}/approve", headers=h),
            await gateway.post(f"{one}/request-changes", json={"comment": "c"}, headers=h),
        ]
        for response in writes:
            assert_problem(response, 403, "permission-denied")

    async def test_another_agency_gets_404_on_every_route(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        project = await create_project(gateway, agency)
        deliverable = await create_deliverable(gateway, agency, project["id"])
        submitted = await create_deliverable(gateway, agency, project["id"])
        await submit(gateway, agency, submitted["id"])
        one, sent = f"/v1/deliverables/{deliverable['id']}", f"/v1/deliverables/{submitted['id']}"
        list_url = f"/v1/projects/{project['id']}/deliverables"
        them = other_agency.headers

        responses = [
            await gateway.get(list_url, headers=them),
            await gateway.post(list_url, json={"title": "Mine"}, headers=them),
            await gateway.get(one, headers=them),
            await gateway.patch(one, json={"title": "Mine"}, headers=them),
            await gateway.delete(one, headers=them),
            await gateway.post(f"{one}/submit", headers=them),
            await gateway.get(f"{one}/history", headers=them),
            await gateway.post(f"{sent}/approve", headers=them),
            await gateway.post(f"{sent}/request-changes", json={"comment": "c"}, headers=them),
        ]
        for response in responses:
            assert_problem(response, 404, "not-found")
        assert (await gateway.get(one, headers=agency.headers)).json() == deliverable
        assert (await gateway.get(sent, headers=agency.headers)).json()["status"] == "submitted"


# --- the client's decisions over gRPC --------------------------------------------------------


class TestClientDecisionsRpc:
    async def test_the_projects_client_sees_non_drafts_and_decides_on_submitted_ones(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
    ) -> None:
        client_user, project = await client_project(platform, gateway, agency)
        pid = project["id"]
        draft = await create_deliverable(gateway, agency, pid, title="Draft")
        design = await create_deliverable(
            gateway, agency, pid, title="Design", link_url="https://example.com/d"
        )
        copy = await create_deliverable(gateway, agency, pid, title="Copy")
        await submit(gateway, agency, design["id"])
        await submit(gateway, agency, copy["id"])

        listed = await list_rpc(stub, client_user, pid)
        assert [(d.title, d.status) for d in listed.deliverables] == [
            ("Design", "submitted"),
            ("Copy", "submitted"),
        ]
        assert listed.deliverables[0].link_url == "https://example.com/d"
        assert listed.deliverables[0].submitted_at.endswith("Z")
        assert listed.deliverables[0].decided_at == ""

        approved = await approve_rpc(stub, client_user, design["id"], "Lovely")
        assert (approved.id, approved.status) == (design["id"], "approved")
        assert approved.decided_at != ""
        missing_comment = await rpc_error(changes_rpc(stub, client_user, copy["id"], "  "))
        assert missing_comment.code() == grpc.StatusCode.INVALID_ARGUMENT
        changed = await changes_rpc(stub, client_user, copy["id"], "Shorter please")
        assert changed.status == "changes_requested"
        twice = await rpc_error(approve_rpc(stub, client_user, design["id"]))
        assert twice.code() == grpc.StatusCode.FAILED_PRECONDITION
        not_submitted = await rpc_error(changes_rpc(stub, client_user, copy["id"], "More"))
        assert not_submitted.code() == grpc.StatusCode.FAILED_PRECONDITION
        # Drafts do not exist for the client.
        hidden = await rpc_error(approve_rpc(stub, client_user, draft["id"]))
        assert hidden.code() == grpc.StatusCode.NOT_FOUND

        who = str(client_user.user_id)
        assert await history(gateway, agency, design["id"]) == [
            ("approved", "Lovely", who),
            ("submitted", None, str(agency.user_id)),
        ]
        assert (await history(gateway, agency, copy["id"]))[0] == (
            "changes_requested",
            "Shorter please",
            who,
        )
        [approval] = await work_events(
            platform, agency, "work.deliverable.approved", "deliverable_id", design["id"], 1
        )
        [request] = await work_events(
            platform, agency, "work.deliverable.changes_requested", "deliverable_id", copy["id"], 1
        )
        assert approval["data"]["client_id"] == project["client_id"]
        assert (approval["data"]["actor_id"], approval["data"]["comment"]) == (who, "Lovely")
        assert request["data"]["comment"] == "Shorter please"
        again = await gateway.get(f"/v1/deliverables/{copy['id']}", headers=agency.headers)
        assert again.json()["status"] == "changes_requested"

    async def test_simultaneous_decisions_leave_exactly_one(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
    ) -> None:
        client_user, project = await client_project(platform, gateway, agency)
        deliverable = await create_deliverable(gateway, agency, project["id"])
        await submit(gateway, agency, deliverable["id"])
        did = deliverable["id"]

        outcomes = await asyncio.gather(
            approve_rpc(stub, client_user, did),
            changes_rpc(stub, client_user, did, "Wait"),
            approve_rpc(stub, client_user, did),
            return_exceptions=True,
        )

        decided = [o for o in outcomes if isinstance(o, work_pb2.Deliverable)]
        failed = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
        assert len(decided) == 1, outcomes
        assert [f.code() for f in failed] == [grpc.StatusCode.FAILED_PRECONDITION] * 2
        final = (await gateway.get(f"/v1/deliverables/{did}", headers=agency.headers)).json()
        assert final["status"] == decided[0].status
        assert [h[0] for h in await history(gateway, agency, did)] == [
            decided[0].status,
            "submitted",
        ]

    async def test_another_clients_user_and_another_agency_get_not_found(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        _, project = await client_project(platform, gateway, agency)
        stranger = await add_member(platform, gateway, agency, "client")
        member = await add_member(platform, gateway, agency, "member")
        deliverable = await create_deliverable(gateway, agency, project["id"])
        await submit(gateway, agency, deliverable["id"])
        did = deliverable["id"]

        for caller in (stranger, other_agency, member):
            for call in (
                approve_rpc(stub, caller, did),
                changes_rpc(stub, caller, did, "No"),
            ):
                assert (await rpc_error(call)).code() == grpc.StatusCode.NOT_FOUND
        for caller in (stranger, other_agency):
            listing = await rpc_error(list_rpc(stub, caller, project["id"]))
            assert listing.code() == grpc.StatusCode.NOT_FOUND
        unknown = await rpc_error(approve_rpc(stub, agency, str(uuid.uuid4())))
        malformed = await rpc_error(approve_rpc(stub, agency, "nope"))
        assert unknown.code() == grpc.StatusCode.NOT_FOUND
        assert malformed.code() == grpc.StatusCode.INVALID_ARGUMENT
        still = await gateway.get(f"/v1/deliverables/{did}", headers=agency.headers)
        assert still.json()["status"] == "submitted"

    async def test_agency_staff_with_projects_write_record_the_clients_decision(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")
        project = await create_project(gateway, agency)
        deliverable = await create_deliverable(gateway, agency, project["id"])
        draft = await create_deliverable(gateway, agency, project["id"])
        await submit(gateway, agency, deliverable["id"])

        listed = await list_rpc(stub, manager, project["id"])
        approved = await approve_rpc(stub, manager, deliverable["id"])
        # Staff see drafts, but a draft is not awaiting a decision.
        on_draft = await rpc_error(approve_rpc(stub, manager, draft["id"]))

        assert [d.id for d in listed.deliverables] == [deliverable["id"]]
        assert approved.status == "approved"
        assert on_draft.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert (await history(gateway, agency, deliverable["id"]))[0] == (
            "approved",
            None,
            str(manager.user_id),
        )
