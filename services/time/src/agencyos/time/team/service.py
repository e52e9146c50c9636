"""The roster with capacity: who is on the team (from identity's events) and how many hours a
week each person is available. Time is what logged hours are measured against."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.errors import NotFound, PermissionDenied
from agencyos.common.pagination import PageParams
from agencyos.time.models import TeamMember
from agencyos.time.peers import Peers
from agencyos.time.team.permissions import TEAM_READ_PERMISSION, sees_whole_team
from agencyos.time.team.repository import CLIENT_ROLE, CURRENT_STATUSES, team_member_repository

NO_SUCH_MEMBER = "no such team member in your agency"


class TeamService:
    async def list_team(
        self,
        session: AsyncSession,
        principal: Principal,
        pagination: PageParams,
        *,
        status: str | None,
    ) -> tuple[Sequence[TeamMember], int]:
        """The team with capacity: everyone for managers and above, else only the caller."""
        statuses = (status,) if status else CURRENT_STATUSES
        only = None if sees_whole_team(principal) else principal.user_id
        stmt = team_member_repository.team(statuses=statuses, user_id=only)
        return await team_member_repository.paginate(
            session, stmt, page=pagination.page, per_page=pagination.per_page
        )

    async def get(
        self, session: AsyncSession, principal: Principal, user_id: uuid.UUID
    ) -> TeamMember:
        if user_id != principal.user_id and not sees_whole_team(principal):
            raise PermissionDenied(
                f"seeing someone else's capacity needs the '{TEAM_READ_PERMISSION}' permission"
            )
        member = await team_member_repository.get(session, user_id)
        if member is None or member.role == CLIENT_ROLE:
            raise NotFound(NO_SUCH_MEMBER)
        return member

    async def set_capacity(
        self,
        session: AsyncSession,
        principal: Principal,
        peers: Peers,
        user_id: uuid.UUID,
        hours: Decimal,
    ) -> TeamMember:
        """Set the weekly capacity. A person identity knows but whose events time has not
        seen yet is added to the roster from identity's answer first."""
        member = await self.ensure_member(session, principal, peers, user_id)
        member.weekly_capacity_hours = hours
        await session.flush()
        await session.refresh(member)
        return member

    async def ensure_member(
        self,
        session: AsyncSession,
        principal: Principal,
        peers: Peers,
        user_id: uuid.UUID,
    ) -> TeamMember:
        """The roster row of a team member of the caller's agency (never a client user); when
        the roster has not heard of them yet, identity is asked. NotFound otherwise."""
        member = await team_member_repository.get(session, user_id)
        if member is None:
            person = (await peers.identity.members(principal, [user_id])).get(user_id)
            if person is None:
                raise NotFound(NO_SUCH_MEMBER)
            await team_member_repository.upsert(
                session,
                principal.tenant_id,
                user_id,
                insert_only=True,
                name=person.name[:200],
                role=person.role,
                status=person.status if person.status in CURRENT_STATUSES else "active",
            )
            member = await team_member_repository.get(session, user_id)
        if member is None or member.role == CLIENT_ROLE:
            raise NotFound(NO_SUCH_MEMBER)
        return member


team_service = TeamService()
