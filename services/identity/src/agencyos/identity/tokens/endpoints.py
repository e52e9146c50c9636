from typing import Any

from fastapi import APIRouter, Request, Response

from agencyos.common.web import PublicSession
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.tokens.keys import active_key, key_sealer, public_jwks

router = APIRouter(tags=["auth"])


@router.get(
    "/.well-known/jwks.json",
    summary="Public keys that verify access tokens (RS256, selected by kid)",
)
async def jwks(session: PublicSession, request: Request, response: Response) -> dict[str, Any]:
    settings: IdentitySettings = request.app.state.ctx.settings
    await active_key(session, settings.signing_key_bits, key_sealer(settings.key_encryption_key))
    response.headers["Cache-Control"] = "public, max-age=60"
    return await public_jwks(session)
