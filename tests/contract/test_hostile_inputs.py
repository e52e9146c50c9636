"""No route answers 5xx to hostile input (ARCHITECTURE.md §6: bad input is a 4xx).

Every operation of the gateway's merged OpenAPI gets, one field at a time, the classes of input
that used to reach PostgreSQL or Python unchecked: a NUL in a string, integers past a bigint
(2**64, -2**64), an integer sent as `"12"` or `true`, `"0"` as a date or date-time, a
control character as a path segment, and a CSV file with NUL bytes for uploads. Everything
else in the request is plausible, so the hostile value is what the route has to deal with.
All failures are collected and reported together.
"""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import AgencySession, signup_agency

pytestmark = pytest.mark.timeout(240)

NUL = "a\x00b"
HUGE = 2**64
CONCURRENCY = 4
# Streams never end; they are covered by the gateway's own tests.
SKIPPED_PATHS = frozenset({"/v1/stream"})
CSV_WITH_NUL = b"company_name,email\na\x00b,x\x00@example.com\n"
# The owner's own session and account go last, so nothing earlier runs logged out.
LAST_PREFIXES = ("/v1/auth", "/v1/me", "/v1/sessions", "/v1/agency")


@dataclass
class Probe:
    method: str
    path: str
    label: str
    url: str
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    content: bytes | None = None
    files: dict[str, Any] | None = None
    data: dict[str, Any] | None = None


