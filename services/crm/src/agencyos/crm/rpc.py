from collections.abc import Sequence

import grpc

from agencyos.common.rpc import Registrar
from agencyos.common.web import ServiceContext
from agencyos.crm.client.servicer import CrmServicer
from agencyos.protos.crm.v1 import crm_pb2, crm_pb2_grpc


def registrar(ctx: ServiceContext) -> Registrar:
    def register(server: grpc.aio.Server) -> Sequence[str]:
        crm_pb2_grpc.add_CrmServiceServicer_to_server(CrmServicer(), server)
        return [crm_pb2.DESCRIPTOR.services_by_name["CrmService"].full_name]

    return register
