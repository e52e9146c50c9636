from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.web import require

AgencyRead = Annotated[Principal, require("agency.read")]
AgencyWrite = Annotated[Principal, require("agency.write")]
