"""The route x caller matrix of the whole public API, through the gateway.

For EVERY operation of the gateway's merged OpenAPI (a route without an entry in `POLICY`
fails `test_every_route_has_an_entry`, and so does an entry for a route nobody serves), one
request per caller: agency A's owner, admin, manager, member and client user, an API key of A
(role manager), agency B's owner, and no token. What each caller must get comes from the
route's entry in `POLICY`, which names the permission the route needs (the roles' default sets
are agencyos.common.permissions.DEFAULT_ROLE_PERMISSIONS) and any rule of the route's own:

- no token: 401 (public routes are their own rows: every caller gets the same answer);
- a role without the permission: 403;
- B's owner: 404 on a route that names one of A's rows in its path (ARCHITECTURE.md §3:
  another agency's id answers exactly like a missing one, never 403 or 200), and on a route
  without one the owner's outcome, with none of A's ids in the answer;
- a caller holding the permission: a GET answers 200 (404 where the fixture table has no
  such row: matrix_world.ABSENT). A mutation is not made to succeed: it is sent with a body
  that is valid where that is cheap and otherwise `{}` — the permission is checked before
  the body is read, so the refused callers still get 403 — and for the callers it admits it
  passes when the answer is neither 401 nor 403 (2xx, 404, 409, 422...) and not a 5xx.

Order: reads first, then writes, then deletes (deepest paths first), so the rows the reads
look at are still there; within a route the refused callers go first. The client portal's
routes (`/v1/portal/*`) state only the role outcome here (client user admitted, everyone
else 403); their per-client isolation is tests/e2e/portal/test_isolation_matrix.py."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.gateway.routes import is_public
from agencyos.testing.factories import AgencySession
from agencyos.testing.infra import wait_for
from agencyos.testing.platform import Platform

from .matrix_world import ABSENT, Caller, World, fresh_session, make_world

pytestmark = pytest.mark.e2e

CALLERS = ("anonymous", "other_owner", "client", "api_key", "member", "manager", "admin", "owner")
# What each caller's permissions are (the API key is made with the manager role).
ROLE_OF = {
    "other_owner": Role.OWNER,
    "client": Role.CLIENT,
    "api_key": Role.MANAGER,
    "member": Role.MEMBER,
    "manager": Role.MANAGER,
    "admin": Role.ADMIN,
    "owner": Role.OWNER,
}
ADMITTED = "admitted"  # the route lets the caller through: see `admitted`


@dataclass(frozen=True)
class Rule:
    """One route's policy. `permission`: what the route needs (None: a token of the agency
    is enough); `also`: a second permission it needs too; `refused`: callers refused
    whatever their permissions say (an API key on what only a person may do, staff on the
    portal); `admits`: the only callers admitted (besides the permission); `public`: the
    answer every caller gets on a route the gateway lets through without a token."""

    permission: str | None = None
    also: str | None = None
    refused: frozenset[str] = frozenset()
    admits: frozenset[str] | None = None
    public: int | None = None
    # What particular callers get instead, by the route's own rule (the author of a
    # comment, the owner of a timesheet...): named here so the table says it.
    overrides: Mapping[str, int] = field(default_factory=dict)
    # The request: path parameters taken from other fixture entries, query, body.
    ids: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    # A GET's answer to an admitted caller (200 unless said).
    ok: int = 200
    # Ends the caller's session: each caller signs in anew for it.
    fresh_session: bool = False
    # Server-Sent Events: only the status line is read.
    stream: bool = False
    note: str = ""


def needs(permission: str, **kwargs: Any) -> Rule:
    if kwargs.pop("people_only", False):
        kwargs["refused"] = frozenset({"api_key"})
    return Rule(permission=permission, **kwargs)


def signed_in(**kwargs: Any) -> Rule:
    """Any caller with a token of the agency (the route narrows what it shows itself)."""
    return Rule(**kwargs)


def people(**kwargs: Any) -> Rule:
    """Any person signed in; an API key is refused (it has no account of its own)."""
    return Rule(refused=frozenset({"api_key"}), **kwargs)


def author_only(author: str, permission: str, **kwargs: Any) -> Rule:
    """Only the one who made the row (`author`, one of the callers) of those holding
    `permission`; everyone else of the agency who holds it gets 403."""
    others = {c for c in ROLE_OF if c not in {author, "other_owner"}}
    return Rule(permission=permission, overrides={c: 403 for c in others}, **kwargs)


def owners_only(**kwargs: Any) -> Rule:
    return Rule(admits=frozenset({"owner", "other_owner"}), **kwargs)


def portal() -> Rule:
    """The client portal: client users only (isolation between clients: the portal's own
    matrix)."""
    return Rule(admits=frozenset({"client"}))


def public(status: int) -> Rule:
    return Rule(public=status)


# The policy, one row per operation of the merged OpenAPI. Adding a route means adding its row.
POLICY: dict[str, Rule] = {
    "GET /.well-known/jwks.json": public(200),
    # identity: the agency, its security settings, keys, audit
    "GET /v1/agency": needs("agency.read"),
    "PATCH /v1/agency": needs("agency.write", body={}),
    "GET /v1/agency/security/sessions": needs("security.manage"),
    "PUT /v1/agency/security/sessions": needs("security.manage", body={"idle_timeout_minutes": 1}),
    "GET /v1/agency/security/two-factor": needs("security.manage"),
    "PUT /v1/agency/security/two-factor": needs("security.manage"),
    "DELETE /v1/agency/sso": needs("security.manage"),
    "GET /v1/agency/sso": needs("security.manage", ok=404, note="none configured"),
    "PUT /v1/agency/sso": needs("security.manage"),
    "GET /v1/api-keys": needs("api_keys.write"),
    "POST /v1/api-keys": needs("api_keys.write"),
    "DELETE /v1/api-keys/{api_key_id}": needs("api_keys.write"),
    "GET /v1/audit-log": needs("audit.read"),
    "GET /v1/audit-log/export": needs("audit.read"),
    "GET /v1/audit-log/verify": needs("audit.read"),
    # identity: signing in and one's own account
    "GET /v1/auth/2fa": people(),
    "POST /v1/auth/2fa/backup-codes": people(body={"code": "123456"}),
    "POST /v1/auth/2fa/confirm": people(body={"code": "123456"}),
    "POST /v1/auth/2fa/disable": people(body={"code": "123456"}),
    "POST /v1/auth/2fa/enroll": people(),
    "POST /v1/auth/2fa/verify": public(422),
    "POST /v1/auth/login": public(422),
    "POST /v1/auth/logout": signed_in(fresh_session=True),
    "POST /v1/auth/magic-link": public(422),
    "GET /v1/auth/magic-link/verify": public(422),
    "POST /v1/auth/magic-link/verify": public(422),
    "POST /v1/auth/password-reset": public(422),
    "GET /v1/auth/password-reset/confirm": public(422),
    "POST /v1/auth/password-reset/confirm": public(422),
    "POST /v1/auth/refresh": public(422),
    "POST /v1/auth/signup": public(422),
    "GET /v1/auth/sso/callback": public(400),
    "GET /v1/auth/sso/{agency_slug}/start": public(404),
    "POST /v1/auth/switch": signed_in(),
    "GET /v1/auth/verify-email": public(422),
    "POST /v1/auth/verify-email": public(422),
    "POST /v1/auth/verify-email/resend": people(),
    "GET /v1/me": signed_in(),
    # identity: the team
    "GET /v1/invitations": needs("members.invite"),
    "POST /v1/invitations": needs(
        "members.invite", people_only=True, body={"email": "{invitee_email}", "role": "member"}
    ),
    "DELETE /v1/invitations/{invitation_id}": needs("members.invite"),
    "GET /v1/invitations/{token}/accept": public(200),
    "POST /v1/invitations/{token}/accept": Rule(
        public=422,
        overrides={c: 403 for c in ROLE_OF if c != "api_key"},
        note="a signed-in person accepts as themselves: not the invitee, 403",
    ),
    "GET /v1/members": needs("members.read"),
    "DELETE /v1/members/{user_id}": needs(
        "members.write", note="anyone may leave; removing someone else needs members.write"
    ),
    "GET /v1/members/{user_id}": needs("members.read"),
    "PATCH /v1/members/{user_id}": needs("members.write", body={"role": "member"}),
    "PUT /v1/members/{user_id}/permissions": needs("roles.write"),
    "POST /v1/members/{user_id}/reactivate": needs("members.write"),
    "POST /v1/members/{user_id}/suspend": needs("members.write"),
    "POST /v1/members/{user_id}/transfer-ownership": owners_only(
        refused=frozenset({"api_key"}),
        ids={"user_id": "owner_user_id"},
        note="made to oneself: the owner gets 409 after the owner check",
    ),
    "GET /v1/roles": needs("members.read"),
    "PUT /v1/roles/{role}": needs("roles.write"),
    "POST /v1/roles/{role}/reset": needs("roles.write"),
    "GET /v1/sessions": signed_in(),
    "POST /v1/sessions/revoke-all": signed_in(fresh_session=True),
    "DELETE /v1/sessions/{session_id}": signed_in(),
    # crm
    "GET /v1/clients": needs("clients.read"),
    "POST /v1/clients": needs("clients.write"),
    "GET /v1/clients/export": needs("clients.export"),
    "POST /v1/clients/import": needs("clients.write"),
    "DELETE /v1/clients/{client_id}": needs("clients.write"),
    "GET /v1/clients/{client_id}": needs("clients.read"),
    "PATCH /v1/clients/{client_id}": needs("clients.write", body={}),
    "GET /v1/clients/{client_id}/contacts": needs("clients.read"),
    "POST /v1/clients/{client_id}/contacts": needs("clients.write", body={"name": "Matrix Two"}),
    "DELETE /v1/clients/{client_id}/contacts/{contact_id}": needs("clients.write"),
    "GET /v1/clients/{client_id}/contacts/{contact_id}": needs("clients.read"),
    "PATCH /v1/clients/{client_id}/contacts/{contact_id}": needs("clients.write", body={}),
    "POST /v1/clients/{client_id}/portal-invitations": needs(
        "members.invite", also="clients.read", people_only=True, body={"contact_id": "{contact_id}"}
    ),
    "GET /v1/clients/{client_id}/timeline": needs("clients.read"),
    "POST /v1/clients/{client_id}/timeline": needs(
        "clients.write", body={"kind": "call", "title": "Matrix call"}
    ),
    "GET /v1/deals": needs("deals.read"),
    "POST /v1/deals": needs("deals.write"),
    "GET /v1/deals/board": needs("deals.read"),
    "GET /v1/deals/forecast": needs("reports.financial.read", query={"group_by": "stage"}),
    "DELETE /v1/deals/{deal_id}": needs("deals.write"),
    "GET /v1/deals/{deal_id}": needs("deals.read"),
    "PATCH /v1/deals/{deal_id}": needs("deals.write", body={}),
    "PUT /v1/deals/{deal_id}/stage": needs("deals.write", body={"stage": "proposal"}),
    "GET /v1/jobs/{job_id}": needs("clients.read"),
    "GET /v1/pipelines": needs("deals.read"),
    "POST /v1/pipelines": needs("deals.write"),
    "GET /v1/pipelines/{pipeline_id}": needs("deals.read"),
    "PATCH /v1/pipelines/{pipeline_id}": needs("deals.write", body={"name": "Matrix pipeline"}),
    "POST /v1/pipelines/{pipeline_id}/stages": needs("deals.write", body={"name": "Matrix stage"}),
    "PUT /v1/pipelines/{pipeline_id}/stages/order": needs(
        "deals.write", body={"stage_ids": ["{stage_id}"]}
    ),
    "DELETE /v1/pipelines/{pipeline_id}/stages/{stage_id}": needs("deals.write"),
    "PATCH /v1/pipelines/{pipeline_id}/stages/{stage_id}": needs("deals.write", body={}),
    # work
    "DELETE /v1/columns/{column_id}": needs("projects.write"),
    "PATCH /v1/columns/{column_id}": needs("projects.write", body={}),
    "DELETE /v1/comments/{comment_id}": author_only("owner", "tasks.write"),
    "PATCH /v1/comments/{comment_id}": author_only("owner", "tasks.write", body={"body": "Edited"}),
    "DELETE /v1/deliverables/{deliverable_id}": needs("projects.write"),
    "GET /v1/deliverables/{deliverable_id}": needs(
        "projects.read",
        overrides={"client": 404},
        note="a client user reads its client's submitted deliverables: a draft is a 404",
    ),
    "PATCH /v1/deliverables/{deliverable_id}": needs("projects.write", body={}),
    "POST /v1/deliverables/{deliverable_id}/approve": needs("projects.write"),
    "GET /v1/deliverables/{deliverable_id}/files": needs("projects.read"),
    "GET /v1/deliverables/{deliverable_id}/history": needs("projects.read"),
    "POST /v1/deliverables/{deliverable_id}/request-changes": needs(
        "projects.write", body={"comment": "Bigger"}
    ),
    "POST /v1/deliverables/{deliverable_id}/submit": needs("projects.write"),
    "DELETE /v1/files/{file_id}": needs("tasks.write"),
    "GET /v1/files/{file_id}": needs("projects.read"),
    "PATCH /v1/files/{file_id}": needs("tasks.write", body={"shared_with_client": False}),
    "POST /v1/files/{file_id}/complete": needs("tasks.write"),
    "GET /v1/files/{file_id}/download": needs("projects.read"),
    "DELETE /v1/milestones/{milestone_id}": needs("projects.write"),
    "GET /v1/milestones/{milestone_id}": needs("projects.read"),
    "PATCH /v1/milestones/{milestone_id}": needs("projects.write", body={}),
    "POST /v1/milestones/{milestone_id}/complete": needs("projects.write"),
    "GET /v1/project-templates": needs("projects.read"),
    "POST /v1/project-templates": needs("projects.write"),
    "DELETE /v1/project-templates/{template_id}": needs("projects.write"),
    "GET /v1/project-templates/{template_id}": needs("projects.read"),
    "PATCH /v1/project-templates/{template_id}": needs("projects.write", body={}),
    "GET /v1/projects": needs("projects.read"),
    "POST /v1/projects": needs("projects.write"),
    "DELETE /v1/projects/{project_id}": needs("projects.write"),
    "GET /v1/projects/{project_id}": needs("projects.read"),
    "PATCH /v1/projects/{project_id}": needs("projects.write", body={}),
    "GET /v1/projects/{project_id}/activity": needs("projects.read"),
    "GET /v1/projects/{project_id}/board": needs("projects.read"),
    "POST /v1/projects/{project_id}/columns": needs(
        "projects.write", body={"name": "QA two", "status": "review"}
    ),
    "PUT /v1/projects/{project_id}/columns/order": needs(
        "projects.write", body={"column_ids": ["{column_id}"]}
    ),
    "GET /v1/projects/{project_id}/deliverables": needs("projects.read"),
    "POST /v1/projects/{project_id}/deliverables": needs("projects.write", body={"title": "Two"}),
    "GET /v1/projects/{project_id}/files": needs("projects.read"),
    "POST /v1/projects/{project_id}/files": needs(
        "tasks.write", body={"name": "n.pdf", "content_type": "application/pdf", "size": 10}
    ),
    "GET /v1/projects/{project_id}/members": needs("projects.read"),
    "POST /v1/projects/{project_id}/members": needs(
        "projects.write", body={"user_id": "{user_id}"}
    ),
    "DELETE /v1/projects/{project_id}/members/{user_id}": needs("projects.write"),
    "GET /v1/projects/{project_id}/milestones": needs("projects.read"),
    "POST /v1/projects/{project_id}/milestones": needs("projects.write", body={"name": "Two"}),
    "GET /v1/projects/{project_id}/tasks": needs("projects.read"),
    "POST /v1/projects/{project_id}/tasks": needs("tasks.write", body={"title": "Two"}),
    "DELETE /v1/subtasks/{subtask_id}": needs("tasks.write"),
    "PATCH /v1/subtasks/{subtask_id}": needs("tasks.write", body={}),
    "DELETE /v1/tasks/{task_id}": needs("tasks.write"),
    "GET /v1/tasks/{task_id}": needs("projects.read"),
    "PATCH /v1/tasks/{task_id}": needs("tasks.write", body={}),
    "GET /v1/tasks/{task_id}/activity": needs("projects.read"),
    "GET /v1/tasks/{task_id}/comments": needs("projects.read"),
    "POST /v1/tasks/{task_id}/comments": needs("tasks.write", body={"body": "Two"}),
    "GET /v1/tasks/{task_id}/files": needs("projects.read"),
    "GET /v1/tasks/{task_id}/followers": needs("projects.read"),
    "DELETE /v1/tasks/{task_id}/followers/me": needs("projects.read"),
    "PUT /v1/tasks/{task_id}/followers/me": needs("projects.read", people_only=True),
    "POST /v1/tasks/{task_id}/move": needs("tasks.write", body={"column_id": "{column_id}"}),
    "POST /v1/tasks/{task_id}/subtasks": needs("tasks.write", body={"title": "Two"}),
    # time
    "GET /v1/capacity": signed_in(),
    "GET /v1/capacity/{user_id}": needs(
        "timesheets.approve", note="someone else's capacity; one's own needs only a token"
    ),
    "PUT /v1/capacity/{user_id}": needs("rates.write", body={"weekly_capacity_hours": 40}),
    "GET /v1/rates": needs("reports.financial.read"),
    "POST /v1/rates": needs("rates.write"),
    "GET /v1/rates/resolve": needs(
        "reports.financial.read",
        query={"user_id": "{member_user_id}", "project_id": "{project_id}"},
    ),
    "DELETE /v1/rates/{rate_id}": needs("rates.write"),
    "GET /v1/rates/{rate_id}": needs("reports.financial.read"),
    "GET /v1/reports/utilization": signed_in(
        query={"from": "2031-01-01", "to": "2031-01-31"},
        overrides={"client": 404},
        note="one's own without timesheets.approve; a client user is no team member: 404",
    ),
    "GET /v1/time-entries": needs("time.write", note="or timesheets.approve"),
    "POST /v1/time-entries": needs("time.write"),
    "GET /v1/time-entries/export": needs("time.write", note="or timesheets.approve"),
    "DELETE /v1/time-entries/{entry_id}": author_only("member", "time.write"),
    "GET /v1/time-entries/{entry_id}": needs("time.write", note="or timesheets.approve"),
    "PATCH /v1/time-entries/{entry_id}": author_only(
        "member", "time.write", body={"description": "Matrix"}
    ),
    "GET /v1/time-entries/{entry_id}/history": needs("time.write", note="or timesheets.approve"),
    "DELETE /v1/timers/current": needs("time.write"),
    "GET /v1/timers/current": needs("time.write"),
    "POST /v1/timers/start": needs("time.write"),
    "POST /v1/timers/stop": needs("time.write"),
    "GET /v1/timesheets": needs("time.write", note="or timesheets.approve"),
    "GET /v1/timesheets/{timesheet_id}": signed_in(
        overrides={"client": 404},
        note="one's own, or anyone's with timesheets.approve; another's sheet is a 404",
    ),
    "POST /v1/timesheets/{timesheet_id}/approve": needs("timesheets.approve"),
    "POST /v1/timesheets/{timesheet_id}/reject": needs(
        "timesheets.approve", body={"reason": "Matrix"}
    ),
    "POST /v1/timesheets/{timesheet_id}/submit": author_only("member", "time.write"),
    # billing
    "GET /v1/billing-settings": needs("invoices.read"),
    "PUT /v1/billing-settings": needs("agency.write"),
    "GET /v1/invoices": needs("invoices.read"),
    "POST /v1/invoices": needs("invoices.write"),
    "DELETE /v1/invoices/{invoice_id}": needs("invoices.write"),
    "GET /v1/invoices/{invoice_id}": needs("invoices.read"),
    "PATCH /v1/invoices/{invoice_id}": needs("invoices.write", body={}),
    "GET /v1/invoices/{invoice_id}/document": public(422),
    "POST /v1/invoices/{invoice_id}/lines": needs(
        "invoices.write", body={"description": "More", "quantity": 1, "unit_price_cents": 100}
    ),
    "DELETE /v1/invoices/{invoice_id}/lines/{line_id}": needs("invoices.write"),
    "PATCH /v1/invoices/{invoice_id}/lines/{line_id}": needs("invoices.write", body={}),
    "POST /v1/invoices/{invoice_id}/payment-link": needs("invoices.write"),
    "GET /v1/invoices/{invoice_id}/payments": needs("invoices.read"),
    "POST /v1/invoices/{invoice_id}/payments": needs(
        "invoices.write", body={"amount_cents": 100, "method": "bank_transfer"}
    ),
    "GET /v1/invoices/{invoice_id}/payments/{payment_id}": needs("invoices.read"),
    "GET /v1/invoices/{invoice_id}/pdf": needs("invoices.read"),
    "POST /v1/invoices/{invoice_id}/send": needs("invoices.write"),
    "POST /v1/invoices/{invoice_id}/void": needs("invoices.write"),
    "POST /v1/webhooks/stripe": public(400),
    # notification
    "GET /v1/automations": needs("automations.manage"),
    "POST /v1/automations": needs("automations.manage"),
    "GET /v1/automations/recipes": needs("automations.manage"),
    "POST /v1/automations/recipes/{key}": needs("automations.manage"),
    "DELETE /v1/automations/{rule_id}": needs("automations.manage"),
    "GET /v1/automations/{rule_id}": needs("automations.manage"),
    "PATCH /v1/automations/{rule_id}": needs("automations.manage", body={}),
    "POST /v1/automations/{rule_id}/disable": needs("automations.manage"),
    "POST /v1/automations/{rule_id}/enable": needs("automations.manage"),
    "GET /v1/automations/{rule_id}/runs": needs("automations.manage"),
    "GET /v1/email-deliveries": needs("email_deliveries.read"),
    "GET /v1/email-deliveries/{delivery_id}": needs("email_deliveries.read"),
    "GET /v1/events": signed_in(),
    "GET /v1/notification-preferences": needs("notifications.read"),
    "PUT /v1/notification-preferences": needs("notifications.read"),
    "GET /v1/notification-preferences/defaults": needs(
        "notifications.read",
        admits=frozenset({"owner", "other_owner", "admin"}),
        note="owners and admins (a role check in the route, not a permission name)",
    ),
    "PUT /v1/notification-preferences/defaults/{role}": needs(
        "notifications.read",
        admits=frozenset({"owner", "other_owner"}),
        note="owners only (a role check in the route, not a permission name)",
    ),
    "GET /v1/notification-preferences/unsubscribe": public(400),
    "POST /v1/notification-preferences/unsubscribe": public(400),
    "GET /v1/notifications": needs("notifications.read"),
    "POST /v1/notifications/read-all": needs("notifications.read"),
    "GET /v1/notifications/unread-count": needs("notifications.read"),
    "POST /v1/notifications/{notification_id}/read": needs("notifications.read"),
    "GET /v1/stream": signed_in(stream=True),
    "GET /v1/webhook-endpoints": needs("webhooks.manage"),
    "POST /v1/webhook-endpoints": needs("webhooks.manage"),
    "DELETE /v1/webhook-endpoints/{endpoint_id}": needs("webhooks.manage"),
    "GET /v1/webhook-endpoints/{endpoint_id}": needs("webhooks.manage"),
    "PATCH /v1/webhook-endpoints/{endpoint_id}": needs("webhooks.manage", body={}),
    "GET /v1/webhook-endpoints/{endpoint_id}/deliveries": needs("webhooks.manage"),
    "GET /v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}": needs("webhooks.manage"),
    "POST /v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry": needs(
        "webhooks.manage"
    ),
    "POST /v1/webhook-endpoints/{endpoint_id}/disable": needs("webhooks.manage"),
    "POST /v1/webhook-endpoints/{endpoint_id}/enable": needs("webhooks.manage"),
    "POST /v1/webhook-endpoints/{endpoint_id}/replay": needs(
        "webhooks.manage", body={"since": "{an_hour_ago}", "until": "{now}"}
    ),
    "POST /v1/webhook-endpoints/{endpoint_id}/rotate-secret": needs("webhooks.manage"),
    "POST /v1/webhook-endpoints/{endpoint_id}/test": needs("webhooks.manage"),
    # portal (the role outcome only)
    "GET /v1/portal/dashboard": portal(),
    "POST /v1/portal/deliverables/{deliverable_id}/approve": portal(),
    "POST /v1/portal/deliverables/{deliverable_id}/request-changes": portal(),
    "POST /v1/portal/feedback": portal(),
    "GET /v1/portal/files/{file_id}/download": portal(),
    "GET /v1/portal/invoices": portal(),
    "GET /v1/portal/invoices/{invoice_id}": portal(),
    "POST /v1/portal/invoices/{invoice_id}/pay": portal(),
    "GET /v1/portal/invoices/{invoice_id}/pdf": portal(),
    "GET /v1/portal/projects": portal(),
    "GET /v1/portal/projects/{project_id}": portal(),
    "POST /v1/portal/projects/{project_id}/uploads": portal(),
    "GET /v1/portal/tasks/{task_id}/comments": portal(),
    "POST /v1/portal/tasks/{task_id}/comments": portal(),
    "POST /v1/portal/uploads/{file_id}/complete": portal(),
}

METHODS = ("get", "post", "put", "patch", "delete")
PARAM = re.compile(r"\{([^}]+)\}")


async def served_routes(gateway: httpx.AsyncClient) -> set[str]:
    """`METHOD /path` of every operation in the gateway's merged OpenAPI, once it has every
    service's document (a service slow to answer is left out of one answer and named in
    `x-services-missing`; the gateway asks again on the next request)."""

    async def complete() -> dict[str, Any] | None:
        response = await gateway.get("/openapi.json")
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return None if document["info"].get("x-services-missing") else document

    document = await wait_for(complete, timeout=90, interval=1.0)
    assert isinstance(document, dict)
    return {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
        if method in METHODS
    }


def fill(value: Any, values: Mapping[str, str]) -> Any:
    """A body with the fixture table's values put in for `{name}`."""
    if isinstance(value, str):
        return value.format(**values)
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    return value


