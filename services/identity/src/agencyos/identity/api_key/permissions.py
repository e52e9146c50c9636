from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.web import require

ApiKeysWrite = Annotated[Principal, require("api_keys.write")]
