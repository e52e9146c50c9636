from typing import Any

from fastapi import APIRouter, Request, Response

from agencyos.common.errors import Unauthenticated
from agencyos.common.logs import get_logger
from agencyos.common.web import (
    CurrentPrincipal,
    CurrentPrincipalEvenRestricted,
    TenantSession,
    TenantSessionEvenRestricted,
    service_context,
)
from agencyos.identity.account.endpoints import grant_body
from agencyos.identity.account.schemas import LoginResponse
from agencyos.identity.mfa.lockout import CodeLockout
from agencyos.identity.mfa.permissions import SecurityManage
from agencyos.identity.mfa.schemas import (
    BackupCodes,
    CodeOrBackupCode,
    CodeRequest,
    Confirmation,
    Enrollment,
    TwoFactorPolicy,
    TwoFactorStatus,
    VerifyRequest,
)
from agencyos.identity.mfa.service import VerifyRefusal, two_factor_service
from agencyos.identity.revocations import IdentityRevoker
from agencyos.identity.session.endpoints import client_info
from agencyos.identity.settings import IdentitySettings

log = get_logger(__name__)

router = APIRouter(tags=["two-factor"])

NO_STORE = {"Cache-Control": "no-store"}
_TOKEN_REFUSED = (
    "the mfa_token is not valid (unknown, expired, already used, from another client, or "
    "refused after too many wrong codes); sign in again"
)
_LOCKED: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many wrong codes for this account; see Retry-After"}
}
_RESTRICTED_OK = (
    " A token restricted to two-factor enrollment (its agency requires it) may call this."
)


def _settings(request: Request) -> IdentitySettings:
    settings: IdentitySettings = request.app.state.ctx.settings
    return settings


@router.get(
    "/v1/auth/2fa",
    response_model=TwoFactorStatus,
    summary="Whether the caller's account has two-factor sign-in on",
    responses={403: {"description": "The caller is an API key"}},
)
async def two_factor_status(principal: CurrentPrincipal, session: TenantSession) -> TwoFactorStatus:
    status = await two_factor_service.status(session, principal)
    return TwoFactorStatus.model_validate(status, from_attributes=True)


@router.post(
    "/v1/auth/2fa/enroll",
    response_model=Enrollment,
    summary="Start enrolling an authenticator app (TOTP)",
    description=(
        "Answers a new secret, its `otpauth://` URI and a QR code of it; two-factor is not on "
        "until `POST /v1/auth/2fa/confirm` with a code from the app. Enrolling again replaces "
        "a pending secret. The secret is kept encrypted at rest." + _RESTRICTED_OK
    ),
    responses={
        403: {"description": "The caller is an API key"},
        409: {"description": "Two-factor sign-in is already on (disable it first)"},
    },
)
async def enroll(
    principal: CurrentPrincipalEvenRestricted,
    session: TenantSessionEvenRestricted,
    request: Request,
    response: Response,
) -> Enrollment:
    enrollment = await two_factor_service.enroll(session, _settings(request), principal)
    response.headers.update(NO_STORE)
    return Enrollment.model_validate(enrollment, from_attributes=True)


@router.post(
    "/v1/auth/2fa/confirm",
    response_model=Confirmation,
    summary="Turn two-factor sign-in on with a code from the app",
    description=(
        "Answers 10 single-use backup codes (shown this once) and a new token pair, signed "
        'in with both factors (`amr` ["pwd", "otp"]); the calling session ends, so a '
        "token restricted to enrollment stops working." + _RESTRICTED_OK
    ),
    responses={
        409: {"description": "Nothing enrolled, or two-factor is already on"},
        422: {"description": "The code is not correct (`errors[0].type` = `wrong_code`)"},
        **_LOCKED,
    },
)
async def confirm(
    body: CodeRequest,
    principal: CurrentPrincipalEvenRestricted,
    session: TenantSessionEvenRestricted,
    request: Request,
    response: Response,
    lockout: CodeLockout,
    revoker: IdentityRevoker,
) -> Confirmation:
    confirmed = await two_factor_service.confirm(
        session,
        _settings(request),
        principal,
        code=body.code,
        lockout=lockout,
        revoker=revoker,
        client=client_info(request),
    )
    response.headers.update(NO_STORE)
    return Confirmation.model_validate(
        {**grant_body(confirmed.grant), "backup_codes": confirmed.backup_codes}
    )


@router.post(
    "/v1/auth/2fa/disable",
    status_code=204,
    summary="Turn two-factor sign-in off",
    description=(
        "Needs the app's current `code` or an unused `backup_code`. The backup codes are "
        "deleted. Where an agency requires two-factor of the caller's role, their next "
        "tokens there are restricted to enrolling again."
    ),
    responses={
        409: {"description": "Two-factor sign-in is not on"},
        422: {"description": "No code, or a wrong one (`errors[0].type` = `wrong_code`)"},
        **_LOCKED,
    },
)
async def disable(
    body: CodeOrBackupCode,
    principal: CurrentPrincipal,
    session: TenantSession,
    request: Request,
    lockout: CodeLockout,
) -> Response:
    await two_factor_service.disable(
        session,
        principal,
        code=body.code,
        backup_code=body.backup_code,
        lockout=lockout,
        settings=_settings(request),
    )
    return Response(status_code=204)


