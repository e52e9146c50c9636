"""The file half of work's stand-in (agencyos.testing.work_standin): files its client sees,
their signed links and client uploads, with the bytes in the real local S3 server (the bucket
the in-process tier sets), signed as work signs them."""

from __future__ import annotations

import time
import uuid

import grpc
import httpx

from agencyos.common.errors import InvalidInput, NotFound, PermissionDenied, PreconditionFailed
from agencyos.common.files import FileStorage, file_storage, object_key
from agencyos.common.permissions import Role
from agencyos.common.rpc import rpc_principal
from agencyos.protos.work.v1 import work_pb2
from agencyos.testing.s3 import storage_settings
from agencyos.testing.standin_support import caller_tenant, peer_uuid, rfc3339


class FileStandIn:
    """Mixed into WorkStandIn, which holds the state (its dataclass fields) and the project
    rule (`_client_project`)."""

    tasks: dict[tuple[uuid.UUID, uuid.UUID], work_pb2.Task]
    deliverables: dict[tuple[uuid.UUID, uuid.UUID], work_pb2.Deliverable]
    files: dict[tuple[uuid.UUID, uuid.UUID], work_pb2.File]
    file_keys: dict[tuple[uuid.UUID, uuid.UUID], str]
    file_uploaders: dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID]
    s3_bucket: str
    _bucket_made: bool

    def _client_project(self, raw_project_id: str, *, write: bool) -> work_pb2.Project:
        raise NotImplementedError  # WorkStandIn's

    async def storage(self) -> FileStorage:
        """The run's bucket in the local S3 server, made on first use."""
        assert self.s3_bucket, "the in-process tier sets the stand-in's bucket"
        storage = file_storage(storage_settings(self.s3_bucket))
        if not self._bucket_made:
            await storage.ensure_bucket()
            self._bucket_made = True
        return storage

    async def add_file(
        self,
        agency_id: uuid.UUID,
        project_id: uuid.UUID,
        content: bytes,
        *,
        name: str = "notes.txt",
        content_type: str = "text/plain",
        shared_with_client: bool = False,
        task_id: uuid.UUID | None = None,
        deliverable_id: uuid.UUID | None = None,
        uploaded_by: uuid.UUID | None = None,
        uploaded_by_client: bool = False,
    ) -> uuid.UUID:
        """An uploaded file of the project, its bytes stored in the local S3 server."""
        file_id = uuid.uuid4()
        key = object_key(agency_id)
        storage = await self.storage()
        upload = storage.presign_upload(key, content_type, len(content))
        async with httpx.AsyncClient(timeout=30) as s3:
            stored = await s3.post(
                upload.url, data=upload.fields, files={"file": (name, content, content_type)}
            )
        stored.raise_for_status()
        self.files[(agency_id, file_id)] = work_pb2.File(
            id=str(file_id),
            project_id=str(project_id),
            task_id=str(task_id) if task_id else "",
            deliverable_id=str(deliverable_id) if deliverable_id else "",
            name=name,
            content_type=content_type,
            size_bytes=len(content),
            status="uploaded",
            shared_with_client=shared_with_client,
            uploaded_by_client=uploaded_by_client,
            created_at=rfc3339(time.time()),
            uploaded_at=rfc3339(time.time()),
        )
        self.file_keys[(agency_id, file_id)] = key
        self.file_uploaders[(agency_id, file_id)] = uploaded_by or uuid.uuid4()
        return file_id

    def _client_sees(self, f: work_pb2.File) -> bool:
        if f.status != "uploaded":
            return False
        if f.shared_with_client or f.uploaded_by_client:
            return True
        tenant = caller_tenant()
        task = self.tasks.get((tenant, peer_uuid(f.task_id))) if f.task_id else None
        deliverable = (
            self.deliverables.get((tenant, peer_uuid(f.deliverable_id)))
            if f.deliverable_id
            else None
        )
        return bool(
            (task is not None and task.visible_to_client)
            or (deliverable is not None and deliverable.status != "draft")
        )

    async def ListClientFiles(
        self, request: work_pb2.ListClientFilesRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ListFilesResponse:
        project = self._client_project(request.project_id, write=False)
        tenant = caller_tenant()
        found = [
            f
            for (agency, _), f in self.files.items()
            if agency == tenant and f.project_id == project.id and self._client_sees(f)
        ]
        return work_pb2.ListFilesResponse(files=list(reversed(found)))

    async def GetClientFileDownload(
        self, request: work_pb2.GetClientFileDownloadRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.FileDownload:
        key = (caller_tenant(), peer_uuid(request.file_id))
        f = self.files.get(key)
        if f is None or not self._client_sees(f):
            raise NotFound("no such file")
        try:
            self._client_project(f.project_id, write=False)
        except NotFound as exc:
            raise NotFound("no such file") from exc
        storage = await self.storage()
        link = storage.presign_download(self.file_keys[key], f.name, f.content_type)
        return work_pb2.FileDownload(url=link.url, expires_at=rfc3339(link.expires_at.timestamp()))

    async def RequestClientUpload(
        self, request: work_pb2.RequestClientUploadRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.FileUpload:
        principal = rpc_principal()
        if principal.role != Role.CLIENT:
            raise PermissionDenied("client uploads are for client users")
        project = self._client_project(request.project_id, write=True)
        if request.size_bytes < 1 or not request.name.strip():
            raise InvalidInput("invalid fields: name, size")
        storage = await self.storage()
        storage.check_upload(request.content_type, request.size_bytes)
        tenant, file_id = caller_tenant(), uuid.uuid4()
        key = object_key(tenant)
        message = work_pb2.File(
            id=str(file_id),
            project_id=project.id,
            name=request.name.strip(),
            content_type=request.content_type,
            size_bytes=request.size_bytes,
            status="pending",
            uploaded_by_client=True,
            created_at=rfc3339(time.time()),
        )
        self.files[(tenant, file_id)] = message
        self.file_keys[(tenant, file_id)] = key
        self.file_uploaders[(tenant, file_id)] = principal.user_id
        upload = storage.presign_upload(key, request.content_type, request.size_bytes)
        return work_pb2.FileUpload(
            file=message,
            url=upload.url,
            fields=upload.fields,
            expires_at=rfc3339(upload.expires_at.timestamp()),
        )

    async def CompleteClientUpload(
        self, request: work_pb2.CompleteClientUploadRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.File:
        key = (caller_tenant(), peer_uuid(request.file_id))
        f = self.files.get(key)
        if f is None or self.file_uploaders.get(key) != rpc_principal().user_id:
            raise NotFound("no such upload")
        if f.status != "uploaded":
            stored = await (await self.storage()).head(self.file_keys[key])
            if stored is None or stored.size != f.size_bytes:
                raise PreconditionFailed("the file has not been uploaded yet")
            f.status = "uploaded"
            f.uploaded_at = rfc3339(time.time())
        return f
