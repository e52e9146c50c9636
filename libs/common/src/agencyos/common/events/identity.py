"""identity's event contracts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from agencyos.common.events.envelope import EventPayload, register


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
class SignInFromNewDevice(EventPayload):
    """`user_id` signed in from a user agent and network (/24 IPv4, /48 IPv6) they had not
    signed in from before; the notification service emails them a notice. Not sent for a
    user's very first sign-in. One person's: kept out of the agency's feed."""

    event_type: ClassVar[str] = "identity.sign_in.new_device"
    agency_id: uuid.UUID
    agency_name: str
    user_id: uuid.UUID
    email: str
    name: str
    user_agent: str | None
    ip_address: str | None
    signed_in_at: datetime


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
    # The member's role: a client user's link opens the client portal's sign-in page
    # (`/portal/<slug>/sign-in/link?token=`), anyone else's the API's. Absent in events from
    # before it was added (read as not a client's).
    role: str | None = None
