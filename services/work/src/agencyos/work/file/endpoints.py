import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from agencyos.common.files import FileStorage, FileStorageSettings, file_storage
from agencyos.common.pagination import Page, Pagination
from agencyos.common.web import TenantSession, service_context
from agencyos.work.file.schemas import (
    File,
    FileDownload,
    FileUpdate,
    FileUploadRequest,
    FileUploadTicket,
    UploadForm,
    file_out,
)
from agencyos.work.file.service import file_service
from agencyos.work.project.permissions import ProjectsRead
from agencyos.work.task.permissions import TasksWrite

router = APIRouter(tags=["files"])


def storage_of(request: Request) -> FileStorage:
    settings = service_context(request).settings
    assert isinstance(settings, FileStorageSettings)
    return file_storage(settings)


Storage = Annotated[FileStorage, Depends(storage_of)]

_PROJECT_404: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such project that you can see"}
}
_FILE_404: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such file in a project you can see"}
}
_WRITE_403: dict[int | str, dict[str, Any]] = {
    403: {"description": "Needs `tasks.write` (client users use the portal)"}
}


@router.post(
    "/v1/projects/{project_id}/files",
    status_code=status.HTTP_201_CREATED,
    response_model=FileUploadTicket,
    summary="Request a file upload",
    description=(
        "Step one of an upload: declares the file (`name`, `content_type`, exact `size` in "
        "bytes; optionally the `task_id` or `deliverable_id` of this project it belongs to, "
        "and `shared_with_client`) and answers the `pending` file with a pre-signed POST: send "
        "`upload.fields` and then the file (form field `file`) as multipart/form-data to "
        "`upload.url` before `upload.expires_at`. Object storage refuses another size or type. "
        "Then `POST /v1/files/{id}/complete`. The content type must be one of the allowed "
        "ones and the size at most the limit (50 MB by default): 422 naming the field "
        "otherwise. Needs `tasks.write` on a project you can see."
    ),
    responses={
        **_PROJECT_404,
        **_WRITE_403,
        422: {"description": "Type not allowed, size over the limit, unknown task/deliverable"},
    },
)
async def request_upload(
    project_id: uuid.UUID,
    body: FileUploadRequest,
    principal: TasksWrite,
    session: TenantSession,
    storage: Storage,
    response: Response,
) -> FileUploadTicket:
    row, upload = await file_service.request_upload(session, principal, storage, project_id, body)
    response.headers["Location"] = f"/v1/files/{row.id}"
    return FileUploadTicket(
        file=file_out(row),
        upload=UploadForm(url=upload.url, fields=upload.fields, expires_at=upload.expires_at),
    )


@router.post(
    "/v1/files/{file_id}/complete",
    response_model=File,
    summary="Complete a file upload",
    description=(
        "Step two: work checks that object storage holds the file with its declared size; the "
        "file becomes `uploaded` (listed, downloadable) and `work.file.uploaded` is published. "
        "Completing an uploaded file again changes nothing."
    ),
    responses={
        **_FILE_404,
        **_WRITE_403,
        409: {"description": "Nothing (or another size) is stored yet: upload first"},
    },
)
async def complete_upload(
    file_id: uuid.UUID, principal: TasksWrite, session: TenantSession, storage: Storage
) -> File:
    return file_out(await file_service.complete(session, principal, storage, file_id))


@router.get(
    "/v1/projects/{project_id}/files",
    response_model=Page[File],
    summary="List a project's files",
    description="The project's uploaded files (of its tasks and deliverables too), newest first.",
    responses=_PROJECT_404,
)
async def list_project_files(
    project_id: uuid.UUID, principal: ProjectsRead, session: TenantSession, pagination: Pagination
) -> Page[File]:
    rows, total = await file_service.list_files(session, principal, project_id, pagination)
    return pagination.page_of([file_out(r) for r in rows], total)


@router.get(
    "/v1/tasks/{task_id}/files",
    response_model=Page[File],
    summary="List a task's attachments",
    description="The task's uploaded files, newest first.",
    responses={404: {"description": "No such task in a project you can see"}},
)
async def list_task_files(
    task_id: uuid.UUID, principal: ProjectsRead, session: TenantSession, pagination: Pagination
) -> Page[File]:
    rows, total = await file_service.task_files(session, principal, task_id, pagination)
    return pagination.page_of([file_out(r) for r in rows], total)


@router.get(
    "/v1/deliverables/{deliverable_id}/files",
    response_model=Page[File],
    summary="List a deliverable's files",
    description="The deliverable's uploaded files, newest first.",
    responses={404: {"description": "No such deliverable in a project you can see"}},
)
async def list_deliverable_files(
    deliverable_id: uuid.UUID,
    principal: ProjectsRead,
    session: TenantSession,
    pagination: Pagination,
) -> Page[File]:
    rows, total = await file_service.deliverable_files(
        session, principal, deliverable_id, pagination
    )
    return pagination.page_of([file_out(r) for r in rows], total)


@router.get(
    "/v1/files/{file_id}",
    response_model=File,
    summary="Get a file",
    description="The file's metadata (pending or uploaded).",
    responses=_FILE_404,
)
async def get_file(file_id: uuid.UUID, principal: ProjectsRead, session: TenantSession) -> File:
    return file_out(await file_service.get(session, principal, file_id))


@router.get(
    "/v1/files/{file_id}/download",
    response_model=FileDownload,
    summary="Download a file",
    description=(
        "A link that serves the file for a few minutes (5 by default) as an attachment with "
        "its name, handed out only to whoever can see the file's project."
    ),
    responses={404: {"description": "No such uploaded file in a project you can see"}},
)
async def download_file(
    file_id: uuid.UUID, principal: ProjectsRead, session: TenantSession, storage: Storage
) -> FileDownload:
    link = await file_service.download(session, principal, storage, file_id)
    return FileDownload(url=link.url, expires_at=link.expires_at)


@router.patch(
    "/v1/files/{file_id}",
    response_model=File,
    summary="Share a file with the client, or stop",
    description=(
        "`shared_with_client: true` shows the file to the users of the project's client in the "
        "portal; `false` hides it again (a file attached to a client-visible task or a "
        "submitted deliverable, or uploaded by the client, stays visible to the client). "
        "Recorded in the audit log."
    ),
    responses={**_FILE_404, **_WRITE_403, 422: {"description": "Invalid fields"}},
)
async def update_file(
    file_id: uuid.UUID, body: FileUpdate, principal: TasksWrite, session: TenantSession
) -> File:
    row = await file_service.set_shared(session, principal, file_id, body.shared_with_client)
    return file_out(row)


@router.delete(
    "/v1/files/{file_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a file",
    description=(
        "The file and its bytes in object storage; `work.file.deleted` is published for an "
        "uploaded file. Recorded in the audit log."
    ),
    responses={**_FILE_404, **_WRITE_403},
)
async def delete_file(
    file_id: uuid.UUID, principal: TasksWrite, session: TenantSession, storage: Storage
) -> Response:
    await file_service.delete(session, principal, storage, file_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
