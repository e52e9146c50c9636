from collections.abc import Sequence

import grpc

from agencyos.common.errors import NotFound, PermissionDenied
from agencyos.common.files import FileStorage, FileStorageSettings, file_storage
from agencyos.common.permissions import Role
from agencyos.common.rpc import Registrar, parse_uuid, rpc_principal
from agencyos.common.web import ServiceContext
from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc
from agencyos.work.deliverable.servicer import DeliverableRpc
from agencyos.work.file.servicer import FileRpc
from agencyos.work.project.servicer import ProjectRpc
from agencyos.work.task.servicer import TaskRpc
from agencyos.work.template.servicer import TemplateRpc


class WorkServicer(ProjectRpc, TaskRpc, DeliverableRpc, FileRpc, TemplateRpc):
    """The one WorkService servicer: each aggregate's gRPC methods are a mixin. Each call runs
    in the transaction the gRPC server opened for it (`rpc_session()`)."""

    def __init__(self, storage: FileStorage) -> None:
        self.storage = storage

    async def GetClientProjectView(
        self, request: work_pb2.GetClientProjectViewRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ClientProjectView:
        """The portal's project page in one call, each part by its own mixin's rules, in the
        call's one transaction."""
        principal = rpc_principal()
        if principal.role != Role.CLIENT:
            raise PermissionDenied("the project view is for client users (staff use GetProjects)")
        project_id = str(parse_uuid(request.project_id, "project_id"))
        found = await self.GetProjects(
            work_pb2.GetProjectsRequest(project_ids=[project_id], include_milestones=True), context
        )
        if not found.projects:
            raise NotFound("no such project")
        tasks = await self.ListClientVisibleTasks(
            work_pb2.ListClientVisibleTasksRequest(project_id=project_id), context
        )
        deliverables = await self.ListClientDeliverables(
            work_pb2.ListClientDeliverablesRequest(project_id=project_id), context
        )
        files = await self.ListClientFiles(
            work_pb2.ListClientFilesRequest(project_id=project_id), context
        )
        return work_pb2.ClientProjectView(
            project=found.projects[0],
            tasks=tasks.tasks,
            deliverables=deliverables.deliverables,
            files=files.files,
        )


def registrar(ctx: ServiceContext) -> Registrar:
    def register(server: grpc.aio.Server) -> Sequence[str]:
        settings = ctx.settings
        assert isinstance(settings, FileStorageSettings)
        servicer = WorkServicer(file_storage(settings))
        work_pb2_grpc.add_WorkServiceServicer_to_server(servicer, server)
        return [work_pb2.DESCRIPTOR.services_by_name["WorkService"].full_name]

    return register
