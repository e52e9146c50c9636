from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.web import require

MembersRead = Annotated[Principal, require("members.read")]
MembersWrite = Annotated[Principal, require("members.write")]
MemberOverridesWrite = Annotated[Principal, require("roles.write")]
