from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.web import require

AuditRead = Annotated[Principal, require("audit.read")]
