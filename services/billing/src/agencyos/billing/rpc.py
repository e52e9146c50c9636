from collections.abc import Sequence

import grpc

from agencyos.billing.client_invoice.servicer import ClientInvoiceRpc
from agencyos.common.rpc import Registrar
from agencyos.common.web import ServiceContext
from agencyos.protos.billing.v1 import billing_pb2, billing_pb2_grpc


class BillingServicer(ClientInvoiceRpc, billing_pb2_grpc.BillingServiceServicer):
    """The one BillingService servicer: each aggregate's gRPC methods are a mixin."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx


def registrar(ctx: ServiceContext) -> Registrar:
    def register(server: grpc.aio.Server) -> Sequence[str]:
        billing_pb2_grpc.add_BillingServiceServicer_to_server(BillingServicer(ctx), server)
        return [billing_pb2.DESCRIPTOR.services_by_name["BillingService"].full_name]

    return register
