from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.web import require

InvitationsWrite = Annotated[Principal, require("members.invite")]
