"""Typed auth dependencies for clients and what hangs off them (contacts, the timeline,
imports, exports, jobs): one definition each, imported by every router that needs it."""

from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.web import require

# Everyone but client users.
ClientsRead = Annotated[Principal, require("clients.read")]
# Managers and above.
ClientsWrite = Annotated[Principal, require("clients.write")]
# The whole book at once (contacts, revenue): its own permission, on top of reading clients.
ClientsExport = Annotated[Principal, require("clients.export")]
