"""Files in S3-compatible object storage (AWS S3 in production; versitygw locally and in tests,
deploy/local/s3.sh), through boto3.

The bytes never pass through our services: a caller asks a service for an upload, gets a
pre-signed POST (a policy that pins the object key, the exact Content-Type and the exact size
declared), sends the file straight to S3, then tells the service it is done, which HEADs the
object before it counts. Downloads are pre-signed GETs of a few minutes, handed out only after
the service checked the caller may see the file, with `Content-Disposition: attachment` and the
file's own name. Object keys are ours (`<tenant>/<uuid>`), never the user's file name.

Metadata (name, owner, status, tenant) lives in the owning service's database; this module only
talks to the store. boto3 is synchronous: calls that go over the network (HEAD, delete, bucket
creation) run in a worker thread; pre-signing is local computation.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from agencyos.common.db import utcnow
from agencyos.common.errors import InvalidInput, field_problem
from agencyos.common.settings import ServiceSettings

MEGABYTE = 1024 * 1024

# What may be uploaded unless a deployment says otherwise: images, PDF, office documents
# (Microsoft and OpenDocument), plain text, CSV, Markdown and zip archives. Never HTML or SVG
# (a browser would run their scripts if one were ever opened inline).
DEFAULT_CONTENT_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "text/csv",
    "text/markdown",
    "application/zip",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
)

DEVELOPMENT_S3_SECRETS = ("s3_endpoint_url", "s3_access_key_id", "s3_secret_access_key")


class FileStorageSettings(ServiceSettings):
    """The settings of a service that keeps files (AGENCYOS_<SERVICE>_S3_* or the shared
    AGENCYOS_S3_*). A service's settings class inherits it and adds `DEVELOPMENT_S3_SECRETS`
    to its `development_secrets`: the local endpoint and keys are refused in production."""

    development_secrets: ClassVar[tuple[str, ...]] = DEVELOPMENT_S3_SECRETS

    # The S3 API's address: empty means AWS itself (the region's endpoint); locally the
    # versitygw that deploy/local/s3.sh starts.
    s3_endpoint_url: str = "http://127.0.0.1:7070"
    # Where browsers reach the store, when not at `s3_endpoint_url` (e.g. an in-cluster address
    # for the service, a public one for people): pre-signed URLs name this one. Empty = the
    # same address.
    s3_public_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_bucket: str = "agencyos-files"
    # Development keys (versitygw's root); empty both = boto3's default credential chain (an
    # IAM role for the pod, the instance profile, ...).
    s3_access_key_id: str = "agencyos-local-s3"
    s3_secret_access_key: str = "agencyos-local-s3-secret-development-only"
    s3_timeout_seconds: float = 10.0
    # Uploads: at most this many bytes per file, one of these content types, and this long to
    # send the file once the pre-signed POST is handed out.
    files_max_bytes: int = 50 * MEGABYTE
    files_allowed_content_types: list[str] = list(DEFAULT_CONTENT_TYPES)
    files_upload_expiry_seconds: int = 900
    # How long a download link works (a few minutes: it is fetched right away).
    files_download_expiry_seconds: int = 300


@dataclass(frozen=True)
class PresignedUpload:
    """Where and how to send the file: a multipart/form-data POST to `url` with `fields` first
    and the file last (as the `file` field), before `expires_at`."""

    url: str
    fields: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True)
class PresignedDownload:
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class StoredObject:
    size: int
    content_type: str | None


def object_key(tenant_id: uuid.UUID) -> str:
    """A fresh key of ours under the tenant's prefix; never derived from the user's name."""
    return f"{tenant_id}/{uuid.uuid4()}"


def content_disposition(name: str) -> str:
    """`attachment` with the file's name: an ASCII fallback and the exact name (RFC 6266)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _client(settings: FileStorageSettings, endpoint_url: str) -> Any:
    credentials: dict[str, str] = {}
    if settings.s3_access_key_id and settings.s3_secret_access_key:
        credentials = {
            "aws_access_key_id": settings.s3_access_key_id,
            "aws_secret_access_key": settings.s3_secret_access_key,
        }
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        connect_timeout=settings.s3_timeout_seconds,
        read_timeout=settings.s3_timeout_seconds,
        retries={"max_attempts": 3, "mode": "standard"},
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=settings.s3_region,
        config=config,
        **credentials,
    )


