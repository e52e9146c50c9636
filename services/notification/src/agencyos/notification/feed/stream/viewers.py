"""Who is reading: the caller as a feed `Viewer`, with the projects they are on from
notification's read model of work's projects."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.notification.feed.visibility import Viewer
from agencyos.notification.models import DirectoryProject


async def projects_of(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    """The projects `user_id` is a member of (the session's agency)."""
    rows = await session.scalars(
        select(DirectoryProject.id).where(DirectoryProject.member_ids.contains([user_id]))
    )
    return list(rows)


async def viewer_of(session: AsyncSession, principal: Principal) -> Viewer:
    viewer = Viewer.of(principal, ())
    if viewer.sees_all_projects or viewer.is_client:
        return viewer
    return viewer.with_projects(await projects_of(session, principal.user_id))
