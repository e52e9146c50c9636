"""Rules that act in other services, through the whole platform: notification's automations
worker creates a task in work and a note on a client's CRM timeline as the rule's author
(identity's delegated token, work's and CRM's gRPC), and a rule that sets itself off again
through the tasks it creates stops three automations deep and says so in its run."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from agencyos.testing.deals import create_client
from agencyos.testing.factories import (
    AgencySession,
    add_member,
    new_project,
    new_task,
    signup_agency,
)
from agencyos.testing.infra import wait_for
from agencyos.testing.platform import Platform
from agencyos.testing.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e


async def create_rule(
    gateway: httpx.AsyncClient, who: AgencySession, **rule: Any
) -> dict[str, Any]:
    response = await gateway.post("/v1/automations", json=rule, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def tasks_of(
    gateway: httpx.AsyncClient, who: AgencySession, project_id: str
) -> list[dict[str, Any]]:
    response = await gateway.get(
        f"/v1/projects/{project_id}/tasks", params={"per_page": 100}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def runs_of(
    gateway: httpx.AsyncClient, who: AgencySession, rule_id: str
) -> list[dict[str, Any]]:
    response = await gateway.get(
        f"/v1/automations/{rule_id}/runs", params={"per_page": 100}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


class TestRulesThatActInWorkAndCrm:
    async def test_a_new_client_gets_a_kickoff_task_and_a_timeline_note_by_the_rules_author(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")
        project = await new_project(gateway, manager)
        rule = await create_rule(
            gateway,
            manager,
            name="Kick off new clients",
            trigger="crm.client.created",
            actions=[
                {
                    "kind": "create_task",
                    "project_id": project["id"],
                    "title": "Kick-off call with {{ data.company_name }}",
                    "due_in_days": 3,
                },
                {
                    "kind": "timeline_entry",
                    "client_id": "data.client_id",
                    "title": "Kick-off planned",
                    "body": "Planned by a rule on {{ event.type }}.",
                },
            ],
        )

        client = await create_client(gateway, agency)

        async def kickoff() -> dict[str, Any] | None:
            titles = {t["title"]: t for t in await tasks_of(gateway, manager, project["id"])}
            return titles.get(f"Kick-off call with {client['company_name']}")

        task = await wait_for(kickoff, timeout=60)
        assert isinstance(task, dict)
        detail = await gateway.get(f"/v1/tasks/{task['id']}", headers=manager.headers)
        assert detail.status_code == 200, detail.text
        # made as the rule's author, not as someone the event names or the owner
        assert detail.json()["created_by"] == str(manager.user_id)
        assert detail.json()["due_date"] is not None

        async def note() -> dict[str, Any] | None:
            response = await gateway.get(
                f"/v1/clients/{client['id']}/timeline", headers=agency.headers
            )
            assert response.status_code == 200, response.text
            found = [e for e in response.json()["items"] if e["title"] == "Kick-off planned"]
            return found[0] if found else None

        entry = await wait_for(note, timeout=60)
        assert isinstance(entry, dict)

        async def finished() -> list[dict[str, Any]] | None:
            done = [
                r for r in await runs_of(gateway, manager, rule["id"]) if r["status"] != "running"
            ]
            return done or None

        runs = await wait_for(finished, timeout=60)
        assert isinstance(runs, list)
        [run] = runs
        assert run["status"] == "succeeded", run
        assert [a["kind"] for a in run["actions"]] == ["create_task", "timeline_entry"]
        assert [a["status"] for a in run["actions"]] == ["succeeded", "succeeded"]

    async def test_a_rule_that_sets_itself_off_stops_three_automations_deep(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")
        project = await new_project(gateway, manager)
        rule = await create_rule(
            gateway,
            manager,
            name="Every task gets a follow-up",
            trigger="work.task.created",
            conditions=[{"field": "data.project_id", "op": "equals", "value": project["id"]}],
            actions=[
                {
                    "kind": "create_task",
                    "project_id": "data.project_id",
                    "title": "Follow up: {{ data.title }}",
                }
            ],
        )

        await new_task(gateway, manager, project["id"], title="Seed")

        async def stopped() -> list[dict[str, Any]] | None:
            runs = await runs_of(gateway, manager, rule["id"])
            return runs if any(r["status"] == "stopped" for r in runs) else None

        runs = await wait_for(stopped, timeout=90)
        assert isinstance(runs, list)
        by_status = sorted(r["status"] for r in runs)
        # the person's task (depth 0), then the automation's own tasks at depth 1 and 2 each
        # set the rule off once more; the task made at depth 3 sets nothing off
        assert by_status == ["stopped", "succeeded", "succeeded", "succeeded"], runs
        [stop] = [r for r in runs if r["status"] == "stopped"]
        assert stop["depth"] == 3
        assert "depth" in (stop["note"] or "")
        titles = sorted(t["title"] for t in await tasks_of(gateway, manager, project["id"]))
        assert titles == [
            "Follow up: Follow up: Follow up: Seed",
            "Follow up: Follow up: Seed",
            "Follow up: Seed",
            "Seed",
        ]


class TestTheWebhookAction:
    async def test_a_rule_sends_its_event_to_one_of_the_agencys_endpoints(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        with WebhookReceiver() as receiver:
            # subscribed to invoices only: what arrives comes from the rule
            endpoint = await gateway.post(
                "/v1/webhook-endpoints",
                json={"url": receiver.url("/rule"), "event_types": ["billing.invoice.*"]},
                headers=agency.headers,
            )
            assert endpoint.status_code == 201, endpoint.text
            rule = await create_rule(
                gateway,
                agency,
                name="Tell the partner about big new clients",
                trigger="crm.client.created",
                actions=[{"kind": "webhook", "endpoint_id": endpoint.json()["id"]}],
            )

            client = await create_client(gateway, agency)

            [request] = await receiver.wait_for("/rule", 1, timeout=60)
            event = Webhook(endpoint.json()["secret"]).verify(request.body, dict(request.headers))
            assert event["type"] == "crm.client.created"
            assert event["data"]["client_id"] == client["id"]
            listed = await gateway.get(
                f"/v1/webhook-endpoints/{endpoint.json()['id']}/deliveries",
                headers=agency.headers,
            )
            [delivery] = listed.json()["items"]
            runs = await runs_of(gateway, agency, rule["id"])
            assert delivery["origin"] == f"automation:{runs[0]['id']}"


NOTIFY_OWNERS = {"kind": "notify", "to": {"role": "owner"}, "title": "{{ data.company_name }}"}


class TestRulesStayInTheirAgency:
    async def test_another_agency_neither_reaches_nor_triggers_a_rule(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        other = await signup_agency(gateway)
        theirs = await create_rule(
            gateway,
            other,
            name="Their rule",
            trigger="crm.client.created",
            actions=[NOTIFY_OWNERS],
        )
        ours = await create_rule(
            gateway,
            agency,
            name="Our rule",
            trigger="crm.client.created",
            actions=[NOTIFY_OWNERS],
        )

        # their ids answer 404 to us, for every route
        path = f"/v1/automations/{theirs['id']}"
        answers = [
            await gateway.get(path, headers=agency.headers),
            await gateway.patch(path, json={"name": "Mine now"}, headers=agency.headers),
            await gateway.get(f"{path}/runs", headers=agency.headers),
            await gateway.post(f"{path}/disable", headers=agency.headers),
            await gateway.delete(path, headers=agency.headers),
        ]
        assert [a.status_code for a in answers] == [404] * 5
        listed = await gateway.get("/v1/automations", headers=agency.headers)
        assert [r["id"] for r in listed.json()["items"]] == [ours["id"]]

        # our event runs our rule, never theirs
        await create_client(gateway, agency)

        async def ran() -> list[dict[str, Any]] | None:
            return await runs_of(gateway, agency, ours["id"]) or None

        assert await wait_for(ran, timeout=60)
        assert await runs_of(gateway, other, theirs["id"]) == []
        still = await gateway.get(path, headers=other.headers)
        assert (still.status_code, still.json()["name"]) == (200, "Their rule")
