"""The one list of events the CRM handles."""

from agencyos.common.consumer import Subscription
from agencyos.common.events import AgencyCreated, InvoicePaid, InvoiceSent, ProjectCreated
from agencyos.crm.deal.handlers import on_project_created
from agencyos.crm.pipeline.handlers import on_agency_created
from agencyos.crm.timeline.handlers import on_invoice_paid, on_invoice_sent

SUBSCRIPTION = Subscription(
    handlers={
        InvoiceSent.event_type: on_invoice_sent,
        InvoicePaid.event_type: on_invoice_paid,
        AgencyCreated.event_type: on_agency_created,
        ProjectCreated.event_type: on_project_created,
    }
)
