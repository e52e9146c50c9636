"""gRPC template methods: CRM checks that a deal's project template is one of the caller's
agency's before it stores the id."""

from __future__ import annotations

import uuid

import grpc

from agencyos.common.errors import InvalidInput, NotFound, PermissionDenied
from agencyos.common.permissions import Role
from agencyos.common.rpc import (
    rpc_principal,
    rpc_session,
)
from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc
from agencyos.work.template.repository import template_repository


class TemplateRpc(work_pb2_grpc.WorkServiceServicer):
    """Mixed into the service's one WorkServicer."""

    async def GetProjectTemplate(
        self, request: work_pb2.GetProjectTemplateRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ProjectTemplate:
        """For the agency's staff: whoever reads projects, or writes deals (which name a
        template). Client users never see templates."""
        principal = rpc_principal()
        if principal.role == Role.CLIENT or not (
            principal.can("projects.read") or principal.can("deals.write")
        ):
            raise PermissionDenied("reading project templates needs 'projects.read'")
        try:
            template_id = uuid.UUID(request.template_id)
        except ValueError as exc:
            raise InvalidInput("template_id must be a UUID") from exc
        session = rpc_session()
        template = await template_repository.get(session, template_id)
        if template is None:
            raise NotFound("no such project template")
        return work_pb2.ProjectTemplate(
            id=str(template.id), name=template.name, is_default=template.is_default
        )
