"""Deliverable notices: a submitted deliverable tells the users of the project's client (and
no other client's), an approval or a request for changes tells the project's managers."""

from __future__ import annotations

import uuid

from agencyos.common.events import (
    CloudEvent,
    DeliverableApproved,
    DeliverableChangesRequested,
    DeliverableSubmitted,
)
from agencyos.testing.inprocess import Caller, InProcess
from agencyos.testing.notices import (
    Cast,
    deliver,
    emailed,
    event_of,
    join,
    notices_of,
    project_created,
    told,
)


def deliverable(
    kind: type[DeliverableSubmitted | DeliverableApproved | DeliverableChangesRequested],
    people: Cast,
    by: Caller,
    *,
    project_id: uuid.UUID | None = None,
    comment: str | None = None,
) -> CloudEvent:
    return event_of(
        kind(
            deliverable_id=uuid.uuid4(),
            project_id=project_id or people.project_id,
            client_id=people.client_id,
            title="Logo v2",
            actor_id=by.user_id,
            comment=comment,
        ),
        people.agency.id,
    )


class TestDeliverableSubmitted:
    async def test_the_projects_client_users_are_told_and_emailed_and_nobody_else(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = deliverable(DeliverableSubmitted, people, people.manager)

        await deliver(in_process, event)

        assert people.names(await told(in_process, event, "deliverable.submitted")) == {"client"}
        [note] = await notices_of(in_process, people.client, "deliverable.submitted")
        assert note["title"] == "\u201cLogo v2\u201d awaits your approval"
        assert note["link"] == f"/v1/deliverables/{event.data['deliverable_id']}"
        [email] = await emailed(in_process, event)
        assert (email["template"], email["user_id"]) == (
            "deliverable_awaiting_approval",
            people.client.user_id,
        )

    async def test_a_suspended_client_user_is_not_told(
        self, in_process: InProcess, people: Cast
    ) -> None:
        from agencyos.testing.notices import suspended

        await deliver(in_process, suspended(people.client))
        event = deliverable(DeliverableSubmitted, people, people.manager)

        await deliver(in_process, event)

        assert await told(in_process, event, "deliverable.submitted") == set()

    async def test_a_project_without_a_client_tells_no_client_user(
        self, in_process: InProcess, people: Cast
    ) -> None:
        internal = project_created(people.agency, people.manager)
        await deliver(in_process, internal)
        event = deliverable(
            DeliverableSubmitted,
            people,
            people.manager,
            project_id=uuid.UUID(internal.data["project_id"]),
        )

        await deliver(in_process, event)

        assert await told(in_process, event, "deliverable.submitted") == set()

    async def test_every_user_of_the_client_is_told(
        self, in_process: InProcess, people: Cast
    ) -> None:
        colleague = await join(in_process, people.agency, "client", client_id=people.client_id)
        event = deliverable(DeliverableSubmitted, people, people.manager)

        await deliver(in_process, event)

        assert await told(in_process, event, "deliverable.submitted") == {
            people.client.user_id,
            colleague.user_id,
        }


class TestDeliverableAnswered:
    async def test_an_approval_tells_the_projects_managers(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = deliverable(DeliverableApproved, people, people.client)

        await deliver(in_process, event)

        assert people.names(await told(in_process, event, "deliverable.approved")) == {"manager"}
        [note] = await notices_of(in_process, people.manager, "deliverable.approved")
        assert note["title"] == "Cleo Client approved \u201cLogo v2\u201d"

    async def test_a_request_for_changes_tells_the_projects_managers_what_to_change(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = deliverable(
            DeliverableChangesRequested, people, people.client, comment="Bigger, please"
        )

        await deliver(in_process, event)

        assert people.names(await told(in_process, event, "deliverable.changes_requested")) == {
            "manager"
        }
        [note] = await notices_of(in_process, people.manager, "deliverable.changes_requested")
        assert note["title"] == "Cleo Client asked for changes to \u201cLogo v2\u201d"
        assert note["body"] == "Bigger, please"
