"""gRPC side of the timeline (mixed into CrmServicer): a note on a client's timeline, as the
REST route logs one, for callers over gRPC (the automation engine, acting for a rule's
author)."""

from __future__ import annotations

import grpc

from agencyos.common.rpc import parse_uuid, rpc_principal, rpc_session, validated
from agencyos.crm.timeline.schemas import TimelineEntryCreate
from agencyos.crm.timeline.service import timeline_service
from agencyos.protos.crm.v1 import crm_pb2, crm_pb2_grpc


class TimelineRpc(crm_pb2_grpc.CrmServiceServicer):
    async def AddTimelineEntry(
        self, request: crm_pb2.AddTimelineEntryRequest, context: grpc.aio.ServicerContext
    ) -> crm_pb2.TimelineEntryRef:
        """A `note` by the caller, now: the same schema and permission (`clients.write`) as
        `POST /v1/clients/{id}/timeline`; NOT_FOUND for a client not in the caller's agency."""
        principal = rpc_principal()
        principal.require("clients.write")
        client_id = parse_uuid(request.client_id, "client_id")
        data = validated(
            TimelineEntryCreate, kind="note", title=request.title, body=request.body or None
        )
        entry = await timeline_service.log(rpc_session(), principal, client_id, data)
        return crm_pb2.TimelineEntryRef(id=str(entry.id))
