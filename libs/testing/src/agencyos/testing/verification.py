"""Email verification for test accounts: the token identity emailed, read from its outbox.

A new account must verify its email before it may invite people, create API keys or send
invoices. `signup_agency` does it for every test through the real API (POST
/v1/auth/verify-email, then a refresh), reading the token from the event identity wrote for
notification: the harness registers where identity's database is for each client base URL
(the in-process identity app, a platform's identity and gateway)."""

from __future__ import annotations

import json
import uuid

import httpx

from agencyos.testing.infra import Infra
from agencyos.testing.sql import fetch_rows

REQUESTED = "identity.email_verification.requested"

_identity_databases: dict[str, tuple[Infra, str]] = {}


def register_identity_database(base_url: str, infra: Infra, database: str) -> None:
    """Requests to `base_url` reach the identity whose database is `database`."""
    _identity_databases[base_url.rstrip("/")] = (infra, database)


def forget_identity_database(base_url: str) -> None:
    _identity_databases.pop(base_url.rstrip("/"), None)


def knows(client: httpx.AsyncClient) -> bool:
    return str(client.base_url).rstrip("/") in _identity_databases


async def verification_token(client: httpx.AsyncClient, user_id: uuid.UUID) -> str | None:
    """The newest verification token identity emailed `user_id`, or None (none yet, or the
    client reaches an identity the harness does not know)."""
    found = _identity_databases.get(str(client.base_url).rstrip("/"))
    if found is None:
        return None
    infra, database = found
    rows = await fetch_rows(
        infra,
        database,
        "SELECT envelope FROM outbox WHERE event_type = $1 "
        "AND envelope->'data'->>'user_id' = $2 ORDER BY id DESC LIMIT 1",
        REQUESTED,
        str(user_id),
        owner=True,
        relay=True,
    )
    if not rows:
        return None
    envelope = rows[0]["envelope"]
    data = json.loads(envelope) if isinstance(envelope, str) else dict(envelope)
    token: str = data["data"]["token"]
    return token
