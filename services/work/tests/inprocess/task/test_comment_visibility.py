"""A comment's visibility: `internal` by default, `client` on request (only on a task visible
to the client); an internal comment never reaches a client user. Work's side of that: the REST
routes are closed to client users, the events carry the visibility, and the portal's gRPC
(ListClientTaskComments, AddClientComment) answers a client user only the client-visible
comments of the client-visible tasks of its own client's projects: another client's task, an
internal task and another agency's task answer NOT_FOUND alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import httpx
import pytest

from agencyos.protos.work.v1 import work_pb2
from agencyos.protos.work.v1.work_pb2_grpc import WorkServiceStub
from agencyos.testing.audit_records import audit_records
from agencyos.testing.factories import as_caller, new_project, new_task
from agencyos.testing.http import assert_invalid_fields, unverified_jwt
from agencyos.testing.inprocess import Agency, Caller, InProcess

WorkEvents = Callable[..., Awaitable[list[dict[str, Any]]]]
WorkRows = Callable[..., Awaitable[list[Any]]]


def client_of(who: Caller) -> str:
    _, claims = unverified_jwt(who.access_token)
    return str(claims["cid"])


def new_client_user(in_process: InProcess, tenant: Agency) -> Caller:
    return tenant.caller("client", client_id=in_process.standins.crm.add_client(tenant.id))


async def comment(
    work: httpx.AsyncClient, who: Caller, task_id: str, **body: Any
) -> httpx.Response:
    return await work.post(f"/v1/tasks/{task_id}/comments", json=body, headers=who.headers)


async def new_comment(
    work: httpx.AsyncClient, who: Caller, task_id: str, **body: Any
) -> dict[str, Any]:
    response = await comment(work, who, task_id, **body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def edit(
    work: httpx.AsyncClient, who: Caller, comment_id: str, **body: Any
) -> httpx.Response:
    return await work.patch(f"/v1/comments/{comment_id}", json=body, headers=who.headers)


async def client_task(
    work: httpx.AsyncClient, agency: Caller, client_user: Caller, *, visible: bool = True
) -> dict[str, Any]:
    """A task in a new project of `client_user`'s client (visible to the client or not)."""
    project = await new_project(work, agency, client_id=client_of(client_user))
    return await new_task(work, agency, project["id"], visible_to_client=visible)


async def list_comments(stub: WorkServiceStub, who: Caller, task_id: str) -> list[Any]:
    answer = await stub.ListClientTaskComments(
        work_pb2.ListClientTaskCommentsRequest(task_id=task_id),
        metadata=as_caller(who),
        timeout=10,
    )
    return list(answer.comments)


async def add_comment(stub: WorkServiceStub, who: Caller, task_id: str, body: str) -> Any:
    return await stub.AddClientComment(
        work_pb2.AddClientCommentRequest(task_id=task_id, body=body),
        metadata=as_caller(who),
        timeout=10,
    )


