"""The portal's project side through the gateway against the real work service: a client user
of client X sees X's projects only, the client-visible tasks only, decides on a deliverable
(the project's manager hears of it), sends feedback and sees the task it made (the manager
hears of it too), comments; Y's ids answer 404 to X's user, X's ids 404 to another agency's
client user, and an agency member's token is refused."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agencyos.testing.deals import create_client
from agencyos.testing.factories import AgencySession, new_project, new_task
from agencyos.testing.http import assert_problem
from agencyos.testing.inbox import about, join, wait_for_notice

pytestmark = pytest.mark.e2e


async def submitted_deliverable(
    gateway: httpx.AsyncClient, who: AgencySession, project_id: str, title: str
) -> str:
    created = await gateway.post(
        f"/v1/projects/{project_id}/deliverables", json={"title": title}, headers=who.headers
    )
    assert created.status_code == 201, created.text
    deliverable_id: str = created.json()["id"]
    sent = await gateway.post(f"/v1/deliverables/{deliverable_id}/submit", headers=who.headers)
    assert sent.status_code == 200, sent.text
    return deliverable_id


async def client_project(
    gateway: httpx.AsyncClient, owner: AgencySession, manager: AgencySession, name: str
) -> dict[str, Any]:
    """A client, its client user, a project of it with a client-visible and an internal task
    and a submitted deliverable."""
    client = await create_client(gateway, owner, company_name=f"{name} Corp")
    user = await join(gateway, owner, "client", name=f"{name} Client", client_id=client["id"])
    project = await new_project(
        gateway, owner, manager, name=f"{name} site {uuid.uuid4().hex[:4]}", client_id=client["id"]
    )
    visible = await new_task(
        gateway, manager, project["id"], title=f"{name} homepage", visible_to_client=True
    )
    internal = await new_task(gateway, manager, project["id"], title=f"{name} margin review")
    deliverable = await submitted_deliverable(gateway, manager, project["id"], f"{name} mockups")
    return {
        "user": user,
        "project": project,
        "visible": visible,
        "internal": internal,
        "deliverable": deliverable,
    }


class TestPortalProjects:
    async def test_a_client_user_works_with_its_own_projects_only(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        manager = await join(gateway, agency, "manager", name="Mona Manager")
        x = await client_project(gateway, agency, manager, "Xeno")
        y = await client_project(gateway, agency, manager, "Yara")
        xh = x["user"].headers

        # The project list: X's project only.
        listed = await gateway.get("/v1/portal/projects", headers=xh)
        assert listed.status_code == 200, listed.text
        assert [p["id"] for p in listed.json()["items"]] == [x["project"]["id"]]
        assert "hourly_rate_cents" not in listed.text

        # The project: the client-visible task only, and the submitted deliverable.
        detail = await gateway.get(f"/v1/portal/projects/{x['project']['id']}", headers=xh)
        assert detail.status_code == 200, detail.text
        assert [t["id"] for t in detail.json()["tasks"]] == [x["visible"]["id"]]
        assert [(d["id"], d["status"]) for d in detail.json()["deliverables"]] == [
            (x["deliverable"], "submitted")
        ]
        assert "margin review" not in detail.text

        # The approval reaches work, and the project's manager hears of it.
        approved = await gateway.post(
            f"/v1/portal/deliverables/{x['deliverable']}/approve",
            json={"comment": "Love it"},
            headers=xh,
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"
        notice = await wait_for_notice(
            gateway, manager, "deliverable.approved", about("deliverable_id", x["deliverable"])
        )
        assert notice["body"] == "Love it"
        assert_problem(
            await gateway.post(
                f"/v1/portal/deliverables/{x['deliverable']}/request-changes",
                json={"comment": "On second thought"},
                headers=xh,
            ),
            412,
        )

        # Feedback becomes a task the client then sees with its status.
        feedback = await gateway.post(
            "/v1/portal/feedback",
            json={"project_id": x["project"]["id"], "message": "Logo blurry\nOn my phone."},
            headers=xh,
        )
        assert feedback.status_code == 201, feedback.text
        task = feedback.json()
        assert (task["title"], task["status"]) == ("Logo blurry", "todo")
        again = await gateway.get(f"/v1/portal/projects/{x['project']['id']}", headers=xh)
        assert task["id"] in [t["id"] for t in again.json()["tasks"]]
        told = await wait_for_notice(
            gateway, manager, "feedback.received", about("task_id", task["id"])
        )
        assert told["title"].startswith("Xeno Client sent feedback on ")

        # Comments: the client's own, readable back; an internal comment never shows.
        internal = await gateway.post(
            f"/v1/tasks/{x['visible']['id']}/comments",
            json={"body": "internal: they pay late"},
            headers=manager.headers,
        )
        assert internal.status_code == 201, internal.text
        comments_path = f"/v1/portal/tasks/{x['visible']['id']}/comments"
        added = await gateway.post(comments_path, json={"body": "Friday?"}, headers=xh)
        assert added.status_code == 201, added.text
        comments = await gateway.get(comments_path, headers=xh)
        assert comments.status_code == 200, comments.text
        assert [c["body"] for c in comments.json()["items"]] == ["Friday?"]
        assert_problem(
            await gateway.get(f"/v1/portal/tasks/{x['internal']['id']}/comments", headers=xh),
            404,
        )

        # Y's ids answer 404 to X's user, and nothing of Y changes.
        for response in (
            await gateway.get(f"/v1/portal/projects/{y['project']['id']}", headers=xh),
            await gateway.post(f"/v1/portal/deliverables/{y['deliverable']}/approve", headers=xh),
            await gateway.post(
                f"/v1/portal/deliverables/{y['deliverable']}/request-changes",
                json={"comment": "No"},
                headers=xh,
            ),
            await gateway.post(
                "/v1/portal/feedback",
                json={"project_id": y["project"]["id"], "message": "Hi"},
                headers=xh,
            ),
            await gateway.get(f"/v1/portal/tasks/{y['visible']['id']}/comments", headers=xh),
            await gateway.post(
                f"/v1/portal/tasks/{y['visible']['id']}/comments", json={"body": "Hi"}, headers=xh
            ),
        ):
            assert_problem(response, 404)
        y_view = await gateway.get(
            f"/v1/portal/projects/{y['project']['id']}", headers=y["user"].headers
        )
        assert y_view.status_code == 200, y_view.text
        assert [d["status"] for d in y_view.json()["deliverables"]] == ["submitted"]
        assert [t["id"] for t in y_view.json()["tasks"]] == [y["visible"]["id"]]

        # A client user of another agency reaches none of X's ids either.
        theirs = await create_client(gateway, other_agency, company_name="Zeta Corp")
        stranger = await join(gateway, other_agency, "client", name="Zed", client_id=theirs["id"])
        sh = stranger.headers
        for response in (
            await gateway.get(f"/v1/portal/projects/{x['project']['id']}", headers=sh),
            await gateway.post(
                f"/v1/portal/deliverables/{x['deliverable']}/request-changes",
                json={"comment": "No"},
                headers=sh,
            ),
            await gateway.get(f"/v1/portal/tasks/{x['visible']['id']}/comments", headers=sh),
        ):
            assert_problem(response, 404)
        listed_elsewhere = await gateway.get("/v1/portal/projects", headers=sh)
        assert listed_elsewhere.json() == {"items": []}

        # An agency member's token is refused.
        refused = await gateway.get("/v1/portal/projects", headers=manager.headers)
        assert_problem(refused, 403)
        assert "client users only" in refused.json()["detail"]
