"""The timesheet tests' team: the agency's owner, a manager and a member on an hourly project
(12 000 an hour in work), declared on the work stand-in as the platform tier's `new_team` makes
them through work's API."""

from __future__ import annotations

import pytest

from agencyos.testing.inprocess import Agency, InProcess
from agencyos.testing.timesheets import Team


@pytest.fixture
def team(in_process: InProcess, tenant: Agency) -> Team:
    manager = tenant.caller("manager")
    member = tenant.caller("member")
    project_id = in_process.standins.work.add_project(
        tenant.id,
        tenant.owner.user_id,
        manager.user_id,
        member.user_id,
        billing_type="hourly",
        hourly_rate_cents=12_000,
    )
    project = in_process.standins.work.projects[(tenant.id, project_id)]
    return Team(
        tenant.owner,  # Callers, shaped like AgencySession
        manager,
        member,
        {"id": project.id, "currency": project.currency},
    )
