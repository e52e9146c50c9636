from typing import ClassVar

from agencyos.common.files import DEVELOPMENT_S3_SECRETS, FileStorageSettings
from agencyos.common.settings import service_config


class WorkSettings(FileStorageSettings):
    """work keeps projects' files (task attachments, deliverable files, files shared with the
    client) in object storage: the S3 settings of agencyos.common.files.FileStorageSettings
    (AGENCYOS_WORK_S3_* or the shared AGENCYOS_S3_*)."""

    service_name = "work"
    model_config = service_config("work")
    # The local S3 endpoint and keys: a production start refuses them.
    development_secrets: ClassVar[tuple[str, ...]] = DEVELOPMENT_S3_SECRETS
