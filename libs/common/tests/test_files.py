"""agencyos.common.files: the upload rules, our object keys, the download's
Content-Disposition, and the store's answers against the real local S3 server (versitygw)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from agencyos.common.errors import InvalidInput
from agencyos.common.files import (
    FileStorage,
    FileStorageSettings,
    content_disposition,
    object_key,
)
from agencyos.testing.s3 import ensure_test_bucket, fresh_bucket, storage_settings


def test_an_object_key_is_the_tenant_and_a_fresh_uuid() -> None:
    tenant = uuid.uuid4()
    first, second = object_key(tenant), object_key(tenant)
    assert first != second
    prefix, rest = first.split("/")
    assert prefix == str(tenant)
    uuid.UUID(rest)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("plain.pdf", "attachment; filename=\"plain.pdf\"; filename*=UTF-8''plain.pdf"),
        (
            'a "quoted"\r\nname.txt',
            'attachment; filename="a _quoted___name.txt"; '
            "filename*=UTF-8''a%20%22quoted%22%0D%0Aname.txt",
        ),
        (
            "résumé.pdf",
            "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf",
        ),
    ],
    ids=["ascii", "quotes-and-newline", "accents"],
)
def test_the_disposition_is_an_attachment_that_never_breaks_the_header(
    name: str, expected: str
) -> None:
    assert content_disposition(name) == expected


class TestUploadRules:
    def storage(self, **settings: object) -> FileStorage:
        return FileStorage(FileStorageSettings(**settings))  # type: ignore[arg-type]

    def test_an_allowed_type_within_the_limit_passes(self) -> None:
        self.storage().check_upload("application/pdf", 50 * 1024 * 1024)

    def test_a_type_outside_the_list_and_a_size_over_the_limit_are_named(self) -> None:
        with pytest.raises(InvalidInput) as caught:
            self.storage(files_max_bytes=100).check_upload("text/html", 101)
        assert {e["field"] for e in caught.value.errors or []} == {"content_type", "size"}

    def test_the_allow_list_is_a_setting(self) -> None:
        storage = self.storage(files_allowed_content_types=["text/html"])
        storage.check_upload("text/html", 1)
        with pytest.raises(InvalidInput):
            storage.check_upload("application/pdf", 1)


class TestTheStore:
    async def test_head_delete_and_a_policy_that_pins_the_size(self) -> None:
        bucket = fresh_bucket()
        await ensure_test_bucket(bucket)
        await ensure_test_bucket(bucket)  # again: no error
        storage = FileStorage(storage_settings(bucket))
        key = object_key(uuid.uuid4())
        assert await storage.head(key) is None
        upload = storage.presign_upload(key, "text/plain", 5)
        async with httpx.AsyncClient(timeout=30) as s3:
            short = await s3.post(
                upload.url, data=upload.fields, files={"file": ("a", b"four", "text/plain")}
            )
            assert short.status_code == 400, short.text
            ok = await s3.post(
                upload.url, data=upload.fields, files={"file": ("a", b"five!", "text/plain")}
            )
            assert ok.status_code in (200, 201, 204), ok.text
        stored = await storage.head(key)
        assert stored is not None
        assert (stored.size, stored.content_type) == (5, "text/plain")
        await storage.delete(key)
        await storage.delete(key)  # gone already: no error
        assert await storage.head(key) is None

    async def test_a_download_link_expires(self) -> None:
        bucket = fresh_bucket()
        await ensure_test_bucket(bucket)
        settings = storage_settings(bucket)
        settings.files_download_expiry_seconds = 1
        storage = FileStorage(settings)
        key = object_key(uuid.uuid4())
        upload = storage.presign_upload(key, "text/plain", 2)
        async with httpx.AsyncClient(timeout=30) as s3:
            stored = await s3.post(
                upload.url, data=upload.fields, files={"file": ("a", b"hi", "text/plain")}
            )
            assert stored.status_code in (200, 201, 204), stored.text
            link = storage.presign_download(key, "a.txt", "text/plain")
            assert (await s3.get(link.url)).status_code == 200
            await asyncio.sleep(2.5)
            expired = await s3.get(link.url)
        assert expired.status_code == 403, expired.text