def expected(key: str, rule: Rule, caller: str) -> int | str:
    """What `caller` must get on the route `key`: a status, or ADMITTED."""
    if caller in rule.overrides:
        return rule.overrides[caller]
    if rule.public is not None:
        return rule.public
    if caller == "anonymous":
        return 401
    role = ROLE_OF[caller]
    permissions = DEFAULT_ROLE_PERMISSIONS[role]
    refused = (
        caller in rule.refused
        or (rule.admits is not None and caller not in rule.admits)
        or any(p is not None and p not in permissions for p in (rule.permission, rule.also))
    )
    if refused:
        return 403
    if caller == "other_owner" and names_a_row(key, rule):
        return 404
    return ADMITTED


def names_a_row(key: str, rule: Rule) -> bool:
    """Whether the route's path names one of A's rows (an id the fixture table made)."""
    named = PARAM.findall(key) + PARAM.findall(" ".join(rule.query.values()))
    names = [rule.ids.get(name, name) for name in named]
    return any(name not in ABSENT and name not in {"role", "key"} for name in names)


def admitted(key: str, rule: Rule, response: httpx.Response) -> bool:
    method, path = key.split(" ", 1)
    status = response.status_code
    if status >= 500 or status in (401, 403):
        return False
    if method != "GET" or path.startswith("/v1/portal/"):
        return True
    if any(rule.ids.get(name, name) in ABSENT for name in PARAM.findall(path)):
        return status == 404
    return status == rule.ok


