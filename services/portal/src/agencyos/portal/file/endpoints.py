import uuid

from fastapi import APIRouter, status

from agencyos.portal.file.schemas import (
    PortalFile,
    PortalFileDownload,
    PortalUpload,
    PortalUploadCreate,
    PortalUploadForm,
)
from agencyos.portal.permissions import CLIENT_ONLY, PortalClient, Work

router = APIRouter(prefix="/v1/portal", tags=["portal"])


@router.get(
    "/files/{file_id}/download",
    response_model=PortalFileDownload,
    summary="Download a file",
    description=(
        "A link that serves the file for a few minutes, as an attachment with its name: a file "
        "the agency shared with the client, attached to a task shown to it or a deliverable "
        "submitted to it, or uploaded by the client's users. Client users only."
    ),
    responses={**CLIENT_ONLY, 404: {"description": "No such file shown to your client"}},
)
async def download_file(file_id: uuid.UUID, caller: PortalClient, work: Work) -> PortalFileDownload:
    link = await work.client_file_download(caller.principal, file_id)
    return PortalFileDownload(url=link.url, expires_at=link.expires_at)


@router.post(
    "/projects/{project_id}/uploads",
    status_code=status.HTTP_201_CREATED,
    response_model=PortalUpload,
    summary="Start an upload (e.g. a feedback attachment)",
    description=(
        "Declares a file (`name`, `content_type`, exact `size` in bytes) for one of the "
        "client's projects and answers the pending file with a pre-signed POST: send "
        "`upload.fields` and then the file (form field `file`) as multipart/form-data to "
        "`upload.url`, then `POST /v1/portal/uploads/{id}/complete`. Attach completed uploads "
        "to feedback (`attachments`). Images, PDF, office documents, text and zip up to 50 MB "
        "by default; 422 naming the field otherwise. Client users only."
    ),
    responses={
        **CLIENT_ONLY,
        404: {"description": "No such project of your client"},
        422: {"description": "Type not allowed or size over the limit"},
    },
)
async def request_upload(
    project_id: uuid.UUID, body: PortalUploadCreate, caller: PortalClient, work: Work
) -> PortalUpload:
    upload = await work.request_client_upload(
        caller.principal,
        project_id,
        name=body.name,
        content_type=body.content_type,
        size_bytes=body.size,
    )
    return PortalUpload(
        file=PortalFile.of(upload.file),
        upload=PortalUploadForm(url=upload.url, fields=upload.fields, expires_at=upload.expires_at),
    )


@router.post(
    "/uploads/{file_id}/complete",
    response_model=PortalFile,
    summary="Complete an upload",
    description=(
        "The file is in storage with its declared size: it becomes `uploaded`. Your own "
        "uploads only. Client users only."
    ),
    responses={
        **CLIENT_ONLY,
        404: {"description": "No such upload of yours"},
        412: {"description": "Nothing (or another size) is stored yet: upload first"},
    },
)
async def complete_upload(file_id: uuid.UUID, caller: PortalClient, work: Work) -> PortalFile:
    return PortalFile.of(await work.complete_client_upload(caller.principal, file_id))
