"""One error tree, rendered three ways: problem+json (HTTP), a gRPC status, and back again.

Services raise these; edges render them. Each error has an HTTP status, a gRPC code and a
stable `type` slug that clients can branch on (`https://agencyos.dev/problems/<slug>`).
"""

from __future__ import annotations

from typing import Any

import grpc

PROBLEM_BASE = "https://agencyos.dev/problems/"


class AppError(Exception):
    status: int = 500
    slug: str = "internal"
    title: str = "Internal error"
    grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class InvalidInput(AppError):
    status, slug, title = 422, "invalid-input", "Invalid input"
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


def field_problem(field: str, message: str, kind: str = "invalid") -> dict[str, str]:
    """One entry of a problem's `errors`: what is wrong with one field, `kind` its slug."""
    return {"field": field, "message": message, "type": kind}


def field_error(field: str, message: str, kind: str = "invalid") -> InvalidInput:
    """Invalid input about one field; `message` is both the detail and the field's entry."""
    return InvalidInput(message, errors=[field_problem(field, message, kind)])


class BadRequest(AppError):
    status, slug, title = 400, "bad-request", "Bad request"
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class InvalidPath(BadRequest):
    """A request path that is not canonical (dot segments, encoded '/', control characters):
    refused at the edge rather than interpreted."""

    slug, title = "invalid-path", "Invalid path"


class Unauthenticated(AppError):
    status, slug, title = 401, "unauthenticated", "Authentication required"
    grpc_code = grpc.StatusCode.UNAUTHENTICATED

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="agencyos"'})
        super().__init__(detail, **kwargs)


class PermissionDenied(AppError):
    status, slug, title = 403, "permission-denied", "Permission denied"
    grpc_code = grpc.StatusCode.PERMISSION_DENIED


class EmailNotVerified(PermissionDenied):
    """The caller has not verified their email address yet, and the action needs it."""

    slug, title = "email-not-verified", "Email address not verified"


class AddressNotAllowed(PermissionDenied):
    """The caller's IP address is outside the agency's IP allowlist."""

    slug, title = "address-not-allowed", "Address not allowed"


class NotFound(AppError):
    status, slug, title = 404, "not-found", "Not found"
    grpc_code = grpc.StatusCode.NOT_FOUND


class Conflict(AppError):
    status, slug, title = 409, "conflict", "Conflict"
    grpc_code = grpc.StatusCode.ALREADY_EXISTS


class Gone(AppError):
    """The thing existed but can no longer be used (an expired or revoked invitation)."""

    status, slug, title = 410, "gone", "Gone"
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION


class PreconditionFailed(AppError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION


class PayloadTooLarge(AppError):
    status, slug, title = 413, "payload-too-large", "Payload too large"
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class TooManyRequests(AppError):
    status, slug, title = 429, "rate-limited", "Too many requests"
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class ServiceUnavailable(AppError):
    status, slug, title = 503, "unavailable", "Service unavailable"
    grpc_code = grpc.StatusCode.UNAVAILABLE


class UpstreamTimeout(AppError):
    status, slug, title = 504, "upstream-timeout", "Upstream timed out"
    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED


_BY_GRPC_CODE: dict[grpc.StatusCode, type[AppError]] = {}
for _cls in (
    InvalidInput,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    Conflict,
    PreconditionFailed,
    TooManyRequests,
    ServiceUnavailable,
    UpstreamTimeout,
):
    _BY_GRPC_CODE.setdefault(_cls.grpc_code, _cls)


def error_from_grpc(code: grpc.StatusCode, detail: str | None) -> AppError:
    """The AppError a peer's gRPC status stands for (the reverse of the servicer mapping)."""
    cls = _BY_GRPC_CODE.get(code, AppError)
    return cls(detail or None)
