"""Typed auth dependencies for the rates routes (managers and above by default)."""

from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.web import require

RatesRead = Annotated[Principal, require("reports.financial.read")]
RatesWrite = Annotated[Principal, require("rates.write")]
