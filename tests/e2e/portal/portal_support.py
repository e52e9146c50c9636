"""What the portal's journeys through the gateway share: a client of an agency with its client
user, a project of it with a client-visible and an internal task, a submitted deliverable and
a milestone; a sent invoice; the number of gRPC calls a service has answered."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from agencyos.testing.deals import create_client
from agencyos.testing.factories import AgencySession, new_project, new_task
from agencyos.testing.inbox import join
from agencyos.testing.mailpit import unique_address
from agencyos.testing.platform import Platform


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@dataclass(frozen=True)
class ClientOfAgency:
    client_id: str
    user: AgencySession
    project_id: str
    visible_task_id: str
    internal_task_id: str
    deliverable_id: str


async def submitted_deliverable(
    gateway: httpx.AsyncClient, who: AgencySession, project_id: str, title: str
) -> str:
    created = await ok(
        await gateway.post(
            f"/v1/projects/{project_id}/deliverables", json={"title": title}, headers=who.headers
        ),
        201,
    )
    await ok(await gateway.post(f"/v1/deliverables/{created['id']}/submit", headers=who.headers))
    return str(created["id"])


async def client_of(
    gateway: httpx.AsyncClient, owner: AgencySession, manager: AgencySession, name: str
) -> ClientOfAgency:
    """A client with a primary contact (invoices go to it) and a client user; a project of it
    with a client-visible and an internal task, a submitted deliverable and a milestone."""
    client = await create_client(gateway, owner, company_name=f"{name} Corp")
    await ok(
        await gateway.post(
            f"/v1/clients/{client['id']}/contacts",
            json={"name": f"{name} Contact", "email": unique_address(name), "is_primary": True},
            headers=owner.headers,
        ),
        201,
    )
    user = await join(gateway, owner, "client", name=f"{name} Client", client_id=client["id"])
    project = await new_project(
        gateway, owner, manager, name=f"{name} site {uuid.uuid4().hex[:4]}", client_id=client["id"]
    )
    visible = await new_task(
        gateway, manager, project["id"], title=f"{name} homepage", visible_to_client=True
    )
    internal = await new_task(gateway, manager, project["id"], title=f"{name} margin review")
    deliverable = await submitted_deliverable(gateway, manager, project["id"], f"{name} mockups")
    await ok(
        await gateway.post(
            f"/v1/projects/{project['id']}/milestones",
            json={"name": f"{name} launch", "due_date": "2031-06-30", "amount_cents": 500_000},
            headers=manager.headers,
        ),
        201,
    )
    return ClientOfAgency(
        client_id=client["id"],
        user=user,
        project_id=project["id"],
        visible_task_id=visible["id"],
        internal_task_id=internal["id"],
        deliverable_id=deliverable,
    )


async def sent_invoice(
    gateway: httpx.AsyncClient, owner: AgencySession, client_id: str, cents: int
) -> dict[str, Any]:
    """A one-line invoice (no tax) for the client, due in 14 days, sent."""
    draft = await ok(
        await gateway.post(
            "/v1/invoices",
            json={"client_id": client_id, "include": [], "due_in_days": 14, "tax_rate_bps": 0},
            headers=owner.headers,
        ),
        201,
    )
    await ok(
        await gateway.post(
            f"/v1/invoices/{draft['id']}/lines",
            json={
                "description": "Brand strategy",
                "quantity": 1,
                "unit_price_cents": cents,
                "tax_rate_bps": 0,
            },
            headers=owner.headers,
        ),
        201,
    )
    sent: dict[str, Any] = await ok(
        await gateway.post(f"/v1/invoices/{draft['id']}/send", headers=owner.headers)
    )
    return sent


async def grpc_calls(platform: Platform, service: str, method: str) -> float:
    """How many calls of `method` the service's gRPC server has answered (its metrics)."""
    async with httpx.AsyncClient(base_url=platform.url(service), timeout=10) as client:
        text = (await client.get("/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "agencyos_grpc_requests_total"
        and sample.labels.get("grpc_method", "").endswith(f"/{method}")
    )
