from fastapi import APIRouter, Request, status

from agencyos.common.errors import TooManyRequests, Unauthenticated
from agencyos.common.web import (
    CurrentPrincipal,
    CurrentPrincipalEvenRestricted,
    PublicSession,
    TenantSession,
    TenantSessionEvenRestricted,
    service_context,
)
from agencyos.identity.account.lockout import Lockout
from agencyos.identity.account.schemas import (
    AgencyOut,
    AnyMeResponse,
    ApiKeyMeResponse,
    LoginRequest,
    LoginResponse,
    MembershipOut,
    MeResponse,
    SignupRequest,
    SignupResponse,
    SwitchRequest,
    UserOut,
)
from agencyos.identity.account.service import SessionGrant, account_service
from agencyos.identity.api_key.schemas import ApiKey
from agencyos.identity.mfa.challenges import ChallengeGrant
from agencyos.identity.mfa.schemas import MfaRequired
from agencyos.identity.session.endpoints import client_info
from agencyos.identity.settings import IdentitySettings

router = APIRouter(tags=["auth"])


def _settings(request: Request) -> IdentitySettings:
    settings: IdentitySettings = request.app.state.ctx.settings
    return settings


def grant_body(grant: SessionGrant) -> dict[str, object]:
    return {
        "agency": AgencyOut.model_validate(grant.agency, from_attributes=True),
        "user": UserOut.model_validate(grant.user, from_attributes=True),
        "access_token": grant.tokens.access_token,
        "refresh_token": grant.tokens.refresh_token,
        "expires_in": grant.tokens.expires_in,
    }


@router.post(
    "/v1/auth/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=SignupResponse,
    summary="Create an agency and its owner",
    responses={409: {"description": "An account with this email already exists"}},
)
async def signup(body: SignupRequest, session: PublicSession, request: Request) -> SignupResponse:
    grant = await account_service.signup(
        session,
        _settings(request),
        agency_name=body.agency_name,
        email=str(body.email),
        password=body.password,
        name=body.name,
        client=client_info(request),
    )
    return SignupResponse.model_validate(grant_body(grant))


@router.post(
    "/v1/auth/login",
    response_model=LoginResponse | MfaRequired,
    summary="Exchange email and password for tokens",
    description=(
        "After 5 failed attempts in a row for one email (known or not), further attempts "
        "are refused with 429 and `Retry-After` for a window that doubles with each further "
        "failure (1 s, 2 s, 4 s, ... up to 15 minutes by default), whatever the password. A "
        "successful sign-in starts the count again. Each sign-in, and each refused one "
        "(wrong password or locked out) for an email that names a member, is recorded in the "
        "audit log of the agencies concerned. An account with two-factor sign-in on gets "
        '`{"mfa_required": true, "mfa_token", "expires_in"}` instead of tokens: the tokens '
        "come from `POST /v1/auth/2fa/verify`."
    ),
    responses={
        401: {"description": "The email or password is not correct"},
        403: {"description": "The caller's address is outside the agency's IP allowlist"},
        429: {"description": "Too many failed attempts for this email; see Retry-After"},
    },
)
async def login(
    body: LoginRequest, request: Request, lockout: Lockout
) -> LoginResponse | MfaRequired:
    db = service_context(request).database()
    try:
        # The login's own transaction (no tenant until it finds the membership), ended
        # before a refusal is recorded: a request never holds two connections at once.
        async with db.transaction(None) as session:
            grant = await account_service.login(
                session,
                _settings(request),
                email=str(body.email),
                password=body.password,
                agency_slug=body.agency_slug,
                lockout=lockout,
                client=client_info(request),
            )
    except (Unauthenticated, TooManyRequests) as exc:
        # The login's transaction rolled back with the error: the refusal is recorded in a
        # transaction of its own, committed before the answer.
        reason = "locked_out" if isinstance(exc, TooManyRequests) else "invalid_credentials"
        async with db.transaction(None) as audit_session:
            await account_service.record_failed_login(
                audit_session, email=str(body.email), reason=reason
            )
        raise
    if isinstance(grant, ChallengeGrant):
        return MfaRequired(mfa_token=grant.mfa_token, expires_in=grant.expires_in)
    return LoginResponse.model_validate(grant_body(grant))


@router.post(
    "/v1/auth/switch",
    response_model=LoginResponse,
    summary="Tokens for another agency the caller belongs to",
    description=(
        "Starts a new session in that agency, with the caller's role there. The current "
        "session and its tokens stay as they are."
    ),
    responses={
        403: {
            "description": "Not an active member of that agency (or no such agency), or the "
            "caller's address is outside its IP allowlist"
        }
    },
)
async def switch_agency(
    body: SwitchRequest, principal: CurrentPrincipal, session: TenantSession, request: Request
) -> LoginResponse:
    grant = await account_service.switch_agency(
        session,
        _settings(request),
        principal,
        agency_id=body.agency_id,
        client=client_info(request),
    )
    return LoginResponse.model_validate(grant_body(grant))


@router.get(
    "/v1/me",
    response_model=AnyMeResponse,
    summary="The caller, their agency and role",
    description=(
        "`kind` says what the caller is: `user` (a person: their account and memberships) or "
        "`api_key` (the key: its id, name, role, expiry and permissions). A token "
        "restricted to two-factor enrollment may call this."
    ),
)
async def me(
    principal: CurrentPrincipalEvenRestricted, session: TenantSessionEvenRestricted
) -> MeResponse | ApiKeyMeResponse:
    if principal.api_key_id is not None:
        api_key, key_agency = await account_service.me_as_key(session, principal)
        return ApiKeyMeResponse(
            api_key=ApiKey.model_validate(api_key),
            agency=AgencyOut.model_validate(key_agency, from_attributes=True),
            role=principal.role.value,
            permissions=sorted(principal.permissions),
        )
    user, agency, memberships = await account_service.me(session, principal)
    return MeResponse(
        user=UserOut.model_validate(user, from_attributes=True),
        agency=AgencyOut.model_validate(agency, from_attributes=True),
        role=principal.role.value,
        permissions=sorted(principal.permissions),
        memberships=[
            MembershipOut(
                agency=AgencyOut.model_validate(a, from_attributes=True),
                role=m.role,
                status=m.status,
            )
            for m, a in memberships
        ],
        restricted=principal.restricted,
    )