@router.post(
    "/v1/auth/2fa/backup-codes",
    response_model=BackupCodes,
    summary="Replace the backup codes",
    description=(
        "Needs the app's current `code` or an unused `backup_code`. Answers 10 new codes "
        "(shown this once); the old ones stop working."
    ),
    responses={
        409: {"description": "Two-factor sign-in is not on"},
        422: {"description": "No code, or a wrong one (`errors[0].type` = `wrong_code`)"},
        **_LOCKED,
    },
)
async def regenerate_backup_codes(
    body: CodeOrBackupCode,
    principal: CurrentPrincipal,
    session: TenantSession,
    request: Request,
    response: Response,
    lockout: CodeLockout,
) -> BackupCodes:
    codes = await two_factor_service.regenerate_backup_codes(
        session,
        principal,
        code=body.code,
        backup_code=body.backup_code,
        lockout=lockout,
        settings=_settings(request),
    )
    response.headers.update(NO_STORE)
    return BackupCodes(backup_codes=codes)


@router.post(
    "/v1/auth/2fa/verify",
    response_model=LoginResponse,
    tags=["auth"],
    summary="The second step of a sign-in: the mfa_token and a code give the tokens",
    description=(
        "Takes the `mfa_token` that `POST /v1/auth/login` answered and either the app's "
        "current `code` (each code works once) or an unused `backup_code`. Needs no access "
        "token; the mfa_token works once, from the client that signed in, for a few minutes, "
        "and dies after 5 wrong codes. Wrong codes also count against the account across "
        "mfa_tokens (429 with Retry-After past the limit)."
    ),
    responses={
        401: {"description": "A wrong code, or an mfa_token that is no good (sign in again)"},
        **_LOCKED,
    },
)
async def verify(
    body: VerifyRequest, request: Request, response: Response, lockout: CodeLockout
) -> LoginResponse:
    # Its own transaction, committed before a refusal is raised: the wrong-code count sticks.
    async with service_context(request).database().transaction(None) as session:
        outcome = await two_factor_service.verify(
            session,
            _settings(request),
            mfa_token=body.mfa_token,
            code=body.code,
            backup_code=body.backup_code,
            lockout=lockout,
            client=client_info(request),
        )
    if outcome is VerifyRefusal.WRONG_CODE:
        raise Unauthenticated(
            "the code is not correct (or was already used)",
            extra={"reason": "wrong_code"},
        )
    if isinstance(outcome, VerifyRefusal):
        log.info("two-factor verify refused", reason=outcome.value)
        raise Unauthenticated(_TOKEN_REFUSED, extra={"reason": "mfa_token_invalid"})
    response.headers.update(NO_STORE)
    return LoginResponse.model_validate(grant_body(outcome))


@router.get(
    "/v1/agency/security/two-factor",
    response_model=TwoFactorPolicy,
    tags=["agency"],
    summary="Who in the agency must sign in with two factors",
    responses={403: {"description": "The caller lacks `security.manage`"}},
)
async def get_policy(principal: SecurityManage, session: TenantSession) -> TwoFactorPolicy:
    policy = await two_factor_service.policy(session, principal)
    return TwoFactorPolicy(required_for=policy.required_for)


@router.put(
    "/v1/agency/security/two-factor",
    response_model=TwoFactorPolicy,
    tags=["agency"],
    summary="Require two-factor sign-in of everyone, some roles, or nobody",
    description=(
        "A member it names who has no two-factor gets, at their next sign-in or refresh, an "
        'access token good only for enrolling (claim `restricted: "2fa_enrollment"`): every '
        "route but `POST /v1/auth/2fa/enroll`, `POST /v1/auth/2fa/confirm`, `GET /v1/me` and "
        "`POST /v1/auth/logout` answers 403 `two-factor-enrollment-required`. Its refresh "
        "token is checked again at each refresh, so the restriction lifts once they enroll. "
        "Recorded in the audit log (`agency.two_factor_policy_changed`)."
    ),
    responses={403: {"description": "The caller lacks `security.manage`"}},
)
async def put_policy(
    body: TwoFactorPolicy, principal: SecurityManage, session: TenantSession
) -> TwoFactorPolicy:
    required_for = body.required_for
    policy = await two_factor_service.set_policy(
        session,
        principal,
        [r.value for r in required_for] if isinstance(required_for, list) else required_for,
    )
    return TwoFactorPolicy(required_for=policy.required_for)
