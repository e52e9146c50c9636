"""What billing does with other services' events. Each handler runs in the consumer runner's
transaction under the event's tenant, with the event id recorded in the inbox (a redelivered
event has no second effect)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.billing.invoice.repository import invoice_repository
from agencyos.common.consumer import Handler
from agencyos.common.events import CloudEvent, MilestoneCompleted


async def on_milestone_completed(session: AsyncSession, event: CloudEvent) -> None:
    """A completed milestone with an amount becomes billable for its client (keyed by the
    milestone id: completing it again after a reopen updates it while unbilled and never bills
    it twice). Completed again without an amount, an unbilled one is no longer billable."""
    milestone = event.payload(MilestoneCompleted)
    if not milestone.amount_cents or milestone.amount_cents <= 0:
        await invoice_repository.forget_unbilled_milestone(session, milestone.milestone_id)
        return
    await invoice_repository.record_milestone(
        session,
        tenant_id=event.tenantid,
        milestone_id=milestone.milestone_id,
        project_id=milestone.project_id,
        client_id=milestone.client_id,
        name=milestone.name,
        amount_cents=milestone.amount_cents,
        currency=milestone.currency,
        completed_at=milestone.completed_at,
    )


HANDLERS: dict[str, Handler] = {MilestoneCompleted.event_type: on_milestone_completed}
