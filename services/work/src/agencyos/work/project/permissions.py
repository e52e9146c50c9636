"""Typed auth dependencies for the projects and templates routes."""

from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.web import require

# Everyone but client users; members see only their projects (see access.py).
ProjectsRead = Annotated[Principal, require("projects.read")]
# Managers and above.
ProjectsWrite = Annotated[Principal, require("projects.write")]
