"""An agency's billing settings as the API reads and changes them."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from agencyos.common.fields import Omittable
from agencyos.common.types import MultiLine, SingleLine

MIN_REMINDER_OFFSET = -60
MAX_REMINDER_OFFSET = 180
MAX_REMINDERS = 10

PaymentTermsDays = Annotated[int, Field(strict=True, ge=0, le=365)]
ReminderOffset = Annotated[int, Field(strict=True, ge=MIN_REMINDER_OFFSET, le=MAX_REMINDER_OFFSET)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), MultiLine]
TaxNumber = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50), SingleLine]
Footer = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), MultiLine]

_OFFSETS_DOC = (
    "Days relative to the due date at which a payment reminder goes out "
    "(`billing.invoice.reminder`): negative before it (-3 = three days before), positive "
    f"after it; distinct, each within [{MIN_REMINDER_OFFSET}, {MAX_REMINDER_OFFSET}], at most "
    f"{MAX_REMINDERS}; an empty list sends none"
)


class BillingSettings(BaseModel):
    """What billing uses for every invoice of the agency. An agency that never saved
    settings reads the defaults (`updated_at` is then null)."""

    model_config = ConfigDict(from_attributes=True)

    payment_terms_days: int = Field(
        description="Days from issue to due date for new invoices (0-365)"
    )
    reminder_offsets_days: list[int] = Field(description=_OFFSETS_DOC + "; sorted")
    sender_address: str | None = Field(description="Printed under the agency's name")
    tax_number: str | None = Field(description="The agency's VAT / tax number")
    invoice_footer: str | None = Field(description="Printed at the foot of every invoice")
    updated_at: datetime | None


class BillingSettingsUpdate(BaseModel):
    """The settings to change; fields left out stay as they are. The text fields may be set
    to null (or an empty string) to clear them."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "payment_terms_days": 14,
                    "reminder_offsets_days": [-3, 1, 7, 14],
                    "sender_address": "Northwind Studio GmbH\nTorstr. 1\n10119 Berlin",
                    "tax_number": "DE123456789",
                    "invoice_footer": "Thank you for your business.",
                }
            ]
        },
    )

    payment_terms_days: Omittable[PaymentTermsDays] = Field(
        default=None, description="Days from issue to due date for new invoices (0-365)"
    )
    reminder_offsets_days: Omittable[list[ReminderOffset]] = Field(
        default=None, max_length=MAX_REMINDERS, description=_OFFSETS_DOC
    )
    sender_address: Address | None = None
    tax_number: TaxNumber | None = None
    invoice_footer: Footer | None = None

    @field_validator("reminder_offsets_days")
    @classmethod
    def _distinct(cls, offsets: list[int] | None) -> list[int] | None:
        if offsets is not None and len(set(offsets)) != len(offsets):
            raise ValueError("each offset may appear only once")
        return offsets

    @field_validator("payment_terms_days", "reminder_offsets_days")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Reached only when a value was given: null would mean "no terms", which is not a
        # setting (0 is "due on receipt").
        if value is None:
            raise ValueError("may not be null")
        return value
