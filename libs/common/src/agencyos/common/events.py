"""Event contracts: the CloudEvents 1.0 envelope and one versioned payload class per event.

Producers and consumers import the same class from here; nobody copies a contract. A breaking
change to a payload is a new class with `version = 2` under the same `event_type`.
"""

from __future__ import annotations

import builtins
import uuid
from datetime import date, datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from agencyos.common.db import utcnow

SCHEMA_BASE = "https://agencyos.dev/schemas/events/"


class EventPayload(BaseModel):
    """Base of every event payload: subclasses name their type and version."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    event_type: ClassVar[str]
    version: ClassVar[int] = 1

    @classmethod
    def dataschema(cls) -> str:
        return f"{SCHEMA_BASE}{cls.event_type}/v{cls.version}"

    @classmethod
    def topic(cls) -> str:
        return cls.event_type.split(".", 1)[0] + ".events"


class CloudEvent(BaseModel):
    """CloudEvents 1.0 structured-mode JSON envelope, with AgencyOS's `tenantid` extension
    and the distributed-tracing extension (`traceparent`, `tracestate`)."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    source: str
    type: str
    subject: str | None = None
    time: datetime = Field(default_factory=utcnow)
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str
    tenantid: uuid.UUID
    traceparent: str | None = None
    tracestate: str | None = None
    data: dict[str, Any]

    def payload(self, model: builtins.type[P]) -> P:
        """The data parsed as `model`, after checking the type and schema version match."""
        if self.type != model.event_type or self.dataschema != model.dataschema():
            raise ValueError(f"event {self.type} ({self.dataschema}) is not {model.__name__}")
        return model.model_validate(self.data)


P = TypeVar("P", bound=EventPayload)

_REGISTRY: dict[tuple[str, int], type[EventPayload]] = {}


def register(cls: type[P]) -> type[P]:
    key = (cls.event_type, cls.version)
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise RuntimeError(f"event {key} is registered twice")
    _REGISTRY[key] = cls
    return cls


def registered_events() -> dict[tuple[str, int], type[EventPayload]]:
    return dict(_REGISTRY)


def build_event(
    payload: EventPayload,
    *,
    tenant_id: uuid.UUID,
    source_service: str,
    subject: str | None = None,
    traceparent: str | None = None,
    tracestate: str | None = None,
) -> CloudEvent:
    return CloudEvent(
        source=f"/agencyos/{source_service}",
        type=payload.event_type,
        subject=subject,
        dataschema=payload.dataschema(),
        tenantid=tenant_id,
        traceparent=traceparent,
        tracestate=tracestate,
        data=payload.model_dump(mode="json"),
    )


# --- identity -------------------------------------------------------------------------------


@register
class AgencyCreated(EventPayload):
    event_type: ClassVar[str] = "identity.agency.created"
    agency_id: uuid.UUID
    slug: str
    name: str
    owner_user_id: uuid.UUID
    currency: str
    timezone: str


@register
class MemberAdded(EventPayload):
    """Someone joined an agency (signed it up, or accepted an invitation). `client_id` is the
    CRM client a client-role member is bound to; `permissions` what the member may do now
    (role as tuned by the agency plus overrides; null on events older than the field)."""

    event_type: ClassVar[str] = "identity.member.added"
    agency_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    name: str
    role: str
    client_id: uuid.UUID | None = None
    permissions: list[str] | None = None


@register
class AgencyUpdated(EventPayload):
    """An agency's settings changed: `changed_fields` names the ones that did; the rest of the
    payload is every setting as it is now (so a consumer needs no second lookup, and a field
    set to null is told apart from one left alone). `default_tax_rate_bps` is integer basis
    points (2000 = 20 %)."""

    event_type: ClassVar[str] = "identity.agency.updated"
    agency_id: uuid.UUID
    changed_fields: list[str]
    slug: str
    name: str
    currency: str
    timezone: str
    logo_url: str | None
    brand_color: str | None
    invoice_prefix: str
    default_tax_rate_bps: int


@register
class PasswordResetRequested(EventPayload):
    """Someone asked to reset this user's password; the notification service emails `token`.

    The token is a secret: consumers must not log or store it."""

    event_type: ClassVar[str] = "identity.password_reset.requested"
    user_id: uuid.UUID
    email: str
    name: str
    token: str
    expires_at: datetime


