from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import RedirectResponse

from agencyos.common.web import PublicSession, TenantSession, service_context
from agencyos.identity.account.endpoints import grant_body
from agencyos.identity.account.schemas import LoginResponse
from agencyos.identity.models import SsoConfiguration as SsoConfigurationRow
from agencyos.identity.session.endpoints import client_info
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.sso.enforcement import start_path
from agencyos.identity.sso.permissions import SecurityManage
from agencyos.identity.sso.schemas import SsoConfiguration, SsoConfigurationPut
from agencyos.identity.sso.service import (
    SsoSignInFailed,
    SsoStateInvalid,
    redirect_uri,
    sso_service,
)
from agencyos.identity.sso.states import SignInStates

router = APIRouter(tags=["sso"])

_SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"


def _settings(request: Request) -> IdentitySettings:
    settings: IdentitySettings = request.app.state.ctx.settings
    return settings


def _states(request: Request) -> SignInStates:
    settings = _settings(request)
    return SignInStates(
        service_context(request).revocations.client,
        settings.revocation_namespace,
        settings.sso_state_ttl_seconds,
    )


async def _read(
    request: Request, session: TenantSession, configuration: SsoConfigurationRow
) -> SsoConfiguration:
    slug = await sso_service.agency_slug(session, configuration.tenant_id)
    return SsoConfiguration(
        issuer=configuration.issuer,
        client_id=configuration.client_id,
        client_secret_set=bool(configuration.client_secret_sealed),
        allowed_email_domains=list(configuration.allowed_email_domains),
        default_role=configuration.default_role,
        sso_required=configuration.sso_required,
        enabled=configuration.enabled,
        redirect_uri=redirect_uri(_settings(request)),
        start_url=_settings(request).public_base_url.rstrip("/") + start_path(slug),
        updated_at=configuration.updated_at,
    )


@router.get(
    "/v1/agency/sso",
    response_model=SsoConfiguration,
    summary="The agency's single sign-on (OpenID Connect) configuration",
    description="Needs `security.manage` (owners by default). The client secret is never shown.",
    responses={
        403: {"description": "The caller lacks `security.manage`"},
        404: {"description": "The agency has no single sign-on configuration"},
    },
)
async def get_sso(
    principal: SecurityManage, session: TenantSession, request: Request
) -> SsoConfiguration:
    return await _read(request, session, await sso_service.get(session, principal))


@router.put(
    "/v1/agency/sso",
    response_model=SsoConfiguration,
    summary="Configure the agency's OpenID Connect provider",
    description=(
        "Creates or replaces the configuration. The issuer's discovery document is fetched "
        "and checked first (its `issuer` must be the one given; it must name authorization, "
        "token and JWKS endpoints and support PKCE S256); the issuer and every URL it names "
        "must be https on a public address (unless identity's settings allow http or private "
        "networks, as under `make dev`). The client secret is stored encrypted and never "
        "shown; omit it to keep the stored one. Register `redirect_uri` (the answer's) at the "
        "provider. Recorded in the audit log as `sso.configuration_updated`."
    ),
    responses={
        403: {"description": "The caller lacks `security.manage`"},
        422: {"description": "Invalid input, or the issuer refused or not a usable provider"},
    },
)
async def put_sso(
    body: SsoConfigurationPut,
    principal: SecurityManage,
    session: TenantSession,
    request: Request,
) -> SsoConfiguration:
    configuration = await sso_service.put(session, _settings(request), principal, body)
    return await _read(request, session, configuration)


@router.delete(
    "/v1/agency/sso",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove the agency's single sign-on configuration",
    description="Password sign-in works again for everyone. Recorded as "
    "`sso.configuration_deleted`.",
    responses={
        403: {"description": "The caller lacks `security.manage`"},
        404: {"description": "The agency has no single sign-on configuration"},
    },
)
async def delete_sso(principal: SecurityManage, session: TenantSession) -> Response:
    await sso_service.delete(session, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/v1/auth/sso/{agency_slug}/start",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    summary="Start signing in to an agency through its OpenID provider",
    description=(
        "Public. Redirects (302) to the agency's provider: authorization code flow with PKCE "
        "(S256), a `state` and a `nonce` kept server-side for `AGENCYOS_IDENTITY_SSO_STATE_"
        "TTL_SECONDS` (10 minutes) and good for one callback."
    ),
    responses={
        302: {"description": "To the provider's authorization endpoint"},
        404: {"description": "No agency with single sign-on enabled has this slug"},
    },
)
async def start_sso(
    agency_slug: Annotated[str, Path(pattern=_SLUG, max_length=63)],
    session: PublicSession,
    request: Request,
) -> RedirectResponse:
    url = await sso_service.start(
        session, _settings(request), _states(request), agency_slug=agency_slug
    )
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})


@router.get(
    "/v1/auth/sso/callback",
    response_model=LoginResponse,
    summary="Finish single sign-on: the provider redirects here",
    description=(
        "Public: the redirect URI registered at the provider. Takes the `state` back (once), "
        "exchanges `code` at the agency's token endpoint with the PKCE verifier, and validates "
        "the ID token: signature through the provider's JWKS, issuer, audience, nonce, expiry, "
        "a verified email at one of the agency's domains. Answers the same body as "
        '`POST /v1/auth/login`; the access token carries `amr: ["sso"]`. A verified email '
        "new to the agency joins it with the configured default role. Every outcome is "
        "recorded in the audit log (`auth.sso_login`, `auth.sso_login_failed` with the "
        "reason, `member.joined_by_sso`)."
    ),
    responses={
        400: {"description": "Unknown, expired or already used `state`"},
        401: {"description": "The sign-in did not check out; `reason` says why"},
    },
)
async def sso_callback(
    request: Request,
    state: Annotated[str, Query(max_length=128)] = "",
    code: Annotated[str | None, Query(max_length=2048)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
) -> LoginResponse:
    settings = _settings(request)
    pending = await _states(request).take(state)
    if pending is None:
        raise SsoStateInvalid("this sign-in is unknown, expired or already finished; start again")
    db = service_context(request).database()
    client = client_info(request)
    try:
        async with db.transaction(pending.agency_id) as session:
            grant = await sso_service.complete(
                session, settings, pending, code=code, provider_error=error, client=client
            )
            body = LoginResponse.model_validate(grant_body(grant))
    except SsoSignInFailed as failure:
        async with db.transaction(pending.agency_id) as session:
            await sso_service.record_failure(session, pending, failure, client)
        raise
    return body
