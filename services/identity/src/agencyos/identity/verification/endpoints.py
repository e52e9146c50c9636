from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status

from agencyos.common.web import CurrentPrincipal, PublicSession, TenantSession
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.verification.schemas import (
    EmailVerified,
    VerificationSent,
    VerificationToken,
    VerifyEmailRequest,
)
from agencyos.identity.verification.service import verification_service

router = APIRouter(tags=["auth"])

_VERIFY = (
    "Marks the address of the link's user verified; the link works once, for 48 hours by "
    "default, and asking for a new one ends the earlier ones. Access tokens issued before "
    "still say `email_verified: false`: refresh (POST /v1/auth/refresh) or sign in again to "
    "get one that says `true`. Until then inviting people, creating API keys and sending "
    "invoices answer 403 `email-not-verified`."
)
_REFUSED: dict[int | str, dict[str, Any]] = {
    400: {"description": "The token is unknown, used, superseded or expired"}
}


@router.post(
    "/v1/auth/verify-email",
    response_model=EmailVerified,
    summary="Verify an email address with the emailed token",
    description=_VERIFY,
    responses=_REFUSED,
)
async def verify_email(body: VerifyEmailRequest, session: PublicSession) -> EmailVerified:
    user = await verification_service.verify(session, token=body.token)
    return EmailVerified(email=user.email)


@router.get(
    "/v1/auth/verify-email",
    response_model=EmailVerified,
    summary="Verify an email address (the emailed link)",
    description=(
        "The link in the verification email, followed with a GET: does what the POST does. "
        + _VERIFY
    ),
    responses=_REFUSED,
)
async def verify_email_link(
    token: Annotated[VerificationToken, Query(description="The token from the email")],
    session: PublicSession,
) -> EmailVerified:
    user = await verification_service.verify(session, token=token)
    return EmailVerified(email=user.email)


@router.post(
    "/v1/auth/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=VerificationSent,
    summary="Email the caller a new verification link",
    description=(
        "Earlier links stop working. At most once a minute by default (429 with "
        "`Retry-After`); 409 when the address is already verified."
    ),
    responses={
        403: {"description": "The caller is an API key"},
        409: {"description": "The address is already verified"},
        429: {"description": "A link was sent a moment ago; see Retry-After"},
    },
)
async def resend_verification(
    principal: CurrentPrincipal, session: TenantSession, request: Request
) -> VerificationSent:
    settings: IdentitySettings = request.app.state.ctx.settings
    await verification_service.resend(session, settings, principal)
    return VerificationSent()