@register
class MemberRoleChanged(EventPayload):
    """A member's role changed (including an ownership transfer, which changes two)."""

    event_type: ClassVar[str] = "identity.member.role_changed"
    agency_id: uuid.UUID
    user_id: uuid.UUID
    old_role: str
    new_role: str
    client_id: uuid.UUID | None = None
    changed_by: uuid.UUID
    # What the member may do under the new role (null on events older than the field).
    permissions: list[str] | None = None


@register
class MemberPermissionsChanged(EventPayload):
    """What a member may do changed without a role change: their overrides were set, or the
    agency tuned (or reset) their role. `permissions` is the whole effective set now."""

    event_type: ClassVar[str] = "identity.member.permissions_changed"
    agency_id: uuid.UUID
    user_id: uuid.UUID
    role: str
    permissions: list[str]
    changed_by: uuid.UUID


@register
class MemberSuspended(EventPayload):
    """A member may no longer act in the agency (their sessions there are revoked); the
    membership stays, so they can be reactivated."""

    event_type: ClassVar[str] = "identity.member.suspended"
    agency_id: uuid.UUID
    user_id: uuid.UUID
    suspended_by: uuid.UUID


@register
class MemberReactivated(EventPayload):
    event_type: ClassVar[str] = "identity.member.reactivated"
    agency_id: uuid.UUID
    user_id: uuid.UUID
    reactivated_by: uuid.UUID


@register
class MemberRemoved(EventPayload):
    """A membership ended (removed by someone, or the member left: `removed_by` = `user_id`)."""

    event_type: ClassVar[str] = "identity.member.removed"
    agency_id: uuid.UUID
    user_id: uuid.UUID
    role: str
    removed_by: uuid.UUID


@register
class InvitationCreated(EventPayload):
    """Someone was invited; the notification service emails `token` as the accept link.

    The token is a secret: consumers must not log or store it."""

    event_type: ClassVar[str] = "identity.invitation.created"
    agency_id: uuid.UUID
    agency_name: str
    invitation_id: uuid.UUID
    email: str
    role: str
    invited_by: uuid.UUID
    inviter_name: str
    token: str
    expires_at: datetime


@register
class InvitationAccepted(EventPayload):
    """An invitation was accepted: `user_id` joined with `role` (tells the inviter)."""

    event_type: ClassVar[str] = "identity.invitation.accepted"
    agency_id: uuid.UUID
    invitation_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    name: str
    role: str
    invited_by: uuid.UUID


@register
class EmailVerificationRequested(EventPayload):
    """A user must prove they own `email`; the notification service emails `token` as a link.

    The token is a secret: consumers must not log or store it."""

    event_type: ClassVar[str] = "identity.email_verification.requested"
    user_id: uuid.UUID
    email: str
    name: str
    token: str
    expires_at: datetime


@register
class MagicLinkRequested(EventPayload):
    """A sign-in link for `email` in the agency `agency_slug`; the notification service emails
    `token` as a single-use link. The token is a secret: consumers must not log or store it."""

    event_type: ClassVar[str] = "identity.magic_link.requested"
    agency_id: uuid.UUID
    agency_slug: str
    user_id: uuid.UUID
    email: str
    name: str
    token: str
    expires_at: datetime


# --- crm ------------------------------------------------------------------------------------


@register
class ClientCreated(EventPayload):
    event_type: ClassVar[str] = "crm.client.created"
    client_id: uuid.UUID
    company_name: str
    status: str
    owner_id: uuid.UUID | None
    created_by: uuid.UUID


@register
class ClientUpdated(EventPayload):
    """A client changed: `changed_fields` names what did; the rest is the client as it is now."""

    event_type: ClassVar[str] = "crm.client.updated"
    client_id: uuid.UUID
    changed_fields: list[str]
    company_name: str
    status: str
    owner_id: uuid.UUID | None
    currency: str | None
    updated_by: uuid.UUID


@register
class ClientDeleted(EventPayload):
    """A client with no history was deleted (one with history is archived instead)."""

    event_type: ClassVar[str] = "crm.client.deleted"
    client_id: uuid.UUID
    deleted_by: uuid.UUID


