"""The FastAPI side of a service (`create_app`): problem+json, auth dependencies, the request's
one transaction, request ids, health and metrics — driven over ASGI against the real
PostgreSQL and a real JWKS endpoint."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel

from agencyos.common.web import ServiceContext, create_app, require
from agencyos.testing.infra import Infra, free_port

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://agencyos.dev/problems/"


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def http_requests_total(client: httpx.AsyncClient, **labels: str) -> float:
    """The value of agencyos_http_requests_total for `labels`, as /metrics shows it."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    total = 0.0
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "agencyos_http_requests_total" and all(
                sample.labels.get(k) == v for k, v in labels.items()
            ):
                total += sample.value
    return total


class TestProblemJson:
    async def test_an_app_error_answers_a_problem_with_its_status_type_and_detail(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        missing = uuid.uuid4()

        response = await client.get(f"/widgets/{missing}", headers=bearer(tenant))

        body = problem(response, 404)
        assert body["type"] == PROBLEMS + "not-found"
        assert body["title"] == "Not found"
        assert body["detail"] == "no such widget"
        assert body["instance"] == f"/widgets/{missing}"

    async def test_an_unknown_route_answers_a_not_found_problem(
        self, client: httpx.AsyncClient
    ) -> None:
        body = problem(await client.get("/no/such/route"), 404)

        assert body["type"] == PROBLEMS + "not-found"

    async def test_a_wrong_method_answers_a_405_problem(self, client: httpx.AsyncClient) -> None:
        problem(await client.delete("/healthz"), 405)


class TestValidationErrors:
    async def test_a_body_of_the_wrong_types_answers_422_naming_each_field(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        response = await client.post(
            "/widgets", json={"name": "", "quantity": "many"}, headers=bearer(tenant)
        )

        body = problem(response, 422)
        assert body["type"] == PROBLEMS + "invalid-input"
        assert {e["field"] for e in body["errors"]} == {"name", "quantity"}

    async def test_a_missing_field_is_named(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        response = await client.post("/widgets", json={"quantity": 2}, headers=bearer(tenant))

        body = problem(response, 422)
        assert [e["field"] for e in body["errors"]] == ["name"]
        assert body["errors"][0]["message"]

    async def test_a_body_that_is_not_json_answers_422_not_500(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        response = await client.post(
            "/widgets",
            content=b"{name: oops",
            headers={**bearer(tenant), "Content-Type": "application/json"},
        )

        problem(response, 422)

    async def test_a_malformed_path_parameter_is_named(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        body = problem(await client.get("/widgets/not-a-uuid", headers=bearer(tenant)), 422)

        assert [e["field"] for e in body["errors"]] == ["path.widget_id"]


class TestUnexpectedErrors:
    async def test_an_unexpected_exception_answers_a_plain_500_problem(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        response = await client.post(
            "/widgets/crashing", json={"name": "boom"}, headers=bearer(tenant)
        )

        body = problem(response, 500)
        assert body["type"] == PROBLEMS + "internal"
        assert body["detail"] == "an unexpected error occurred"

    async def test_an_unexpected_exception_does_not_leak_its_message(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        response = await client.post(
            "/widgets/crashing", json={"name": "boom"}, headers=bearer(tenant)
        )

        assert "hunter2" not in response.text
        assert "RuntimeError" not in response.text

    async def test_an_unexpected_exception_still_answers_with_the_request_id(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        response = await client.post(
            "/widgets/crashing",
            json={"name": "boom"},
            headers={**bearer(tenant), "X-Request-Id": "crash-report-1"},
        )

        assert response.status_code == 500
        assert response.headers.get("x-request-id") == "crash-report-1"


class TestRequestTransaction:
    async def test_a_successful_request_commits_its_writes(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID, widget_count: Any
    ) -> None:
        response = await client.post("/widgets", json={"name": "kept"}, headers=bearer(tenant))

        assert response.status_code == 201
        assert await widget_count(tenant, "kept") == 1

    async def test_a_request_failing_with_an_app_error_rolls_its_writes_back(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID, widget_count: Any
    ) -> None:
        response = await client.post(
            "/widgets/conflicting", json={"name": "undone"}, headers=bearer(tenant)
        )

        problem(response, 409)
        assert await widget_count(tenant, "undone") == 0

    async def test_a_request_failing_with_an_exception_rolls_its_writes_back(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID, widget_count: Any
    ) -> None:
        response = await client.post(
            "/widgets/crashing", json={"name": "undone"}, headers=bearer(tenant)
        )

        assert response.status_code == 500
        assert await widget_count(tenant, "undone") == 0

    async def test_the_write_lands_in_the_callers_tenant_only(
        self,
        client: httpx.AsyncClient,
        bearer: Any,
        tenant: uuid.UUID,
        other_tenant: uuid.UUID,
        widget_count: Any,
    ) -> None:
        await client.post("/widgets", json={"name": "mine"}, headers=bearer(tenant))

        assert (await widget_count(tenant, "mine"), await widget_count(other_tenant, "mine")) == (
            1,
            0,
        )

    async def test_another_agencys_widget_answers_404_like_a_missing_one(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        created = await client.post("/widgets", json={"name": "a"}, headers=bearer(tenant))
        widget_id = created.json()["id"]

        own = await client.get(f"/widgets/{widget_id}", headers=bearer(tenant))
        foreign = await client.get(f"/widgets/{widget_id}", headers=bearer(other_tenant))
        missing = await client.get(f"/widgets/{uuid.uuid4()}", headers=bearer(other_tenant))

        assert own.status_code == 200
        assert problem(foreign, 404)["detail"] == problem(missing, 404)["detail"]


class TestAuthentication:
    async def test_a_request_without_a_token_answers_401_with_a_bearer_challenge(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post("/widgets", json={"name": "x"})

        body = problem(response, 401)
        assert body["type"] == PROBLEMS + "unauthenticated"
        assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_a_request_with_a_forged_token_answers_401(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        headers = bearer(tenant)
        headers["Authorization"] = headers["Authorization"][:-8] + "AAAAAAAA"

        problem(await client.post("/widgets", json={"name": "x"}, headers=headers), 401)

    async def test_a_basic_auth_header_answers_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            f"/widgets/{uuid.uuid4()}", headers={"Authorization": "Basic dXNlcjpwYXNz"}
        )

        problem(response, 401)


class TestPermissions:
    async def test_a_principal_without_the_permission_answers_403(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        response = await client.get("/reports/secret", headers=bearer(tenant, role="admin"))

        body = problem(response, 403)
        assert body["type"] == PROBLEMS + "permission-denied"
        assert "roles.write" in body["detail"]

    async def test_a_principal_holding_the_permission_is_let_through(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        response = await client.get(
            "/reports/secret", headers=bearer(tenant, role="member", perms=["roles.write"])
        )

        assert response.status_code == 200
        assert response.json() == {"report": "numbers"}

    def test_a_route_naming_an_unknown_permission_fails_when_it_is_defined(self) -> None:
        with pytest.raises(ValueError, match=r"clients\.raed"):
            require("clients.raed")


class TestRequestId:
    async def test_a_request_without_one_gets_a_fresh_id(self, client: httpx.AsyncClient) -> None:
        first = await client.get("/healthz")
        second = await client.get("/healthz")

        assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
        assert first.headers["x-request-id"] != second.headers["x-request-id"]

    async def test_a_well_formed_id_is_echoed(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz", headers={"X-Request-Id": "gw-7f3a.01:retry-2"})

        assert response.headers["x-request-id"] == "gw-7f3a.01:retry-2"

    @pytest.mark.parametrize(
        "malicious",
        ["<script>alert(1)</script>", "a b", "x" * 500, "id\tinjected", "../../etc/passwd;"],
    )
    async def test_a_malicious_id_is_replaced(
        self, client: httpx.AsyncClient, malicious: str
    ) -> None:
        response = await client.get("/healthz", headers={"X-Request-Id": malicious})

        assert response.headers["x-request-id"] != malicious
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])

    async def test_error_answers_carry_the_id_too(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/no/such/route", headers={"X-Request-Id": "lost-1"})

        assert response.headers["x-request-id"] == "lost-1"


class TestHealth:
    async def test_healthz_answers_ok(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")

        assert (response.status_code, response.json()) == (200, {"status": "ok"})

    async def test_readyz_answers_200_when_the_database_is_reachable(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/readyz")

        assert response.status_code == 200
        assert response.json() == {"status": "ready", "checks": {"database": "ok"}}

    async def test_readyz_stays_ready_when_kafka_is_unreachable(self, widget_settings: Any) -> None:
        # Writes go through the outbox, which rides out a broker outage: a Kafka outage must
        # not turn every pod unready and take the API down with it.
        settings = widget_settings.model_copy(update={"kafka_bootstrap": "127.0.0.1:1"})

        response = await get_from_fresh_app(settings, "/readyz")

        assert response.status_code == 200, response.text
        assert response.json() == {"status": "ready", "checks": {"database": "ok"}}

    async def test_readyz_answers_503_naming_the_database_when_it_is_unreachable(
        self, widget_settings: Any, infra: Infra
    ) -> None:
        settings = widget_settings.model_copy(
            update={"database_url": infra.dsn("agencyos_test_no_such_database")}
        )

        response = await get_from_fresh_app(settings, "/readyz")

        assert response.status_code == 503
        assert response.json()["status"] == "not ready"
        assert response.json()["checks"]["database"].startswith("failing")

    async def test_health_endpoints_need_no_token(self, widget_settings: Any) -> None:
        settings = widget_settings.model_copy(
            update={"jwks_url": f"http://127.0.0.1:{free_port()}/jwks.json"}
        )

        response = await get_from_fresh_app(settings, "/healthz")

        assert response.status_code == 200


class TestMetrics:
    async def test_requests_are_counted_by_route_template_not_raw_path(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        labels = {"service": "widgets", "route": "/widgets/{widget_id}", "status": "404"}
        before = await http_requests_total(client, **labels)

        await client.get(f"/widgets/{uuid.uuid4()}", headers=bearer(tenant))
        await client.get(f"/widgets/{uuid.uuid4()}", headers=bearer(tenant))

        assert await http_requests_total(client, **labels) == before + 2

    async def test_no_label_carries_a_raw_id(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        widget_id = uuid.uuid4()
        await client.get(f"/widgets/{widget_id}", headers=bearer(tenant))

        metrics = (await client.get("/metrics")).text

        assert str(widget_id) not in metrics

    async def test_unmatched_paths_share_one_label(self, client: httpx.AsyncClient) -> None:
        before = await http_requests_total(client, route="unmatched", status="404")

        await client.get(f"/nothing/{uuid.uuid4()}")

        assert await http_requests_total(client, route="unmatched", status="404") == before + 1

    async def test_the_metrics_endpoint_speaks_the_prometheus_text_format(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/metrics")

        assert response.headers["content-type"].startswith("text/plain")
        assert "# TYPE agencyos_http_requests_total counter" in response.text


class TestLifespan:
    async def test_the_app_completes_the_asgi_lifespan_protocol(
        self, widget_app: tuple[FastAPI, Any]
    ) -> None:
        app, _ = widget_app
        incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent: list[str] = []

        async def receive() -> dict[str, str]:
            return incoming.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message["type"])

        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)

        assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def get_from_fresh_app(settings: Any, path: str) -> httpx.Response:
    ctx = ServiceContext("widgets", settings)
    app = create_app(ctx, title="widgets", description="probe", routers=[])
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://widgets.test") as c:
            return await c.get(path)
    finally:
        await ctx.close()


class ThingRename(BaseModel):
    name: str


def things_router() -> APIRouter:
    """One path served by two routes, and a literal path beside a parameter one."""
    router = APIRouter()

    @router.get("/things")
    async def list_things() -> list[str]:
        return []

    @router.post("/things", status_code=201)
    async def create_thing() -> dict[str, str]:
        return {}

    @router.get("/things/search")
    async def search_things() -> list[str]:
        return []

    @router.get("/things/{thing_id}")
    async def get_thing(thing_id: uuid.UUID) -> dict[str, str]:
        return {"id": str(thing_id)}

    @router.delete("/things/{thing_id}", status_code=204)
    async def delete_thing(thing_id: uuid.UUID) -> None:
        return None

    @router.patch("/things/{thing_id}")
    async def rename_thing(thing_id: uuid.UUID, body: ThingRename) -> dict[str, str]:
        return {"id": str(thing_id), "name": body.name}

    return router


class TestMethodNotAllowed:
    @pytest.fixture
    async def things(self, widget_settings: Any) -> AsyncIterator[httpx.AsyncClient]:
        ctx = ServiceContext("things", widget_settings, with_db=False)
        app = create_app(ctx, title="things", description="test", routers=[things_router()])
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://things.test") as c:
            yield c
        await ctx.close()

    async def test_allow_names_every_method_of_the_path_not_only_the_first_routes(
        self, things: httpx.AsyncClient
    ) -> None:
        response = await things.put("/things")

        body = problem(response, 405)
        assert body["type"] == PROBLEMS + "http-405"
        assert response.headers["allow"] == "GET, POST"

    async def test_allow_of_a_path_with_an_id_names_the_methods_of_its_routes(
        self, things: httpx.AsyncClient
    ) -> None:
        response = await things.put(f"/things/{uuid.uuid4()}")

        problem(response, 405)
        assert response.headers["allow"] == "DELETE, GET, PATCH"

    async def test_a_literal_path_beside_an_id_path_answers_405_for_the_id_routes_methods(
        self, things: httpx.AsyncClient
    ) -> None:
        # DELETE /things/{thing_id} matches, and "search" is no id; the path is /things/search.
        response = await things.delete("/things/search")

        problem(response, 405)
        assert response.headers["allow"] == "GET"

    async def test_so_does_a_method_whose_id_route_takes_a_body_sent_without_one(
        self, things: httpx.AsyncClient
    ) -> None:
        response = await things.patch("/things/search")

        problem(response, 405)
        assert response.headers["allow"] == "GET"

    async def test_a_malformed_id_is_still_invalid_input(self, things: httpx.AsyncClient) -> None:
        problem(await things.delete("/things/not-an-id"), 422)

    async def test_allow_of_a_single_method_path_is_that_method(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.delete("/healthz")

        problem(response, 405)
        assert response.headers["allow"] == "GET"

    async def test_a_trailing_slash_is_not_redirected_to_an_address_of_the_service(
        self, things: httpx.AsyncClient
    ) -> None:
        response = await things.get("/things/")

        problem(response, 404)
        assert "location" not in response.headers


class TestOpenApiErrors:
    @pytest.fixture
    def document(self, widget_app: tuple[FastAPI, Any]) -> dict[str, Any]:
        return widget_app[0].openapi()

    def test_every_error_answer_is_a_problem_with_the_shared_schema(
        self, document: dict[str, Any]
    ) -> None:
        errors = [
            response
            for item in document["paths"].values()
            for operation in item.values()
            for status, response in operation["responses"].items()
            if status >= "400"
        ]

        assert errors
        for response in errors:
            assert response["content"] == {
                PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
            }
        schemas = document["components"]["schemas"]
        assert "HTTPValidationError" not in schemas
        assert set(schemas["Problem"]["properties"]) == {
            "type",
            "title",
            "status",
            "detail",
            "instance",
            "errors",
            "trace_id",
        }
        assert set(schemas["ProblemFieldError"]["properties"]) == {"field", "message", "type"}

    def test_a_route_with_a_caller_documents_401(self, document: dict[str, Any]) -> None:
        responses = document["paths"]["/widgets"]["post"]["responses"]

        assert "WWW-Authenticate" in responses["401"]["headers"]

    def test_a_route_with_a_permission_documents_403(self, document: dict[str, Any]) -> None:
        assert "403" in document["paths"]["/reports/secret"]["get"]["responses"]
        assert "403" not in document["paths"]["/widgets"]["post"]["responses"]

    def test_a_route_with_a_path_id_documents_404(self, document: dict[str, Any]) -> None:
        assert "404" in document["paths"]["/widgets/{widget_id}"]["get"]["responses"]
        assert "404" not in document["paths"]["/widgets"]["post"]["responses"]

    def test_a_post_documents_the_idempotency_key_and_its_answers(
        self, document: dict[str, Any]
    ) -> None:
        operation = document["paths"]["/widgets"]["post"]

        assert "Idempotency-Key" in {p["name"] for p in operation["parameters"]}
        assert {"409", "422"} <= set(operation["responses"])

    def test_a_route_with_a_body_documents_400_for_an_unparseable_one(
        self, document: dict[str, Any]
    ) -> None:
        assert "400" in document["paths"]["/widgets"]["post"]["responses"]
        assert "400" not in document["paths"]["/widgets/{widget_id}"]["get"]["responses"]
