"""The first step of a sign-in with two-factor on: instead of tokens, an opaque `mfa_token`
good only for `POST /v1/auth/2fa/verify` (never a JWT, so no verifier takes it for an access
token). It is stored as its SHA-256, bound to the user, the agency the sign-in chose and the
client's User-Agent, lives `mfa_token_ttl_seconds`, works once, and dies after
`mfa_token_max_attempts` wrong codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.identity.mfa.codes import new_mfa_token, sha256_hex
from agencyos.identity.mfa.repository import two_factor_repository
from agencyos.identity.models import Agency, Membership, MfaChallenge, User
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.tokens.issuer import ClientInfo


@dataclass(frozen=True)
class ChallengeGrant:
    """A sign-in that needs its second factor: no tokens yet."""

    agency: Agency
    user: User
    mfa_token: str
    expires_in: int


def user_agent_hash(client: ClientInfo | None) -> str:
    return sha256_hex((client.user_agent if client else None) or "")


async def start_challenge(
    session: AsyncSession,
    settings: IdentitySettings,
    *,
    user: User,
    agency: Agency,
    membership: Membership,
    client: ClientInfo | None,
    first_factor: str = "pwd",
) -> ChallengeGrant:
    """`first_factor`: how the first step was passed (the session's `amr` keeps it)."""
    await two_factor_repository.forget_spent_challenges(session, user.id)
    token = new_mfa_token()
    ttl = settings.mfa_token_ttl_seconds
    session.add(
        MfaChallenge(
            user_id=user.id,
            tenant_id=membership.tenant_id,
            token_hash=sha256_hex(token),
            user_agent_hash=user_agent_hash(client),
            ip_address=client.ip_address if client else None,
            first_factor=first_factor,
            expires_at=datetime.now(UTC) + timedelta(seconds=ttl),
        )
    )
    await session.flush()
    return ChallengeGrant(agency=agency, user=user, mfa_token=token, expires_in=ttl)
