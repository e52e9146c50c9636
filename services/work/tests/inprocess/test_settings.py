"""work's settings: the local S3 endpoint and development keys are refused by a production
start; production may point at AWS (an empty endpoint) with keys of its own or none (the pod's
IAM role)."""

from __future__ import annotations

import pytest

from agencyos.common.files import FileStorage
from agencyos.common.settings import DevelopmentDefaultInProduction, refuse_development_defaults
from agencyos.work.settings import WorkSettings

PRODUCTION = {
    "s3_endpoint_url": "",
    "s3_access_key_id": "AKIAREALKEY",
    "s3_secret_access_key": "a-real-secret",
}


@pytest.mark.parametrize("left_at_default", sorted(PRODUCTION))
def test_production_refuses_each_development_default_and_names_it(left_at_default: str) -> None:
    values = {k: v for k, v in PRODUCTION.items() if k != left_at_default}
    with pytest.raises(DevelopmentDefaultInProduction, match=left_at_default.upper()):
        refuse_development_defaults(WorkSettings(environment="production", **values))


def test_production_starts_with_values_of_its_own_or_the_iam_role() -> None:
    refuse_development_defaults(WorkSettings(environment="production", **PRODUCTION))
    no_keys = {**PRODUCTION, "s3_access_key_id": "", "s3_secret_access_key": ""}
    refuse_development_defaults(WorkSettings(environment="production", **no_keys))


def test_development_starts_with_the_local_store() -> None:
    refuse_development_defaults(WorkSettings())


def test_links_name_the_public_endpoint_when_one_is_set() -> None:
    storage = FileStorage(
        WorkSettings(
            s3_endpoint_url="http://s3.internal:7070",
            s3_public_endpoint_url="https://files.example.com",
        )
    )
    upload = storage.presign_upload("t/k", "application/pdf", 10)
    download = storage.presign_download("t/k", "a.pdf", "application/pdf")
    assert upload.url.startswith("https://files.example.com/")
    assert download.url.startswith("https://files.example.com/")
    same = FileStorage(WorkSettings(s3_endpoint_url="http://s3.internal:7070"))
    assert same.presign_download("t/k", "a.pdf", "application/pdf").url.startswith(
        "http://s3.internal:7070/"
    )
