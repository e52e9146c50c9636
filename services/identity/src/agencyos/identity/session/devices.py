"""New device or network: a sign-in from a user agent + network (/24 IPv4, /48 IPv6) the user
has not signed in from before sends them a notice (`identity.sign_in.new_device`, emailed by
notification) and is recorded in the agency's audit log. A user's very first sign-in (their
signup, or the first after this feature arrived) only records the device: there is nothing
yet to tell it apart from."""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import AuditActor, record_audit
from agencyos.common.events import SignInFromNewDevice
from agencyos.common.outbox import publish
from agencyos.identity.models import Agency, SignInDevice, User

SERVICE = "identity"


def network_of(ip_address: str | None) -> str:
    """The network a sign-in came from: /24 for IPv4, /48 for IPv6 (an address changing
    within a home or office network is the same place); the raw text if it does not parse."""
    if not ip_address:
        return ""
    try:
        ip = ipaddress.ip_address(ip_address)
    except ValueError:
        return ip_address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def device_fingerprint(user_agent: str | None, ip_address: str | None) -> str:
    return hashlib.sha256(f"{user_agent or ''}\n{network_of(ip_address)}".encode()).hexdigest()


async def note_sign_in(
    session: AsyncSession,
    user: User,
    agency: Agency,
    *,
    user_agent: str | None,
    ip_address: str | None,
) -> bool:
    """Record where `user` signed in from; if it is new for them (and not their first), send
    the notice. The transaction must be under `agency`. Whether a notice was sent."""
    fingerprint = device_fingerprint(user_agent, ip_address)
    known_any = (
        await session.execute(
            select(SignInDevice.id).where(SignInDevice.user_id == user.id).limit(1)
        )
    ).first() is not None
    inserted = (
        await session.execute(
            insert(SignInDevice)
            .values(user_id=user.id, fingerprint=fingerprint)
            .on_conflict_do_nothing(index_elements=["user_id", "fingerprint"])
            .returning(SignInDevice.id)
        )
    ).first()
    if inserted is None:
        await session.execute(
            update(SignInDevice)
            .where(SignInDevice.user_id == user.id, SignInDevice.fingerprint == fingerprint)
            .values(last_seen_at=func.now())
        )
        return False
    if not known_any:
        return False
    now = datetime.now(UTC)
    await publish(
        session,
        SignInFromNewDevice(
            agency_id=agency.id,
            agency_name=agency.name,
            user_id=user.id,
            email=user.email,
            name=user.name,
            user_agent=user_agent,
            ip_address=ip_address,
            signed_in_at=now,
        ),
        source_service=SERVICE,
        subject=f"users/{user.id}",
    )
    await record_audit(
        session,
        action="auth.new_device_sign_in",
        entity_type="user",
        entity_id=user.id,
        actor=AuditActor("user", str(user.id), label=user.email),
        source_service=SERVICE,
        detail={"user_agent": user_agent, "ip_address": ip_address},
    )
    return True
