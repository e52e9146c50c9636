"""gRPC side of delegated tokens (mixed into IdentityServicer): a service doing work for a
member with no person present (an automation rule acting as its author) gets a short-lived
access token for them. The caller is the service, authenticated by the service credential
(`@service_authenticated`), never by a person's token."""

from __future__ import annotations

import grpc

from agencyos.common.db import TENANT_SETTING, set_local
from agencyos.common.errors import InvalidInput, PreconditionFailed
from agencyos.common.logs import get_logger
from agencyos.common.rpc import parse_uuid, rpc_session, service_authenticated
from agencyos.identity.account.repository import account_repository
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.tokens.issuer import issue_delegated_token
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc

log = get_logger(__name__)

# The actor every delegated token names (RFC 8693 `act`): the one service that acts for
# members today, the automation engine in notification.
DELEGATION_ACTOR = "agencyos-notification"
PURPOSE_MAX = 200
# One answer whether the user is unknown, suspended, removed or of another agency.
NOT_ACTIVE = "the user is not an active member of this agency"


def _purpose(raw: str) -> str:
    purpose = raw.strip()
    if not purpose or len(purpose) > PURPOSE_MAX or not purpose.isprintable():
        raise InvalidInput(f"purpose must be 1 to {PURPOSE_MAX} printable characters")
    return purpose


class DelegatedTokenRpc(identity_pb2_grpc.IdentityServiceServicer):
    settings: IdentitySettings

    @service_authenticated
    async def IssueDelegatedToken(
        self, request: identity_pb2.IssueDelegatedTokenRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.DelegatedToken:
        tenant_id = parse_uuid(request.tenant_id, "tenant_id")
        user_id = parse_uuid(request.user_id, "user_id")
        purpose = _purpose(request.purpose)
        # No caller token, so the call's transaction has no agency: it runs under the one
        # asked for from here (the ordinary tenant policy, nothing of any other agency).
        session = rpc_session()
        await set_local(session, {TENANT_SETTING: str(tenant_id)})
        found = await account_repository.membership(session, tenant_id, user_id)
        if found is None or found[0].status != "active":
            log.info("delegated token refused", tenant_id=str(tenant_id), user_id=str(user_id))
            raise PreconditionFailed(NOT_ACTIVE)
        token, ttl = await issue_delegated_token(
            session, self.settings, found[0], actor=DELEGATION_ACTOR, purpose=purpose
        )
        log.info(
            "delegated token issued",
            tenant_id=str(tenant_id),
            user_id=str(user_id),
            purpose=purpose,
        )
        return identity_pb2.DelegatedToken(access_token=token, expires_in=ttl)
