"""The gRPC server owns each call's transaction: a servicer method writes through
`rpc_session()`, its writes commit when it answers and roll back when it fails, and they land
in the caller's agency only. Over a real grpc.aio server, against the scratch database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta, timezone

import grpc
import pytest
from sqlalchemy import text

from agencyos.common.auth import JwksVerifier
from agencyos.common.db import TENANT_SETTING, Database, current_tenant, set_local
from agencyos.common.errors import Conflict, InvalidInput
from agencyos.common.rpc import (
    iso_date,
    parse_uuid,
    parse_uuids,
    rfc3339,
    rpc_principal,
    rpc_session,
    start_grpc_server,
)
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc
from agencyos.testing.infra import free_port
from agencyos.testing.keys import AUDIENCE, ISSUER, TestKeys

from .conftest import insert_widget_row

SERVICE_NAME = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name


class WidgetWriter(identity_pb2_grpc.IdentityServiceServicer):
    """Writes a widget named by `user_id` in the call's transaction, then answers, refuses
    (`conflict-…`) or crashes (`crash-…`); `ResolveApiKey` (no caller) reports the agency its
    transaction starts under, then counts widgets of the agency the key names."""

    async def GetMember(
        self, request: identity_pb2.GetMemberRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.Member:
        principal = rpc_principal()
        session = rpc_session()
        await insert_widget_row(session, principal.tenant_id, request.user_id)
        if request.user_id.startswith("conflict-"):
            raise Conflict("refused after writing")
        if request.user_id.startswith("crash-"):
            raise RuntimeError("crashed after writing")
        tenant = await current_tenant(session)
        return identity_pb2.Member(user_id=request.user_id, agency_id=str(tenant))

    async def ResolveApiKey(
        self, request: identity_pb2.ResolveApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.ResolvedApiKey:
        session = rpc_session()
        before = await current_tenant(session)
        await set_local(session, {TENANT_SETTING: request.api_key})
        seen = (await session.execute(text("SELECT count(*) FROM widgets"))).scalar_one()
        return identity_pb2.ResolvedApiKey(api_key_id=str(before), expires_in=int(seen))


@pytest.fixture(scope="module")
async def stub(jwks_url: str, db: Database) -> AsyncIterator[identity_pb2_grpc.IdentityServiceStub]:
    verifier = JwksVerifier(jwks_url, issuer=ISSUER, audience=AUDIENCE)

    def register(server: grpc.aio.Server) -> list[str]:
        identity_pb2_grpc.add_IdentityServiceServicer_to_server(WidgetWriter(), server)
        return [SERVICE_NAME]

    port = free_port()
    server = await start_grpc_server(
        f"rpc-tx-{uuid.uuid4().hex[:6]}", verifier, register, "127.0.0.1", port, database=db
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield identity_pb2_grpc.IdentityServiceStub(channel)
    await server.stop(None)
    await verifier.close()


def metadata(keys: TestKeys, tenant: uuid.UUID) -> list[tuple[str, str]]:
    token = keys.mint(sub=str(uuid.uuid4()), tid=str(tenant), role="manager")
    return [("authorization", f"Bearer {token}")]


class TestTheServerOwnsTheTransaction:
    async def test_an_answered_call_commits_its_write_under_the_callers_agency(
        self,
        stub: identity_pb2_grpc.IdentityServiceStub,
        test_keys: TestKeys,
        tenant: uuid.UUID,
        other_tenant: uuid.UUID,
        widget_count: Callable[..., Awaitable[int]],
    ) -> None:
        answer = await stub.GetMember(
            identity_pb2.GetMemberRequest(user_id="kept"), metadata=metadata(test_keys, tenant)
        )

        assert answer.agency_id == str(tenant)
        assert await widget_count(tenant, "kept") == 1
        assert await widget_count(other_tenant, "kept") == 0

    @pytest.mark.parametrize(
        ("name", "code"),
        [
            ("conflict-undone", grpc.StatusCode.ALREADY_EXISTS),
            ("crash-undone", grpc.StatusCode.INTERNAL),
        ],
    )
    async def test_a_failed_call_rolls_its_write_back(
        self,
        stub: identity_pb2_grpc.IdentityServiceStub,
        test_keys: TestKeys,
        tenant: uuid.UUID,
        widget_count: Callable[..., Awaitable[int]],
        name: str,
        code: grpc.StatusCode,
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await stub.GetMember(
                identity_pb2.GetMemberRequest(user_id=name), metadata=metadata(test_keys, tenant)
            )

        assert failed.value.code() == code
        assert await widget_count(tenant, name) == 0

    async def test_a_call_without_a_caller_starts_under_no_agency_until_the_method_names_one(
        self,
        stub: identity_pb2_grpc.IdentityServiceStub,
        db: Database,
        tenant: uuid.UUID,
    ) -> None:
        async with db.transaction(tenant) as session:
            await insert_widget_row(session, tenant, "counted")

        answer = await stub.ResolveApiKey(identity_pb2.ResolveApiKeyRequest(api_key=str(tenant)))

        assert answer.api_key_id == "None"
        assert answer.expires_in == 1


class TestRequestValues:
    def test_a_uuid_field_parses(self) -> None:
        value = uuid.uuid4()

        assert parse_uuid(str(value), "project_id") == value

    @pytest.mark.parametrize(
        ("raw", "message"),
        [("", "project_id is required"), ("nope", "project_id must be a UUID")],
    )
    def test_a_bad_uuid_field_is_invalid_input_naming_it(self, raw: str, message: str) -> None:
        with pytest.raises(InvalidInput) as refused:
            parse_uuid(raw, "project_id")

        assert refused.value.detail == message

    def test_repeated_uuids_drop_duplicates_and_keep_order(self) -> None:
        a, b = uuid.uuid4(), uuid.uuid4()

        assert parse_uuids([str(b), str(a), str(b)], "ids", 3) == (b, a)

    def test_more_uuids_than_the_limit_are_refused(self) -> None:
        with pytest.raises(InvalidInput) as refused:
            parse_uuids([str(uuid.uuid4()) for _ in range(3)], "ids", 2)

        assert refused.value.detail == "at most 2 ids per call"

    def test_timestamps_are_rfc3339_in_utc_with_z(self) -> None:
        moment = datetime(2026, 12, 4, 13, 0, 5, tzinfo=timezone(timedelta(hours=2)))

        assert rfc3339(moment) == "2026-12-04T11:00:05Z"
        assert rfc3339(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00Z"
        assert rfc3339(None) == ""

    def test_dates_are_iso(self) -> None:
        assert iso_date(date(2026, 2, 28)) == "2026-02-28"
        assert iso_date(None) == ""
