from collections.abc import Sequence

import grpc

from agencyos.common.rpc import Registrar
from agencyos.common.web import ServiceContext
from agencyos.identity.member.servicer import IdentityServicer
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc


def registrar(ctx: ServiceContext) -> Registrar:
    def register(server: grpc.aio.Server) -> Sequence[str]:
        identity_pb2_grpc.add_IdentityServiceServicer_to_server(
            IdentityServicer(ctx.settings, ctx.revocations), server
        )
        return [identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name]

    return register
