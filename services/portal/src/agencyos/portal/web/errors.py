"""Errors on the portal's pages answer as pages (the JSON API keeps problem+json)."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, Response

from agencyos.common.errors import AppError
from agencyos.common.logs import get_logger
from agencyos.portal.web.context import CsrfRefused, SignInRequired
from agencyos.portal.web.render import PAGE_HEADERS, templates, with_page_headers

log = get_logger(__name__)

PAGES_PREFIX = "/portal/"

HEADINGS = {
    400: "That did not work",
    403: "Not allowed",
    404: "Not found",
    409: "Already done",
    412: "Already decided",
    422: "Please check what you entered",
    429: "Too many requests",
}


def _plain_page(request: Request, status: int, message: str) -> Response:
    """A page without the agency's branding (the error may be that there is no agency)."""
    parts = request.url.path.split("/")
    slug = parts[2] if len(parts) > 2 and parts[2] and parts[2] != "_static" else ""

    class _Agency:
        name = "Client portal"
        logo_url = None

    body = templates.get_template("error.html").render(
        base=f"/portal/{slug}" if slug else "/portal",
        static="/portal/_static",
        agency=_Agency,
        csrf_token="",
        signed_in=False,
        flash="",
        heading=HEADINGS.get(status, "Something went wrong"),
        message=message,
    )
    return HTMLResponse(body, status_code=status, headers=dict(PAGE_HEADERS))


async def _delegate(handler: Any, request: Request, exc: Exception) -> Response:
    result = handler(request, exc)
    if inspect.isawaitable(result):
        result = await result
    assert isinstance(result, Response)
    return result


def install_page_errors(app: FastAPI) -> None:
    """Wrap the common handlers: under /portal/ they answer HTML, elsewhere as before."""
    on_app_error = app.exception_handlers[AppError]
    on_validation = app.exception_handlers[RequestValidationError]
    on_http = app.exception_handlers[StarletteHTTPException]

    async def app_error(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith(PAGES_PREFIX):
            return await _delegate(on_app_error, request, exc)
        assert isinstance(exc, AppError)
        if isinstance(exc, CsrfRefused):
            log.info("portal form refused", path=request.url.path, reason=exc.detail)
        if exc.status >= 500:
            log.warning("portal page failed", path=request.url.path, detail=exc.detail)
            return _plain_page(request, exc.status, "Please try again in a moment.")
        return _plain_page(request, exc.status, exc.detail)

    async def validation_error(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith(PAGES_PREFIX):
            return await _delegate(on_validation, request, exc)
        return _plain_page(request, 422, "Some of what was sent is not valid.")

    async def http_error(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith(PAGES_PREFIX):
            return await _delegate(on_http, request, exc)
        assert isinstance(exc, StarletteHTTPException)
        message = "There is no such page." if exc.status_code == 404 else str(exc.detail)
        response = _plain_page(request, exc.status_code, message)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def sign_in_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        response = RedirectResponse(f"/portal/{exc.slug}/sign-in", status_code=303)
        if request.headers.get("hx-request"):
            # htmx follows redirects itself; tell it to load the sign-in page as a page.
            response.headers["hx-redirect"] = f"/portal/{exc.slug}/sign-in"
        return with_page_headers(response)

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(SignInRequired, sign_in_required)
