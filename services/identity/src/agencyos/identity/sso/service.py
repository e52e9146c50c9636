"""Single sign-on with OpenID Connect: each agency's provider configuration, and the
authorization code flow (PKCE S256, state, nonce) that signs its people in.

`start` sends the browser to the provider with a fresh state, nonce and PKCE verifier kept
server-side (agencyos.identity.sso.states); `complete` takes the state back once, exchanges
the code at the agency's token endpoint, validates the ID token against the provider's JWKS
(issuer, audience, signature, nonce, expiry), and signs the person in: an allowed, verified
email that is new to the agency joins it with the configured default role.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import AuditActor, record_audit
from agencyos.common.auth import Principal
from agencyos.common.db import TENANT_SETTING, USER_SETTING, set_local, utcnow
from agencyos.common.errors import BadRequest, Conflict, NotFound, Unauthenticated, field_error
from agencyos.common.events import MemberAdded
from agencyos.common.outbox import publish
from agencyos.common.sealing import Sealer, Unsealable
from agencyos.identity.account.repository import account_repository
from agencyos.identity.account.service import SessionGrant
from agencyos.identity.models import Agency, Membership, SsoConfiguration, User
from agencyos.identity.role.service import role_service
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.sso.provider import (
    ProviderClient,
    ProviderError,
    email_domain,
    identity_of,
    normalise_issuer,
    verify_id_token,
)
from agencyos.identity.sso.repository import sso_repository
from agencyos.identity.sso.schemas import SsoConfigurationPut
from agencyos.identity.sso.states import PendingSignIn, SignInStates
from agencyos.identity.tokens.issuer import ClientInfo, issue_tokens

SERVICE = "identity"
CALLBACK_PATH = "/v1/auth/sso/callback"
SCOPE = "openid email profile"
AMR = ("sso",)
_SEALER_PURPOSE = "identity sso client secrets v1"


class SsoNotConfigured(NotFound):
    slug, title = "sso-not-configured", "Single sign-on is not configured"


class SsoStateInvalid(BadRequest):
    slug, title = "sso-state-invalid", "Unknown or used sign-in state"


class SsoSignInFailed(Unauthenticated):
    slug, title = "sso-sign-in-failed", "Single sign-on failed"

    def __init__(self, reason: str, detail: str, *, email: str | None = None) -> None:
        super().__init__(detail, extra={"reason": reason})
        self.reason = reason
        self.email = email  # who tried, once the ID token said (for the audit record)


def sealer(settings: IdentitySettings) -> Sealer:
    return Sealer(settings.key_encryption_key, purpose=_SEALER_PURPOSE)


def secret_context(tenant_id: uuid.UUID) -> str:
    return f"sso:{tenant_id}"


def redirect_uri(settings: IdentitySettings) -> str:
    return settings.public_base_url.rstrip("/") + CALLBACK_PATH


def _audited(configuration: SsoConfiguration) -> dict[str, Any]:
    """The fields an audit record shows (never the secret)."""
    return {
        "issuer": configuration.issuer,
        "client_id": configuration.client_id,
        "allowed_email_domains": sorted(configuration.allowed_email_domains),
        "default_role": configuration.default_role,
        "sso_required": configuration.sso_required,
        "enabled": configuration.enabled,
    }


class SsoService:
    # --- configuration ---------------------------------------------------------------------

    async def get(self, session: AsyncSession, principal: Principal) -> SsoConfiguration:
        configuration = await sso_repository.configuration(session, principal.tenant_id)
        if configuration is None:
            raise SsoNotConfigured("this agency has no single sign-on configuration")
        return configuration

    async def agency_slug(self, session: AsyncSession, tenant_id: uuid.UUID) -> str:
        agency = await account_repository.agency(session, tenant_id)
        assert agency is not None  # the caller's own agency
        return agency.slug

    async def put(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        principal: Principal,
        body: SsoConfigurationPut,
    ) -> SsoConfiguration:
        """Create or replace the configuration, once the issuer's discovery document has been
        fetched (over the outbound-URL rule) and checked."""
        tenant_id = principal.tenant_id
        existing = await sso_repository.configuration(session, tenant_id, for_update=True)
        if body.client_secret is None and existing is None:
            raise field_error("client_secret", "a client secret is required the first time")
        try:
            discovery = await ProviderClient(settings).discover(body.issuer)
        except ProviderError as error:
            raise field_error("issuer", str(error)) from None
        before = _audited(existing) if existing is not None else None
        configuration = existing or SsoConfiguration(tenant_id=tenant_id)
        if body.client_secret is not None:
            configuration.client_secret_sealed = sealer(settings).seal(
                body.client_secret.encode(), context=secret_context(tenant_id)
            )
        configuration.issuer = discovery.issuer
        configuration.client_id = body.client_id
        configuration.allowed_email_domains = list(body.allowed_email_domains)
        configuration.default_role = body.default_role
        configuration.sso_required = body.sso_required
        configuration.enabled = body.enabled
        configuration.authorization_endpoint = discovery.authorization_endpoint
        configuration.token_endpoint = discovery.token_endpoint
        configuration.jwks_uri = discovery.jwks_uri
        configuration.token_endpoint_auth_method = discovery.token_endpoint_auth_method
        configuration.updated_by = principal.user_id
        configuration.updated_at = utcnow()
        if existing is None:
            session.add(configuration)
        await session.flush()
        await record_audit(
            session,
            action="sso.configuration_updated",
            entity_type="sso_configuration",
            entity_id=tenant_id,
            actor=principal,
            source_service=SERVICE,
            before=before,
            after=_audited(configuration),
            detail={"client_secret_changed": body.client_secret is not None},
        )
        return configuration

    async def delete(self, session: AsyncSession, principal: Principal) -> None:
        existing = await sso_repository.configuration(session, principal.tenant_id, for_update=True)
        if existing is None:
            raise SsoNotConfigured("this agency has no single sign-on configuration")
        before = _audited(existing)
        await sso_repository.delete(session, principal.tenant_id)
        await record_audit(
            session,
            action="sso.configuration_deleted",
            entity_type="sso_configuration",
            entity_id=principal.tenant_id,
            actor=principal,
            source_service=SERVICE,
            before=before,
        )

    # --- sign-in ----------------------------------------------------------------------------

    async def start(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        states: SignInStates,
        *,
        agency_slug: str,
    ) -> str:
        """The provider's authorization URL for a new sign-in to the agency at `agency_slug`
        (the session has no tenant yet)."""
        agency = await sso_repository.agency_by_slug(session, agency_slug)
        configuration = None
        if agency is not None:
            await set_local(session, {TENANT_SETTING: str(agency.id)})
            configuration = await sso_repository.configuration(session, agency.id)
        if agency is None or configuration is None or not configuration.enabled:
            raise SsoNotConfigured("no agency with single sign-on answers to this address")
        nonce = secrets.token_urlsafe(32)
        code_verifier = secrets.token_urlsafe(64)
        state = await states.begin(
            PendingSignIn(
                agency_id=agency.id,
                nonce=nonce,
                code_verifier=code_verifier,
                issuer=configuration.issuer,
            )
        )
        url: str = add_params_to_uri(
            configuration.authorization_endpoint,
            [
                ("response_type", "code"),
                ("client_id", configuration.client_id),
                ("redirect_uri", redirect_uri(settings)),
                ("scope", SCOPE),
                ("state", state),
                ("nonce", nonce),
                ("code_challenge", create_s256_code_challenge(code_verifier)),
                ("code_challenge_method", "S256"),
            ],
        )
        return url

    async def complete(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        pending: PendingSignIn,
        *,
        code: str | None,
        provider_error: str | None,
        client: ClientInfo | None = None,
    ) -> SessionGrant:
        """Sign in with the code the provider sent back for `pending` (its state already
        taken). The session runs under `pending.agency_id`. Raises SsoSignInFailed (with a
        reason) for anything that does not check out."""
        configuration = await sso_repository.configuration(session, pending.agency_id)
        if configuration is None or not configuration.enabled:
            raise SsoSignInFailed("sso_disabled", "single sign-on is not enabled for this agency")
        if normalise_issuer(configuration.issuer) != pending.issuer:
            raise SsoSignInFailed(
                "configuration_changed", "the agency's provider changed during the sign-in"
            )
        if provider_error is not None:
            raise SsoSignInFailed(
                "provider_refused", f"the provider refused the sign-in ({provider_error[:100]})"
            )
        if not code:
            raise SsoSignInFailed("no_code", "the provider sent no authorization code")
        try:
            client_secret = sealer(settings).open(
                configuration.client_secret_sealed, context=secret_context(pending.agency_id)
            )
        except Unsealable:
            raise SsoSignInFailed(
                "secret_unreadable", "the agency's client secret cannot be read"
            ) from None
        provider = ProviderClient(settings)
        try:
            answer = await provider.exchange_code(
                configuration.token_endpoint,
                code=code,
                redirect_uri=redirect_uri(settings),
                code_verifier=pending.code_verifier,
                client_id=configuration.client_id,
                client_secret=client_secret.decode(),
                auth_method=configuration.token_endpoint_auth_method,
            )
            jwks = await provider.get_json(configuration.jwks_uri, "JWKS")
            claims = verify_id_token(
                answer["id_token"],
                jwks,
                issuer=pending.issuer,
                client_id=configuration.client_id,
                nonce=pending.nonce,
                access_token=answer.get("access_token")
                if isinstance(answer.get("access_token"), str)
                else None,
                leeway=settings.sso_clock_leeway_seconds,
            )
            person = identity_of(claims)
        except ProviderError as error:
            raise SsoSignInFailed(error.reason, str(error)) from None
        if email_domain(person.email) not in configuration.allowed_email_domains:
            raise SsoSignInFailed(
                "domain_not_allowed",
                f"{email_domain(person.email)} is not one of the agency's sign-in domains",
                email=person.email,
            )
        agency = await account_repository.agency(session, pending.agency_id)
        assert agency is not None  # the configuration's row references it
        user, membership, joined = await self._member(
            session, configuration, agency, person.email, person.name
        )
        if user.email_verified_at is None:
            # The agency's provider vouched for the address (its ID token says it is verified).
            user.email_verified_at = utcnow()
        await set_local(session, {USER_SETTING: str(user.id)})
        actor = AuditActor("user", str(user.id), label=user.email)
        if joined:
            await record_audit(
                session,
                action="member.joined_by_sso",
                entity_type="member",
                entity_id=user.id,
                actor=actor,
                source_service=SERVICE,
                after={"role": membership.role, "email": user.email},
                detail={"issuer": pending.issuer},
            )
        await record_audit(
            session,
            action="auth.sso_login",
            entity_type="user",
            entity_id=user.id,
            actor=actor,
            source_service=SERVICE,
            detail={
                "issuer": pending.issuer,
                "subject": person.subject,
                "ip_address": client.ip_address if client else None,
            },
        )
        tokens = await issue_tokens(session, settings, membership, client=client, amr=AMR)
        return SessionGrant(agency, user, membership, tokens)

    async def _member(
        self,
        session: AsyncSession,
        configuration: SsoConfiguration,
        agency: Agency,
        email: str,
        name: str | None,
    ) -> tuple[User, Membership, bool]:
        """The person's active membership, made on first sign-in (and their account, with no
        password, when the email is new); whether they joined now."""
        user = await account_repository.user_by_email(session, email)
        if user is None:
            user = User(id=uuid.uuid4(), email=email, name=name or email.split("@")[0])
            user.password_hash = None
            try:
                async with session.begin_nested():
                    session.add(user)
                    await session.flush()
            except IntegrityError as exc:  # the same email signed up a moment ago
                raise Conflict("an account with this email was just created; try again") from exc
        else:
            found = await account_repository.membership(session, agency.id, user.id)
            if found is not None:
                if found[0].status != "active":
                    raise SsoSignInFailed(
                        "membership_inactive",
                        "your membership in this agency is not active",
                        email=email,
                    )
                return user, found[0], False
        membership = Membership(
            tenant_id=agency.id,
            id=uuid.uuid4(),
            user_id=user.id,
            role=configuration.default_role,
        )
        session.add(membership)
        await session.flush()
        await role_service.lock_permissions(session, agency.id)
        await publish(
            session,
            MemberAdded(
                agency_id=agency.id,
                user_id=user.id,
                email=user.email,
                name=user.name,
                role=membership.role,
                client_id=None,
                permissions=sorted(await role_service.effective_permissions(session, membership)),
            ),
            source_service=SERVICE,
            subject=f"members/{user.id}",
        )
        return user, membership, True

    async def record_failure(
        self,
        session: AsyncSession,
        pending: PendingSignIn,
        error: SsoSignInFailed,
        client: ClientInfo | None,
    ) -> None:
        """`auth.sso_login_failed` in the agency's log (a transaction of its own: the sign-in's
        rolled back)."""
        await record_audit(
            session,
            action="auth.sso_login_failed",
            entity_type="sso_configuration",
            entity_id=pending.agency_id,
            actor=AuditActor("anonymous", label=error.email),
            source_service=SERVICE,
            detail={
                "reason": error.reason,
                "message": error.detail,
                "issuer": pending.issuer,
                "ip_address": client.ip_address if client else None,
            },
            tenant_id=pending.agency_id,
        )


sso_service = SsoService()
