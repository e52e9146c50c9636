"""Deal notices tell the deal's assignee (assigned, won, lost), never the actor, never
someone who cannot read deals; a project started from a won deal tells its managers, else
its members."""

from __future__ import annotations

import uuid
from datetime import date

from agencyos.common.db import utcnow
from agencyos.common.events import CloudEvent, DealAssigned, DealLost, DealWon
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


def deal_assigned(people: Cast, to: Caller, by: Caller) -> CloudEvent:
    return event_of(
        DealAssigned(
            deal_id=uuid.uuid4(),
            client_id=people.client_id,
            title="Redesign",
            value_cents=1_250_000,
            currency="EUR",
            assigned_to=to.user_id,
            assigned_by=by.user_id,
        ),
        people.agency.id,
    )


def deal_won(people: Cast, assignee: Caller | None, by: Caller) -> CloudEvent:
    return event_of(
        DealWon(
            deal_id=uuid.uuid4(),
            title="Redesign",
            description=None,
            client_id=people.client_id,
            client_name="Acme",
            value_cents=1_250_000,
            currency="EUR",
            template_id=None,
            assigned_to=assignee.user_id if assignee else None,
            expected_close_date=date(2026, 12, 31),
            won_at=utcnow(),
            won_by=by.user_id,
        ),
        people.agency.id,
    )


def deal_lost(people: Cast, assignee: Caller, by: Caller) -> CloudEvent:
    return event_of(
        DealLost(
            deal_id=uuid.uuid4(),
            client_id=people.client_id,
            title="Redesign",
            value_cents=1_250_000,
            currency="EUR",
            lost_reason="Budget",
            lost_at=utcnow(),
            lost_by=by.user_id,
            assigned_to=assignee.user_id,
        ),
        people.agency.id,
    )


class TestDealAssigned:
    async def test_the_assignee_is_told_and_emailed(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = deal_assigned(people, people.member, people.manager)

        await deliver(in_process, event)

        [note] = await notices_of(in_process, people.member, "deal.assigned")
        assert note["title"] == "Mona Manager assigned you the deal \u201cRedesign\u201d"
        assert note["link"] == f"/v1/deals/{event.data['deal_id']}"
        assert people.names(await told(in_process, event, "deal.assigned")) == {"member"}
        assert [e["user_id"] for e in await emailed(in_process, event)] == [people.member.user_id]

    async def test_an_assignee_who_cannot_read_deals_is_not_told(
        self, in_process: InProcess, people: Cast
    ) -> None:
        limited = await join(in_process, people.agency, "member", permissions=["tasks.write"])
        event = deal_assigned(people, limited, people.manager)

        await deliver(in_process, event)

        assert await told(in_process, event, "deal.assigned") == set()

    async def test_a_client_user_named_as_assignee_is_not_told(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = deal_assigned(people, people.client, people.manager)

        await deliver(in_process, event)

        assert await told(in_process, event, "deal.assigned") == set()


class TestDealWonOrLost:
    async def test_a_won_deal_tells_its_assignee(self, in_process: InProcess, people: Cast) -> None:
        event = deal_won(people, people.member, people.manager)

        await deliver(in_process, event)

        assert people.names(await told(in_process, event, "deal.won")) == {"member"}

    async def test_a_deal_won_by_its_own_assignee_tells_nobody(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = deal_won(people, people.member, people.member)

        await deliver(in_process, event)

        assert await told(in_process, event, "deal.won") == set()

    async def test_a_won_deal_without_an_assignee_tells_nobody(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = deal_won(people, None, people.manager)

        await deliver(in_process, event)

        assert await told(in_process, event, "deal.won") == set()

    async def test_a_lost_deal_tells_its_assignee_why(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = deal_lost(people, people.member, people.manager)

        await deliver(in_process, event)

        [note] = await notices_of(in_process, people.member, "deal.lost")
        assert (note["title"], note["body"]) == (
            "Your deal \u201cRedesign\u201d was lost",
            "Reason: Budget",
        )


class TestProjectCreatedFromDeal:
    async def test_its_managers_are_told(self, in_process: InProcess, people: Cast) -> None:
        event = project_created(
            people.agency, people.manager, people.member, deal_id=uuid.uuid4(), name="Redesign"
        )

        await deliver(in_process, event)

        assert people.names(await told(in_process, event, "project.created_from_deal")) == {
            "manager"
        }
        [note] = await notices_of(in_process, people.manager, "project.created_from_deal")
        assert note["title"] == "Project \u201cRedesign\u201d was started from a won deal"
        assert note["link"] == f"/v1/projects/{event.data['project_id']}"

    async def test_without_managers_its_members_are_told(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = project_created(
            people.agency, people.member, people.suspended, people.client, deal_id=uuid.uuid4()
        )

        await deliver(in_process, event)

        assert people.names(await told(in_process, event, "project.created_from_deal")) == {
            "member"
        }

    async def test_without_managers_its_members_are_told_not_the_one_who_won_the_deal(
        self, in_process: InProcess, people: Cast
    ) -> None:
        # the saga's project: its creator is who won the deal, its member the deal's assignee
        event = project_created(
            people.agency, people.member, deal_id=uuid.uuid4(), created_by=people.owner
        )

        await deliver(in_process, event)

        assert people.names(await told(in_process, event, "project.created_from_deal")) == {
            "member"
        }

    async def test_a_project_not_from_a_deal_tells_nobody(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = project_created(people.agency, people.manager, people.member)

        await deliver(in_process, event)

        assert await told(in_process, event, "project.created_from_deal") == set()
