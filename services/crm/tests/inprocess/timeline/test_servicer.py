"""CRM's AddTimelineEntry gRPC method: a note on a client's timeline, as the REST route logs
one (the same schema and permission, `clients.write`), for callers over gRPC (the automation
engine acting as a rule's author); another agency's client is as unknown as a made-up id."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import httpx
import pytest

from agencyos.common.errors import NotFound, PermissionDenied
from agencyos.common.peers.crm import CrmClient
from agencyos.protos.crm.v1 import crm_pb2
from agencyos.protos.crm.v1.crm_pb2_grpc import CrmServiceStub
from agencyos.testing.deals import create_client
from agencyos.testing.factories import as_caller
from agencyos.testing.inprocess import Agency, Caller, InProcess


async def timeline(crm: httpx.AsyncClient, who: Caller, client_id: str) -> list[dict[str, Any]]:
    response = await crm.get(f"/v1/clients/{client_id}/timeline", headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def entry(client_id: str, **fields: str) -> crm_pb2.AddTimelineEntryRequest:
    return crm_pb2.AddTimelineEntryRequest(client_id=client_id, **{"title": "Hello", **fields})


async def refusal(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


class TestAddTimelineEntryRpc:
    async def test_a_manager_adds_a_note_they_are_the_author_of(
        self, crm: httpx.AsyncClient, crm_stub: CrmServiceStub, tenant: Agency
    ) -> None:
        manager = tenant.caller("manager")
        client = await create_client(crm, tenant.owner)

        answer = await crm_stub.AddTimelineEntry(
            entry(client["id"], title="  Deal won: kick-off next  ", body="By **automation**"),
            metadata=as_caller(manager),
            timeout=10,
        )

        [logged] = await timeline(crm, tenant.owner, client["id"])
        assert logged["id"] == answer.id
        assert logged["kind"] == "note"
        assert logged["title"] == "Deal won: kick-off next"
        assert logged["body"] == "By **automation**"
        assert logged["actor_id"] == str(manager.user_id)

    async def test_an_empty_body_is_none(
        self, crm: httpx.AsyncClient, crm_stub: CrmServiceStub, tenant: Agency
    ) -> None:
        client = await create_client(crm, tenant.owner)
        await crm_stub.AddTimelineEntry(
            entry(client["id"]), metadata=as_caller(tenant.owner), timeout=10
        )
        [logged] = await timeline(crm, tenant.owner, client["id"])
        assert logged["body"] is None

    @pytest.mark.parametrize("role", ["member", "client"])
    async def test_a_role_without_clients_write_is_refused(
        self, crm: httpx.AsyncClient, crm_stub: CrmServiceStub, tenant: Agency, role: str
    ) -> None:
        client = await create_client(crm, tenant.owner)
        error = await refusal(
            crm_stub.AddTimelineEntry(
                entry(client["id"]), metadata=as_caller(tenant.caller(role)), timeout=10
            )
        )
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert await timeline(crm, tenant.owner, client["id"]) == []

    async def test_another_agencys_client_is_not_found(
        self,
        crm: httpx.AsyncClient,
        crm_stub: CrmServiceStub,
        tenant: Agency,
        other_agency: Caller,
    ) -> None:
        client = await create_client(crm, tenant.owner)
        for client_id in (client["id"], str(uuid.uuid4())):
            error = await refusal(
                crm_stub.AddTimelineEntry(
                    entry(client_id), metadata=as_caller(other_agency), timeout=10
                )
            )
            assert error.code() == grpc.StatusCode.NOT_FOUND
        assert await timeline(crm, tenant.owner, client["id"]) == []

    async def test_without_a_token_it_is_unauthenticated(
        self, crm: httpx.AsyncClient, crm_stub: CrmServiceStub, tenant: Agency
    ) -> None:
        client = await create_client(crm, tenant.owner)
        error = await refusal(crm_stub.AddTimelineEntry(entry(client["id"]), timeout=10))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED

    @pytest.mark.parametrize(
        ("fields", "named"),
        [
            ({"title": ""}, "title"),
            ({"title": "x" * 301}, "title"),
            ({"title": "two\nlines"}, "title"),
            ({"client_id": "nope"}, "client_id"),
        ],
        ids=["empty-title", "long-title", "multiline-title", "bad-client-id"],
    )
    async def test_invalid_fields_are_named(
        self,
        crm: httpx.AsyncClient,
        crm_stub: CrmServiceStub,
        tenant: Agency,
        fields: dict[str, str],
        named: str,
    ) -> None:
        client = await create_client(crm, tenant.owner)
        request = entry(client["id"])
        for key, value in fields.items():
            setattr(request, key, value)
        error = await refusal(
            crm_stub.AddTimelineEntry(request, metadata=as_caller(tenant.owner), timeout=10)
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert named in (error.details() or "")


class TestTheTypedClient:
    async def test_add_timeline_entry_answers_the_id_and_maps_refusals(
        self,
        crm: httpx.AsyncClient,
        crm_stub: CrmServiceStub,
        in_process: InProcess,
        tenant: Agency,
        other_agency: Caller,
    ) -> None:
        target = await in_process.grpc_target("crm")
        service = await in_process.service("crm")
        peer = CrmClient(target, 10.0)
        client = await create_client(crm, tenant.owner)
        client_id = uuid.UUID(client["id"])
        owner = await service.ctx.verifier.verify(tenant.owner.access_token)

        entry_id = await peer.add_timeline_entry(
            owner, client_id=client_id, title="Noted", body=None
        )

        [logged] = await timeline(crm, tenant.owner, client["id"])
        assert logged["id"] == str(entry_id)
        stranger = await service.ctx.verifier.verify(other_agency.access_token)
        with pytest.raises(NotFound):
            await peer.add_timeline_entry(stranger, client_id=client_id, title="Sneaky")
        member = await service.ctx.verifier.verify(tenant.caller("member").access_token)
        with pytest.raises(PermissionDenied):
            await peer.add_timeline_entry(member, client_id=client_id, title="Sneaky")
