"""Task comments: markdown with @mentions of project members; edited and deleted by their
author only. A mention is written `@[Name](user-uuid)` in the body or listed in `mentions`;
every mentioned member other than the author gets one `work.comment.mentioned` (an edit
notifies only the mentions it adds). Mentioning someone who is not a member of the project is
refused (422 naming `mentions`), so a notification never leaks a task to an outsider.

Every new comment (not an edit) publishes one `work.comment.created` in its transaction, with
the comment's mentions, the task's assignees and its followers. Its author follows the task
(`followers`): always, even after unfollowing it, since commenting is joining the
conversation; so `follower_ids` includes the author (unless an API key wrote it).

A comment's `visibility` is `internal` (the default: the agency's team only) or `client` (also
the users of the project's client, in the portal). Whoever may write the task chooses it; a
comment becomes `client` only on a task visible to the client (422 naming `visibility`
otherwise). A client user only ever writes `client` comments (through work's portal gRPC,
`add_client_comment`), mentions nobody, and follows nothing. The rule every route, event and
notice keeps: an internal comment never reaches a client user. The events carry the
visibility for that (`work.comment.created`, `work.comment.mentioned`)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.db import utcnow
from agencyos.common.errors import NotFound, PermissionDenied, field_error
from agencyos.common.events import CommentCreated, CommentMentioned
from agencyos.common.outbox import publish
from agencyos.common.pagination import PageParams
from agencyos.common.permissions import Role
from agencyos.work.models import Comment, Task
from agencyos.work.task import activity
from agencyos.work.task.permissions import follows_tasks
from agencyos.work.task.placement import SERVICE
from agencyos.work.task.repository import (
    comment_repository,
    follower_repository,
    task_repository,
)
from agencyos.work.task.schemas import CommentCreate, CommentUpdate
from agencyos.work.task.service import task_service, unique

MENTION = re.compile(
    r"@\[[^\]\n]{0,200}\]\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12})\)"
)
EXCERPT_LENGTH = 280


def mentioned_in(body: str) -> list[uuid.UUID]:
    """The user ids mentioned as `@[Name](user-uuid)` in a body, in order, once each."""
    return unique(uuid.UUID(match) for match in MENTION.findall(body))


def excerpt(body: str) -> str:
    text = MENTION.sub(lambda m: "@" + m.group(0)[2 : m.group(0).index("](")], body)
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_LENGTH else text[: EXCERPT_LENGTH - 1] + "…"


def _snapshot(comment: Comment) -> dict[str, Any]:
    return {"id": str(comment.id), "excerpt": excerpt(comment.body)}


INTERNAL: Literal["internal"] = "internal"
CLIENT: Literal["client"] = "client"


def _check_visibility(task: Task, visibility: str) -> None:
    if visibility == CLIENT and not task.visible_to_client:
        raise field_error(
            "visibility",
            "a comment can be visible to the client only on a task visible to the client",
        )


def _visibility(comment: Comment) -> Literal["internal", "client"]:
    return CLIENT if comment.visibility == CLIENT else INTERNAL


class CommentService:
    async def _task(self, session: AsyncSession, principal: Principal, task_id: uuid.UUID) -> Task:
        task, _ = await task_service.visible_task(session, principal, task_id)
        return task

    async def _check_mentions(
        self, session: AsyncSession, task: Task, user_ids: Sequence[uuid.UUID]
    ) -> None:
        members = await task_repository.project_members(session, task.project_id, user_ids)
        strangers = [str(u) for u in user_ids if u not in members]
        if strangers:
            raise field_error(
                "mentions",
                f"only members of the task's project can be mentioned; not members: "
                f"{', '.join(strangers)}",
            )

    async def _notify(
        self,
        session: AsyncSession,
        task: Task,
        comment: Comment,
        user_ids: Iterable[uuid.UUID],
    ) -> None:
        for user_id in user_ids:
            if user_id == comment.author_id:
                continue
            await publish(
                session,
                CommentMentioned(
                    comment_id=comment.id,
                    task_id=task.id,
                    project_id=task.project_id,
                    task_title=task.title,
                    mentioned_user_id=user_id,
                    author_id=comment.author_id,
                    excerpt=excerpt(comment.body),
                    visibility=_visibility(comment),
                ),
                source_service=SERVICE,
                subject=f"tasks/{task.id}/comments/{comment.id}",
            )

    async def list_comments(
        self,
        session: AsyncSession,
        principal: Principal,
        task_id: uuid.UUID,
        params: PageParams,
    ) -> tuple[list[Comment], int]:
        task = await self._task(session, principal, task_id)
        # A client user reaches no work route today (no `projects.read`); should one ever,
        # it reads the client-visible comments alone.
        client_only = principal.role == Role.CLIENT
        rows, total = await comment_repository.paginate(
            session,
            comment_repository.of_task(task.id, client_only=client_only),
            page=params.page,
            per_page=params.per_page,
        )
        return list(rows), total

    async def create(
        self,
        session: AsyncSession,
        principal: Principal,
        task_id: uuid.UUID,
        data: CommentCreate,
    ) -> Comment:
        principal.require("tasks.write")
        found = await self._task(session, principal, task_id)
        if principal.role == Role.CLIENT:
            # Only ever through the portal (add_client_comment), and only `client`.
            raise PermissionDenied("a client user comments through the portal")
        return await self._insert(
            session,
            principal,
            found,
            data.body,
            mentions=unique([*mentioned_in(data.body), *data.mentions]),
            visibility=data.visibility,
        )

    async def add_client_comment(
        self, session: AsyncSession, principal: Principal, task: Task, body: str
    ) -> Comment:
        """A `client` comment on `task`, which the caller (a client user of the project's
        client, checked by the caller of this) may see: no mentions (a client user does not
        know the team's ids; `@[..](..)` in the body stays text), and no following."""
        return await self._insert(session, principal, task, body, mentions=[], visibility=CLIENT)

    async def _insert(
        self,
        session: AsyncSession,
        principal: Principal,
        found: Task,
        body: str,
        *,
        mentions: list[uuid.UUID],
        visibility: str,
    ) -> Comment:
        await task_service.lock_project(session, found.project_id)
        # Held until commit: the task cannot be deleted under the new comment.
        task = await task_repository.share_lock(session, found.id)
        if task is None:
            raise NotFound("no such task")
        _check_visibility(task, visibility)
        await self._check_mentions(session, task, mentions)
        now = utcnow()
        comment = Comment(
            tenant_id=task.tenant_id,
            id=uuid.uuid4(),
            task_id=task.id,
            author_id=principal.user_id,
            body=body,
            mentions=mentions,
            visibility=visibility,
            created_at=now,
            updated_at=now,
        )
        session.add(comment)
        await session.flush()
        await activity.record(
            session,
            task,
            principal.user_id,
            "comment_added",
            [{"field": "comment", "old": None, "new": _snapshot(comment)}],
        )
        if follows_tasks(principal):
            await follower_repository.follow(session, task, principal.user_id)
        await publish(
            session,
            CommentCreated(
                comment_id=comment.id,
                task_id=task.id,
                project_id=task.project_id,
                task_title=task.title,
                author_id=comment.author_id,
                excerpt=excerpt(comment.body),
                mentioned_user_ids=mentions,
                assignee_ids=list(task.assignee_ids),
                follower_ids=await follower_repository.follower_ids(session, task.id),
                visibility=_visibility(comment),
            ),
            source_service=SERVICE,
            subject=f"tasks/{task.id}/comments/{comment.id}",
        )
        await self._notify(session, task, comment, mentions)
        return comment

    async def _own_comment(
        self, session: AsyncSession, principal: Principal, comment_id: uuid.UUID
    ) -> tuple[Comment, Task]:
        principal.require("tasks.write")
        found = await comment_repository.get(session, comment_id)
        if found is None:
            raise NotFound("no such comment")
        try:
            visible = await self._task(session, principal, found.task_id)
        except NotFound as exc:
            raise NotFound("no such comment") from exc
        if found.author_id != principal.user_id:
            raise PermissionDenied("only the author of a comment can edit or delete it")
        await task_service.lock_project(session, visible.project_id)
        task = await task_repository.share_lock(session, found.task_id)
        comment = await comment_repository.lock(session, comment_id)
        if task is None or comment is None:
            raise NotFound("no such comment")
        return comment, task

    async def update(
        self,
        session: AsyncSession,
        principal: Principal,
        comment_id: uuid.UUID,
        data: CommentUpdate,
    ) -> Comment:
        comment, task = await self._own_comment(session, principal, comment_id)
        old_mentions = list(comment.mentions)
        explicit = (
            data.mentions
            if data.mentions is not None
            else [m for m in old_mentions if m not in set(mentioned_in(comment.body))]
        )
        mentions = unique([*mentioned_in(data.body), *explicit])
        added = [m for m in mentions if m not in set(old_mentions)]
        await self._check_mentions(session, task, added)
        visibility = data.visibility or comment.visibility
        _check_visibility(task, visibility)
        if (
            data.body == comment.body
            and mentions == old_mentions
            and visibility == comment.visibility
        ):
            return comment
        before = _snapshot(comment)
        if visibility != comment.visibility:
            # Who showed a comment to the client (or hid it again): the audit log keeps it.
            await record_audit(
                session,
                action="comment.visibility_changed",
                entity_type="comment",
                entity_id=comment.id,
                actor=principal,
                source_service=SERVICE,
                before={"visibility": comment.visibility},
                after={"visibility": visibility},
                detail={"task_id": str(task.id), "project_id": str(task.project_id)},
            )
        comment.body = data.body
        comment.mentions = mentions
        comment.visibility = visibility
        comment.updated_at = utcnow()
        await session.flush()
        await activity.record(
            session,
            task,
            principal.user_id,
            "comment_edited",
            [{"field": "comment", "old": before, "new": _snapshot(comment)}],
        )
        await self._notify(session, task, comment, added)
        return comment

    async def delete(
        self, session: AsyncSession, principal: Principal, comment_id: uuid.UUID
    ) -> None:
        comment, task = await self._own_comment(session, principal, comment_id)
        await activity.record(
            session,
            task,
            principal.user_id,
            "comment_deleted",
            [{"field": "comment", "old": _snapshot(comment), "new": None}],
        )
        await session.delete(comment)
        await session.flush()


comment_service = CommentService()
