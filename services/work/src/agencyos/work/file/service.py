"""A project's files: task attachments, deliverable files and files shared with the client.

The bytes go straight between the caller and object storage (agencyos.common.files); work
keeps the metadata. An upload is two steps: `request_upload` checks the caller, the type and
the size, stores a `pending` row with a key of ours and hands out a pre-signed POST for exactly
that type and size; `complete` HEADs the object and, when it is there with the declared size,
marks the file `uploaded` and publishes `work.file.uploaded`. Only uploaded files are listed or
downloadable. A download link is signed only after the caller's permission is checked.

Who: the team as for tasks (reading: whoever sees the project; writing: `tasks.write` on a
project they see). Client users: the files their client sees (see
`repository.client_visible`), and their own uploads (feedback attachments) in their client's
projects. Anything else answers NotFound, as for a file that does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.db import utcnow
from agencyos.common.errors import Conflict, NotFound, PermissionDenied, field_error
from agencyos.common.events import FileDeleted, FileUploaded
from agencyos.common.files import FileStorage, PresignedDownload, PresignedUpload, object_key
from agencyos.common.outbox import publish
from agencyos.common.pagination import PageParams
from agencyos.common.permissions import Role
from agencyos.work.audit_log import record_deleted
from agencyos.work.deliverable.repository import deliverable_repository
from agencyos.work.file.repository import PENDING, UPLOADED, file_repository
from agencyos.work.file.schemas import FileUploadRequest
from agencyos.work.models import File, Project
from agencyos.work.project.access import visible_project
from agencyos.work.project.repository import project_repository
from agencyos.work.task.repository import task_repository

SERVICE = "work"
# At most this many attachments on one piece of feedback.
MAX_ATTACHMENTS = 20


class UploadNotStored(Conflict):
    """The object is not (or not wholly) in storage (HTTP 409; gRPC FAILED_PRECONDITION)."""


def _is_client_user(principal: Principal) -> bool:
    return principal.role == Role.CLIENT


async def client_scope_project(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID
) -> Project:
    """A client user's own client's project, or a project staff can see; else NotFound."""
    if _is_client_user(principal):
        if principal.client_id is None:
            raise PermissionDenied("this client user is bound to no client")
        project = await project_repository.get(session, project_id)
        if project is None or project.client_id != principal.client_id:
            raise NotFound("no such project")
        return project
    return await visible_project(session, principal, project_id)


class FileService:
    # --- the team ------------------------------------------------------------------------

    async def _visible(
        self, session: AsyncSession, principal: Principal, file_id: uuid.UUID, *, lock: bool
    ) -> tuple[File, Project]:
        row = await (
            file_repository.lock(session, file_id)
            if lock
            else file_repository.get(session, file_id)
        )
        if row is None:
            raise NotFound("no such file")
        try:
            project = await visible_project(session, principal, row.project_id)
        except NotFound as exc:
            raise NotFound("no such file") from exc
        return row, project

    async def request_upload(
        self,
        session: AsyncSession,
        principal: Principal,
        storage: FileStorage,
        project_id: uuid.UUID,
        data: FileUploadRequest,
    ) -> tuple[File, PresignedUpload]:
        principal.require("tasks.write")
        project = await visible_project(session, principal, project_id)
        storage.check_upload(data.content_type, data.size)
        if data.task_id is not None:
            task = await task_repository.get(session, data.task_id)
            if task is None or task.project_id != project.id:
                raise field_error("task_id", "no such task in this project")
        if data.deliverable_id is not None:
            deliverable = await deliverable_repository.get(session, data.deliverable_id)
            if deliverable is None or deliverable.project_id != project.id:
                raise field_error("deliverable_id", "no such deliverable in this project")
        row = await self._new(
            session,
            principal,
            storage,
            project,
            name=data.name,
            content_type=data.content_type,
            size=data.size,
            task_id=data.task_id,
            deliverable_id=data.deliverable_id,
            shared_with_client=data.shared_with_client,
        )
        return row, storage.presign_upload(row.object_key, row.content_type, row.size_bytes)

    async def _new(
        self,
        session: AsyncSession,
        principal: Principal,
        storage: FileStorage,
        project: Project,
        *,
        name: str,
        content_type: str,
        size: int,
        task_id: uuid.UUID | None = None,
        deliverable_id: uuid.UUID | None = None,
        shared_with_client: bool = False,
    ) -> File:
        row = File(
            tenant_id=principal.tenant_id,
            id=uuid.uuid4(),
            project_id=project.id,
            task_id=task_id,
            deliverable_id=deliverable_id,
            shared_with_client=shared_with_client,
            name=name,
            content_type=content_type,
            size_bytes=size,
            object_key=object_key(principal.tenant_id),
            status=PENDING,
            uploaded_by=principal.user_id,
            uploaded_by_client=_is_client_user(principal),
        )
        session.add(row)
        await session.flush()
        return row

    async def complete(
        self,
        session: AsyncSession,
        principal: Principal,
        storage: FileStorage,
        file_id: uuid.UUID,
    ) -> File:
        principal.require("tasks.write")
        row, project = await self._visible(session, principal, file_id, lock=True)
        return await self._confirm(session, principal, storage, row, project)

    async def _confirm(
        self,
        session: AsyncSession,
        principal: Principal,
        storage: FileStorage,
        row: File,
        project: Project,
    ) -> File:
        """Mark the file uploaded once storage holds it with the declared size (again: a
        no-op)."""
        if row.status == UPLOADED:
            return row
        stored = await storage.head(row.object_key)
        if stored is None:
            raise UploadNotStored("the file has not been uploaded yet: send it first")
        if stored.size != row.size_bytes:
            raise UploadNotStored(
                f"the stored file has {stored.size} bytes, not the {row.size_bytes} declared"
            )
        row.status = UPLOADED
        row.uploaded_at = utcnow()
        await session.flush()
        await publish(
            session,
            FileUploaded(**self._event_fields(row, project, principal)),
            source_service=SERVICE,
            subject=f"files/{row.id}",
        )
        return row

    @staticmethod
    def _event_fields(row: File, project: Project, principal: Principal) -> dict[str, object]:
        return {
            "file_id": row.id,
            "project_id": row.project_id,
            "client_id": project.client_id,
            "task_id": row.task_id,
            "deliverable_id": row.deliverable_id,
            "name": row.name,
            "content_type": row.content_type,
            "size_bytes": row.size_bytes,
            "shared_with_client": row.shared_with_client,
            "uploaded_by": row.uploaded_by,
            "uploaded_by_client": row.uploaded_by_client,
            "actor_id": principal.user_id,
        }

    async def list_files(
        self,
        session: AsyncSession,
        principal: Principal,
        project_id: uuid.UUID,
        pagination: PageParams,
        *,
        task_id: uuid.UUID | None = None,
        deliverable_id: uuid.UUID | None = None,
    ) -> tuple[Sequence[File], int]:
        await visible_project(session, principal, project_id)
        stmt = file_repository.of_project(
            project_id, task_id=task_id, deliverable_id=deliverable_id
        )
        return await file_repository.paginate(
            session, stmt, page=pagination.page, per_page=pagination.per_page
        )

    async def task_files(
        self,
        session: AsyncSession,
        principal: Principal,
        task_id: uuid.UUID,
        pagination: PageParams,
    ) -> tuple[Sequence[File], int]:
        task = await task_repository.get(session, task_id)
        if task is None:
            raise NotFound("no such task")
        try:
            return await self.list_files(
                session, principal, task.project_id, pagination, task_id=task.id
            )
        except NotFound as exc:
            raise NotFound("no such task") from exc

    async def deliverable_files(
        self,
        session: AsyncSession,
        principal: Principal,
        deliverable_id: uuid.UUID,
        pagination: PageParams,
    ) -> tuple[Sequence[File], int]:
        deliverable = await deliverable_repository.get(session, deliverable_id)
        if deliverable is None:
            raise NotFound("no such deliverable")
        try:
            return await self.list_files(
                session,
                principal,
                deliverable.project_id,
                pagination,
                deliverable_id=deliverable.id,
            )
        except NotFound as exc:
            raise NotFound("no such deliverable") from exc

    async def get(self, session: AsyncSession, principal: Principal, file_id: uuid.UUID) -> File:
        row, _ = await self._visible(session, principal, file_id, lock=False)
        return row

    async def download(
        self,
        session: AsyncSession,
        principal: Principal,
        storage: FileStorage,
        file_id: uuid.UUID,
    ) -> PresignedDownload:
        row, _ = await self._visible(session, principal, file_id, lock=False)
        if row.status != UPLOADED:
            raise NotFound("no such file (its upload was never completed)")
        return storage.presign_download(row.object_key, row.name, row.content_type)

    async def set_shared(
        self, session: AsyncSession, principal: Principal, file_id: uuid.UUID, shared: bool
    ) -> File:
        """Share the file with the project's client or stop sharing it (recorded in the
        audit log: what the client sees changed)."""
        principal.require("tasks.write")
        row, _ = await self._visible(session, principal, file_id, lock=True)
        if row.shared_with_client == shared:
            return row
        before = row.shared_with_client
        row.shared_with_client = shared
        await session.flush()
        await record_audit(
            session,
            action="file.shared" if shared else "file.unshared",
            entity_type="file",
            entity_id=row.id,
            actor=principal,
            source_service=SERVICE,
            before={"shared_with_client": before},
            after={"shared_with_client": shared},
            detail={"name": row.name, "project_id": str(row.project_id)},
        )
        return row

    async def delete(
        self,
        session: AsyncSession,
        principal: Principal,
        storage: FileStorage,
        file_id: uuid.UUID,
    ) -> None:
        """The row and its object; publishes `work.file.deleted` for an uploaded file."""
        principal.require("tasks.write")
        row, project = await self._visible(session, principal, file_id, lock=True)
        fields = self._event_fields(row, project, principal)
        was_uploaded = row.status == UPLOADED
        await session.delete(row)
        await session.flush()
        await record_deleted(
            session,
            principal,
            "file",
            row.id,
            {
                "name": row.name,
                "project_id": str(row.project_id),
                "size_bytes": row.size_bytes,
                "shared_with_client": row.shared_with_client,
            },
        )
        if was_uploaded:
            await publish(
                session, FileDeleted(**fields), source_service=SERVICE, subject=f"files/{row.id}"
            )
        # Last: a failure above leaves the bytes where they were.
        await storage.delete(row.object_key)

    # --- client users (through the portal's gRPC) ----------------------------------------

    async def client_files(
        self, session: AsyncSession, principal: Principal, project_id: uuid.UUID
    ) -> list[File]:
        project = await client_scope_project(session, principal, project_id)
        return await file_repository.client_files(session, project.id)

    async def client_download(
        self,
        session: AsyncSession,
        principal: Principal,
        storage: FileStorage,
        file_id: uuid.UUID,
    ) -> PresignedDownload:
        row = await file_repository.get(session, file_id)
        if row is None or not await file_repository.is_client_visible(session, row.id):
            raise NotFound("no such file")
        try:
            await client_scope_project(session, principal, row.project_id)
        except NotFound as exc:
            raise NotFound("no such file") from exc
        return storage.presign_download(row.object_key, row.name, row.content_type)

    async def client_request_upload(
        self,
        session: AsyncSession,
        principal: Principal,
        storage: FileStorage,
        project_id: uuid.UUID,
        *,
        name: str,
        content_type: str,
        size: int,
    ) -> tuple[File, PresignedUpload]:
        if not _is_client_user(principal):
            raise PermissionDenied("client uploads are for client users; the team uses REST")
        project = await client_scope_project(session, principal, project_id)
        storage.check_upload(content_type, size)
        row = await self._new(
            session, principal, storage, project, name=name, content_type=content_type, size=size
        )
        return row, storage.presign_upload(row.object_key, row.content_type, row.size_bytes)

    async def client_complete(
        self,
        session: AsyncSession,
        principal: Principal,
        storage: FileStorage,
        file_id: uuid.UUID,
    ) -> File:
        """The caller's own upload only (any other file answers NotFound)."""
        if not _is_client_user(principal):
            raise PermissionDenied("client uploads are for client users; the team uses REST")
        row = await file_repository.lock(session, file_id)
        if row is None or not row.uploaded_by_client or row.uploaded_by != principal.user_id:
            raise NotFound("no such upload")
        try:
            project = await client_scope_project(session, principal, row.project_id)
        except NotFound as exc:
            raise NotFound("no such upload") from exc
        return await self._confirm(session, principal, storage, row, project)

    async def attach_to_task(
        self,
        session: AsyncSession,
        principal: Principal,
        project: Project,
        task_id: uuid.UUID,
        file_ids: Sequence[uuid.UUID],
    ) -> list[File]:
        """The caller's own completed uploads in the project, not yet attached, attached to
        the task; any other id is refused naming `attachment_ids`."""
        ids = list(dict.fromkeys(file_ids))
        if not ids:
            return []
        if len(ids) > MAX_ATTACHMENTS:
            raise field_error("attachment_ids", f"at most {MAX_ATTACHMENTS} attachments")
        rows = await file_repository.own_unattached(session, project.id, principal.user_id, ids)
        missing = sorted(str(i) for i in set(ids) - {r.id for r in rows})
        if missing:
            raise field_error(
                "attachment_ids",
                "not your own completed uploads in this project (or already attached): "
                + ", ".join(missing),
            )
        for row in rows:
            row.task_id = task_id
        await session.flush()
        return rows


file_service = FileService()