@register
class DealStageChanged(EventPayload):
    """A deal moved to another stage (every move, including to won or lost)."""

    event_type: ClassVar[str] = "crm.deal.stage_changed"
    deal_id: uuid.UUID
    client_id: uuid.UUID
    title: str
    pipeline_id: uuid.UUID
    from_stage_id: uuid.UUID
    from_stage: str
    to_stage_id: uuid.UUID
    to_stage: str
    to_stage_kind: Literal["open", "won", "lost"]
    value_cents: int
    currency: str
    changed_by: uuid.UUID


@register
class DealWon(EventPayload):
    """A deal reached a won stage: everything work needs to start its project."""

    event_type: ClassVar[str] = "crm.deal.won"
    deal_id: uuid.UUID
    title: str
    description: str | None
    client_id: uuid.UUID
    client_name: str
    value_cents: int
    currency: str
    # The project template chosen on the deal; None: the agency's default template.
    template_id: uuid.UUID | None
    assigned_to: uuid.UUID | None
    expected_close_date: date | None
    won_at: datetime
    won_by: uuid.UUID


@register
class DealLost(EventPayload):
    event_type: ClassVar[str] = "crm.deal.lost"
    deal_id: uuid.UUID
    client_id: uuid.UUID
    title: str
    value_cents: int
    currency: str
    lost_reason: str
    lost_at: datetime
    lost_by: uuid.UUID
    assigned_to: uuid.UUID | None = None


@register
class DealAssigned(EventPayload):
    """A deal got an assignee (when it was created with one, or when it changed hands)."""

    event_type: ClassVar[str] = "crm.deal.assigned"
    deal_id: uuid.UUID
    client_id: uuid.UUID
    title: str
    value_cents: int
    currency: str
    assigned_to: uuid.UUID
    assigned_by: uuid.UUID


@register
class ImportFinished(EventPayload):
    """A CSV import ran to its end (rows it could not take are counted in `failed`)."""

    event_type: ClassVar[str] = "crm.import.finished"
    job_id: uuid.UUID
    kind: str
    started_by: uuid.UUID
    total: int
    created: int
    updated: int
    failed: int


@register
class ImportFailed(EventPayload):
    """A CSV import gave up (every attempt failed, or the file could not be read)."""

    event_type: ClassVar[str] = "crm.import.failed"
    job_id: uuid.UUID
    kind: str
    started_by: uuid.UUID
    error: str


# --- work -----------------------------------------------------------------------------------


class ProjectState(BaseModel):
    """A project as it is right after the change an event reports: what other services keep
    of it (time's read model of projects). Every project event carries it (added later than
    the events: consumers take `project: null` as "not said")."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str
    client_id: uuid.UUID | None
    status: str
    billing_type: str
    hourly_rate_cents: int | None
    currency: str
    member_ids: list[uuid.UUID]
    changed_at: datetime


@register
class ProjectCreated(EventPayload):
    """A project was created; `deal_id` is set when it came from a won deal."""

    event_type: ClassVar[str] = "work.project.created"
    project_id: uuid.UUID
    name: str
    client_id: uuid.UUID | None
    deal_id: uuid.UUID | None
    created_by: uuid.UUID | None
    project: ProjectState | None = None


@register
class ProjectUpdated(EventPayload):
    """A project's fields changed (not its status: see work.project.status_changed)."""

    event_type: ClassVar[str] = "work.project.updated"
    project_id: uuid.UUID
    changed_fields: list[str]
    name: str
    client_id: uuid.UUID | None
    billing_type: str
    currency: str
    updated_by: uuid.UUID | None
    project: ProjectState | None = None


@register
class ProjectStatusChanged(EventPayload):
    event_type: ClassVar[str] = "work.project.status_changed"
    project_id: uuid.UUID
    client_id: uuid.UUID | None
    old_status: str
    new_status: str
    changed_by: uuid.UUID | None
    project: ProjectState | None = None


class _TaskEvent(EventPayload):
    task_id: uuid.UUID
    project_id: uuid.UUID
    title: str
    status: str
    column_id: uuid.UUID
    assignee_ids: list[uuid.UUID]
    visible_to_client: bool
    # The task's optimistic-concurrency version after the change (`version` names the
    # payload schema's own version on every event class).
    task_version: int
    actor_id: uuid.UUID | None
    # Added later than the events: null on older ones.
    due_date: date | None = None


