from fastapi import FastAPI

from agencyos.common.web import ServiceContext, create_app
from agencyos.identity.account.endpoints import router as account_router
from agencyos.identity.account.lockout import LoginLockout
from agencyos.identity.agency.endpoints import router as agency_router
from agencyos.identity.api_key.endpoints import router as api_key_router
from agencyos.identity.audit.endpoints import router as audit_router
from agencyos.identity.invitation.endpoints import router as invitation_router
from agencyos.identity.magic_link.endpoints import router as magic_link_router
from agencyos.identity.magic_link.limit import MagicLinkLimit
from agencyos.identity.member.endpoints import router as member_router
from agencyos.identity.mfa.endpoints import router as mfa_router
from agencyos.identity.mfa.lockout import TwoFactorLockout
from agencyos.identity.password_reset.endpoints import router as password_reset_router
from agencyos.identity.role.endpoints import router as role_router
from agencyos.identity.session.endpoints import router as session_router
from agencyos.identity.session_policy.endpoints import router as session_policy_router
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.sso.endpoints import router as sso_router
from agencyos.identity.tokens.endpoints import router as tokens_router
from agencyos.identity.verification.endpoints import router as verification_router


def build_app(ctx: ServiceContext) -> FastAPI:
    assert isinstance(ctx.settings, IdentitySettings)
    app = create_app(
        ctx,
        title="AgencyOS identity",
        description="Agencies, users, memberships and roles, tokens and signing keys.",
        routers=[
            account_router,
            agency_router,
            member_router,
            invitation_router,
            role_router,
            api_key_router,
            audit_router,
            password_reset_router,
            magic_link_router,
            session_router,
            session_policy_router,
            verification_router,
            mfa_router,
            sso_router,
            tokens_router,
        ],
    )
    # On the revocation store's connection pool (closed with the context).
    app.state.login_lockout = LoginLockout(ctx.revocations.client, ctx.settings)
    app.state.two_factor_lockout = TwoFactorLockout(ctx.revocations.client, ctx.settings)
    app.state.magic_link_limit = MagicLinkLimit(ctx.revocations.client, ctx.settings)
    return app
