"""What time does when billing's invoices change. Each handler runs in the consumer runner's
transaction under the event's tenant, with the event id in the inbox (a redelivery has no
second effect)."""

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.consumer import Handler
from agencyos.common.events import CloudEvent, InvoiceVoided
from agencyos.common.logs import get_logger
from agencyos.time.invoicing.service import invoicing_service

log = get_logger(__name__)


async def on_invoice_voided(session: AsyncSession, event: CloudEvent) -> None:
    """A voided invoice bills nothing: its entries are unbilled again, ready for the next
    invoice (the release is idempotent, so a void of an invoice already released is a no-op)."""
    payload = event.payload(InvoiceVoided)
    released = await invoicing_service.release(session, payload.invoice_id, actor_id=None)
    log.info("invoice voided; entries released", invoice_id=str(payload.invoice_id), count=released)


HANDLERS: dict[str, Handler] = {InvoiceVoided.event_type: on_invoice_voided}
