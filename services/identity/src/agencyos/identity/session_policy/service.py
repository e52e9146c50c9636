"""Per-agency session policy: idle timeout and absolute lifetime of sessions (refresh-token
families), and the IP allowlist.

Where each rule bites: the refresh (session/service.py) refuses a family idle or older than
the policy allows; every token identity issues (tokens/issuer.py) refuses a caller outside
the allowlist and carries the list (`ipal`), which the gateway enforces on every request of
the agency's tokens and API keys. A changed allowlist stamps a tenant-wide revocation
not-before, so tokens issued under the old list stop at once and their refresh carries the
new one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.clientip import in_networks
from agencyos.common.errors import field_error
from agencyos.identity.revocations import Revoker
from agencyos.identity.session_policy.repository import session_policy_repository
from agencyos.identity.session_policy.schemas import SessionPolicyBody

SERVICE = "identity"


@dataclass(frozen=True)
class PolicyView:
    idle_timeout_minutes: int | None
    absolute_lifetime_hours: int | None
    ip_allowlist: list[str]

    def as_dict(self) -> dict[str, object]:
        return {
            "idle_timeout_minutes": self.idle_timeout_minutes,
            "absolute_lifetime_hours": self.absolute_lifetime_hours,
            "ip_allowlist": list(self.ip_allowlist),
        }


NO_POLICY = PolicyView(None, None, [])


class SessionPolicyService:
    async def get(self, session: AsyncSession, principal: Principal) -> PolicyView:
        policy = await session_policy_repository.get(session, principal.tenant_id)
        if policy is None:
            return NO_POLICY
        return PolicyView(
            policy.idle_timeout_minutes, policy.absolute_lifetime_hours, list(policy.ip_allowlist)
        )

    async def replace(
        self,
        session: AsyncSession,
        principal: Principal,
        body: SessionPolicyBody,
        *,
        caller_ip: str | None,
        revoker: Revoker,
    ) -> PolicyView:
        """Set the whole policy. An allowlist that leaves out the caller's own address is
        refused (it would lock them out with the change)."""
        allowlist = sorted(set(body.ip_allowlist))
        if allowlist and (caller_ip is None or not in_networks(caller_ip, allowlist)):
            raise field_error(
                "ip_allowlist",
                f"your own address ({caller_ip or 'unknown'}) is not in the list: saving it "
                "would lock you out",
            )
        await session_policy_repository.hold_agency(session, principal.tenant_id, exclusive=True)
        policy = await session_policy_repository.for_update(session, principal.tenant_id)
        before = PolicyView(
            policy.idle_timeout_minutes, policy.absolute_lifetime_hours, list(policy.ip_allowlist)
        )
        after = PolicyView(body.idle_timeout_minutes, body.absolute_lifetime_hours, allowlist)
        if before == after:
            return after
        policy.idle_timeout_minutes = after.idle_timeout_minutes
        policy.absolute_lifetime_hours = after.absolute_lifetime_hours
        policy.ip_allowlist = list(after.ip_allowlist)
        await session.flush()
        await record_audit(
            session,
            action="agency.session_policy_changed",
            entity_type="agency",
            entity_id=principal.tenant_id,
            actor=principal,
            source_service=SERVICE,
            before=before.as_dict(),
            after=after.as_dict(),
        )
        if before.ip_allowlist != after.ip_allowlist:
            # Every token of the agency carries the old list: refuse them all; a refresh (or a
            # new resolve of an API key) gets one with the new list.
            await revoker.tenant(principal.tenant_id)
        return after


session_policy_service = SessionPolicyService()
