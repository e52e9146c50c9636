from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from agencyos.common.web import PublicSession, service_context
from agencyos.identity.account.endpoints import grant_body
from agencyos.identity.account.schemas import LoginResponse
from agencyos.identity.magic_link.limit import MagicLinkLimit
from agencyos.identity.magic_link.schemas import (
    MagicLinkAccepted,
    MagicLinkRequest,
    MagicLinkTokenStatus,
    MagicLinkTokenValue,
    MagicLinkVerify,
)
from agencyos.identity.magic_link.service import MagicLinkRefused, magic_link_service
from agencyos.identity.mfa.challenges import ChallengeGrant
from agencyos.identity.mfa.schemas import MfaRequired
from agencyos.identity.session.endpoints import client_info
from agencyos.identity.settings import IdentitySettings

router = APIRouter(tags=["auth"])


def _settings(request: Request) -> IdentitySettings:
    settings: IdentitySettings = request.app.state.ctx.settings
    return settings


@router.post(
    "/v1/auth/magic-link",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MagicLinkAccepted,
    summary="Email a sign-in link (magic link)",
    description=(
        "Always 202 with the same body: an unknown email or agency, a suspended member, a "
        "member whose agency requires single sign-on, and an address past its limit all look "
        "alike. An active member of the agency gets an email with a single-use link valid 15 "
        "minutes (`/v1/auth/magic-link/verify?token=`); asking again leaves earlier links "
        "working. Client users may always sign in this way; the agency's staff only when it "
        "does not require single sign-on (owners always). At most 5 links per email address "
        "per 15 minutes (then silently none), besides the gateway's per-address limit."
    ),
)
async def request_magic_link(
    body: MagicLinkRequest, session: PublicSession, request: Request
) -> MagicLinkAccepted:
    limit: MagicLinkLimit = request.app.state.magic_link_limit
    await magic_link_service.request(
        session,
        _settings(request),
        email=str(body.email),
        agency_slug=body.agency_slug.strip().lower(),
        limit=limit,
    )
    return MagicLinkAccepted()


@router.get(
    "/v1/auth/magic-link/verify",
    response_model=MagicLinkTokenStatus,
    summary="Whether an emailed sign-in link still works (the emailed link)",
    description=(
        "Spends nothing and signs nobody in, so a mail scanner that follows the link cannot "
        "use it up: the page the person lands on signs in with `POST` on this path. A link "
        "that is unknown, used or expired gets the same 400 the POST gives."
    ),
    responses={400: {"description": "The link is unknown, used or expired"}},
)
async def check_magic_link(
    token: Annotated[MagicLinkTokenValue, Query(description="The token from the email")],
    session: PublicSession,
) -> MagicLinkTokenStatus:
    expires_at = await magic_link_service.check(session, token=token)
    return MagicLinkTokenStatus(expires_at=expires_at)


@router.post(
    "/v1/auth/magic-link/verify",
    response_model=LoginResponse | MfaRequired,
    summary="Sign in with an emailed link",
    description=(
        "Spends the link (it works once) and answers like `POST /v1/auth/login`: the tokens, "
        'whose `amr` is `["email"]` (the person proved they read the mailbox), or, for an '
        'account with two-factor sign-in on, `{"mfa_required": true, "mfa_token", '
        '"expires_in"}` for `POST /v1/auth/2fa/verify`. The email address counts as verified '
        "from then on. Every refused link gets the same 400."
    ),
    responses={
        400: {"description": "The link is unknown, used or expired, or cannot sign in"},
        403: {"description": "The caller's address is outside the agency's IP allowlist"},
    },
)
async def verify_magic_link(body: MagicLinkVerify, request: Request) -> LoginResponse | MfaRequired:
    db = service_context(request).database()
    try:
        # Its own transaction (no tenant until the link names one), ended before a refusal
        # is recorded in a transaction of its own.
        async with db.transaction(None) as session:
            grant = await magic_link_service.verify(
                session, _settings(request), token=body.token, client=client_info(request)
            )
    except MagicLinkRefused as exc:
        if exc.owner is not None:
            async with db.transaction(None) as audit_session:
                await magic_link_service.record_refusal(
                    audit_session, owner=exc.owner, reason=exc.reason
                )
        raise
    if isinstance(grant, ChallengeGrant):
        return MfaRequired(mfa_token=grant.mfa_token, expires_in=grant.expires_in)
    return LoginResponse.model_validate(grant_body(grant))
