"""What CRM asks work about project templates, over gRPC with the caller's own token."""

from __future__ import annotations

import uuid

from agencyos.common.auth import Principal
from agencyos.common.errors import NotFound
from agencyos.common.rpc import call, channel
from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc


class ProjectTemplates:
    def __init__(self, work_target: str, timeout: float) -> None:
        self.work_target = work_target
        self.timeout = timeout

    async def exists(self, principal: Principal, template_id: uuid.UUID) -> bool:
        """Whether the caller's agency has this template (another agency's is no template)."""
        stub = work_pb2_grpc.WorkServiceStub(channel(self.work_target))
        try:
            await call(
                stub.GetProjectTemplate,
                work_pb2.GetProjectTemplateRequest(template_id=str(template_id)),
                principal=principal,
                timeout=self.timeout,
            )
        except NotFound:
            return False
        return True
