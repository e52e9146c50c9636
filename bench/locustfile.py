"""Locust users for `make bench`: "create a client, then read it back", as fast as possible.

Environment:
    BENCH_HOST   base URL (the gateway, or crm directly); `--host` on the command line wins
    BENCH_TOKEN  an access token of an agency owner (Authorization: Bearer ...)

Every task run is one flow: `POST /v1/clients` (must answer 201), then
`GET /v1/clients/{id}` (must answer 200 with the same id). Both requests are timed together
and reported as one sample of request type FLOW named "create+read"; that row of the stats
CSV is what bench/run.py reports. The two per-request rows Locust records as usual stay in
the CSV for reference. A flow fails when either request fails.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

from locust import FastHttpUser, constant, task

FLOW_TYPE = "FLOW"
FLOW_NAME = "create+read"


class CreateThenRead(FastHttpUser):
    host = os.environ.get("BENCH_HOST", "")
    wait_time = constant(0)  # closed loop: a user starts its next flow as soon as one ends
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        token = os.environ.get("BENCH_TOKEN", "")
        if not token:
            raise RuntimeError("BENCH_TOKEN is not set")
        self.auth = {"Authorization": f"Bearer {token}"}

    @task
    def create_then_read(self) -> None:
        started = time.perf_counter()
        error: Exception | None = None
        size = 0
        client_id: str | None = None
        with self.client.post(
            "/v1/clients",
            json={"company_name": f"Bench {uuid.uuid4().hex[:12]}", "industry": "Benchmarks"},
            headers=self.auth,
            name="POST /v1/clients",
            catch_response=True,
        ) as created:
            size += len(created.content or b"")
            if created.status_code != 201:
                error = _unexpected("create", created.status_code, created.text)
            else:
                client_id = _field(_json(created.text), "id")
                if client_id is None:
                    error = RuntimeError("create: no id in the response")
            if error is None:
                created.success()
            else:
                created.failure(error)
        if client_id is not None:
            with self.client.get(
                f"/v1/clients/{client_id}",
                headers=self.auth,
                name="GET /v1/clients/{id}",
                catch_response=True,
            ) as read:
                size += len(read.content or b"")
                if read.status_code != 200:
                    error = _unexpected("read", read.status_code, read.text)
                elif _field(_json(read.text), "id") != client_id:
                    error = RuntimeError("read: a different client came back")
                if error is None:
                    read.success()
                else:
                    read.failure(error)
        self.environment.events.request.fire(
            request_type=FLOW_TYPE,
            name=FLOW_NAME,
            response_time=(time.perf_counter() - started) * 1000.0,
            response_length=size,
            exception=error,
            context={},
            response=None,
        )


def _json(text: str | None) -> Any:
    try:
        return json.loads(text or "")
    except ValueError:
        return None


def _field(body: Any, name: str) -> str | None:
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def _unexpected(step: str, status: int, text: str | None) -> RuntimeError:
    return RuntimeError(f"{step}: HTTP {status}: {(text or '')[:200]}")