class FileStorage:
    """One bucket of the store, with the upload rules of the settings it was made from."""

    def __init__(self, settings: FileStorageSettings) -> None:
        self.bucket = settings.s3_bucket
        self.max_bytes = settings.files_max_bytes
        self.allowed_content_types = frozenset(
            t.strip().lower() for t in settings.files_allowed_content_types
        )
        self.upload_expiry = timedelta(seconds=settings.files_upload_expiry_seconds)
        self.download_expiry = timedelta(seconds=settings.files_download_expiry_seconds)
        self._s3 = _client(settings, settings.s3_endpoint_url)
        # Signing is local; the URLs it makes name the address browsers use.
        self._signer = (
            _client(settings, settings.s3_public_endpoint_url)
            if settings.s3_public_endpoint_url
            else self._s3
        )

    # --- rules ---------------------------------------------------------------------------

    def check_upload(self, content_type: str, size: int) -> None:
        """Refuse (422 naming the field) a size over the limit or a type not allowed."""
        errors = []
        if content_type.lower() not in self.allowed_content_types:
            errors.append(
                field_problem(
                    "content_type",
                    f"files of type {content_type!r} are not accepted; allowed: "
                    + ", ".join(sorted(self.allowed_content_types)),
                )
            )
        if size > self.max_bytes:
            errors.append(
                field_problem(
                    "size", f"a file may be at most {self.max_bytes} bytes ({size} declared)"
                )
            )
        if errors:
            raise InvalidInput("; ".join(e["message"] for e in errors), errors=errors)

    # --- the store -----------------------------------------------------------------------

    def presign_upload(self, key: str, content_type: str, size: int) -> PresignedUpload:
        """A POST policy for exactly this key, this Content-Type and this many bytes: S3
        refuses any other file (a larger one included) before storing anything."""
        expires = int(self.upload_expiry.total_seconds())
        post = self._signer.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
            ExpiresIn=expires,
        )
        return PresignedUpload(
            url=str(post["url"]),
            fields={str(k): str(v) for k, v in post["fields"].items()},
            expires_at=utcnow() + self.upload_expiry,
        )

    def presign_download(self, key: str, name: str, content_type: str) -> PresignedDownload:
        url = self._signer.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentDisposition": content_disposition(name),
                "ResponseContentType": content_type,
            },
            ExpiresIn=int(self.download_expiry.total_seconds()),
        )
        return PresignedDownload(url=str(url), expires_at=utcnow() + self.download_expiry)

    async def head(self, key: str) -> StoredObject | None:
        """The stored object's size and type, or None when nothing is stored under `key`."""

        def call() -> StoredObject | None:
            try:
                answer = self._s3.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if status == 404:
                    return None
                raise
            return StoredObject(
                size=int(answer["ContentLength"]), content_type=answer.get("ContentType")
            )

        return await asyncio.to_thread(call)

    async def delete(self, key: str) -> None:
        """Remove the object (no error when it is already gone)."""
        await asyncio.to_thread(self._s3.delete_object, Bucket=self.bucket, Key=key)

    async def ensure_bucket(self) -> None:
        """Create the bucket unless it exists (development and the test platform; production
        buckets are made by whoever runs the account)."""

        def call() -> None:
            try:
                self._s3.head_bucket(Bucket=self.bucket)
            except ClientError:
                self._s3.create_bucket(Bucket=self.bucket)

        await asyncio.to_thread(call)


_STORAGES: dict[tuple[Any, ...], FileStorage] = {}


def file_storage(settings: FileStorageSettings) -> FileStorage:
    """The storage for these settings (one boto3 client per process and configuration)."""
    key = tuple(
        (name, repr(getattr(settings, name)))
        for name in FileStorageSettings.model_fields
        if name.startswith(("s3_", "files_"))
    )
    storage = _STORAGES.get(key)
    if storage is None:
        storage = _STORAGES[key] = FileStorage(settings)
    return storage
