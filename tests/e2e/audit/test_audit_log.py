"""The audit log through the whole platform: an action done through the gateway travels as an
`audit.recorded` event (identity's outbox, Kafka, the audit worker) into the agency's log with
the caller's address, user agent and request id, and the log reads, exports and verifies."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import AgencySession
from agencyos.testing.infra import wait_for

pytestmark = pytest.mark.e2e

LOG = "/v1/audit-log"


async def logged(
    gateway: httpx.AsyncClient, who: AgencySession, action: str, entity_id: str
) -> dict[str, Any]:
    """The record of `action` on `entity_id`, once the audit worker has appended it."""

    async def find() -> dict[str, Any] | None:
        response = await gateway.get(
            LOG, headers=who.headers, params={"action": action, "entity_id": entity_id}
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items[0] if items else None

    found = await wait_for(find, timeout=60.0, interval=0.3)
    assert isinstance(found, dict)
    return found


class TestAuditLog:
    async def test_an_action_through_the_gateway_is_logged_exported_and_verified(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await gateway.post(
            "/v1/api-keys",
            headers={
                **agency.headers,
                "User-Agent": "e2e-audit/1.0",
                # a caller's own claim to an address: the gateway replaces it
                "X-AgencyOS-Client-IP": "10.66.66.66",
            },
            json={"name": "audited", "role": "member"},
        )
        assert created.status_code == 201, created.text
        key_id = created.json()["id"]
        revoked = await gateway.delete(f"/v1/api-keys/{key_id}", headers=agency.headers)
        assert revoked.status_code == 204, revoked.text

        record = await logged(gateway, agency, "api_key.created", key_id)
        assert record["actor"]["type"] == "user"
        assert record["actor"]["id"] == str(agency.user_id)
        assert record["ip"] == "127.0.0.1"  # the test's own address, as the gateway saw it
        assert record["user_agent"] == "e2e-audit/1.0"
        assert record["request_id"] == created.headers["x-request-id"]
        assert record["source_service"] == "identity"
        assert record["changes"]["name"] == {"before": None, "after": "audited"}
        await logged(gateway, agency, "api_key.revoked", key_id)

        exported = await gateway.get(
            f"{LOG}/export", headers=agency.headers, params={"entity_id": key_id}
        )
        assert exported.status_code == 200, exported.text
        assert exported.headers["content-disposition"].startswith("attachment;")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [r["action"] for r in rows] == ["api_key.revoked", "api_key.created"]

        # the export is itself recorded
        await wait_for(lambda: _has_action(gateway, agency, "audit_log.exported"), timeout=60.0)
        verified = await gateway.get(f"{LOG}/verify", headers=agency.headers)
        assert verified.status_code == 200, verified.text
        body = verified.json()
        assert body["ok"] is True
        assert body["records"] >= 3

    async def test_another_agency_never_sees_the_records(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        created = await gateway.post(
            "/v1/api-keys", headers=agency.headers, json={"name": "mine", "role": "member"}
        )
        key_id = created.json()["id"]
        await logged(gateway, agency, "api_key.created", key_id)

        theirs = await gateway.get(LOG, headers=other_agency.headers, params={"entity_id": key_id})

        assert theirs.status_code == 200, theirs.text
        assert theirs.json()["items"] == []


async def _has_action(gateway: httpx.AsyncClient, who: AgencySession, action: str) -> bool:
    response = await gateway.get(LOG, headers=who.headers, params={"action": action})
    return bool(response.json()["items"])