@register
class TaskCreated(_TaskEvent):
    event_type: ClassVar[str] = "work.task.created"


@register
class TaskUpdated(_TaskEvent):
    """`changed_fields` names the fields that changed; the rest is the task as it is now."""

    event_type: ClassVar[str] = "work.task.updated"
    changed_fields: list[str]


@register
class TaskMoved(_TaskEvent):
    """A task moved on the board (another column, or another place in the same one)."""

    event_type: ClassVar[str] = "work.task.moved"
    from_column_id: uuid.UUID
    position: float


@register
class TaskCompleted(_TaskEvent):
    event_type: ClassVar[str] = "work.task.completed"
    completed_at: datetime


@register
class TaskAssigned(EventPayload):
    """One per member newly assigned to a task (at creation or by a change)."""

    event_type: ClassVar[str] = "work.task.assigned"
    task_id: uuid.UUID
    project_id: uuid.UUID
    task_title: str
    assignee_id: uuid.UUID
    assigned_by: uuid.UUID | None
    due_date: date | None = None


@register
class CommentCreated(EventPayload):
    """A comment on a task, with who is around it: the task's assignees and followers then
    (a mentioned member also gets `work.comment.mentioned`)."""

    event_type: ClassVar[str] = "work.comment.created"
    comment_id: uuid.UUID
    task_id: uuid.UUID
    project_id: uuid.UUID
    task_title: str
    author_id: uuid.UUID
    excerpt: str
    mentioned_user_ids: list[uuid.UUID]
    assignee_ids: list[uuid.UUID]
    follower_ids: list[uuid.UUID]


@register
class FeedbackReceived(EventPayload):
    """A client user's feedback became a task in their project."""

    event_type: ClassVar[str] = "work.feedback.received"
    task_id: uuid.UUID
    project_id: uuid.UUID
    client_id: uuid.UUID | None
    author_id: uuid.UUID
    excerpt: str


@register
class CommentMentioned(EventPayload):
    """One per mentioned member of a task comment (for their notification)."""

    event_type: ClassVar[str] = "work.comment.mentioned"
    comment_id: uuid.UUID
    task_id: uuid.UUID
    project_id: uuid.UUID
    task_title: str
    mentioned_user_id: uuid.UUID
    author_id: uuid.UUID
    excerpt: str


@register
class MilestoneCompleted(EventPayload):
    """Billing invoices `amount_cents` (when set) for a completed milestone."""

    event_type: ClassVar[str] = "work.milestone.completed"
    milestone_id: uuid.UUID
    project_id: uuid.UUID
    client_id: uuid.UUID | None
    name: str
    amount_cents: int | None
    currency: str
    completed_at: datetime


class _DeliverableEvent(EventPayload):
    deliverable_id: uuid.UUID
    project_id: uuid.UUID
    client_id: uuid.UUID | None
    title: str
    actor_id: uuid.UUID | None
    comment: str | None = None


@register
class DeliverableSubmitted(_DeliverableEvent):
    event_type: ClassVar[str] = "work.deliverable.submitted"


@register
class DeliverableApproved(_DeliverableEvent):
    event_type: ClassVar[str] = "work.deliverable.approved"


@register
class DeliverableChangesRequested(_DeliverableEvent):
    event_type: ClassVar[str] = "work.deliverable.changes_requested"


# --- time -----------------------------------------------------------------------------------


@register
class TimeEntryLogged(EventPayload):
    """A time entry was created (by hand, from a stopped timer, or one day of a split)."""

    event_type: ClassVar[str] = "time.entry.logged"
    entry_id: uuid.UUID
    user_id: uuid.UUID
    project_id: uuid.UUID
    task_id: uuid.UUID | None
    client_id: uuid.UUID | None
    date: date
    duration_seconds: int
    is_billable: bool


@register
class TimesheetSubmitted(EventPayload):
    event_type: ClassVar[str] = "time.timesheet.submitted"
    timesheet_id: uuid.UUID
    user_id: uuid.UUID
    week_start: date
    total_seconds: int
    billable_seconds: int


