"""Task followers: the members who hear about a task's comments (`work.comment.created`
names them in `follower_ids`).

Who follows. A member follows a task they create by hand (the API, or feedback they pass on),
and every comment's author follows the task they commented on — again, even after
unfollowing it: commenting is joining the conversation. Anyone who can see the task may
follow or unfollow it themselves; both are idempotent. Tasks a template lays out start with
no followers (their creator made a project, not each task).

Who may. The same rule as reading the task: the project must be visible to the caller, else
404 (an existing task is never revealed); client users, who have no `projects.read`, get 403
as for every other task route. Client users and API keys never follow
(`permissions.follows_tasks`): an API key asking to is refused with 403.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.errors import NotFound, PermissionDenied
from agencyos.common.pagination import PageParams
from agencyos.work.models import TaskFollower
from agencyos.work.task.permissions import follows_tasks
from agencyos.work.task.repository import follower_repository, task_repository
from agencyos.work.task.service import task_service


class FollowerService:
    async def list_followers(
        self,
        session: AsyncSession,
        principal: Principal,
        task_id: uuid.UUID,
        params: PageParams,
    ) -> tuple[list[TaskFollower], int]:
        """Longest-standing first."""
        task, _ = await task_service.visible_task(session, principal, task_id)
        rows, total = await follower_repository.paginate(
            session,
            follower_repository.of_task(task.id),
            page=params.page,
            per_page=params.per_page,
        )
        return list(rows), total

    async def follow(
        self, session: AsyncSession, principal: Principal, task_id: uuid.UUID
    ) -> TaskFollower:
        """The caller follows the task (a second follow keeps the first `followed_at`)."""
        found, _ = await task_service.visible_task(session, principal, task_id)
        if not follows_tasks(principal):
            raise PermissionDenied("API keys and client users do not follow tasks")
        await task_service.lock_project(session, found.project_id)
        # Held until commit: the task cannot be deleted under the new row.
        task = await task_repository.share_lock(session, task_id)
        if task is None:
            raise NotFound("no such task")
        return await follower_repository.follow(session, task, principal.user_id)

    async def unfollow(
        self, session: AsyncSession, principal: Principal, task_id: uuid.UUID
    ) -> None:
        """The caller stops following the task (nothing happens if they did not follow it)."""
        task, _ = await task_service.visible_task(session, principal, task_id)
        await follower_repository.unfollow(session, task.id, principal.user_id)


follower_service = FollowerService()
