""" "SSO required": which of a person's agencies a password may sign them in to.

An agency that requires single sign-on refuses password sign-in to its members, except its
owners (break-glass: an owner can always get in to fix a broken provider configuration).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.db import TENANT_SETTING, set_local
from agencyos.common.errors import PermissionDenied
from agencyos.common.permissions import Role
from agencyos.identity.models import Agency, Membership, RefreshToken
from agencyos.identity.sso.repository import sso_repository


class SsoRequired(PermissionDenied):
    slug, title = "sso-required", "Single sign-on required"


def start_path(agency_slug: str) -> str:
    return f"/v1/auth/sso/{agency_slug}/start"


async def requires_sso(session: AsyncSession, agency: Agency, membership: Membership) -> bool:
    """Whether `membership` must sign in to `agency` through its provider. Leaves the
    transaction under `agency`'s tenant."""
    if membership.role == Role.OWNER.value:
        return False
    await set_local(session, {TENANT_SETTING: str(agency.id)})
    configuration = await sso_repository.configuration(session, agency.id)
    return configuration is not None and configuration.enabled and configuration.sso_required


async def choose_for_password(
    session: AsyncSession, candidates: Sequence[tuple[Membership, Agency]]
) -> tuple[Membership, Agency]:
    """The first of `candidates` (active memberships, in sign-in order) a password may sign
    in to; SsoRequired naming the first one's start route when none."""
    for membership, agency in candidates:
        if not await requires_sso(session, agency, membership):
            return membership, agency
    agency = candidates[0][1]
    path = start_path(agency.slug)
    raise SsoRequired(
        f"{agency.name} requires single sign-on: sign in at {path}",
        extra={"sso_start_url": path, "agency_slug": agency.slug},
    )


async def is_single_sign_on_session(session: AsyncSession, principal: Principal) -> bool:
    """Whether the caller's session was signed in through the agency's provider (its refresh
    tokens remember the `amr`). The session must run under the principal's tenant."""
    if principal.session_id is None:
        return False
    stmt = (
        select(RefreshToken.amr)
        .where(
            RefreshToken.tenant_id == principal.tenant_id,
            RefreshToken.family_id == uuid.UUID(principal.session_id),
        )
        .limit(1)
    )
    amr = (await session.execute(stmt)).scalar_one_or_none()
    return amr is not None and "sso" in amr


async def ensure_not_single_sign_on_session(session: AsyncSession, principal: Principal) -> None:
    """A session signed in through an agency's provider proves the person to that agency
    only (its owners chose the provider and whose emails it vouches for): it may not switch
    to the person's other agencies."""
    if await is_single_sign_on_session(session, principal):
        raise PermissionDenied(
            "this session was signed in through this agency's single sign-on and is good for "
            "this agency only; sign in to the other agency directly"
        )
