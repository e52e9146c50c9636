from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.web import require

SecurityManage = Annotated[Principal, require("security.manage")]
