"""Task comments in the feed and its live stream. The team reads every comment event of the
projects they see. A client user reads `work.comment.created` only for a client-visible comment
on a project of their own client, with the comment's client fields alone (never who is around
the task); an internal comment's event, an event from before comments had a visibility, and
every `work.comment.mentioned` (the team's) never reach a client user. The feed (SQL) and the
stream (`sees`/`shape` in Python) answer the same."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from agencyos.common.db import Database
from agencyos.common.events import CloudEvent, CommentCreated, CommentMentioned
from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.notification.feed.recorder import Consumed, FeedRecorder
from agencyos.notification.feed.store import read_after
from agencyos.notification.feed.visibility import FeedEntry, Viewer, sees, shape
from agencyos.testing.inprocess import Agency, Caller
from agencyos.testing.notices import event_of

from .events import project_created, project_of

CLIENT_FIELDS = {"comment_id", "task_id", "project_id", "task_title", "excerpt"}


def commented(
    agency: Agency,
    project_id: uuid.UUID,
    visibility: str | None,
    *,
    around: tuple[Caller, ...] = (),
) -> CloudEvent:
    """A work.comment.created; `visibility` None: as an event from before it existed."""
    event = event_of(
        CommentCreated(
            comment_id=uuid.uuid4(),
            task_id=uuid.uuid4(),
            project_id=project_id,
            task_title="Homepage copy",
            author_id=agency.owner.user_id,
            excerpt=f"A {visibility or 'legacy'} comment",
            mentioned_user_ids=[],
            assignee_ids=[a.user_id for a in around],
            follower_ids=[agency.owner.user_id],
            visibility=visibility or "internal",
        ),
        agency.id,
    )
    if visibility is None:
        data = {k: v for k, v in (event.data or {}).items() if k != "visibility"}
        event = event.model_copy(update={"data": data})
    return event


def mentioned(agency: Agency, project_id: uuid.UUID, who: Caller) -> CloudEvent:
    return event_of(
        CommentMentioned(
            comment_id=uuid.uuid4(),
            task_id=uuid.uuid4(),
            project_id=project_id,
            task_title="Homepage copy",
            mentioned_user_id=who.user_id,
            author_id=agency.owner.user_id,
            excerpt="@someone look",
            visibility="client",
        ),
        agency.id,
    )


@dataclass
class Comments:
    agency: Agency
    member_on: Caller
    client_a: Caller
    client_b: Caller
    project_a: CloudEvent
    project_b: CloudEvent
    internal_a: CloudEvent
    legacy_a: CloudEvent
    client_a_comment: CloudEvent
    client_b_comment: CloudEvent
    mention_a: CloudEvent
    other_client_comment: CloudEvent  # another agency's
    entries: list[FeedEntry]


@pytest.fixture
async def comments(recorder: FeedRecorder, tenant: Agency, other_tenant: Agency) -> Comments:
    member_on = tenant.caller("member")
    client_a, client_b = tenant.caller("client"), tenant.caller("client")
    assert client_a.client_id is not None
    assert client_b.client_id is not None
    project_a = project_created(tenant, member_on, client_id=client_a.client_id)
    project_b = project_created(tenant, client_id=client_b.client_id)
    other_project = project_created(other_tenant, client_id=client_a.client_id)
    a, b = project_of(project_a), project_of(project_b)
    scene = Comments(
        agency=tenant,
        member_on=member_on,
        client_a=client_a,
        client_b=client_b,
        project_a=project_a,
        project_b=project_b,
        internal_a=commented(tenant, a, "internal", around=(member_on,)),
        legacy_a=commented(tenant, a, None),
        client_a_comment=commented(tenant, a, "client", around=(member_on,)),
        client_b_comment=commented(tenant, b, "client"),
        mention_a=mentioned(tenant, a, member_on),
        other_client_comment=commented(other_tenant, project_of(other_project), "client"),
        entries=[],
    )
    recorded = await recorder.record(
        [
            Consumed(e)
            for e in (
                project_a,
                project_b,
                other_project,
                scene.internal_a,
                scene.legacy_a,
                scene.client_a_comment,
                scene.client_b_comment,
                scene.mention_a,
                scene.other_client_comment,
            )
        ]
    )
    assert recorded is not None
    scene.entries = recorded
    return scene


async def feed(notification: httpx.AsyncClient, who: Caller) -> list[dict[str, Any]]:
    response = await notification.get(
        "/v1/events", params={"types": "work.comment.*"}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def viewer_of(who: Caller, client_id: uuid.UUID | None) -> Viewer:
    return Viewer(
        who.agency_id,
        who.user_id,
        Role.CLIENT,
        DEFAULT_ROLE_PERMISSIONS[Role.CLIENT],
        client_id,
        frozenset(),
    )


class TestCommentsInTheFeed:
    async def test_a_client_user_reads_only_their_clients_client_visible_comments(
        self, notification: httpx.AsyncClient, comments: Comments
    ) -> None:
        items = await feed(notification, comments.client_a)

        assert [i["id"] for i in items] == [str(comments.client_a_comment.id)]
        [item] = items
        assert item["type"] == "work.comment.created"
        assert set(item["data"]) == CLIENT_FIELDS
        assert item["data"]["excerpt"] == "A client comment"

    async def test_the_other_clients_user_reads_only_theirs(
        self, notification: httpx.AsyncClient, comments: Comments
    ) -> None:
        items = await feed(notification, comments.client_b)

        assert [i["id"] for i in items] == [str(comments.client_b_comment.id)]

    async def test_the_team_reads_every_comment_event_in_full(
        self, notification: httpx.AsyncClient, comments: Comments
    ) -> None:
        owner = await feed(notification, comments.agency.owner)
        member = await feed(notification, comments.member_on)

        everything = [
            comments.internal_a,
            comments.legacy_a,
            comments.client_a_comment,
            comments.client_b_comment,
            comments.mention_a,
        ]
        assert [i["id"] for i in owner] == [str(e.id) for e in everything]
        # the member is on project A only
        assert [i["id"] for i in member] == [
            str(e.id) for e in everything if e is not comments.client_b_comment
        ]
        assert owner[0]["data"]["assignee_ids"] == [str(comments.member_on.user_id)]
        assert owner[0]["data"]["visibility"] == "internal"


@pytest.mark.parametrize("reader", ["client_a", "client_b", "no_client"])
async def test_the_stream_rule_agrees_with_the_feed_for_client_users(
    reader: str, feed_db: Database, comments: Comments
) -> None:
    viewer = {
        "client_a": viewer_of(comments.client_a, comments.client_a.client_id),
        "client_b": viewer_of(comments.client_b, comments.client_b.client_id),
        "no_client": viewer_of(comments.client_a, None),
    }[reader]
    async with feed_db.transaction(viewer.tenant_id) as session:
        page = await read_after(session, viewer, None, limit=500)

    in_python = [e for e in comments.entries if sees(viewer, e)]
    assert [e.seq for e in page.entries] == [e.seq for e in in_python]
    never = {
        comments.internal_a.id,
        comments.legacy_a.id,
        comments.mention_a.id,
        comments.other_client_comment.id,
    }
    assert never.isdisjoint(e.event_id for e in in_python)
    for entry in in_python:
        if entry.type.startswith("work.comment."):
            assert set(shape(viewer, entry)["data"]) == CLIENT_FIELDS
    expected = {
        "client_a": {comments.client_a_comment.id},
        "client_b": {comments.client_b_comment.id},
        "no_client": set(),
    }[reader]
    assert {e.event_id for e in in_python if e.type.startswith("work.comment.")} == expected
