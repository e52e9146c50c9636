from fastapi import APIRouter

from agencyos.common.web import TenantSession
from agencyos.identity.agency.permissions import AgencyRead, AgencyWrite
from agencyos.identity.agency.schemas import Agency, AgencyUpdate
from agencyos.identity.agency.service import agency_service

router = APIRouter(tags=["agency"])


@router.get("/v1/agency", response_model=Agency, summary="The caller's agency and its settings")
async def get_agency(principal: AgencyRead, session: TenantSession) -> Agency:
    return Agency.model_validate(await agency_service.get(session, principal))


@router.patch(
    "/v1/agency",
    response_model=Agency,
    summary="Change the agency's settings (owner and admin by default)",
    description=(
        "Only the fields sent change. Publishes `identity.agency.updated` when something did."
    ),
    responses={
        403: {"description": "The caller lacks `agency.write`"},
        409: {"description": "The slug is taken by another agency"},
    },
)
async def update_agency(
    body: AgencyUpdate, principal: AgencyWrite, session: TenantSession
) -> Agency:
    return Agency.model_validate(await agency_service.update(session, principal, body))
