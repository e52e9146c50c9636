"""Notices about tasks: assigned to you, a mention, a comment on a task you are assigned to
or follow, a task done (to the project's managers), client feedback (to the project's
managers). Everyone told must be able to see the task's project; and an internal comment (the
default, and every comment event from before comments had a visibility) is never told to a
client user, whatever the kinds' roles say (they are the team's today)."""

from __future__ import annotations

import uuid

from agencyos.common.events import (
    CommentCreated,
    CommentMentioned,
    FeedbackReceived,
    TaskAssigned,
    TaskCompleted,
)
from agencyos.notification.directory.people import Person
from agencyos.notification.kinds import KINDS
from agencyos.notification.notices.builders import Builder
from agencyos.notification.notices.notice import Notice, quoted
from agencyos.notification.notices.telling import Telling
from agencyos.notification.recipients.rules import can_see_project, project_managers


def may_read_comment(person: Person, visibility: str) -> bool:
    """An internal comment is for the agency's team alone."""
    return visibility == "client" or not person.is_client


def task_link(task_id: uuid.UUID) -> str:
    return f"/v1/tasks/{task_id}"


def task_data(task_id: uuid.UUID, project_id: uuid.UUID) -> dict[str, str]:
    return {"task_id": str(task_id), "project_id": str(project_id)}


def comment_data(
    task_id: uuid.UUID, project_id: uuid.UUID, comment_id: uuid.UUID
) -> dict[str, str]:
    return {**task_data(task_id, project_id), "comment_id": str(comment_id)}


async def task_assigned(telling: Telling) -> None:
    payload = telling.event.payload(TaskAssigned)
    kind = KINDS["task.assigned"]
    project = await telling.project(payload.project_id)
    by = await telling.name_of(payload.assigned_by)
    title = quoted(payload.task_title)
    notice = Notice(
        kind=kind.name,
        title=f"{by} assigned you {title}" if by else f"You were assigned {title}",
        body=f"Due {payload.due_date.isoformat()}." if payload.due_date else "",
        link=task_link(payload.task_id),
        link_label="Open the task",
        subject=f"tasks/{payload.task_id}",
        data=task_data(payload.task_id, payload.project_id),
        actor_id=payload.assigned_by,
        template="task_assigned",
        context={
            "task_title": payload.task_title,
            "project_name": project.name if project else None,
            "due_date": payload.due_date,
            "assigned_by_name": by,
        },
    )
    assignees = await telling.named(payload.assignee_id)
    await telling.tell(notice, [p for p in assignees if can_see_project(p, project, kind)])


async def comment_mentioned(telling: Telling) -> None:
    payload = telling.event.payload(CommentMentioned)
    kind = KINDS["comment.mentioned"]
    project = await telling.project(payload.project_id)
    author = await telling.name_of(payload.author_id) or "Someone"
    notice = Notice(
        kind=kind.name,
        title=f"{author} mentioned you on {quoted(payload.task_title)}",
        body=payload.excerpt,
        link=task_link(payload.task_id),
        link_label="Open the comment",
        subject=f"tasks/{payload.task_id}",
        data={
            **task_data(payload.task_id, payload.project_id),
            "comment_id": str(payload.comment_id),
        },
        actor_id=payload.author_id,
        template="mention",
        context={
            "author_name": author,
            "task_title": payload.task_title,
            "project_name": project.name if project else None,
            "excerpt": payload.excerpt,
        },
    )
    mentioned = await telling.named(payload.mentioned_user_id)
    await telling.tell(
        notice,
        [
            p
            for p in mentioned
            if may_read_comment(p, payload.visibility) and can_see_project(p, project, kind)
        ],
    )


async def comment_created(telling: Telling) -> None:
    """To the task's assignees and followers, but not its author nor those it mentions (they
    hear of it by `comment.mentioned`)."""
    payload = telling.event.payload(CommentCreated)
    kind = KINDS["task.commented"]
    project = await telling.project(payload.project_id)
    mentioned = set(payload.mentioned_user_ids)
    around = [
        u
        for u in (*payload.assignee_ids, *payload.follower_ids)
        if u not in mentioned and u != payload.author_id
    ]
    if not around:
        return
    author = await telling.name_of(payload.author_id) or "Someone"
    notice = Notice(
        kind=kind.name,
        title=f"{author} commented on {quoted(payload.task_title)}",
        body=payload.excerpt,
        link=task_link(payload.task_id),
        link_label="Open the comment",
        subject=f"tasks/{payload.task_id}",
        data={
            **task_data(payload.task_id, payload.project_id),
            "comment_id": str(payload.comment_id),
        },
        actor_id=payload.author_id,
    )
    people = await telling.named(*around)
    await telling.tell(
        notice,
        [
            p
            for p in people
            if may_read_comment(p, payload.visibility) and can_see_project(p, project, kind)
        ],
    )


async def task_completed(telling: Telling) -> None:
    payload = telling.event.payload(TaskCompleted)
    kind = KINDS["task.completed"]
    project = await telling.project(payload.project_id)
    if project is None:
        return
    by = await telling.name_of(payload.actor_id)
    title = quoted(payload.title)
    notice = Notice(
        kind=kind.name,
        title=f"{by} completed {title}" if by else f"{title} was completed",
        body=f"In {project.name}.",
        link=task_link(payload.task_id),
        link_label="Open the task",
        subject=f"tasks/{payload.task_id}",
        data=task_data(payload.task_id, payload.project_id),
        actor_id=payload.actor_id,
    )
    await telling.tell(notice, project_managers(project, await telling.everyone(), kind))


async def feedback_received(telling: Telling) -> None:
    payload = telling.event.payload(FeedbackReceived)
    kind = KINDS["feedback.received"]
    project = await telling.project(payload.project_id)
    if project is None:
        return
    author = await telling.name_of(payload.author_id) or "A client"
    notice = Notice(
        kind=kind.name,
        title=f"{author} sent feedback on {project.name}",
        body=payload.excerpt,
        link=task_link(payload.task_id),
        link_label="Open the feedback",
        subject=f"tasks/{payload.task_id}",
        data=task_data(payload.task_id, payload.project_id),
        actor_id=payload.author_id,
    )
    await telling.tell(notice, project_managers(project, await telling.everyone(), kind))


BUILDERS: dict[str, Builder] = {
    TaskAssigned.event_type: task_assigned,
    CommentMentioned.event_type: comment_mentioned,
    CommentCreated.event_type: comment_created,
    TaskCompleted.event_type: task_completed,
    FeedbackReceived.event_type: feedback_received,
}
