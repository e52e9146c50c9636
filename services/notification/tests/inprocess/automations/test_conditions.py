"""Each condition operator, on its own and as the engine applies it (a rule whose conditions
do not hold leaves no run)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agencyos.notification.automations.conditions import Op, holds
from agencyos.testing.inprocess import Caller

from .support import Automations, create_rule, notify, task_updated

EVENT: dict[str, Any] = {
    "type": "work.task.updated",
    "data": {
        "status": "done",
        "task_version": 4,
        "due_date": "2026-12-10",
        "changed_fields": ["status"],
        "priority": "high",
        "bill_to": {"email": "a@b.example"},
    },
}


@pytest.mark.parametrize(
    ("field", "op", "value", "expected"),
    [
        ("data.status", Op.EQUALS, "done", True),
        ("data.status", Op.EQUALS, "todo", False),
        ("data.missing", Op.EQUALS, None, False),
        ("data.status", Op.NOT_EQUALS, "todo", True),
        ("data.status", Op.NOT_EQUALS, "done", False),
        ("data.missing", Op.NOT_EQUALS, "x", True),
        ("data.status", Op.IN, ["todo", "done"], True),
        ("data.status", Op.IN, ["todo"], False),
        ("data.task_version", Op.GT, 3, True),
        ("data.task_version", Op.GT, 4, False),
        ("data.task_version", Op.LT, 5, True),
        ("data.task_version", Op.LT, "5", False),
        ("data.due_date", Op.LT, "2026-12-31", True),
        ("data.due_date", Op.GT, "2026-12-31", False),
        ("data.bill_to.email", Op.EQUALS, "a@b.example", True),
        ("data.status", Op.CHANGED_TO, "done", True),
        ("data.priority", Op.CHANGED_TO, "high", False),
        ("data.status", Op.CHANGED_TO, "todo", False),
    ],
    ids=lambda v: str(v),
)
def test_an_operator_holds_exactly_when_it_should(
    field: str, op: Op, value: Any, expected: bool
) -> None:
    assert holds(EVENT, field, op, value) is expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"old_status": "active", "new_status": "done"}, True),
        ({"old_status": "done", "new_status": "done"}, False),
    ],
    ids=["changed", "unchanged"],
)
def test_changed_to_also_reads_the_value_before(data: dict[str, Any], expected: bool) -> None:
    assert holds({"data": data}, "data.new_status", Op.CHANGED_TO, "done") is expected


class TestTheEngineRunsOnlyRulesWhoseConditionsHold:
    async def test_a_status_changed_to_done_runs_and_other_updates_leave_no_run(
        self, notification: httpx.AsyncClient, automations: Automations, manager: Caller
    ) -> None:
        rule = await create_rule(
            notification,
            manager,
            trigger="work.task.updated",
            conditions=[{"field": "data.status", "op": "changed_to", "value": "done"}],
            actions=[notify({"role": "manager"}, "{{ data.title }} is done")],
        )
        project = uuid.uuid4()

        await automations.handle(task_updated(manager, project, status="done", changed=["title"]))
        await automations.handle(task_updated(manager, project, status="todo", changed=["status"]))
        done = task_updated(manager, project, status="done", changed=["status"])
        await automations.handle(done)

        runs = await automations.runs(manager.agency_id, rule["id"])
        assert [r["event_id"] for r in runs] == [done.id]
        assert runs[0]["status"] == "succeeded"

    async def test_every_condition_must_hold(
        self, notification: httpx.AsyncClient, automations: Automations, manager: Caller
    ) -> None:
        rule = await create_rule(
            notification,
            manager,
            trigger="work.task.updated",
            conditions=[
                {"field": "data.status", "op": "in", "value": ["done", "review"]},
                {"field": "data.priority", "op": "not_equals", "value": "low"},
            ],
            actions=[notify({"role": "manager"}, "x")],
        )
        project = uuid.uuid4()
        low = task_updated(manager, project, status="done", changed=["status"], priority="low")
        high = task_updated(manager, project, status="review", changed=["status"], priority="high")

        await automations.handle(low)
        await automations.handle(high)

        runs = await automations.runs(manager.agency_id, rule["id"])
        assert [r["event_id"] for r in runs] == [high.id]