def order(key: str) -> tuple[int, int, str]:
    """Reads, then writes, then deletes (deepest first), then what ends sessions."""
    method, path = key.split(" ", 1)
    rule = POLICY[key]
    if rule.fresh_session:
        return (3, 0, key)
    if method == "GET":
        return (0, 0, key)
    if method == "DELETE":
        return (2, -path.count("/"), key)
    return (1, 0, key)


@dataclass
class Outcome:
    checked: int = 0
    wrong: list[str] = field(default_factory=list)


async def check_route(gateway: httpx.AsyncClient, world: World, key: str, outcome: Outcome) -> None:
    rule = POLICY[key]
    method, template = key.split(" ", 1)
    values = {**world.ids, **{name: world.ids[other] for name, other in rule.ids.items()}}
    path = template.format(**values)
    query = {name: value.format(**values) for name, value in rule.query.items()}
    body = fill(rule.body, values) if rule.body is not None else ({} if method != "GET" else None)
    for name in sorted(CALLERS, key=lambda c: expected(key, rule, c) == ADMITTED):
        caller = world.callers[name]
        if rule.fresh_session and name != "anonymous":
            caller = await fresh_session(gateway, caller)
        response = await send(gateway, method, path, query, body, caller, stream=rule.stream)
        outcome.checked += 1
        want = expected(key, rule, name)
        if want == ADMITTED:
            good = admitted(key, rule, response)
            shown = "admitted (not 401/403/5xx" + (", GET: see table)" if method == "GET" else ")")
        else:
            good = response.status_code == want
            shown = str(want)
        leaked = (
            sorted(mark for mark in world.marks if mark in besides_the_path(response))
            if name == "other_owner" and not path.startswith("/v1/auth/")
            else []
        )
        if not good or leaked:
            also = f", shows A's {leaked}" if leaked else ""
            outcome.wrong.append(
                f"{key} as {name}: {response.status_code} (want {shown}){also}: "
                f"{response.text[:160]}"
            )