@register
class TimesheetApproved(EventPayload):
    """A week's entries are approved; billable ones can now be invoiced."""

    event_type: ClassVar[str] = "time.timesheet.approved"
    timesheet_id: uuid.UUID
    user_id: uuid.UUID
    week_start: date
    approved_by: uuid.UUID
    entry_ids: list[uuid.UUID]
    total_seconds: int
    billable_seconds: int


@register
class TimesheetRejected(EventPayload):
    """A week went back to its owner to fix (`reason` says why)."""

    event_type: ClassVar[str] = "time.timesheet.rejected"
    timesheet_id: uuid.UUID
    user_id: uuid.UUID
    week_start: date
    rejected_by: uuid.UUID
    reason: str


@register
class TimeEntriesInvoiced(EventPayload):
    event_type: ClassVar[str] = "time.entries.invoiced"
    invoice_id: uuid.UUID
    entry_ids: list[uuid.UUID]
    total_seconds: int


# --- billing --------------------------------------------------------------------------------


class BillTo(BaseModel):
    """Who an invoice is addressed to: the client's primary contact when it was sent."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    client_name: str
    contact_name: str | None
    email: str | None


class Issuer(BaseModel):
    """Who sends an invoice: the agency's name, logo and colour when it was sent, and the time
    zone its dates are in (what the client's emails about it are branded with)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str
    logo_url: str | None
    brand_color: str | None
    timezone: str | None


@register
class InvoiceSent(EventPayload):
    """An invoice was sent. `document_url` is a signed link to its PDF that needs no login."""

    event_type: ClassVar[str] = "billing.invoice.sent"
    invoice_id: uuid.UUID
    client_id: uuid.UUID
    number: str
    total_cents: int
    currency: str
    due_date: date
    payment_url: str | None = None
    bill_to: BillTo | None = None
    issuer: Issuer | None = None
    document_url: str | None = None


@register
class InvoicePaid(EventPayload):
    """An invoice is paid in full; `amount_cents` is what this payment added."""

    event_type: ClassVar[str] = "billing.invoice.paid"
    invoice_id: uuid.UUID
    client_id: uuid.UUID
    number: str
    total_cents: int
    amount_cents: int
    currency: str
    paid_at: datetime
    bill_to: BillTo | None = None
    issuer: Issuer | None = None


@register
class InvoiceVoided(EventPayload):
    """A sent (or draft) invoice was voided; time releases its entries."""

    event_type: ClassVar[str] = "billing.invoice.voided"
    invoice_id: uuid.UUID
    client_id: uuid.UUID
    number: str | None
    reason: str | None
    voided_at: datetime


@register
class InvoiceOverdue(EventPayload):
    event_type: ClassVar[str] = "billing.invoice.overdue"
    invoice_id: uuid.UUID
    client_id: uuid.UUID
    number: str
    total_cents: int
    amount_due_cents: int
    currency: str
    due_date: date
    payment_url: str | None = None
    bill_to: BillTo | None = None
    issuer: Issuer | None = None


@register
class InvoiceReminder(EventPayload):
    """A payment reminder is due: `days_from_due` is negative before the due date
    (-3 = three days before) and positive after it."""

    event_type: ClassVar[str] = "billing.invoice.reminder"
    invoice_id: uuid.UUID
    client_id: uuid.UUID
    number: str
    amount_due_cents: int
    currency: str
    due_date: date
    days_from_due: int
    payment_url: str | None = None
    bill_to: BillTo | None = None
    issuer: Issuer | None = None


@register
class PaymentRecorded(EventPayload):
    """Money moved on an invoice: a payment (`amount_cents` > 0) or a refund (< 0), by
    `method` (stripe, bank_transfer, cash, other); `invoice_status` is the status after it."""

    event_type: ClassVar[str] = "billing.payment.recorded"
    payment_id: uuid.UUID
    invoice_id: uuid.UUID
    client_id: uuid.UUID
    amount_cents: int
    currency: str
    method: str
    invoice_status: str
    amount_paid_cents: int


@register
class InvoicePaymentFailed(EventPayload):
    event_type: ClassVar[str] = "billing.invoice.payment_failed"
    invoice_id: uuid.UUID
    client_id: uuid.UUID
    number: str | None
    reason: str | None
    amount_due_cents: int | None = None
    currency: str | None = None
    payment_url: str | None = None
    bill_to: BillTo | None = None
    issuer: Issuer | None = None
