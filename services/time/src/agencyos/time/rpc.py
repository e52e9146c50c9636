from collections.abc import Sequence

import grpc

from agencyos.common.rpc import Registrar
from agencyos.common.web import ServiceContext
from agencyos.protos.time.v1 import time_pb2, time_pb2_grpc
from agencyos.time.invoicing.servicer import InvoicingRpc


class TimeServicer(InvoicingRpc, time_pb2_grpc.TimeServiceServicer):
    """The one TimeService servicer: each aggregate's gRPC methods are a mixin."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx


def registrar(ctx: ServiceContext) -> Registrar:
    def register(server: grpc.aio.Server) -> Sequence[str]:
        time_pb2_grpc.add_TimeServiceServicer_to_server(TimeServicer(ctx), server)
        return [time_pb2.DESCRIPTOR.services_by_name["TimeService"].full_name]

    return register