def besides_the_path(response: httpx.Response) -> str:
    """The answer without a problem's `instance` (the request's own path, echoed)."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    if isinstance(body, dict):
        body.pop("instance", None)
    return json.dumps(body)


async def send(
    gateway: httpx.AsyncClient,
    method: str,
    path: str,
    query: Mapping[str, str],
    body: Any,
    caller: Caller,
    *,
    stream: bool,
) -> httpx.Response:
    if not stream:
        return await gateway.request(method, path, params=query, json=body, headers=caller.headers)
    async with gateway.stream(method, path, params=query, headers=caller.headers) as response:
        # An open stream is left at its status line: only a refusal has a body to read.
        content = await response.aread() if response.status_code >= 400 else b""
        return httpx.Response(response.status_code, content=content, request=response.request)


class TestRouteMatrix:
    async def test_every_route_has_an_entry(
        self, platform: Platform, gateway: httpx.AsyncClient
    ) -> None:
        served = await served_routes(gateway)

        missing = sorted(served - set(POLICY))
        stale = sorted(set(POLICY) - served)
        assert missing == [], f"routes without a row in POLICY: {missing}"
        assert stale == [], f"rows in POLICY for routes nobody serves: {stale}"

    def test_public_rows_are_the_gateways_public_routes(self) -> None:
        """A route the gateway lets through without a token has a public row and the other
        way round (with the path's parameters filled in as the matrix fills them)."""
        sample = {name: "0" * 8 for name in {"agency_slug", "invoice_id", "token"}}
        differ = [
            key
            for key, rule in POLICY.items()
            if (rule.public is not None)
            != is_public(key.split(" ")[0], key.split(" ", 1)[1].format_map(_Filled(sample)))
        ]
        assert differ == []

    async def test_every_caller_gets_what_the_policy_says(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        started = time.monotonic()
        served = await served_routes(gateway)
        world = await make_world(gateway, agency, other_agency)
        outcome = Outcome()

        keys = sorted((key for key in POLICY if key in served), key=order)
        reads = [key for key in keys if order(key)[0] == 0]
        # Reads change nothing: a few at once.
        limit = asyncio.Semaphore(4)

        async def read(key: str) -> None:
            async with limit:
                await check_route(gateway, world, key, outcome)

        await asyncio.gather(*(read(key) for key in reads))
        for key in keys[len(reads) :]:
            await check_route(gateway, world, key, outcome)

        elapsed = time.monotonic() - started
        print(f"route matrix: {len(keys)} routes x {len(CALLERS)} callers = {outcome.checked}")
        print(f"route matrix: {elapsed:.1f} s")
        assert outcome.wrong == [], f"{len(outcome.wrong)} wrong:\n" + "\n".join(outcome.wrong)
        assert outcome.checked == len(keys) * len(CALLERS)


class _Filled(dict[str, str]):
    def __missing__(self, name: str) -> str:
        return "00000000-0000-4000-8000-000000000000"
