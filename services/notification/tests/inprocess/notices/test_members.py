"""Membership notices: an accepted invitation tells the inviter, a role change tells the
member (not the one who changed it, and not when they changed their own)."""

from __future__ import annotations

import uuid

from agencyos.common.events import CloudEvent, InvitationAccepted, MemberRoleChanged
from agencyos.testing.inprocess import Caller, InProcess
from agencyos.testing.notices import (
    Cast,
    deliver,
    emailed,
    event_of,
    member_added,
    notices_of,
    told,
)


def accepted(people: Cast, joiner: Caller, inviter: Caller) -> CloudEvent:
    return event_of(
        InvitationAccepted(
            agency_id=people.agency.id,
            invitation_id=uuid.uuid4(),
            user_id=joiner.user_id,
            email="grace@example.com",
            name="Grace Hopper",
            role=joiner.role,
            invited_by=inviter.user_id,
        ),
        people.agency.id,
    )


def role_changed(people: Cast, who: Caller, by: Caller, new_role: str) -> CloudEvent:
    return event_of(
        MemberRoleChanged(
            agency_id=people.agency.id,
            user_id=who.user_id,
            old_role=who.role,
            new_role=new_role,
            changed_by=by.user_id,
        ),
        people.agency.id,
    )


class TestInvitationAccepted:
    async def test_the_inviter_is_told_who_joined(
        self, in_process: InProcess, people: Cast
    ) -> None:
        joiner = people.agency.caller("member")
        event = accepted(people, joiner, people.manager)

        await deliver(in_process, member_added(joiner, name="Grace Hopper"), event)

        [note] = await notices_of(in_process, people.manager, "invitation.accepted")
        assert note["title"] == "Grace Hopper accepted your invitation"
        assert note["link"] == f"/v1/members/{joiner.user_id}"
        assert people.names(await told(in_process, event, "invitation.accepted")) == {"manager"}

    async def test_an_inviter_since_suspended_is_not_told(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = accepted(people, people.agency.caller("member"), people.suspended)

        await deliver(in_process, event)

        assert await told(in_process, event, "invitation.accepted") == set()


class TestRoleChanged:
    async def test_the_member_is_told_their_new_role_and_emailed(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = role_changed(people, people.member, people.owner, "manager")

        await deliver(in_process, event)

        [note] = await notices_of(in_process, people.member, "member.role_changed")
        assert note["title"] == "Your role is now manager"
        assert people.names(await told(in_process, event, "member.role_changed")) == {"member"}
        [email] = await emailed(in_process, event)
        assert (email["template"], email["user_id"]) == ("notice", people.member.user_id)
        assert "Your role is now manager" in email["text"]

    async def test_a_client_user_hears_of_their_own_role_change(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = role_changed(people, people.client, people.owner, "client")

        await deliver(in_process, event)

        assert people.names(await told(in_process, event, "member.role_changed")) == {"client"}

    async def test_someone_who_changed_their_own_role_is_not_told(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = role_changed(people, people.owner, people.owner, "admin")

        await deliver(in_process, event)

        assert await told(in_process, event, "member.role_changed") == set()
