"""Typed auth dependencies for deals and pipelines."""

from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.web import require

DealsRead = Annotated[Principal, require("deals.read")]
DealsWrite = Annotated[Principal, require("deals.write")]
# The weighted forecast is financial reporting, not deal reading.
ForecastRead = Annotated[Principal, require("reports.financial.read")]