class TestVisibilityOverRest:
    async def test_a_comment_is_internal_by_default_and_its_event_says_so(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        work_events: WorkEvents,
        work_rows: WorkRows,
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"], visible_to_client=True)

        created = await new_comment(work, agency, task["id"], body="Between us")

        assert created["visibility"] == "internal"
        [row] = await work_rows(
            agency.agency_id, "SELECT visibility FROM comments WHERE id = $1", created["id"]
        )
        assert row["visibility"] == "internal"
        [event] = await work_events(
            agency.agency_id, "work.comment.created", comment_id=created["id"]
        )
        assert event["data"]["visibility"] == "internal"

    async def test_a_member_who_writes_the_task_makes_a_client_comment(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        tenant: Agency,
        work_events: WorkEvents,
    ) -> None:
        dana = tenant.caller("member")
        fox = tenant.caller("member")
        project = await new_project(work, agency, dana, fox)
        task = await new_task(work, agency, project["id"], visible_to_client=True)

        created = await new_comment(
            work, dana, task["id"], body="@[Fox](" + str(fox.user_id) + ") ok?", visibility="client"
        )

        assert created["visibility"] == "client"
        listed = await work.get(f"/v1/tasks/{task['id']}/comments", headers=agency.headers)
        assert [c["visibility"] for c in listed.json()["items"]] == ["client"]
        [created_event] = await work_events(
            agency.agency_id, "work.comment.created", comment_id=created["id"]
        )
        [mentioned_event] = await work_events(
            agency.agency_id, "work.comment.mentioned", comment_id=created["id"]
        )
        assert created_event["data"]["visibility"] == "client"
        assert mentioned_event["data"]["visibility"] == "client"

    async def test_a_client_comment_on_a_task_not_visible_to_the_client_is_refused(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        response = await comment(work, agency, task["id"], body="Hi", visibility="client")

        assert_invalid_fields(response, "visibility")
        assert await work_events(agency.agency_id, "work.comment.created") == []

    @pytest.mark.parametrize("visibility", ["public", "", None, "CLIENT"])
    async def test_an_unknown_visibility_is_refused(
        self, work: httpx.AsyncClient, agency: Caller, visibility: str | None
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"], visible_to_client=True)

        response = await comment(work, agency, task["id"], body="Hi", visibility=visibility)

        assert_invalid_fields(response, "visibility")

    async def test_an_edit_changes_the_visibility_and_keeps_it_when_left_out(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"], visible_to_client=True)
        created = await new_comment(work, agency, task["id"], body="Draft")

        shared = await edit(work, agency, created["id"], body="Draft", visibility="client")
        kept = await edit(work, agency, created["id"], body="Final")
        hidden = await edit(work, agency, created["id"], body="Final", visibility="internal")

        assert shared.status_code == 200, shared.text
        assert shared.json()["visibility"] == "client"
        assert kept.json()["visibility"] == "client"
        assert kept.json()["body"] == "Final"
        assert hidden.json()["visibility"] == "internal"

    async def test_a_change_of_visibility_is_audited_and_an_edit_of_the_body_is_not(
        self, work: httpx.AsyncClient, agency: Caller, in_process: InProcess
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"], visible_to_client=True)
        created = await new_comment(work, agency, task["id"], body="Secret plan")

        await edit(work, agency, created["id"], body="Secret plan", visibility="client")
        await edit(work, agency, created["id"], body="Public plan")

        service = await in_process.service("work")
        records = await audit_records(service, tenant_id=agency.agency_id)
        [record] = [r for r in records if r.entity_type == "comment"]
        assert record.action == "comment.visibility_changed"
        assert record.entity_id == created["id"]
        assert record.actor_id == str(agency.user_id)
        assert record.changes == {"visibility": {"before": "internal", "after": "client"}}
        assert record.detail == {"task_id": task["id"], "project_id": project["id"]}
        assert "Secret plan" not in str(record.envelope)

    async def test_an_edit_to_client_on_an_internal_task_or_to_null_is_refused(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])
        created = await new_comment(work, agency, task["id"], body="Draft")

        to_client = await edit(work, agency, created["id"], body="Draft", visibility="client")
        to_null = await edit(work, agency, created["id"], body="Draft", visibility=None)

        assert_invalid_fields(to_client, "visibility")
        assert_invalid_fields(to_null, "visibility")

    async def test_a_client_user_reaches_no_comment_route(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, in_process: InProcess
    ) -> None:
        client_user = new_client_user(in_process, tenant)
        task = await client_task(work, agency, client_user)
        created = await new_comment(work, agency, task["id"], body="Shared", visibility="client")

        listed = await work.get(f"/v1/tasks/{task['id']}/comments", headers=client_user.headers)
        posted = await comment(work, client_user, task["id"], body="Hi", visibility="client")
        edited = await edit(work, client_user, created["id"], body="Mine now")

        assert listed.status_code == 403, listed.text
        assert posted.status_code == 403, posted.text
        assert edited.status_code == 403, edited.text

    async def test_a_client_user_cannot_be_mentioned(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
        work_events: WorkEvents,
    ) -> None:
        """Only project members can be mentioned, and a client user is never one: an internal
        comment naming them is refused, so no notice about it can be written for them."""
        client_user = new_client_user(in_process, tenant)
        task = await client_task(work, agency, client_user)

        in_body = await comment(work, agency, task["id"], body=f"@[C]({client_user.user_id}) hi")
        listed = await comment(
            work, agency, task["id"], body="hi", mentions=[str(client_user.user_id)]
        )

        assert_invalid_fields(in_body, "mentions")
        assert_invalid_fields(listed, "mentions")
        assert await work_events(agency.agency_id, "work.comment.mentioned") == []


class TestListClientTaskComments:
    async def test_a_client_user_gets_only_the_client_visible_comments(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_user = new_client_user(in_process, tenant)
        task = await client_task(work, agency, client_user)
        first = await new_comment(work, agency, task["id"], body="For you", visibility="client")
        await new_comment(work, agency, task["id"], body="Internal: they are late again")
        second = await new_comment(work, agency, task["id"], body="Done", visibility="client")

        comments = await list_comments(stub, client_user, task["id"])

        assert [c.id for c in comments] == [first["id"], second["id"]]
        assert [c.body for c in comments] == ["For you", "Done"]
        assert {c.visibility for c in comments} == {"client"}
        assert comments[0].author_id == str(agency.user_id)
        assert comments[0].created_at.endswith("Z")

    async def test_a_comment_made_internal_again_is_no_longer_listed(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_user = new_client_user(in_process, tenant)
        task = await client_task(work, agency, client_user)
        created = await new_comment(work, agency, task["id"], body="Oops", visibility="client")
        await edit(work, agency, created["id"], body="Oops", visibility="internal")

        assert await list_comments(stub, client_user, task["id"]) == []

    async def test_staff_see_what_the_client_sees(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_user = new_client_user(in_process, tenant)
        task = await client_task(work, agency, client_user)
        shared = await new_comment(work, agency, task["id"], body="Hi", visibility="client")
        await new_comment(work, agency, task["id"], body="Internal")

        assert [c.id for c in await list_comments(stub, agency, task["id"])] == [shared["id"]]

    @pytest.mark.parametrize("case", ["another_client", "internal_task", "another_agency"])
    async def test_a_task_out_of_reach_is_not_found(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        other_tenant: Agency,
        in_process: InProcess,
        case: str,
    ) -> None:
        ours = new_client_user(in_process, tenant)
        task = await client_task(work, agency, ours, visible=case != "internal_task")
        await new_comment(work, agency, task["id"], body="Internal")
        if case != "internal_task":
            await new_comment(work, agency, task["id"], body="Shared", visibility="client")
        caller = {
            "another_client": new_client_user(in_process, tenant),
            "internal_task": ours,
            "another_agency": new_client_user(in_process, other_tenant),
        }[case]

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await list_comments(stub, caller, task["id"])

        assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    async def test_a_task_made_internal_later_is_not_found(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_user = new_client_user(in_process, tenant)
        task = await client_task(work, agency, client_user)
        await new_comment(work, agency, task["id"], body="Shared", visibility="client")
        hidden = await work.patch(
            f"/v1/tasks/{task['id']}", json={"visible_to_client": False}, headers=agency.headers
        )
        assert hidden.status_code == 200, hidden.text

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await list_comments(stub, client_user, task["id"])

        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


class TestAddClientComment:
    async def test_a_client_user_adds_a_client_comment_that_mentions_nobody(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
        work_events: WorkEvents,
    ) -> None:
        client_user = new_client_user(in_process, tenant)
        dana = tenant.caller("member")
        project = await new_project(work, agency, dana, client_id=client_of(client_user))
        task = await new_task(
            work,
            agency,
            project["id"],
            visible_to_client=True,
            assignee_ids=[str(dana.user_id)],
        )

        added = await add_comment(
            stub, client_user, task["id"], f"  Looks good @[Dana]({dana.user_id})  "
        )

        assert added.visibility == "client"
        assert added.author_id == str(client_user.user_id)
        assert added.body == f"Looks good @[Dana]({dana.user_id})"
        assert [c.id for c in await list_comments(stub, client_user, task["id"])] == [added.id]
        [event] = await work_events(agency.agency_id, "work.comment.created", comment_id=added.id)
        assert event["data"]["visibility"] == "client"
        assert event["data"]["mentioned_user_ids"] == []
        assert event["data"]["assignee_ids"] == [str(dana.user_id)]
        # A client user follows nothing.
        assert str(client_user.user_id) not in event["data"]["follower_ids"]
        assert await work_events(agency.agency_id, "work.comment.mentioned") == []
        listed = await work.get(f"/v1/tasks/{task['id']}/comments", headers=agency.headers)
        assert [(c["id"], c["visibility"]) for c in listed.json()["items"]] == [
            (added.id, "client")
        ]

    async def test_staff_add_a_client_comment_as_themselves(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_user = new_client_user(in_process, tenant)
        task = await client_task(work, agency, client_user)

        added = await add_comment(stub, agency, task["id"], "We are on it")

        assert added.visibility == "client"
        assert added.author_id == str(agency.user_id)
        assert [c.id for c in await list_comments(stub, client_user, task["id"])] == [added.id]

    @pytest.mark.parametrize("case", ["another_client", "internal_task", "another_agency"])
    async def test_a_task_out_of_reach_is_not_found_and_nothing_is_written(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        other_tenant: Agency,
        in_process: InProcess,
        work_events: WorkEvents,
        work_rows: WorkRows,
        case: str,
    ) -> None:
        ours = new_client_user(in_process, tenant)
        task = await client_task(work, agency, ours, visible=case != "internal_task")
        caller = {
            "another_client": new_client_user(in_process, tenant),
            "internal_task": ours,
            "another_agency": new_client_user(in_process, other_tenant),
        }[case]

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await add_comment(stub, caller, task["id"], "Let me in")

        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert await work_rows(agency.agency_id, "SELECT id FROM comments") == []
        assert await work_events(agency.agency_id, "work.comment.created") == []

    @pytest.mark.parametrize(
        "body",
        ["", "   ", "x" * 20_001, "a\x00b"],
        ids=["empty", "blank", "too_long", "nul"],
    )
    async def test_a_bad_body_is_invalid(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
        body: str,
    ) -> None:
        client_user = new_client_user(in_process, tenant)
        task = await client_task(work, agency, client_user)

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await add_comment(stub, client_user, task["id"], body)

        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "body" in (caught.value.details() or "")
