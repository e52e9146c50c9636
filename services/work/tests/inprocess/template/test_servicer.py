"""work's GetProjectTemplate gRPC method (CRM checks a deal's template with it): a template
of the caller's agency by id; another agency's is NOT_FOUND, like an unknown one."""

from __future__ import annotations

import uuid

import grpc
import httpx
import pytest

from agencyos.protos.work.v1 import work_pb2
from agencyos.protos.work.v1.work_pb2_grpc import WorkServiceStub
from agencyos.testing.factories import as_caller
from agencyos.testing.inprocess import Agency, Caller


async def create_template(work: httpx.AsyncClient, who: Caller) -> str:
    response = await work.post(
        "/v1/project-templates",
        json={"name": f"Template {uuid.uuid4().hex[:8]}"},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    template_id: str = response.json()["id"]
    return template_id


async def get_template(
    stub: WorkServiceStub, who: Caller, template_id: str
) -> work_pb2.ProjectTemplate:
    answer: work_pb2.ProjectTemplate = await stub.GetProjectTemplate(
        work_pb2.GetProjectTemplateRequest(template_id=template_id),
        metadata=as_caller(who),
        timeout=10,
    )
    return answer


async def status_of(stub: WorkServiceStub, who: Caller, template_id: str) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get_template(stub, who, template_id)
    code: grpc.StatusCode = caught.value.code()
    return code


class TestGetProjectTemplate:
    async def test_a_member_reads_a_template_of_their_agency(
        self, work: httpx.AsyncClient, stub: WorkServiceStub, agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        template_id = await create_template(work, agency)

        template = await get_template(stub, member, template_id)

        assert template.id == template_id
        assert template.name.startswith("Template ")

    async def test_another_agencys_or_an_unknown_template_is_not_found(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        theirs = await create_template(work, other_agency)

        assert await status_of(stub, agency, theirs) == grpc.StatusCode.NOT_FOUND
        assert await status_of(stub, agency, str(uuid.uuid4())) == grpc.StatusCode.NOT_FOUND
        assert await status_of(stub, agency, "a\x00b") == grpc.StatusCode.INVALID_ARGUMENT

    async def test_a_client_user_is_refused(
        self, work: httpx.AsyncClient, stub: WorkServiceStub, agency: Caller, tenant: Agency
    ) -> None:
        client_user = tenant.caller("client")
        template_id = await create_template(work, agency)

        assert await status_of(stub, client_user, template_id) == grpc.StatusCode.PERMISSION_DENIED
