"""An automation rule through the whole platform: a manager makes a rule on
`crm.client.created` through the gateway; creating a client in crm sets it off (crm's event,
Kafka, notification's automations worker); the manager gets the in-app notification and the
email, and the rule's run is listed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from agencyos.testing.deals import create_client
from agencyos.testing.factories import AgencySession, add_member
from agencyos.testing.inbox import one_email, wait_for_notice
from agencyos.testing.infra import wait_for
from agencyos.testing.mailpit import Mailpit
from agencyos.testing.platform import Platform

pytestmark = pytest.mark.e2e


@pytest.fixture
async def mailpit(platform: Platform) -> AsyncIterator[Mailpit]:
    async with Mailpit(platform.mailpit_url) as client:
        yield client


class TestARuleOnANewClient:
    async def test_tells_the_manager_in_the_app_and_by_email_and_its_run_is_listed(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        mailpit: Mailpit,
        agency: AgencySession,
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")
        created = await gateway.post(
            "/v1/automations",
            json={
                "name": "Welcome new clients",
                "trigger": "crm.client.created",
                "actions": [
                    {
                        "kind": "notify",
                        "to": {"role": "manager"},
                        "title": "New client: {{ data.company_name }}",
                        "link": "/v1/clients/{{ data.client_id }}",
                    },
                    {
                        "kind": "email",
                        "to": {"role": "manager"},
                        "subject": "Say hello to {{ data.company_name }}",
                        "body": "{{ data.company_name }} is a {{ data.status }} now.",
                    },
                ],
            },
            headers=manager.headers,
        )
        assert created.status_code == 201, created.text
        rule = created.json()

        client = await create_client(gateway, agency)

        notice = await wait_for_notice(
            gateway,
            manager,
            "automation.notified",
            lambda n: n["link"] == f"/v1/clients/{client['id']}",
        )
        assert notice["title"] == f"New client: {client['company_name']}"
        message = await one_email(mailpit, manager.email, client["company_name"])
        assert message.subject == f"Say hello to {client['company_name']}"

        async def finished() -> list[dict[str, Any]]:
            response = await gateway.get(
                f"/v1/automations/{rule['id']}/runs", headers=manager.headers
            )
            assert response.status_code == 200, response.text
            return [r for r in response.json()["items"] if r["status"] != "running"]

        runs = await wait_for(finished)
        assert isinstance(runs, list)
        [run] = runs
        assert run["status"] == "succeeded"
        assert run["event_type"] == "crm.client.created"
        assert [a["status"] for a in run["actions"]] == ["succeeded", "succeeded"]
        # the owner, not a manager, was not told
        owner_notices = await gateway.get(
            "/v1/notifications", params={"kind": "automation.notified"}, headers=agency.headers
        )
        assert owner_notices.json()["items"] == []
