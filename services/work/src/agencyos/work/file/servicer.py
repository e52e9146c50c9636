"""gRPC file methods for the client portal: the files a client sees in a project of its
client, a download link for one of them, and a client user's own uploads (feedback
attachments). Scoped like the other portal methods: a client user reaches only its own
client's projects; any other file or project answers NOT_FOUND."""

from __future__ import annotations

import grpc

from agencyos.common.errors import PreconditionFailed
from agencyos.common.files import FileStorage
from agencyos.common.rpc import parse_uuid, rfc3339, rpc_principal, rpc_session, validated
from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc
from agencyos.work.file.schemas import FileUploadRequest
from agencyos.work.file.service import UploadNotStored, file_service
from agencyos.work.models import File


def file_message(row: File) -> work_pb2.File:
    return work_pb2.File(
        id=str(row.id),
        project_id=str(row.project_id),
        task_id=str(row.task_id) if row.task_id else "",
        deliverable_id=str(row.deliverable_id) if row.deliverable_id else "",
        name=row.name,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        status=row.status,
        shared_with_client=row.shared_with_client,
        uploaded_by_client=row.uploaded_by_client,
        created_at=rfc3339(row.created_at),
        uploaded_at=rfc3339(row.uploaded_at),
    )


class FileRpc(work_pb2_grpc.WorkServiceServicer):
    """Mixed into the service's one WorkServicer, which sets `storage`."""

    storage: FileStorage

    async def ListClientFiles(
        self, request: work_pb2.ListClientFilesRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ListFilesResponse:
        principal = rpc_principal()
        project_id = parse_uuid(request.project_id, "project_id")
        rows = await file_service.client_files(rpc_session(), principal, project_id)
        return work_pb2.ListFilesResponse(files=[file_message(r) for r in rows])

    async def GetClientFileDownload(
        self, request: work_pb2.GetClientFileDownloadRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.FileDownload:
        principal = rpc_principal()
        file_id = parse_uuid(request.file_id, "file_id")
        link = await file_service.client_download(rpc_session(), principal, self.storage, file_id)
        return work_pb2.FileDownload(url=link.url, expires_at=rfc3339(link.expires_at))

    async def RequestClientUpload(
        self, request: work_pb2.RequestClientUploadRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.FileUpload:
        principal = rpc_principal()
        project_id = parse_uuid(request.project_id, "project_id")
        data = validated(
            FileUploadRequest,
            name=request.name,
            content_type=request.content_type,
            size=request.size_bytes,
        )
        row, upload = await file_service.client_request_upload(
            rpc_session(),
            principal,
            self.storage,
            project_id,
            name=data.name,
            content_type=data.content_type,
            size=data.size,
        )
        return work_pb2.FileUpload(
            file=file_message(row),
            url=upload.url,
            fields=upload.fields,
            expires_at=rfc3339(upload.expires_at),
        )

    async def CompleteClientUpload(
        self, request: work_pb2.CompleteClientUploadRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.File:
        principal = rpc_principal()
        file_id = parse_uuid(request.file_id, "file_id")
        try:
            row = await file_service.client_complete(
                rpc_session(), principal, self.storage, file_id
            )
        except UploadNotStored as exc:
            raise PreconditionFailed(exc.detail) from exc
        return file_message(row)
