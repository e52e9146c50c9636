"""The one list of notification kinds: what a person can hear about, on which channels, and
what each role hears by default (an agency's owners may change the defaults per role, and
each person their own; see agencyos.notification.preferences).

A kind is named for what happened to the person (`task.assigned`), not for the event that
carried it: one event may make several kinds (a comment mentions some and tells the others
following the task), and one kind may come from several events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from agencyos.common.permissions import Role


class Channel(StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"


STAFF = frozenset({Role.OWNER, Role.ADMIN, Role.MANAGER, Role.MEMBER})
EVERYONE = frozenset(Role)


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    # Roles that can receive it at all (a client user never hears about invoices' readers...).
    roles: frozenset[Role]
    channels: frozenset[Channel] = frozenset({Channel.IN_APP, Channel.EMAIL})
    # Channels on by default, per role; a role absent here has every channel of the kind off
    # except in_app.
    email_by_default: frozenset[Role] = frozenset()
    in_app_by_default: frozenset[Role] = field(default=EVERYONE)

    def default(self, role: Role, channel: Channel) -> bool:
        if channel not in self.channels or role not in self.roles:
            return False
        if channel is Channel.EMAIL:
            return role in self.email_by_default
        return role in self.in_app_by_default


_ALL_EMAIL = STAFF


def _kinds(*kinds: Kind) -> Mapping[str, Kind]:
    return {kind.name: kind for kind in kinds}


KINDS: Mapping[str, Kind] = _kinds(
    Kind("invitation.accepted", "Someone accepted your invitation", STAFF),
    Kind("member.role_changed", "Your role changed", EVERYONE, email_by_default=EVERYONE),
    Kind("client.created", "A client you own was created", STAFF),
    Kind("task.assigned", "A task was assigned to you", STAFF, email_by_default=_ALL_EMAIL),
    Kind("comment.mentioned", "You were mentioned", STAFF, email_by_default=_ALL_EMAIL),
    Kind("task.commented", "A comment on a task you are assigned to or follow", STAFF),
    Kind("task.completed", "A task in a project you manage was done", STAFF),
    Kind("tasks.due", "Daily digest of your tasks due tomorrow or overdue", STAFF),
    Kind(
        "deliverable.submitted",
        "A deliverable awaits your approval",
        frozenset({Role.CLIENT}),
        email_by_default=frozenset({Role.CLIENT}),
    ),
    Kind("deliverable.approved", "A client approved a deliverable", STAFF),
    Kind("deliverable.changes_requested", "A client asked for changes to a deliverable", STAFF),
    Kind("feedback.received", "A client sent feedback", STAFF),
    Kind("deal.assigned", "A deal was assigned to you", STAFF, email_by_default=_ALL_EMAIL),
    Kind("deal.won", "Your deal was won", STAFF),
    Kind("deal.lost", "Your deal was lost", STAFF),
    Kind("project.created_from_deal", "A project was started from a won deal", STAFF),
    Kind("timesheet.submitted", "A timesheet awaits your approval", STAFF),
    Kind("timesheet.approved", "Your timesheet was approved", STAFF),
    Kind("timesheet.rejected", "Your timesheet was sent back", STAFF, email_by_default=_ALL_EMAIL),
    Kind("invoice.sent", "An invoice was sent", STAFF),
    Kind("invoice.paid", "An invoice was paid", STAFF),
    Kind("invoice.overdue", "An invoice is overdue", STAFF, email_by_default=_ALL_EMAIL),
    Kind("invoice.payment_failed", "A payment failed", STAFF, email_by_default=_ALL_EMAIL),
    Kind("import.finished", "Your CSV import finished", STAFF),
    Kind("import.failed", "Your CSV import failed", STAFF, email_by_default=_ALL_EMAIL),
    # what an agency's automation rules tell its people (their `notify` actions)
    Kind("automation.notified", "An automation rule notified you", STAFF),
    Kind(
        "webhook.disabled",
        "A webhook endpoint was disabled",
        frozenset({Role.OWNER}),
        email_by_default=frozenset({Role.OWNER}),
    ),
    Kind(
        "digest.weekly",
        "Weekly digest",
        STAFF,
        channels=frozenset({Channel.EMAIL}),
        email_by_default=_ALL_EMAIL,
        in_app_by_default=frozenset(),
    ),
)


def kind_named(name: str) -> Kind | None:
    return KINDS.get(name)
