"""Audit records leave the services through their outbox relays onto `audit.events`, for the
audit log's consumer: a refused sign-in through the gateway (answered 401, its own transaction
rolled back) and a CRM export are both published, in the agency's name, without the password
or the token."""

from __future__ import annotations

from typing import Any

import httpx

from agencyos.testing.factories import signup_agency
from agencyos.testing.http import assert_problem
from agencyos.testing.kafka import Record, events_where, read_topic
from agencyos.testing.platform import Platform


class TestPublished:
    async def test_a_refused_sign_in_and_an_export_reach_the_audit_topic(
        self, platform: Platform, gateway: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(gateway)
        wrong = "a guess that is wrong"
        refused = await gateway.post(
            "/v1/auth/login", json={"email": owner.email, "password": wrong}
        )
        assert_problem(refused, 401, "unauthenticated")
        exported = await gateway.get("/v1/clients/export", headers=owner.headers)
        assert exported.status_code == 200, exported.text

        def mine(records: list[Record]) -> dict[str, dict[str, Any]]:
            found = events_where(records, type="audit.recorded", tenantid=str(owner.agency_id))
            return {e["data"]["action"]: e for e in found}

        wanted = {"auth.login_failed", "clients.exported"}
        records = await read_topic(
            platform.infra.kafka_bootstrap,
            f"{platform.topic_prefix}audit.events",
            lambda rs: wanted <= set(mine(rs)),
            timeout=30.0,
        )

        found = mine(records)
        failed = found["auth.login_failed"]
        assert failed["source"] == "/agencyos/identity"
        assert failed["data"]["actor_type"] == "anonymous"
        assert failed["data"]["entity_id"] == str(owner.user_id)
        assert failed["data"]["detail"] == {"reason": "invalid_credentials"}
        export = found["clients.exported"]
        assert export["source"] == "/agencyos/crm"
        assert (export["data"]["actor_type"], export["data"]["actor_id"]) == (
            "user",
            str(owner.user_id),
        )
        for event in found.values():
            text = str(event)
            assert wrong not in text
            assert owner.access_token not in text
