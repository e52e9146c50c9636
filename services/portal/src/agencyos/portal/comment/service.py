"""The client-visible comments of a client-visible task, through work (which answers
NOT_FOUND for an internal task, another client's task, and never answers internal comments)."""

from __future__ import annotations

import uuid

from agencyos.common.peers.work import Comment, WorkClient
from agencyos.portal.permissions import ClientCaller


class PortalCommentService:
    async def comments(
        self, caller: ClientCaller, work: WorkClient, task_id: uuid.UUID
    ) -> list[Comment]:
        return await work.client_task_comments(caller.principal, task_id)

    async def add(
        self, caller: ClientCaller, work: WorkClient, task_id: uuid.UUID, body: str
    ) -> Comment:
        return await work.add_client_comment(caller.principal, task_id, body)


portal_comment_service = PortalCommentService()
