"""/v1/billing-settings: the agency's payment terms, reminder offsets and invoice sender
details."""

from fastapi import APIRouter

from agencyos.billing.billing_settings.permissions import BillingSettingsRead, BillingSettingsWrite
from agencyos.billing.billing_settings.schemas import BillingSettings, BillingSettingsUpdate
from agencyos.billing.billing_settings.service import billing_settings_service
from agencyos.common.web import TenantSession

router = APIRouter(prefix="/v1/billing-settings", tags=["billing settings"])


@router.get(
    "",
    response_model=BillingSettings,
    summary="The agency's billing settings",
    description=(
        "Payment terms, reminder offsets, sender address, tax number and invoice footer; the "
        "defaults (30 days, reminders 3 days before and 1 and 7 days after the due date) "
        "until the agency saves its own. Needs `invoices.read`."
    ),
    responses={403: {"description": "The caller lacks `invoices.read` (managers and above)"}},
)
async def get_billing_settings(
    principal: BillingSettingsRead, session: TenantSession
) -> BillingSettings:
    settings = await billing_settings_service.effective_settings(session)
    return BillingSettings.model_validate(settings)


@router.put(
    "",
    response_model=BillingSettings,
    summary="Change the agency's billing settings (owner and admin by default)",
    description=(
        "Only the fields sent change (the others keep their values). `payment_terms_days` "
        "applies to invoices created afterwards; `reminder_offsets_days` to reminders not "
        "yet sent (the scheduler reads them on every tick). Needs `agency.write`: these are "
        "the agency's legal and commercial details on every invoice."
    ),
    responses={
        403: {"description": "The caller lacks `agency.write` (owners and admins)"},
        422: {
            "description": "Invalid fields: terms outside 0-365, offsets repeated, outside "
            "[-60, 180] or more than 10, texts too long, unknown fields"
        },
    },
)
async def update_billing_settings(
    body: BillingSettingsUpdate, principal: BillingSettingsWrite, session: TenantSession
) -> BillingSettings:
    settings = await billing_settings_service.update(session, principal, body)
    return BillingSettings.model_validate(settings)
