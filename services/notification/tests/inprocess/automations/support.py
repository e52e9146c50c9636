"""What the automation tests share: a typed in-memory stand-in of the peers (recording each
call, failing on demand), the engine over notification's database fed through its own
consumer runner (inbox, transaction under the event's agency), and events to feed it."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from aiokafka.structs import ConsumerRecord

from agencyos.common.consumer import ConsumerRunner
from agencyos.common.db import utcnow
from agencyos.common.errors import AppError, ServiceUnavailable
from agencyos.common.events import (
    ClientCreated,
    CloudEvent,
    EventPayload,
    TaskCompleted,
    TaskCreated,
    TaskUpdated,
    build_event,
)
from agencyos.common.tracing import AUTOMATION_DEPTH_EXTENSION, automation_depth
from agencyos.notification.automations.engine import AutomationEngine
from agencyos.notification.automations.worker import CONSUMER_NAME, subscription_of
from agencyos.testing.inprocess import Caller, InProcess


@dataclass
class PeerCall:
    method: str
    args: dict[str, Any]
    # the automation depth the call was made at (travels as baggage to the peer)
    depth: int


@dataclass
class RecordingPeers:
    """`AutomationPeers` in memory: answers a new id per call and records it; `failures`
    makes the next calls raise (temporary unless an AppError is given)."""

    calls: list[PeerCall] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)

    def _record(self, method: str, args: dict[str, Any]) -> uuid.UUID:
        if self.failures:
            raise self.failures.pop(0)
        self.calls.append(PeerCall(method, args, automation_depth()))
        return uuid.uuid4()

    def fail_next(self, times: int, error: Exception | None = None) -> None:
        self.failures.extend([error or ServiceUnavailable("work is down")] * times)

    def refuse_next(self, error: AppError) -> None:
        self.failures.append(error)

    async def create_task(
        self,
        *,
        tenant_id: uuid.UUID,
        acting_user_id: uuid.UUID,
        project_id: uuid.UUID,
        title: str,
        description: str | None,
        assignee_id: uuid.UUID | None,
        due_date: date | None,
    ) -> uuid.UUID:
        return self._record(
            "create_task",
            {
                "tenant_id": tenant_id,
                "acting_user_id": acting_user_id,
                "project_id": project_id,
                "title": title,
                "description": description,
                "assignee_id": assignee_id,
                "due_date": due_date,
            },
        )

    async def add_timeline_entry(
        self,
        *,
        tenant_id: uuid.UUID,
        acting_user_id: uuid.UUID,
        client_id: uuid.UUID,
        title: str,
        body: str | None,
    ) -> uuid.UUID:
        return self._record(
            "add_timeline_entry",
            {
                "tenant_id": tenant_id,
                "acting_user_id": acting_user_id,
                "client_id": client_id,
                "title": title,
                "body": body,
            },
        )


@dataclass
class Automations:
    """The engine, fed events through its own consumer runner, and run step by step."""

    in_process: InProcess
    engine: AutomationEngine
    runner: ConsumerRunner
    peers: RecordingPeers

    async def feed(self, event: CloudEvent) -> str:
        record: ConsumerRecord[bytes, bytes] = ConsumerRecord(
            topic=event.type.split(".", 1)[0] + ".events",
            partition=0,
            offset=0,
            timestamp=0,
            timestamp_type=0,
            key=str(event.tenantid).encode(),
            value=event.model_dump_json(exclude_none=True).encode(),
            checksum=None,
            serialized_key_size=-1,
            serialized_value_size=-1,
            headers=[],
        )
        return await self.runner.handle_record(record)

    async def run_due(self) -> int:
        return await self.engine.run_due()

    async def handle(self, event: CloudEvent) -> str:
        """Feed the event, then run what is due until nothing is."""
        outcome = await self.feed(event)
        while await self.run_due():
            pass
        return outcome

    async def runs(self, tenant_id: uuid.UUID, rule_id: uuid.UUID | str) -> list[dict[str, Any]]:
        service = await self.in_process.service("notification")
        found = await service.rows(
            "SELECT * FROM automation_runs WHERE rule_id = $1 ORDER BY started_at, id",
            uuid.UUID(str(rule_id)),
            tenant_id=tenant_id,
        )
        return [
            {
                **dict(r),
                "actions": json.loads(r["actions"]),
                "event": json.loads(r["event"]),
            }
            for r in found
        ]


def make_engine(
    in_process: InProcess,
    database: Any,
    peers: RecordingPeers,
    *,
    retry_seconds: list[float] | None = None,
    max_depth: int = 3,
) -> tuple[AutomationEngine, ConsumerRunner]:
    engine = AutomationEngine(
        database,
        peers,
        max_depth=max_depth,
        retry_seconds=[0.0, 0.0, 0.0] if retry_seconds is None else retry_seconds,
        webhook_max_attempts=3,
    )
    runner = ConsumerRunner(
        CONSUMER_NAME, database, "127.0.0.1:1", subscription_of(engine), max_attempts=1
    )
    return engine, runner


def at_depth(event: CloudEvent, depth: int) -> CloudEvent:
    if depth:
        setattr(event, AUTOMATION_DEPTH_EXTENSION, depth)
    return event


def event_of(payload: EventPayload, who: Caller, *, depth: int = 0) -> CloudEvent:
    source = payload.event_type.split(".", 1)[0]
    return at_depth(build_event(payload, tenant_id=who.agency_id, source_service=source), depth)


def client_created(who: Caller, *, owner_id: uuid.UUID | None = None, depth: int = 0) -> CloudEvent:
    client_id = uuid.uuid4()
    return event_of(
        ClientCreated(
            client_id=client_id,
            company_name=f"Client {client_id.hex[:6]}",
            status="lead",
            owner_id=owner_id,
            created_by=who.user_id,
        ),
        who,
        depth=depth,
    )


def _task_fields(
    project_id: uuid.UUID, title: str, status: str, assignees: list[uuid.UUID]
) -> dict[str, Any]:
    return {
        "task_id": uuid.uuid4(),
        "project_id": project_id,
        "title": title,
        "status": status,
        "column_id": uuid.uuid4(),
        "assignee_ids": assignees,
        "visible_to_client": False,
        "task_version": 1,
        "actor_id": None,
    }


def task_created(
    who: Caller,
    project_id: uuid.UUID,
    *,
    title: str = "Draft the brief",
    status: str = "todo",
    assignees: list[uuid.UUID] | None = None,
    depth: int = 0,
) -> CloudEvent:
    return event_of(
        TaskCreated(**_task_fields(project_id, title, status, assignees or [])), who, depth=depth
    )


def task_updated(
    who: Caller,
    project_id: uuid.UUID,
    *,
    status: str,
    changed: list[str],
    title: str = "Draft the brief",
    priority: str | None = None,
) -> CloudEvent:
    return event_of(
        TaskUpdated(
            **_task_fields(project_id, title, status, []),
            changed_fields=changed,
            priority=priority,
        ),
        who,
    )


def task_completed(who: Caller, project_id: uuid.UUID, *, title: str) -> CloudEvent:
    return event_of(
        TaskCompleted(**_task_fields(project_id, title, "done", []), completed_at=utcnow()), who
    )


async def create_rule(client: httpx.AsyncClient, who: Caller, **rule: Any) -> dict[str, Any]:
    body = {"name": "A rule", **rule}
    response = await client.post("/v1/automations", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def notify(
    to: dict[str, Any], title: str = "Heads up: {{ data.company_name }}", **more: Any
) -> dict[str, Any]:
    return {"kind": "notify", "to": to, "title": title, **more}
