from sqlalchemy.orm import DeclarativeBase

from agencyos.common.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


from agencyos.billing.models.invoice import (  # noqa: E402
    Invoice,
    InvoiceLine,
    InvoiceNumberCounter,
    InvoiceReminder,
)
from agencyos.billing.models.milestone import BillableMilestone  # noqa: E402
from agencyos.billing.models.payment import Payment  # noqa: E402
from agencyos.billing.models.settings import BillingSettings  # noqa: E402
from agencyos.billing.models.stripe import StripeCustomer, StripeEvent, StripeReference  # noqa: E402

__all__ = [
    "Base",
    "BillableMilestone",
    "BillingSettings",
    "Invoice",
    "InvoiceLine",
    "InvoiceNumberCounter",
    "InvoiceReminder",
    "Payment",
    "StripeCustomer",
    "StripeEvent",
    "StripeReference",
]