class Schemas:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def resolve(self, schema: dict[str, Any] | None) -> dict[str, Any]:
        schema = dict(schema or {})
        seen = 0
        while "$ref" in schema and seen < 20:
            seen += 1
            target: Any = self.spec
            for part in schema.pop("$ref").lstrip("#/").split("/"):
                target = target[part]
            schema = {**target, **schema}
        for key in ("allOf", "anyOf", "oneOf"):
            options = [self.resolve(s) for s in schema.get(key, [])]
            options = [o for o in options if o.get("type") != "null"]
            if options:
                merged = {k: v for k, v in schema.items() if k not in ("allOf", "anyOf", "oneOf")}
                return {**options[0], **merged}
        return schema

    def kind(self, schema: dict[str, Any]) -> str:
        resolved = self.resolve(schema)
        if "enum" in resolved or "const" in resolved:
            return "enum"
        return str(resolved.get("type", "object" if "properties" in resolved else "any"))

    def sample(self, schema: dict[str, Any] | None, name: str = "", depth: int = 0) -> Any:
        """A plausible value: what a well-behaved client would send."""
        s = self.resolve(schema)
        if "example" in s:
            return s["example"]
        if "enum" in s:
            return s["enum"][0]
        if "const" in s:
            return s["const"]
        if "default" in s and s["default"] is not None:
            return s["default"]
        kind = s.get("type", "object" if "properties" in s else "string")
        if kind == "object":
            if depth > 4:
                return {}
            props = s.get("properties", {})
            return {
                key: self.sample(props[key], key, depth + 1)
                for key in s.get("required", [])
                if key in props
            }
        if kind == "array":
            count = s.get("minItems", 0)
            return [self.sample(s.get("items"), name, depth + 1) for _ in range(count)]
        if kind == "integer":
            low = s.get("minimum", s.get("exclusiveMinimum", 0) + 1)
            return max(int(low), 1) if s.get("maximum", 10**9) >= 1 else int(low)
        if kind == "number":
            return 1
        if kind == "boolean":
            return True
        return self.string_sample(s, name)

    def string_sample(self, s: dict[str, Any], name: str) -> str:
        fmt = s.get("format", "")
        pattern = s.get("pattern", "")
        if fmt == "uuid":
            return str(uuid.uuid4())
        if fmt == "date":
            return "2026-03-02"
        if fmt == "date-time":
            return "2026-03-02T10:00:00Z"
        if fmt == "email" or "email" in name:
            return f"probe-{uuid.uuid4().hex[:8]}@example.com"
        if fmt in ("uri", "url") or name.endswith("url"):
            return "https://example.com/hook"
        if "currency" in name or pattern == "^[A-Z]{3}$":
            return "EUR"
        if "password" in name:
            return "correct horse battery staple"
        value = "probe"
        minimum = s.get("minLength", 1)
        return (value * (minimum // len(value) + 1))[: max(minimum, len(value))][
            : s.get("maxLength", 200)
        ]


def _hostile_values(
    schemas: Schemas, schema: dict[str, Any], *, in_body: bool
) -> Iterator[tuple[str, Any]]:
    s = schemas.resolve(schema)
    kind = schemas.kind(schema)
    fmt = s.get("format", "")
    if kind in ("string", "enum", "any"):
        yield "NUL", NUL
    if fmt in ("date", "date-time"):
        yield "date 0", "0"
    if kind == "integer":
        yield "2**64", HUGE
        yield "-2**64", -HUGE
        if in_body:
            yield '"12"', "12"
            yield "true", True


def _body_fields(
    schemas: Schemas, schema: dict[str, Any], prefix: tuple[str | int, ...] = (), depth: int = 0
) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """Every field of a body schema, nested objects (and the first item of arrays) included."""
    s = schemas.resolve(schema)
    if depth > 3:
        return
    kind = s.get("type", "object" if "properties" in s else None)
    if kind == "object":
        for key, sub in s.get("properties", {}).items():
            yield (*prefix, key), sub
            yield from _body_fields(schemas, sub, (*prefix, key), depth + 1)
    elif kind == "array":
        yield from _body_fields(schemas, s.get("items", {}), (*prefix, 0), depth + 1)


def _set(body: Any, where: tuple[str | int, ...], value: Any, schemas: Schemas, root: Any) -> Any:
    """`body` with `value` at `where`, building the plausible containers on the way."""
    body = copy.deepcopy(body)
    node = body
    schema = schemas.resolve(root)
    for step in where[:-1]:
        if isinstance(step, int):
            schema = schemas.resolve(schema.get("items"))
            if not node:
                node.append(schemas.sample(schema))
            node = node[0]
        else:
            schema = schemas.resolve(schema.get("properties", {}).get(step))
            if node.get(step) is None:
                kind = schema.get("type", "object" if "properties" in schema else None)
                node[step] = [] if kind == "array" else schemas.sample(schema, step)
            node = node[step]
    last = where[-1]
    if isinstance(last, int):
        node[:] = [value]
    else:
        node[last] = value
    return body


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def _plausible_body(schemas: Schemas, schema: dict[str, Any], seeds: dict[str, str]) -> Any:
    """The schema's first documented example where it has one (so e.g. a stage move names a
    real stage and the hostile field is what the route meets), its ids swapped for the seeded
    resources' (ids nothing seeded are left out unless required); else the required fields."""
    body = schemas.sample(schema)
    resolved = schemas.resolve(schema)
    examples = resolved.get("examples") or []
    if not isinstance(body, dict) or not examples or not isinstance(examples[0], dict):
        return body
    required = set(resolved.get("required", []))
    for key, value in examples[0].items():
        if _is_uuid(value):
            if key in seeds:
                body[key] = seeds[key]
            elif key not in required:
                body.pop(key, None)
        else:
            body[key] = copy.deepcopy(value)
    return body


def _operation_probes(
    schemas: Schemas,
    path: str,
    method: str,
    op: dict[str, Any],
    shared_params: list[dict[str, Any]],
    seeds: dict[str, str],
) -> list[Probe]:
    params = [schemas.resolve(p) for p in shared_params + op.get("parameters", [])]
    path_params = {p["name"]: p for p in params if p.get("in") == "path"}
    query_params = [p for p in params if p.get("in") == "query"]
    plausible_path = {
        name: seeds.get(name) or str(schemas.sample(p.get("schema"), name))
        for name, p in path_params.items()
    }

    def url_with(**overrides: str) -> str:
        url = path
        for name, value in {**plausible_path, **overrides}.items():
            url = url.replace("{" + name + "}", value)
        return url

    required_query = {
        p["name"]: schemas.sample(p.get("schema"), p["name"])
        for p in query_params
        if p.get("required")
    }
    content = op.get("requestBody", {}).get("content", {})
    json_schema = content.get("application/json", {}).get("schema")
    multipart = content.get("multipart/form-data", {}).get("schema")
    body = _plausible_body(schemas, json_schema, seeds) if json_schema is not None else None
    verb = method.upper()
    found: list[Probe] = []

    def probe(label: str, **kwargs: Any) -> None:
        kwargs.setdefault("url", url_with())
        kwargs.setdefault("query", required_query)
        if json_schema is not None:
            kwargs.setdefault("body", body)
        found.append(Probe(verb, path, label, **kwargs))

    for name in path_params:
        probe(f"path {name}=%1D", url=url_with(**{name: "%1D"}))
        probe(f"path {name}=%00", url=url_with(**{name: "%00"}))
    for p in query_params:
        for label, value in _hostile_values(schemas, p.get("schema", {}), in_body=False):
            probe(f"query {p['name']}={label}", query={**required_query, p["name"]: value})
    if json_schema is not None:
        for where, sub in _body_fields(schemas, json_schema):
            for label, value in _hostile_values(schemas, sub, in_body=True):
                hostile = _set(body, where, value, schemas, json_schema)
                probe(f"body {'.'.join(str(w) for w in where)}={label}", body=hostile)
    if multipart is not None:
        form = schemas.resolve(multipart).get("properties", {})
        files = {
            key: ("hostile.csv", CSV_WITH_NUL, "text/csv")
            for key, sub in form.items()
            if schemas.resolve(sub).get("format") == "binary"
            or schemas.resolve(sub).get("contentMediaType")
        }
        data = {
            key: NUL
            for key, sub in form.items()
            if key not in files and schemas.kind(sub) == "string"
        }
        probe("multipart NUL bytes", files=files, data=data or None)
    return found


def probes(spec: dict[str, Any], seeds: dict[str, str]) -> list[Probe]:
    schemas = Schemas(spec)
    found: list[Probe] = []
    for path, item in spec.get("paths", {}).items():
        if path in SKIPPED_PATHS:
            continue
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                found += _operation_probes(
                    schemas, path, method, op, item.get("parameters", []), seeds
                )
    return found


async def _created(
    gateway: httpx.AsyncClient, owner: AgencySession, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await gateway.post(path, json=body, headers=owner.headers)
    assert response.status_code in (200, 201), f"seeding {path}: {response.text}"
    created: dict[str, Any] = response.json()
    return created


async def seed(gateway: httpx.AsyncClient, owner: AgencySession) -> dict[str, str]:
    """One real resource of each kind, so a probe with a hostile field reaches the route's
    logic rather than its 404: path parameters by name get these ids."""
    client = await _created(
        gateway, owner, "/v1/clients", {"company_name": "Probe Co", "currency": "EUR"}
    )
    contact = await _created(
        gateway, owner, f"/v1/clients/{client['id']}/contacts", {"name": "Pat Probe"}
    )
    deal = await _created(
        gateway, owner, "/v1/deals", {"title": "Probe", "client_id": client["id"]}
    )
    template = await _created(
        gateway, owner, "/v1/project-templates", {"name": "Probe", "billing_type": "fixed"}
    )
    project = await _created(
        gateway, owner, "/v1/projects", {"name": "Probe", "client_id": client["id"]}
    )
    task = await _created(gateway, owner, f"/v1/projects/{project['id']}/tasks", {"title": "T"})
    comment = await _created(gateway, owner, f"/v1/tasks/{task['id']}/comments", {"body": "Hi"})
    milestone = await _created(
        gateway, owner, f"/v1/projects/{project['id']}/milestones", {"name": "M"}
    )
    deliverable = await _created(
        gateway, owner, f"/v1/projects/{project['id']}/deliverables", {"title": "D"}
    )
    board = await gateway.get(f"/v1/projects/{project['id']}/board", headers=owner.headers)
    invoice = await _created(
        gateway, owner, "/v1/invoices", {"client_id": client["id"], "include": []}
    )
    invoice = await _created(
        gateway,
        owner,
        f"/v1/invoices/{invoice['id']}/lines",
        {"description": "Item", "quantity": "1", "unit_price_cents": 1000},
    )
    pipeline = deal["pipeline_id"]
    return {
        "client_id": client["id"],
        "contact_id": contact["id"],
        "deal_id": deal["id"],
        "pipeline_id": pipeline,
        "stage_id": deal["stage_id"],
        "template_id": template["id"],
        "project_id": project["id"],
        "task_id": task["id"],
        "comment_id": comment["id"],
        "milestone_id": milestone["id"],
        "deliverable_id": deliverable["id"],
        "column_id": board.json()["columns"][0]["id"],
        "invoice_id": invoice["id"],
        "line_id": invoice["lines"][0]["id"],
    }


async def _send(client: httpx.AsyncClient, probe: Probe, owner: AgencySession) -> httpx.Response:
    headers = dict(owner.headers)
    kwargs: dict[str, Any] = {"params": probe.query, "headers": headers}
    if probe.files is not None:
        kwargs["files"] = probe.files
        kwargs["data"] = probe.data
    elif probe.body is not None:
        # NUL and huge integers as JSON: json.dumps escapes NUL as \u0000.
        kwargs["content"] = json.dumps(probe.body).encode()
        headers["content-type"] = "application/json"
    return await client.request(probe.method, probe.url, **kwargs)


async def test_no_route_answers_5xx_to_hostile_input(gateway: httpx.AsyncClient) -> None:
    spec = (await gateway.get("/openapi.json")).raise_for_status().json()
    owner = await signup_agency(gateway)
    all_probes = probes(spec, await seed(gateway, owner))
    assert len(all_probes) > 100, "the OpenAPI lists far fewer operations than expected"
    failures: list[str] = []
    limit = asyncio.Semaphore(CONCURRENCY)

    async def run(probe: Probe) -> None:
        async with limit:
            try:
                response = await _send(gateway, probe, owner)
            except httpx.TimeoutException:
                failures.append(f"{probe.method} {probe.path} [{probe.label}]: timed out")
                return
            except httpx.TransportError as exc:  # e.g. a streamed answer that broke off
                failures.append(f"{probe.method} {probe.path} [{probe.label}]: {exc!r}")
                return
            if response.status_code >= 500:
                failures.append(
                    f"{probe.method} {probe.path} [{probe.label}]: {response.status_code} "
                    f"{response.text[:160]}"
                )

    head = [p for p in all_probes if not p.path.startswith(LAST_PREFIXES)]
    tail = [p for p in all_probes if p.path.startswith(LAST_PREFIXES)]
    await asyncio.gather(*(run(p) for p in head))
    for p in tail:  # one at a time: a logout or a switch must not race the others
        await run(p)
    assert not failures, f"{len(failures)} of {len(all_probes)} hostile requests got 5xx:\n" + (
        "\n".join(sorted(failures))
    )
