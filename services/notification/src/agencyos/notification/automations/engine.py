"""The automation engine: which rules an event sets off (`on_event`, the consumer's handler)
and running their actions (`run_due`, the worker's loop).

For each event: the agency's enabled rules on its type whose conditions all hold get a run
(once per rule and event: a redelivered event runs nothing twice). Rules whose conditions do
not hold leave no row (one per event and rule would be most of the table). An event made by a
chain of `max_depth` automation actions (its `automationdepth`) gets a `stopped` run, noted,
and nothing runs.

A run's actions run in order, outside the consumer: the consumer only records the run with
its first action due, and the worker's loop picks up runs with an action due, in every agency
(under each run's own tenant, the run row locked so two workers never run it together). An
action that fails for a temporary reason is tried again after the next wait of
`retry_seconds` (the run stays `running`, the next actions wait for it, the consumer goes on);
after the last wait, or at once for a failure that cannot pass, it is `failed` and the next
actions still run. A run ends `succeeded`, or `failed` when any action failed.

Actions run with the automation depth of the event plus one attached, so what they cause
(notices published, tasks created through work) carries it on, and a chain stops.

Delivery: at least once. An action's effect and its outcome commit together for notices,
emails and webhook deliveries (exactly once); a task or timeline entry created by a peer just
before the worker died is created again on the retry.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from opentelemetry import context as otel_context
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Database, utcnow
from agencyos.common.events import CloudEvent
from agencyos.common.logs import get_logger
from agencyos.common.tracing import AUTOMATION_DEPTH_EXTENSION, with_automation_depth
from agencyos.notification.automations.actions import ActionContext, perform, permanent
from agencyos.notification.automations.conditions import all_hold
from agencyos.notification.automations.ports import AutomationPeers
from agencyos.notification.automations.repository import rule_repository, run_repository
from agencyos.notification.models import AutomationRule, AutomationRun, AutomationRunStatus

log = get_logger(__name__)

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"
ERROR_LIMIT = 500


def event_depth(event: CloudEvent) -> int:
    """How many automation actions in a row led to `event` (absent: none)."""
    raw = (event.model_extra or {}).get(AUTOMATION_DEPTH_EXTENSION)
    try:
        return max(0, int(str(raw))) if raw is not None else 0
    except ValueError:
        return 0


def _iso(moment: datetime) -> str:
    return moment.isoformat()


class AutomationEngine:
    def __init__(
        self,
        db: Database,
        peers: AutomationPeers,
        *,
        max_depth: int,
        retry_seconds: Sequence[float],
        webhook_max_attempts: int,
        batch_size: int = 100,
        concurrency: int = 4,
    ) -> None:
        self.db = db
        self.peers = peers
        self.max_depth = max_depth
        self.retry_seconds = list(retry_seconds)
        self.webhook_max_attempts = webhook_max_attempts
        self.batch_size = batch_size
        self.concurrency = max(1, concurrency)

    # --- the consumer's half -----------------------------------------------------------------

    async def on_event(self, session: AsyncSession, event: CloudEvent) -> None:
        """Record a run for each of the agency's enabled rules on the event's type whose
        conditions hold (in the consumer's transaction, tenant set)."""
        rules = await rule_repository.enabled_for(session, event.type)
        if not rules:
            return
        document = event.model_dump(mode="json")
        depth = event_depth(event)
        now = utcnow()
        for rule in rules:
            if not all_hold(document, rule.conditions):
                continue
            values: dict[str, Any] = {
                "tenant_id": event.tenantid,
                "id": uuid.uuid4(),
                "rule_id": rule.id,
                "event_id": event.id,
                "event_type": event.type,
                "depth": depth,
                "event": document,
            }
            if depth >= self.max_depth:
                values |= {
                    "status": AutomationRunStatus.STOPPED.value,
                    "actions": [],
                    "note": (
                        f"the chain of automations reached depth {depth} (the most is "
                        f"{self.max_depth}): nothing ran"
                    ),
                    "finished_at": now,
                    "next_attempt_at": None,
                }
            else:
                values |= {
                    "status": AutomationRunStatus.RUNNING.value,
                    "actions": [
                        {
                            "index": i,
                            "kind": action["kind"],
                            "status": PENDING,
                            "attempts": 0,
                            # what the run does, as the rule said when the event came
                            "action": action,
                        }
                        for i, action in enumerate(rule.actions)
                    ],
                    "next_attempt_at": now,
                }
            await run_repository.insert_once(session, values)

    # --- the worker's half -------------------------------------------------------------------

    async def run_due(self) -> int:
        """Run the due actions of every agency's runs once; answers how many runs moved on
        (not those another worker held, nor those that failed to: the loop then waits)."""
        async with self.db.transaction(None) as session:
            due = await run_repository.due_everywhere(session, utcnow(), self.batch_size)
        if not due:
            return 0
        gate = asyncio.Semaphore(self.concurrency)

        async def one(tenant_id: uuid.UUID, run_id: uuid.UUID) -> bool:
            async with gate:
                try:
                    return await self.run_one(tenant_id, run_id)
                except Exception as exc:  # the next pass tries it again
                    log.error(
                        "automation run failed to advance",
                        run_id=str(run_id),
                        tenant_id=str(tenant_id),
                        error=f"{type(exc).__name__}: {exc}"[:2000],
                    )
                    return False

        moved = await asyncio.gather(*(one(t, r) for t, r in due))
        return sum(moved)

    async def run_one(self, tenant_id: uuid.UUID, run_id: uuid.UUID) -> bool:
        """Run the run's due actions; False when there were none to run (done meanwhile, or
        another worker has it)."""
        async with self.db.transaction(tenant_id) as session:
            run = await run_repository.claim(session, run_id, utcnow())
            if run is None:
                return False
            rule = await rule_repository.get(session, run.rule_id)
            assert rule is not None, "a rule's runs go with it"
            token = otel_context.attach(with_automation_depth(run.depth + 1))
            try:
                await self._advance(session, run, rule)
            finally:
                otel_context.detach(token)
        return True

    async def _advance(
        self, session: AsyncSession, run: AutomationRun, rule: AutomationRule
    ) -> None:
        outcomes = [dict(outcome) for outcome in run.actions]
        waiting: datetime | None = None
        for outcome in outcomes:
            if outcome["status"] != PENDING:
                continue
            due = outcome.get("next_attempt_at")
            if due is not None and datetime.fromisoformat(due) > utcnow():
                waiting = datetime.fromisoformat(due)
                break
            outcome["attempts"] = int(outcome.get("attempts", 0)) + 1
            ctx = ActionContext(
                session=session,
                tenant_id=run.tenant_id,
                run_id=run.id,
                index=int(outcome["index"]),
                rule=rule,
                event=run.event,
                peers=self.peers,
                webhook_max_attempts=self.webhook_max_attempts,
            )
            try:
                async with session.begin_nested():
                    detail = await perform(ctx, outcome["action"])
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:ERROR_LIMIT]
                outcome["error"] = error
                retries_left = outcome["attempts"] <= len(self.retry_seconds)
                if permanent(exc) or not retries_left:
                    outcome["status"] = FAILED
                    outcome.pop("next_attempt_at", None)
                    log.warning(
                        "automation action failed",
                        run_id=str(run.id),
                        kind=outcome["kind"],
                        attempts=outcome["attempts"],
                        error=error,
                    )
                    continue
                waiting = utcnow() + timedelta(seconds=self.retry_seconds[outcome["attempts"] - 1])
                outcome["next_attempt_at"] = _iso(waiting)
                break
            outcome |= {"status": SUCCEEDED, "detail": detail, "error": None}
            outcome.pop("next_attempt_at", None)
        run.actions = outcomes
        if waiting is not None:
            run.next_attempt_at = waiting
        else:
            failed = any(outcome["status"] == FAILED for outcome in outcomes)
            run.status = (
                AutomationRunStatus.FAILED if failed else AutomationRunStatus.SUCCEEDED
            ).value
            run.finished_at = utcnow()
            run.next_attempt_at = None
        await session.flush()


def handlers_for(engine: AutomationEngine, types: Sequence[str]) -> Mapping[str, Any]:
    return {event_type: engine.on_event for event_type in types}
