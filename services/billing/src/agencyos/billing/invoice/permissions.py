"""Typed auth dependencies for the invoice routes. Both are held by owners, admins and
managers by default; members and client users hold neither (they never see invoices)."""

from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.web import require

InvoicesRead = Annotated[Principal, require("invoices.read")]
InvoicesWrite = Annotated[Principal, require("invoices.write")]
