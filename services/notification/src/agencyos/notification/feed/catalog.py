"""Which events the feed keeps, and who may see each.

Only the types listed here are recorded: a new event type stays out of every feed until someone
decides who may see it. Kept out on purpose: events that carry a secret (sign-in, invitation,
password-reset and verification tokens) and identity's per-user requests.

For each type, a `FeedRule` says:
- `permission`: what a staff reader must hold (`invoices.read` for money, ...);
- `project`: the data field naming the project; a staff reader without `projects.read_all` sees
  the event only for projects they are on;
- `person`: the data field naming the person the event is about, who sees it even without
  `permission` (your own timesheet);
- `personal`: only `person` sees it (your own notifications), whatever their role;
- `client`: the data field naming the client (else the project's client is looked up);
- `client_fields`: when set, client users of that client see the event, with only these data
  fields (nothing internal: no assignees, columns, rates or amounts they are not billed);
  `client_when` narrows it further (a task only when it is visible to the client);
- `restricted`: data fields removed for a reader without the permission paired with them
  (a project's hourly rate for whoever may not see rates).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FeedRule:
    permission: str | None = None
    project: str | None = None
    person: str | None = None
    personal: bool = False
    client: str | None = None
    client_fields: frozenset[str] | None = None
    client_when: Callable[[Mapping[str, Any]], bool] | None = None
    # (dotted data path, permission needed to keep it)
    restricted: tuple[tuple[str, str], ...] = field(default=())

    def client_visible(self, data: Mapping[str, Any]) -> bool:
        if self.client_fields is None:
            return False
        return self.client_when(data) if self.client_when is not None else True


def _fields(*names: str) -> frozenset[str]:
    return frozenset(names)


def _visible_task(data: Mapping[str, Any]) -> bool:
    return bool(data.get("visible_to_client"))


def _shared_file(data: Mapping[str, Any]) -> bool:
    return bool(data.get("shared_with_client"))


_AGENCY = FeedRule(permission="agency.read")
_MEMBERS = FeedRule(permission="members.read")
_CLIENTS = FeedRule(permission="clients.read", client="client_id")
_DEALS = FeedRule(permission="deals.read", client="client_id")
_IMPORTS = FeedRule(permission="clients.write", person="started_by")

_PROJECT_RATE = (("project.hourly_rate_cents", "rates.write"),)
_PROJECT_CLIENT = _fields("project_id", "name", "client_id")
_PROJECT = FeedRule(
    permission="projects.read",
    project="project_id",
    client="client_id",
    client_fields=_PROJECT_CLIENT,
    restricted=_PROJECT_RATE,
)
_PROJECT_STATUS = FeedRule(
    permission="projects.read",
    project="project_id",
    client="client_id",
    client_fields=_fields("project_id", "client_id", "old_status", "new_status"),
    restricted=_PROJECT_RATE,
)

_TASK_CLIENT = _fields("task_id", "project_id", "title", "status", "due_date", "completed_at")
_TASK = FeedRule(
    permission="projects.read",
    project="project_id",
    client_fields=_TASK_CLIENT,
    client_when=_visible_task,
)
_PROJECT_ONLY = FeedRule(permission="projects.read", project="project_id")


def _client_comment(data: Mapping[str, Any]) -> bool:
    # Only `client` says so: an internal comment, and every comment event from before comments
    # had a visibility, stay the team's.
    return data.get("visibility") == "client"


# A client-visible comment (work accepts one only on a task visible to the client) reaches the
# users of the project's client, without who else is around the task; an internal one never.
_COMMENT = FeedRule(
    permission="projects.read",
    project="project_id",
    client_fields=_fields("comment_id", "task_id", "project_id", "task_title", "excerpt"),
    client_when=_client_comment,
)
_DELIVERABLE = FeedRule(
    permission="projects.read",
    project="project_id",
    client="client_id",
    client_fields=_fields("deliverable_id", "project_id", "client_id", "title", "comment"),
)
# A file shared with the client (name and size only) reaches its users; others the team only.
_FILE = FeedRule(
    permission="projects.read",
    project="project_id",
    client="client_id",
    client_fields=_fields(
        "file_id", "project_id", "client_id", "name", "content_type", "size_bytes"
    ),
    client_when=_shared_file,
)

_TIMESHEET = FeedRule(permission="timesheets.approve", person="user_id")
_INVOICE_CLIENT = _fields(
    "invoice_id",
    "client_id",
    "number",
    "total_cents",
    "amount_cents",
    "amount_due_cents",
    "amount_paid_cents",
    "invoice_status",
    "currency",
    "due_date",
    "paid_at",
    "voided_at",
    "payment_url",
    "document_url",
)
_INVOICE = FeedRule(permission="invoices.read", client="client_id", client_fields=_INVOICE_CLIENT)
_PERSONAL = FeedRule(person="recipient_id", personal=True)
_WEBHOOKS = FeedRule(permission="webhooks.manage")

RULES: dict[str, FeedRule] = {
    # identity: the team (never the token-carrying requests)
    "identity.agency.created": _AGENCY,
    "identity.agency.updated": _AGENCY,
    "identity.member.added": _MEMBERS,
    "identity.member.role_changed": _MEMBERS,
    "identity.member.permissions_changed": _MEMBERS,
    "identity.member.suspended": _MEMBERS,
    "identity.member.reactivated": _MEMBERS,
    "identity.member.removed": _MEMBERS,
    "identity.invitation.accepted": _MEMBERS,
    # crm
    "crm.client.created": _CLIENTS,
    "crm.client.updated": _CLIENTS,
    "crm.client.deleted": _CLIENTS,
    "crm.deal.stage_changed": _DEALS,
    "crm.deal.won": _DEALS,
    "crm.deal.lost": _DEALS,
    "crm.deal.assigned": _DEALS,
    "crm.deal.deleted": _DEALS,
    "crm.import.finished": _IMPORTS,
    "crm.import.failed": _IMPORTS,
    # work
    "work.project.created": _PROJECT,
    "work.project.updated": _PROJECT,
    "work.project.status_changed": _PROJECT_STATUS,
    "work.task.created": _TASK,
    "work.task.updated": _TASK,
    "work.task.moved": _TASK,
    "work.task.completed": _TASK,
    "work.task.deleted": _TASK,
    "work.task.assigned": _PROJECT_ONLY,
    "work.comment.created": _COMMENT,
    # A mention is the team's: only project members (never a client user) can be mentioned.
    "work.comment.mentioned": _PROJECT_ONLY,
    "work.feedback.received": FeedRule(
        permission="projects.read",
        project="project_id",
        client="client_id",
        client_fields=_fields("task_id", "project_id", "client_id", "excerpt"),
    ),
    "work.milestone.completed": FeedRule(
        permission="projects.read",
        project="project_id",
        client="client_id",
        client_fields=_fields("milestone_id", "project_id", "client_id", "name", "completed_at"),
        restricted=(("amount_cents", "invoices.read"),),
    ),
    "work.deliverable.submitted": _DELIVERABLE,
    "work.deliverable.approved": _DELIVERABLE,
    "work.deliverable.changes_requested": _DELIVERABLE,
    "work.file.uploaded": _FILE,
    "work.file.deleted": _FILE,
    # time
    "time.entry.logged": FeedRule(
        permission="timesheets.approve", project="project_id", person="user_id"
    ),
    "time.timesheet.submitted": _TIMESHEET,
    "time.timesheet.approved": _TIMESHEET,
    "time.timesheet.rejected": _TIMESHEET,
    "time.entries.invoiced": FeedRule(permission="invoices.read"),
    # billing: money is for whoever may read invoices, and for the client billed
    "billing.invoice.sent": _INVOICE,
    "billing.invoice.paid": _INVOICE,
    "billing.invoice.overdue": _INVOICE,
    "billing.invoice.voided": _INVOICE,
    "billing.invoice.reminder": _INVOICE,
    "billing.invoice.payment_failed": _INVOICE,
    "billing.payment.recorded": _INVOICE,
    # notification: one person's own
    "notification.notice.created": _PERSONAL,
    "notification.unread_count.changed": _PERSONAL,
    # notification: the agency's webhooks, for whoever manages them
    "notification.webhook.failed": _WEBHOOKS,
    "notification.webhook_endpoint.disabled": _WEBHOOKS,
}

# Registered event types the feed never keeps, each with why: every registered type is either
# in RULES or here (a test holds it), so a new type forces a decision.
EXCLUDED: dict[str, str] = {
    "audit.recorded": "the audit log's own record (GET /v1/audit-log), on a topic of its own",
    "identity.email_verification.requested": "carries a sign-in token; one person's request",
    "identity.invitation.created": "carries the invitation token",
    "identity.magic_link.requested": "carries a sign-in token; one person's request",
    "identity.password_reset.requested": "carries a password-reset token",
    # The notice is mailed to the one person; the feed is the whole agency's, and where a
    # colleague signs in from (device, address) is not the agency's business.
    "identity.sign_in.new_device": "one person's sign-in notice, with their device and address",
}


def rule_for(event_type: str) -> FeedRule | None:
    return RULES.get(event_type)
