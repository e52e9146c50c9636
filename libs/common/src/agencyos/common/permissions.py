"""Named permissions and each role's default set (ARCHITECTURE.md §4).

A token may carry `perms` (the agency's tuned set for that member); without it the role's
default set applies. Services check names, never role strings.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"
    MEMBER = "member"
    CLIENT = "client"


ALL_PERMISSIONS: frozenset[str] = frozenset(
    {
        "agency.read",
        "agency.write",
        "members.read",
        "members.write",
        "members.invite",
        "roles.write",
        "api_keys.write",
        "clients.read",
        "clients.write",
        "clients.export",
        "deals.read",
        "deals.write",
        "projects.read",
        "projects.write",
        "projects.read_all",
        "tasks.write",
        "time.write",
        "timesheets.approve",
        "rates.write",
        "invoices.read",
        "invoices.write",
        "reports.financial.read",
        "notifications.read",
        "email_deliveries.read",
        "webhooks.manage",
        "automations.manage",
        "portal.read",
        "security.manage",
        "audit.read",
    }
)

_MEMBER = {
    "agency.read",
    "members.read",
    "clients.read",
    "deals.read",
    "projects.read",
    "tasks.write",
    "time.write",
    "notifications.read",
}
# Exporting the whole client list (contacts, revenue) at once is its own permission: members
# read clients one screen at a time but do not carry the book off.
_MANAGER = _MEMBER | {
    "members.invite",
    "clients.write",
    "clients.export",
    "deals.write",
    "projects.write",
    "projects.read_all",
    "timesheets.approve",
    "rates.write",
    "invoices.read",
    "invoices.write",
    "reports.financial.read",
    "automations.manage",
}
_ADMIN = _MANAGER | {
    "agency.write",
    "members.write",
    "api_keys.write",
    "webhooks.manage",
    "email_deliveries.read",
    "audit.read",
}

# Only owners hold `roles.write` (tuning roles and per-member overrides) and `security.manage`
# (two-factor enforcement, single sign-on, session policy) unless they grant them.
DEFAULT_ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.OWNER: frozenset(ALL_PERMISSIONS),
    Role.ADMIN: frozenset(_ADMIN),
    Role.MANAGER: frozenset(_MANAGER),
    Role.MEMBER: frozenset(_MEMBER),
    Role.CLIENT: frozenset({"portal.read", "notifications.read"}),
}
