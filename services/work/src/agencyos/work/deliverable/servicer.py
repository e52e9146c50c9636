"""gRPC deliverable methods for the client portal: the deliverables a client sees, and the
client's decisions on them. A client user (role `client`) reaches only its own client's
projects; an agency person with `projects.write` may record a decision for the client; any
other caller gets NOT_FOUND, exactly as for a deliverable that does not exist."""

from __future__ import annotations

import grpc

from agencyos.common.errors import InvalidInput, PreconditionFailed
from agencyos.common.rpc import (
    parse_uuid,
    rfc3339,
    rpc_principal,
    rpc_session,
)
from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc
from agencyos.work.deliverable.schemas import COMMENT_MAX
from agencyos.work.deliverable.service import (
    CLIENT_VISIBLE,
    DeliverableStateConflict,
    deliverable_service,
)
from agencyos.work.models import Deliverable


def _comment(raw: str) -> str | None:
    comment = raw.strip()
    if len(comment) > COMMENT_MAX:
        raise InvalidInput(f"comment must be at most {COMMENT_MAX} characters")
    if "\x00" in comment:
        raise InvalidInput("comment must not contain NUL characters")
    return comment or None


def deliverable_message(deliverable: Deliverable) -> work_pb2.Deliverable:
    return work_pb2.Deliverable(
        id=str(deliverable.id),
        project_id=str(deliverable.project_id),
        title=deliverable.title,
        description=deliverable.description or "",
        link_url=deliverable.link_url or "",
        file_ref=deliverable.file_ref or "",
        status=deliverable.status,
        submitted_at=rfc3339(deliverable.submitted_at),
        decided_at=rfc3339(deliverable.decided_at),
    )


class DeliverableRpc(work_pb2_grpc.WorkServiceServicer):
    """Mixed into the service's one WorkServicer."""

    async def ListClientDeliverables(
        self, request: work_pb2.ListClientDeliverablesRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ListDeliverablesResponse:
        """The project's deliverables but drafts, oldest first; of one `status` when given.
        Without a project, a client user's deliverables across its client's projects."""
        principal = rpc_principal()
        status = request.status or None
        if status is not None and status not in CLIENT_VISIBLE:
            raise InvalidInput(f"status must be one of {', '.join(CLIENT_VISIBLE)}")
        session = rpc_session()
        if request.project_id:
            project_id = parse_uuid(request.project_id, "project_id")
            deliverables = await deliverable_service.client_deliverables(
                session, principal, project_id, status=status
            )
        else:
            deliverables = await deliverable_service.clients_deliverables(
                session, principal, status=status
            )
        return work_pb2.ListDeliverablesResponse(
            deliverables=[deliverable_message(d) for d in deliverables]
        )

    async def ApproveDeliverable(
        self, request: work_pb2.DeliverableDecisionRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.Deliverable:
        """A submitted deliverable becomes approved (FAILED_PRECONDITION from any other
        status); publishes `work.deliverable.approved`."""
        principal = rpc_principal()
        deliverable_id = parse_uuid(request.deliverable_id, "deliverable_id")
        comment = _comment(request.comment)
        try:
            session = rpc_session()
            view = await deliverable_service.approve(session, principal, deliverable_id, comment)
            return deliverable_message(view.deliverable)
        except DeliverableStateConflict as exc:
            raise PreconditionFailed(exc.detail) from exc

    async def RequestDeliverableChanges(
        self, request: work_pb2.DeliverableDecisionRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.Deliverable:
        """A submitted deliverable goes back to the agency with the client's `comment`
        (required); publishes `work.deliverable.changes_requested`."""
        principal = rpc_principal()
        deliverable_id = parse_uuid(request.deliverable_id, "deliverable_id")
        comment = _comment(request.comment)
        if comment is None:
            raise InvalidInput("comment is required: say what should change")
        try:
            session = rpc_session()
            view = await deliverable_service.request_changes(
                session, principal, deliverable_id, comment
            )
            return deliverable_message(view.deliverable)
        except DeliverableStateConflict as exc:
            raise PreconditionFailed(exc.detail) from exc
