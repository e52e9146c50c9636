"""Notices about membership: an invitation accepted (to the inviter), a role changed (to the
member)."""

from __future__ import annotations

from agencyos.common.events import InvitationAccepted, MemberRoleChanged
from agencyos.notification.notices.builders import Builder
from agencyos.notification.notices.notice import Notice
from agencyos.notification.notices.telling import Telling


def member_link(user_id: object) -> str:
    return f"/v1/members/{user_id}"


async def invitation_accepted(telling: Telling) -> None:
    payload = telling.event.payload(InvitationAccepted)
    notice = Notice(
        kind="invitation.accepted",
        title=f"{payload.name} accepted your invitation",
        body=f"{payload.name} ({payload.email}) joined as {payload.role}.",
        link=member_link(payload.user_id),
        link_label="See the member",
        subject=f"members/{payload.user_id}",
        data={"user_id": str(payload.user_id), "invitation_id": str(payload.invitation_id)},
        actor_id=payload.user_id,
    )
    await telling.tell(notice, await telling.named(payload.invited_by))


async def role_changed(telling: Telling) -> None:
    payload = telling.event.payload(MemberRoleChanged)
    by = await telling.name_of(payload.changed_by)
    notice = Notice(
        kind="member.role_changed",
        title=f"Your role is now {payload.new_role}",
        body=(
            f"{by or 'Someone'} changed your role from {payload.old_role} to {payload.new_role}."
        ),
        link=member_link(payload.user_id),
        link_label="See your membership",
        subject=f"members/{payload.user_id}",
        data={
            "user_id": str(payload.user_id),
            "old_role": payload.old_role,
            "new_role": payload.new_role,
        },
        actor_id=payload.changed_by,
    )
    await telling.tell(notice, await telling.named(payload.user_id))


BUILDERS: dict[str, Builder] = {
    InvitationAccepted.event_type: invitation_accepted,
    MemberRoleChanged.event_type: role_changed,
}
