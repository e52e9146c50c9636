"""An internal comment never reaches a client user by notice or email. Work refuses to mention
a client user (only project members can be mentioned), so these events are what an attacker or
a bug would have to produce: notification holds the line by itself. The comment kinds are the
team's today; the visibility rule holds even if they were opened to client users, while a
client-visible comment would then reach the client user it names (so the rule is about
visibility, not about refusing everyone)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from agencyos.common.events import CloudEvent, CommentCreated, CommentMentioned
from agencyos.notification.kinds import EVERYONE, KINDS
from agencyos.testing.inprocess import Caller, InProcess
from agencyos.testing.notices import Cast, deliver, emailed, event_of, notices_of, told


def mention(people: Cast, to: Caller, visibility: str) -> CloudEvent:
    return event_of(
        CommentMentioned(
            comment_id=uuid.uuid4(),
            task_id=uuid.uuid4(),
            project_id=people.project_id,
            task_title="Homepage copy",
            mentioned_user_id=to.user_id,
            author_id=people.manager.user_id,
            excerpt="they are late again",
            visibility=visibility,  # type: ignore[arg-type]
        ),
        people.agency.id,
    )


def comment(people: Cast, around: list[Caller], visibility: str) -> CloudEvent:
    return event_of(
        CommentCreated(
            comment_id=uuid.uuid4(),
            task_id=uuid.uuid4(),
            project_id=people.project_id,
            task_title="Homepage copy",
            author_id=people.manager.user_id,
            excerpt="they are late again",
            mentioned_user_ids=[],
            assignee_ids=[a.user_id for a in around],
            follower_ids=[a.user_id for a in around],
            visibility=visibility,  # type: ignore[arg-type]
        ),
        people.agency.id,
    )


@pytest.fixture
def kinds_open_to_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comment kinds as if client users could hear of them (in-app and email)."""
    for name in ("comment.mentioned", "task.commented"):
        monkeypatch.setitem(
            KINDS,  # type: ignore[arg-type]
            name,
            replace(KINDS[name], roles=EVERYONE, email_by_default=EVERYONE),
        )


class TestInternalCommentsNeverReachAClientUser:
    async def test_a_client_user_mentioned_in_an_internal_comment_gets_no_notice_nor_email(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = mention(people, people.client, "internal")

        await deliver(in_process, event)

        assert await told(in_process, event, "comment.mentioned") == set()
        assert await notices_of(in_process, people.client) == []
        assert await emailed(in_process, event) == []

    async def test_a_client_user_around_an_internal_comment_is_not_told(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = comment(people, [people.client, people.member], "internal")

        await deliver(in_process, event)

        assert people.names(await told(in_process, event, "task.commented")) == {"member"}
        assert await notices_of(in_process, people.client) == []

    async def test_an_event_from_before_visibility_counts_as_internal(
        self, in_process: InProcess, people: Cast, kinds_open_to_clients: None
    ) -> None:
        event = mention(people, people.client, "internal")
        data = {k: v for k, v in (event.data or {}).items() if k != "visibility"}
        event = event.model_copy(update={"data": data})

        await deliver(in_process, event)

        assert await told(in_process, event, "comment.mentioned") == set()
        assert await emailed(in_process, event) == []

    async def test_even_with_the_kinds_open_an_internal_mention_reaches_no_client_user(
        self, in_process: InProcess, people: Cast, kinds_open_to_clients: None
    ) -> None:
        internal = mention(people, people.client, "internal")
        shared = mention(people, people.client, "client")

        await deliver(in_process, internal, shared)

        assert await told(in_process, internal, "comment.mentioned") == set()
        assert await emailed(in_process, internal) == []
        # the control: the same mention of a client-visible comment does reach them
        assert people.names(await told(in_process, shared, "comment.mentioned")) == {"client"}
        [email] = await emailed(in_process, shared)
        assert email["user_id"] == people.client.user_id

    async def test_even_with_the_kinds_open_an_internal_comment_tells_only_the_team(
        self, in_process: InProcess, people: Cast, kinds_open_to_clients: None
    ) -> None:
        internal = comment(people, [people.client, people.member], "internal")
        shared = comment(people, [people.client, people.member, people.other_client], "client")

        await deliver(in_process, internal, shared)

        assert people.names(await told(in_process, internal, "task.commented")) == {"member"}
        # a client-visible one: the client user of the project's client, never another client's
        assert people.names(await told(in_process, shared, "task.commented")) == {
            "member",
            "client",
        }
