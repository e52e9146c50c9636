"""The portal's pages: sign-in by an emailed link, the dashboard, a project, a deliverable's
review, feedback. Every POST is a form with the session's CSRF token (htmx sends it as
X-CSRF-Token as well) from the portal's own origin; every answer to a form is a redirect
(303) to the page that shows its outcome, so a reload never sends it twice."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, RedirectResponse
from starlette.responses import Response

from agencyos.common.errors import NotFound, PermissionDenied
from agencyos.common.logs import get_logger
from agencyos.common.peers.portal_sign_in import Refused
from agencyos.common.web import service_context
from agencyos.portal.dashboard.service import dashboard_service
from agencyos.portal.deliverable.schemas import COMMENT_MAX
from agencyos.portal.deliverable.service import portal_deliverable_service
from agencyos.portal.project.schemas import FEEDBACK_MAX
from agencyos.portal.project.service import ProjectView, portal_project_service
from agencyos.portal.web.context import Page, load_page, parse_id
from agencyos.portal.web.render import STATIC_DIR, brand_css, render, with_page_headers
from agencyos.portal.web.session import WebSession

log = get_logger(__name__)

router = APIRouter(prefix="/portal", include_in_schema=False)

Slug = Annotated[str, "the agency's slug"]
CsrfField = Annotated[str | None, Form()]
EMAIL_MAX = 320
STATIC_FILES = {
    "portal.css": ("portal.css", "text/css"),
    "vendor/htmx.min.js": ("vendor/htmx.min.js", "text/javascript"),
}


def see_other(page: Page, path: str) -> Response:
    return page.apply_cookie(RedirectResponse(page.base + path, status_code=303))


@router.get("/_static/{name:path}")
async def static_file(name: str) -> Response:
    found = STATIC_FILES.get(name)
    if found is None or not (STATIC_DIR / found[0]).is_file():
        raise NotFound("no such file")
    return FileResponse(
        STATIC_DIR / found[0],
        media_type=found[1],
        headers={"cache-control": "public, max-age=3600", "x-content-type-options": "nosniff"},
    )


@router.get("/{slug}/brand.css")
async def brand_stylesheet(request: Request, slug: Slug) -> Response:
    page = await load_page(request, slug, signed_in=False)
    return Response(
        brand_css(page.branding.brand_color),
        media_type="text/css",
        headers={"cache-control": "public, max-age=300"},
    )


# --- Sign-in ---------------------------------------------------------------------------------


@router.get("/{slug}/sign-in")
async def sign_in_form(request: Request, slug: Slug) -> Response:
    page = await load_page(request, slug, signed_in=False)
    await page.ensure_session()
    return render(page, "sign_in.html")


@router.post("/{slug}/sign-in")
async def request_link(
    request: Request,
    slug: Slug,
    csrf_token: CsrfField = None,
    email: Annotated[str, Form()] = "",
) -> Response:
    page = await load_page(request, slug, signed_in=False)
    page.check_form(csrf_token)
    email = email.strip()
    if not email or len(email) > EMAIL_MAX or "@" not in email:
        return render(
            page, "sign_in.html", status_code=422, email=email, error="Enter your email address."
        )
    await page.sign_in.request_magic_link(email=email, agency_slug=slug)
    return render(page, "sign_in.html", sent=True, email=email)


@router.get("/{slug}/sign-in/link")
async def sign_in_link(
    request: Request, slug: Slug, token: Annotated[str, Query(max_length=256)] = ""
) -> Response:
    """The page the emailed link opens: it spends nothing (mail scanners follow links); its
    button does."""
    page = await load_page(request, slug, signed_in=False)
    await page.ensure_session()
    if not token:
        return render(page, "sign_in_link.html", status_code=400, error=INVALID_LINK)
    return render(page, "sign_in_link.html", token=token)


INVALID_LINK = "This sign-in link is not valid any more: links work once, for 15 minutes."


@router.post("/{slug}/sign-in/link")
async def redeem_link(
    request: Request,
    slug: Slug,
    csrf_token: CsrfField = None,
    token: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    page = await load_page(request, slug, signed_in=False)
    page.check_form(csrf_token)
    if not token:
        return render(page, "sign_in_link.html", status_code=400, error=INVALID_LINK)
    try:
        outcome = await page.sign_in.redeem_magic_link(token=token, agency_slug=slug)
    except PermissionDenied:
        return render(
            page,
            "error.html",
            status_code=403,
            heading="This portal is for the agency's clients",
            message=(
                "This link belongs to a member of the agency's team, or to another agency. "
                "The team signs in to the AgencyOS app."
            ),
        )
    if isinstance(outcome, Refused):
        error = INVALID_LINK
        if outcome.reason == "two_factor":
            error = "Your account has two-factor sign-in: sign in to the AgencyOS app instead."
        return render(page, "sign_in_link.html", status_code=400, error=error)
    # A new session (a new cookie value): whatever value the browser had before is worthless.
    if page.cookie_value is not None:
        await page.store.delete(page.cookie_value)
    page.web_session = WebSession(
        slug=slug,
        agency_id=str(outcome.agency_id or ""),
        user_id=str(outcome.user_id or ""),
        client_id=str(outcome.client_id or ""),
        access_token=outcome.access_token,
        refresh_token=outcome.refresh_token,
        access_expires_at=time.time() + outcome.expires_in,
    )
    page.cookie_value = await page.store.create(page.web_session)
    page.set_cookie = page.cookie_value
    return see_other(page, "/")


@router.post("/{slug}/sign-out")
async def sign_out(request: Request, slug: Slug, csrf_token: CsrfField = None) -> Response:
    page = await load_page(request, slug, signed_in=False)
    page.check_form(csrf_token)
    web_session = page.web_session
    if web_session is not None and web_session.signed_in:
        await page.sign_in.end_session(web_session.refresh_token)
    if page.cookie_value is not None:
        await page.store.delete(page.cookie_value)
    page.web_session = None
    page.cookie_value = None
    response = RedirectResponse(page.base + "/sign-in", status_code=303)
    response.delete_cookie("agencyos_portal", path=page.base + "/")
    return response


# --- Signed-in pages -------------------------------------------------------------------------


@router.get("/{slug}/")
async def dashboard(request: Request, slug: Slug) -> Response:
    page = await load_page(request, slug, signed_in=True)
    caller = page.require_caller()
    db = service_context(request).database()
    principal = caller.principal
    async with db.transaction(principal.tenant_id, user_id=principal.user_id) as session:
        view = await dashboard_service.dashboard(session, caller, page.work(), page.billing())
    await page.save()
    names = {p.id: p.name for p in view.projects}
    return render(
        page,
        "dashboard.html",
        projects=view.active_projects,
        awaiting=[(d, names.get(d.project_id, "")) for d in view.awaiting],
        open_due=view.invoices.open_due,
        open_invoices=view.invoices.invoices,
        activity=view.activity,
    )


@router.get("/{slug}")
async def portal_root(slug: Slug) -> Response:
    return with_page_headers(RedirectResponse(f"/portal/{slug}/", status_code=303))


async def _project_view(page: Page, raw_id: str) -> ProjectView:
    project_id = parse_id(raw_id)
    if project_id is None:
        raise NotFound("no such project")
    return await portal_project_service.project(page.require_caller(), page.work(), project_id)


@router.get("/{slug}/projects/{project_id}")
async def project_page(request: Request, slug: Slug, project_id: str) -> Response:
    page = await load_page(request, slug, signed_in=True)
    view = await _project_view(page, project_id)
    await page.save()
    return render(
        page,
        "project.html",
        project=view.project,
        tasks=view.tasks,
        deliverables=view.deliverables,
        files=[f for f in view.files if f.status == "uploaded"],
    )


@router.get("/{slug}/files/{file_id}")
async def download_file(request: Request, slug: Slug, file_id: str) -> Response:
    """A file shown to the client: a short-lived signed link from work, followed at once."""
    page = await load_page(request, slug, signed_in=True)
    wanted = parse_id(file_id)
    if wanted is None:
        raise NotFound("no such file")
    link = await page.work().client_file_download(page.require_caller().principal, wanted)
    await page.save()
    return with_page_headers(RedirectResponse(link.url, status_code=303))


@router.get("/{slug}/projects/{project_id}/deliverables/{deliverable_id}")
async def deliverable_page(
    request: Request, slug: Slug, project_id: str, deliverable_id: str
) -> Response:
    page = await load_page(request, slug, signed_in=True)
    view = await _project_view(page, project_id)
    wanted = parse_id(deliverable_id)
    deliverable = next((d for d in view.deliverables if d.id == wanted), None)
    if deliverable is None:
        raise NotFound("no such deliverable")
    await page.save()
    return render(page, "deliverable.html", project=view.project, deliverable=deliverable)


async def _decide(
    request: Request,
    slug: str,
    deliverable_id: str,
    csrf_token: str | None,
    project_id: str,
    comment: str,
    *,
    approve: bool,
) -> Response:
    page = await load_page(request, slug, signed_in=True)
    page.check_form(csrf_token)
    caller = page.require_caller()
    wanted = parse_id(deliverable_id)
    back = parse_id(project_id)
    if wanted is None or back is None:
        raise NotFound("no such deliverable")
    text = comment.strip()[:COMMENT_MAX] or None
    if approve:
        await portal_deliverable_service.approve(caller, page.work(), wanted, text)
        message = "Approved. The team has been told."
    else:
        if text is None:
            raise_path = f"/projects/{back}/deliverables/{wanted}"
            assert page.web_session is not None
            page.web_session.flash = "Say what should change, then request changes."
            await page.save()
            return see_other(page, raise_path)
        await portal_deliverable_service.request_changes(caller, page.work(), wanted, text)
        message = "Changes requested. The team has been told."
    assert page.web_session is not None
    page.web_session.flash = message
    await page.save()
    return see_other(page, f"/projects/{back}/deliverables/{wanted}")


@router.post("/{slug}/deliverables/{deliverable_id}/approve")
async def approve(
    request: Request,
    slug: Slug,
    deliverable_id: str,
    csrf_token: CsrfField = None,
    project_id: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
) -> Response:
    return await _decide(
        request, slug, deliverable_id, csrf_token, project_id, comment, approve=True
    )


@router.post("/{slug}/deliverables/{deliverable_id}/request-changes")
async def request_changes(
    request: Request,
    slug: Slug,
    deliverable_id: str,
    csrf_token: CsrfField = None,
    project_id: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
) -> Response:
    return await _decide(
        request, slug, deliverable_id, csrf_token, project_id, comment, approve=False
    )


@router.get("/{slug}/projects/{project_id}/feedback")
async def feedback_form(request: Request, slug: Slug, project_id: str) -> Response:
    page = await load_page(request, slug, signed_in=True)
    view = await _project_view(page, project_id)
    await page.save()
    return render(page, "feedback.html", project=view.project)


@router.post("/{slug}/projects/{project_id}/feedback")
async def send_feedback(
    request: Request,
    slug: Slug,
    project_id: str,
    csrf_token: CsrfField = None,
    message: Annotated[str, Form()] = "",
) -> Response:
    page = await load_page(request, slug, signed_in=True)
    page.check_form(csrf_token)
    caller = page.require_caller()
    wanted = parse_id(project_id)
    if wanted is None:
        raise NotFound("no such project")
    text = message.strip()
    if not text or len(text) > FEEDBACK_MAX:
        view = await _project_view(page, project_id)
        return render(
            page,
            "feedback.html",
            status_code=422,
            project=view.project,
            message=message,
            error=f"Write a message of at most {FEEDBACK_MAX} characters.",
        )
    await portal_project_service.send_feedback(caller, page.work(), wanted, text, [])
    assert page.web_session is not None
    page.web_session.flash = "Thank you: your feedback is now a task the team sees."
    await page.save()
    return see_other(page, f"/projects/{wanted}")
