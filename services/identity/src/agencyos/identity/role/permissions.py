from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.web import require

RolesRead = Annotated[Principal, require("members.read")]
RolesWrite = Annotated[Principal, require("roles.write")]
