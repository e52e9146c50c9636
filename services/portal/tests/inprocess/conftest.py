"""The in-process tier of the portal: its app through httpx.ASGITransport, its own database
(cloned from the migrated template), work as the typed stand-in (which rules, as work does,
that a client user reaches only its own client's projects)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from agencyos.testing.inprocess import Agency, Caller, InProcess, service_client

portal = service_client("portal")


@dataclass(frozen=True)
class ClientSide:
    """One client of an agency, its client user, and a project of it with a client-visible
    task, an internal task and a submitted deliverable."""

    client_id: uuid.UUID
    user: Caller
    project_id: uuid.UUID
    visible_task_id: uuid.UUID
    internal_task_id: uuid.UUID
    deliverable_id: uuid.UUID


@dataclass(frozen=True)
class Scene:
    agency: Agency
    x: ClientSide
    y: ClientSide  # another client of the same agency
    elsewhere: ClientSide  # a client of another agency


def client_side(in_process: InProcess, agency: Agency, name: str) -> ClientSide:
    work = in_process.standins.work
    client_id = in_process.standins.crm.add_client(agency.id)
    user = agency.caller("client", client_id=client_id)
    project_id = work.add_project(
        agency.id,
        agency.owner.user_id,
        name=f"{name} website",
        client_id=client_id,
        hourly_rate_cents=15_000,
    )
    visible = work.add_task(agency.id, project_id, title=f"{name} homepage", visible_to_client=True)
    internal = work.add_task(agency.id, project_id, title=f"{name} internal: margin review")
    deliverable = work.add_deliverable(agency.id, project_id, title=f"{name} mock-ups")
    return ClientSide(client_id, user, project_id, visible, internal, deliverable)


@pytest.fixture
def scene(in_process: InProcess, tenant: Agency, other_tenant: Agency) -> Scene:
    # The stand-in lives as long as the worker: start each test with no calls recorded.
    in_process.standins.work.decisions.clear()
    in_process.standins.work.feedback.clear()
    in_process.standins.work.calls.clear()
    return Scene(
        tenant,
        client_side(in_process, tenant, "X"),
        client_side(in_process, tenant, "Y"),
        client_side(in_process, other_tenant, "Z"),
    )
