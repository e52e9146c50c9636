"""The local stack's S3 server (versitygw, deploy/local/s3.sh) for the test tiers: a bucket of
their own per test run (in-process) or per platform, made by the project's own code
(`FileStorage.ensure_bucket`), so runs sharing one server never see each other's objects."""

from __future__ import annotations

import os
import uuid

from agencyos.common.files import FileStorageSettings, file_storage

DEFAULT_S3_ENDPOINT = "http://127.0.0.1:7070"


def s3_endpoint() -> str:
    """The local S3 server (`AGENCYOS_S3_ENDPOINT_URL` when set)."""
    return os.environ.get("AGENCYOS_S3_ENDPOINT_URL", DEFAULT_S3_ENDPOINT)


def fresh_bucket() -> str:
    """A fresh bucket name (S3's rules: lowercase letters, digits and hyphens)."""
    return f"agencyos-test-{uuid.uuid4().hex[:12]}"


def s3_environment(bucket: str) -> dict[str, str]:
    """The shared AGENCYOS_S3_* settings a platform's processes get (development keys)."""
    fields = FileStorageSettings.model_fields
    return {
        "AGENCYOS_S3_ENDPOINT_URL": s3_endpoint(),
        "AGENCYOS_S3_BUCKET": bucket,
        "AGENCYOS_S3_ACCESS_KEY_ID": os.environ.get(
            "AGENCYOS_S3_ACCESS_KEY_ID", str(fields["s3_access_key_id"].default)
        ),
        "AGENCYOS_S3_SECRET_ACCESS_KEY": os.environ.get(
            "AGENCYOS_S3_SECRET_ACCESS_KEY", str(fields["s3_secret_access_key"].default)
        ),
    }


def storage_settings(bucket: str) -> FileStorageSettings:
    env = s3_environment(bucket)
    return FileStorageSettings(
        s3_endpoint_url=env["AGENCYOS_S3_ENDPOINT_URL"],
        s3_bucket=bucket,
        s3_access_key_id=env["AGENCYOS_S3_ACCESS_KEY_ID"],
        s3_secret_access_key=env["AGENCYOS_S3_SECRET_ACCESS_KEY"],
    )


async def ensure_test_bucket(bucket: str) -> None:
    await file_storage(storage_settings(bucket)).ensure_bucket()
