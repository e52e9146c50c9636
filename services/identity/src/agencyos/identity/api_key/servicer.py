"""gRPC side of API keys (mixed into IdentityServicer): the gateway trades a key for a
short-lived access token. The key is the credential, so the call carries no token."""

from __future__ import annotations

import grpc

from agencyos.common.db import TENANT_SETTING, set_local
from agencyos.common.errors import Unauthenticated
from agencyos.common.logs import get_logger
from agencyos.common.rpc import rpc_session
from agencyos.identity.api_key.service import ApiKeyRefusal, api_key_service, api_key_tenant
from agencyos.identity.settings import IdentitySettings
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc

log = get_logger(__name__)

# One answer for every refused key, so a caller learns nothing about why.
API_KEY_REFUSED = "the API key is not valid"


class ApiKeyRpc(identity_pb2_grpc.IdentityServiceServicer):
    settings: IdentitySettings

    async def ResolveApiKey(
        self, request: identity_pb2.ResolveApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.ResolvedApiKey:
        tenant_id = api_key_tenant(request.api_key)
        if tenant_id is None:
            log.info("api key refused", reason="malformed")
            raise Unauthenticated(API_KEY_REFUSED)
        # The key names its agency; the call's transaction (opened with no agency: there is no
        # caller) runs under it from here, so the ordinary tenant policy finds the row (and
        # nothing of any other agency).
        session = rpc_session()
        await set_local(session, {TENANT_SETTING: str(tenant_id)})
        outcome = await api_key_service.resolve(session, self.settings, request.api_key)
        if isinstance(outcome, ApiKeyRefusal):
            log.info("api key refused", reason=outcome.value, tenant_id=str(tenant_id))
            raise Unauthenticated(API_KEY_REFUSED)
        return identity_pb2.ResolvedApiKey(
            api_key_id=str(outcome.api_key.id),
            agency_id=str(outcome.api_key.tenant_id),
            role=outcome.api_key.role,
            access_token=outcome.access_token,
            expires_in=outcome.expires_in,
        )
