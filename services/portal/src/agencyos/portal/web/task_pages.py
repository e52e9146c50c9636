"""A client-visible task as a page: its comments shared with the client (internal ones never
reach the portal: work answers only client-visible comments of client-visible tasks) and a
form to add one, visible to the team and the client."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from agencyos.common.errors import NotFound
from agencyos.common.peers.work import Project, Task
from agencyos.portal.comment.schemas import BODY_MAX
from agencyos.portal.comment.service import portal_comment_service
from agencyos.portal.project.service import portal_project_service
from agencyos.portal.web.context import Page, load_page, parse_id
from agencyos.portal.web.render import render

router = APIRouter(prefix="/portal", include_in_schema=False)


async def _task_view(page: Page, raw_project_id: str, raw_task_id: str) -> tuple[Project, Task]:
    project_id, task_id = parse_id(raw_project_id), parse_id(raw_task_id)
    if project_id is None or task_id is None:
        raise NotFound("no such task")
    caller = page.require_caller()
    view = await portal_project_service.project(caller, page.work(), project_id)
    task = next((t for t in view.tasks if t.id == task_id), None)
    if task is None:
        raise NotFound("no such task")
    return view.project, task


@router.get("/{slug}/projects/{project_id}/tasks/{task_id}")
async def task_page(request: Request, slug: str, project_id: str, task_id: str) -> Response:
    page = await load_page(request, slug, signed_in=True)
    project, task = await _task_view(page, project_id, task_id)
    caller = page.require_caller()
    comments = await portal_comment_service.comments(caller, page.work(), task.id)
    await page.save()
    return render(
        page,
        "task.html",
        project=project,
        task=task,
        comments=comments,
        me=caller.principal.user_id,
        body_max=BODY_MAX,
    )


@router.post("/{slug}/projects/{project_id}/tasks/{task_id}/comments")
async def add_comment(
    request: Request,
    slug: str,
    project_id: str,
    task_id: str,
    csrf_token: Annotated[str | None, Form()] = None,
    body: Annotated[str, Form()] = "",
) -> Response:
    page = await load_page(request, slug, signed_in=True)
    page.check_form(csrf_token)
    project, task = await _task_view(page, project_id, task_id)
    text = body.strip()
    assert page.web_session is not None
    if not text or len(text) > BODY_MAX:
        page.web_session.flash = f"Write a comment of at most {BODY_MAX} characters."
    else:
        await portal_comment_service.add(page.require_caller(), page.work(), task.id, text)
        page.web_session.flash = "Comment added."
    await page.save()
    return page.apply_cookie(
        RedirectResponse(f"{page.base}/projects/{project.id}/tasks/{task.id}", status_code=303)
    )
