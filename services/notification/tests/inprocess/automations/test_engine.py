"""The engine: a run per rule and event at most once, the agency's own rules only, a chain of
automations stopped at its maximum depth, and failing actions retried without holding up the
consumer."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from agencyos.common.errors import PermissionDenied
from agencyos.testing.inprocess import Agency, Caller, InProcess

from .support import (
    Automations,
    RecordingPeers,
    client_created,
    create_rule,
    make_engine,
    notify,
    task_created,
)

CREATE_TASK = {
    "kind": "create_task",
    "project_id": "data.project_id",
    "title": "Follow up on {{ data.title }}",
}


class TestOncePerRuleAndEvent:
    async def test_a_redelivered_event_runs_nothing_twice(
        self,
        notification: httpx.AsyncClient,
        automations: Automations,
        tenant: Agency,
        manager: Caller,
    ) -> None:
        rule = await create_rule(
            notification,
            tenant.owner,
            trigger="work.task.created",
            actions=[CREATE_TASK],
        )
        event = task_created(manager, uuid.uuid4())

        assert await automations.handle(event) == "ok"
        assert await automations.handle(event) == "duplicate"
        # even past the inbox (another consumer group's copy, a replay): one run
        service = await automations.in_process.service("notification")
        async with service.ctx.database().transaction(tenant.id) as session:
            await automations.engine.on_event(session, event)
        while await automations.run_due():
            pass

        assert len(await automations.runs(tenant.id, rule["id"])) == 1
        assert len(automations.peers.calls) == 1

    async def test_a_disabled_rule_does_not_run(
        self,
        notification: httpx.AsyncClient,
        automations: Automations,
        tenant: Agency,
        manager: Caller,
    ) -> None:
        rule = await create_rule(
            notification,
            tenant.owner,
            trigger="crm.client.created",
            actions=[notify({"role": "manager"})],
            enabled=False,
        )

        await automations.handle(client_created(manager))

        assert await automations.runs(tenant.id, rule["id"]) == []


class TestTenancy:
    async def test_an_agency_s_rules_never_fire_on_another_agency_s_events(
        self,
        notification: httpx.AsyncClient,
        automations: Automations,
        tenant: Agency,
        other_tenant: Agency,
        manager: Caller,
    ) -> None:
        theirs = await create_rule(
            notification,
            other_tenant.owner,
            trigger="work.task.created",
            actions=[CREATE_TASK],
        )
        mine = await create_rule(
            notification, tenant.owner, trigger="work.task.created", actions=[CREATE_TASK]
        )

        await automations.handle(task_created(manager, uuid.uuid4()))

        assert await automations.runs(other_tenant.id, theirs["id"]) == []
        assert len(await automations.runs(tenant.id, mine["id"])) == 1
        [call] = automations.peers.calls
        assert call.args["tenant_id"] == tenant.id
        assert call.args["acting_user_id"] == tenant.owner.user_id


class TestLoopProtection:
    async def test_a_chain_of_automations_stops_at_the_maximum_depth(
        self,
        notification: httpx.AsyncClient,
        automations: Automations,
        tenant: Agency,
        manager: Caller,
    ) -> None:
        # A task created makes a task: work would publish that one at depth + 1, and so on.
        rule = await create_rule(
            notification, tenant.owner, trigger="work.task.created", actions=[CREATE_TASK]
        )
        project = uuid.uuid4()

        for depth in range(4):
            await automations.handle(task_created(manager, project, depth=depth))

        runs = await automations.runs(tenant.id, rule["id"])
        assert [(r["depth"], r["status"]) for r in runs] == [
            (0, "succeeded"),
            (1, "succeeded"),
            (2, "succeeded"),
            (3, "stopped"),
        ]
        assert runs[3]["note"] == (
            "the chain of automations reached depth 3 (the most is 3): nothing ran"
        )
        assert runs[3]["actions"] == []
        # each task was asked for one level deeper than the event that led to it
        assert [c.depth for c in automations.peers.calls] == [1, 2, 3]

    async def test_the_notices_an_action_publishes_carry_the_depth(
        self,
        notification: httpx.AsyncClient,
        automations: Automations,
        in_process: InProcess,
        tenant: Agency,
        manager: Caller,
    ) -> None:
        await create_rule(
            notification,
            tenant.owner,
            trigger="crm.client.created",
            actions=[notify({"role": "manager"})],
        )

        await automations.handle(client_created(tenant.owner, depth=2))

        service = await in_process.service("notification")
        [created] = await service.outbox(tenant.id, "notification.notice.created")
        assert created["automationdepth"] == 3


@pytest.fixture
async def slow_retries(
    in_process: InProcess, notification: httpx.AsyncClient, peers: RecordingPeers
) -> Automations:
    """The engine with real waits between retries (0.3 s each)."""
    service = await in_process.service("notification")
    engine, runner = make_engine(
        in_process, service.ctx.database(), peers, retry_seconds=[0.3, 0.3, 0.3]
    )
    return Automations(in_process, engine, runner, peers)


class TestRetries:
    async def test_an_action_failing_twice_then_succeeding_is_retried_while_other_events_run(
        self,
        notification: httpx.AsyncClient,
        slow_retries: Automations,
        in_process: InProcess,
        tenant: Agency,
        manager: Caller,
    ) -> None:
        automations = slow_retries
        tasks = await create_rule(
            notification, tenant.owner, trigger="work.task.created", actions=[CREATE_TASK]
        )
        clients = await create_rule(
            notification,
            tenant.owner,
            trigger="crm.client.created",
            actions=[notify({"role": "manager"}, "client")],
        )
        automations.peers.fail_next(2)

        await automations.feed(task_created(manager, uuid.uuid4()))
        await automations.run_due()
        [waiting] = await automations.runs(tenant.id, tasks["id"])
        assert waiting["status"] == "running"
        assert waiting["actions"][0]["attempts"] == 1
        assert waiting["actions"][0]["status"] == "pending"
        assert "work is down" in waiting["actions"][0]["error"]

        # meanwhile the consumer goes on: another event's rule runs at once
        assert await automations.feed(client_created(manager)) == "ok"
        await automations.run_due()
        [other] = await automations.runs(tenant.id, clients["id"])
        assert other["status"] == "succeeded"
        assert (await automations.runs(tenant.id, tasks["id"]))[0]["status"] == "running"

        for _ in range(40):
            await asyncio.sleep(0.1)
            await automations.run_due()
            [run] = await automations.runs(tenant.id, tasks["id"])
            if run["status"] != "running":
                break
        assert run["status"] == "succeeded"
        [action] = run["actions"]
        assert (action["status"], action["attempts"]) == ("succeeded", 3)
        assert action["error"] is None
        assert len(automations.peers.calls) == 1

    async def test_after_the_last_retry_the_action_fails_and_the_next_ones_still_run(
        self,
        notification: httpx.AsyncClient,
        automations: Automations,
        in_process: InProcess,
        tenant: Agency,
        manager: Caller,
    ) -> None:
        rule = await create_rule(
            notification,
            tenant.owner,
            trigger="work.task.created",
            actions=[CREATE_TASK, notify({"role": "manager"}, "after")],
        )
        automations.peers.fail_next(10)

        await automations.handle(task_created(manager, uuid.uuid4()))

        [run] = await automations.runs(tenant.id, rule["id"])
        assert run["status"] == "failed"
        failed, after = run["actions"]
        assert (failed["status"], failed["attempts"]) == ("failed", 4)
        assert "ServiceUnavailable" in failed["error"]
        assert after["status"] == "succeeded"
        assert run["finished_at"] is not None

    async def test_a_target_that_resolves_to_nobody_is_tried_again_then_fails_saying_so(
        self,
        notification: httpx.AsyncClient,
        automations: Automations,
        tenant: Agency,
        manager: Caller,
    ) -> None:
        # the directory is fed by identity's events, which may not have been handled yet: a
        # role with nobody in it is not a success with no one told
        rule = await create_rule(
            notification,
            tenant.owner,
            trigger="work.task.created",
            actions=[notify({"role": "admin"}, "nobody here")],
        )

        await automations.handle(task_created(manager, uuid.uuid4()))

        [run] = await automations.runs(tenant.id, rule["id"])
        [action] = run["actions"]
        assert (run["status"], action["status"], action["attempts"]) == ("failed", "failed", 4)
        assert "resolved to nobody" in action["error"]

    async def test_a_refusal_is_not_retried(
        self,
        notification: httpx.AsyncClient,
        automations: Automations,
        tenant: Agency,
        manager: Caller,
    ) -> None:
        rule = await create_rule(
            notification, tenant.owner, trigger="work.task.created", actions=[CREATE_TASK]
        )
        automations.peers.refuse_next(PermissionDenied("may not write tasks in this project"))

        await automations.handle(task_created(manager, uuid.uuid4()))

        [run] = await automations.runs(tenant.id, rule["id"])
        [action] = run["actions"]
        assert (run["status"], action["status"], action["attempts"]) == ("failed", "failed", 1)
        assert "may not write tasks" in action["error"]


class TestRunsEndpoint:
    async def test_runs_are_listed_newest_first_with_each_action_s_outcome(
        self,
        notification: httpx.AsyncClient,
        automations: Automations,
        tenant: Agency,
        manager: Caller,
    ) -> None:
        rule = await create_rule(
            notification, tenant.owner, trigger="work.task.created", actions=[CREATE_TASK]
        )
        first = task_created(manager, uuid.uuid4())
        second = task_created(manager, uuid.uuid4(), depth=3)
        await automations.handle(first)
        await automations.handle(second)

        response = await notification.get(
            f"/v1/automations/{rule['id']}/runs", headers=manager.headers
        )

        body = response.json()
        assert body["total"] == 2
        assert [r["event_id"] for r in body["items"]] == [str(second.id), str(first.id)]
        assert body["items"][0]["status"] == "stopped"
        [action] = body["items"][1]["actions"]
        assert action["kind"] == "create_task"
        assert action["status"] == "succeeded"
        assert action["detail"]["task_id"]
        assert "action" not in action  # what the run did is not repeated in the listing
