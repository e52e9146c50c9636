"""Ready-made rules an agency switches on in one call (`POST /v1/automations/recipes/{key}`),
once each: the rule made is an ordinary rule (`recipe` names where it came from), edited,
disabled or deleted like any other.

- `invoice_overdue`: email the client's primary contact (the address the invoice was sent
  to, which the event carries) and tell the agency's owners in the app. The client's owner in
  the CRM is not known to notification (no read model of clients), so "the account owner" is
  the agency's owners.
- `task_done`: tell the project's managers (its members holding `projects.write`, else its
  creator) that a task is done (`work.task.completed`, which work publishes when a task
  reaches a done column).
- `deliverable_approved`: tell the project's members that the client approved a deliverable.
- `deal_won`: tell the agency's managers that a deal was won.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecipeDefinition:
    key: str
    name: str
    description: str
    trigger: str
    actions: list[dict[str, Any]]
    conditions: list[dict[str, Any]] = field(default_factory=list)


def _recipes(*recipes: RecipeDefinition) -> Mapping[str, RecipeDefinition]:
    return {recipe.key: recipe for recipe in recipes}


RECIPES: Mapping[str, RecipeDefinition] = _recipes(
    RecipeDefinition(
        key="invoice_overdue",
        name="Chase overdue invoices",
        description=(
            "When an invoice becomes overdue, email the client's primary contact and tell "
            "the agency's owners."
        ),
        trigger="billing.invoice.overdue",
        actions=[
            {
                "kind": "email",
                "to": {"client_primary_contact": True},
                "subject": "Invoice {{ data.number }} is overdue",
                "body": (
                    "Hello{% if data.bill_to.contact_name %} {{ data.bill_to.contact_name }}"
                    "{% endif %},\n\nInvoice {{ data.number }} was due on {{ data.due_date }} "
                    "and {{ data.amount_due_cents | money(data.currency) }} is still to "
                    "be paid.{% if data.payment_url %}\n\nPay it here: {{ data.payment_url }}"
                    "{% endif %}\n\nThank you."
                ),
            },
            {
                "kind": "notify",
                "to": {"role": "owner"},
                "title": "Invoice {{ data.number }} is overdue",
                "body": "{{ data.amount_due_cents | money(data.currency) }} is still due.",
                "link": "/v1/invoices/{{ data.invoice_id }}",
            },
        ],
    ),
    RecipeDefinition(
        key="task_done",
        name="Tell the project manager when a task is done",
        description="When a task is done, tell its project's managers.",
        trigger="work.task.completed",
        actions=[
            {
                "kind": "notify",
                "to": {"project_managers": True},
                "title": "Task \u201c{{ data.title }}\u201d is done",
            }
        ],
    ),
    RecipeDefinition(
        key="deliverable_approved",
        name="Tell the team when a deliverable is approved",
        description="When the client approves a deliverable, tell the project's members.",
        trigger="work.deliverable.approved",
        actions=[
            {
                "kind": "notify",
                "to": {"project_members": True},
                "title": "The client approved \u201c{{ data.title }}\u201d",
                "body": "{{ data.comment or '' }}",
            }
        ],
    ),
    RecipeDefinition(
        key="deal_won",
        name="Tell the managers when a deal is won",
        description="When a deal is won, tell the agency's managers.",
        trigger="crm.deal.won",
        actions=[
            {
                "kind": "notify",
                "to": {"role": "manager"},
                "title": "Deal \u201c{{ data.title }}\u201d was won",
                "body": "{{ data.client_name }}: {{ data.value_cents | money(data.currency) }}",
                "link": "/v1/deals/{{ data.deal_id }}",
            }
        ],
    ),
)
