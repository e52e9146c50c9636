from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from agencyos.common.web import PublicSession
from agencyos.identity.password_reset.schemas import (
    PasswordResetAccepted,
    PasswordResetConfirm,
    PasswordResetRequest,
    PasswordResetTokenStatus,
    ResetToken,
)
from agencyos.identity.password_reset.service import password_reset_service
from agencyos.identity.revocations import IdentityRevoker
from agencyos.identity.settings import IdentitySettings

router = APIRouter(tags=["auth"])


@router.post(
    "/v1/auth/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PasswordResetAccepted,
    summary="Email a password reset link",
    description=(
        "Always 202 with the same body, whether or not the email has an account. For an "
        "account, a single-use token (valid 30 minutes by default) is sent by email; asking "
        "again makes earlier tokens stop working."
    ),
)
async def request_password_reset(
    body: PasswordResetRequest, session: PublicSession, request: Request
) -> PasswordResetAccepted:
    settings: IdentitySettings = request.app.state.ctx.settings
    await password_reset_service.request(session, settings, email=str(body.email))
    return PasswordResetAccepted()


@router.get(
    "/v1/auth/password-reset/confirm",
    response_model=PasswordResetTokenStatus,
    summary="Whether an emailed reset token can still be used (the emailed link)",
    description=(
        "Spends nothing: the password is set with the POST on this path. A token that is "
        "unknown, used, superseded or expired gets the same 400 the POST gives."
    ),
    responses={400: {"description": "The token is unknown, used, superseded or expired"}},
)
async def check_password_reset_token(
    token: Annotated[ResetToken, Query(description="The token from the email")],
    session: PublicSession,
) -> PasswordResetTokenStatus:
    expires_at = await password_reset_service.check(session, token=token)
    return PasswordResetTokenStatus(expires_at=expires_at)


@router.post(
    "/v1/auth/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Set a new password with an emailed token",
    description=(
        "Ends every session of the user in every agency: their refresh tokens and the access "
        "tokens already issued stop working at once."
    ),
    responses={400: {"description": "The token is unknown, used, superseded or expired"}},
)
async def confirm_password_reset(
    body: PasswordResetConfirm, session: PublicSession, request: Request, revoker: IdentityRevoker
) -> Response:
    settings: IdentitySettings = request.app.state.ctx.settings
    await password_reset_service.confirm(
        session, settings, token=body.token, new_password=body.new_password, revoker=revoker
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
