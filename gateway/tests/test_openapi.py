"""The merged OpenAPI document, in process: which service's document describes which path."""

from __future__ import annotations

from typing import Any

from agencyos.gateway.openapi import merge


def document(*paths: str) -> dict[str, Any]:
    operation = {"responses": {"200": {"description": "ok"}}}
    return {"paths": {path: {"get": operation} for path in paths}}


def test_the_stream_is_documented_from_notifications_document() -> None:
    # The gateway may send /v1/stream to notification's stream pods; notification's code
    # serves it, so notification's document describes it.
    merged = merge(
        {"notification": document("/v1/events", "/v1/stream", "/v1/notifications")},
        version="test",
    )
    assert set(merged["paths"]) == {"/v1/events", "/v1/stream", "/v1/notifications"}


def test_a_service_cannot_document_a_path_the_gateway_sends_elsewhere() -> None:
    merged = merge({"crm": document("/v1/clients", "/v1/stream", "/v1/events")}, version="test")
    assert set(merged["paths"]) == {"/v1/clients"}
