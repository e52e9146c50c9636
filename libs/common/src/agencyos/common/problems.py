"""An application error as its RFC 9457 problem+json answer, with the trace id to quote."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from agencyos.common.errors import AppError
from agencyos.common.openapi import PROBLEM_JSON
from agencyos.common.tracing import current_trace_id


def problem_response(error: AppError, instance: str | None = None) -> JSONResponse:
    body = error.problem(instance)
    trace_id = current_trace_id()
    if trace_id:
        body.setdefault("trace_id", trace_id)
    return JSONResponse(
        body, status_code=error.status, headers=error.headers, media_type=PROBLEM_JSON
    )
