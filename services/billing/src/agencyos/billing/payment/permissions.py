"""Typed auth dependencies for payments (managers and above by default; members never see
invoices or their money)."""

from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.web import require

InvoicesRead = Annotated[Principal, require("invoices.read")]
InvoicesWrite = Annotated[Principal, require("invoices.write")]
