"""work's GetProjectTemplate gRPC method (CRM checks a deal's template with it): a template
of the caller's agency by id; another agency's is NOT_FOUND, like an unknown one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest

from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc
from agencyos.testing.deals import create_template
from agencyos.testing.factories import AgencySession, add_member, as_caller
from agencyos.testing.platform import Platform


@pytest.fixture
async def stub(platform: Platform) -> AsyncIterator[work_pb2_grpc.WorkServiceStub]:
    async with grpc.aio.insecure_channel(platform.grpc_target("work")) as channel:
        yield work_pb2_grpc.WorkServiceStub(channel)


async def get_template(
    stub: work_pb2_grpc.WorkServiceStub, who: AgencySession, template_id: str
) -> work_pb2.ProjectTemplate:
    answer: work_pb2.ProjectTemplate = await stub.GetProjectTemplate(
        work_pb2.GetProjectTemplateRequest(template_id=template_id),
        metadata=as_caller(who),
        timeout=10,
    )
    return answer


async def status_of(
    stub: work_pb2_grpc.WorkServiceStub, who: AgencySession, template_id: str
) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get_template(stub, who, template_id)
    code: grpc.StatusCode = caught.value.code()
    return code


class TestGetProjectTemplate:
    async def test_a_member_reads_a_template_of_their_agency(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        template_id = await create_template(gateway, agency)

        template = await get_template(stub, member, template_id)

        assert template.id == template_id
        assert template.name.startswith("Template ")

    async def test_another_agencys_or_an_unknown_template_is_not_found(
        self,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        theirs = await create_template(gateway, other_agency)

        assert await status_of(stub, agency, theirs) == grpc.StatusCode.NOT_FOUND
        assert await status_of(stub, agency, str(uuid.uuid4())) == grpc.StatusCode.NOT_FOUND
        assert await status_of(stub, agency, "a\x00b") == grpc.StatusCode.INVALID_ARGUMENT

    async def test_a_client_user_is_refused(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
    ) -> None:
        client_user = await add_member(platform, gateway, agency, "client")
        template_id = await create_template(gateway, agency)

        assert await status_of(stub, client_user, template_id) == grpc.StatusCode.PERMISSION_DENIED
