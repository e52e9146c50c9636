from collections.abc import Sequence

import grpc

from agencyos.common.files import FileStorage, FileStorageSettings, file_storage
from agencyos.common.rpc import Registrar
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


def registrar(ctx: ServiceContext) -> Registrar:
    def register(server: grpc.aio.Server) -> Sequence[str]:
        settings = ctx.settings
        assert isinstance(settings, FileStorageSettings)
        servicer = WorkServicer(file_storage(settings))
        work_pb2_grpc.add_WorkServiceServicer_to_server(servicer, server)
        return [work_pb2.DESCRIPTOR.services_by_name["WorkService"].full_name]

    return register
