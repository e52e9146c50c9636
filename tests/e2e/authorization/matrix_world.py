"""What the route matrix calls with: agency A with one person per role (and an API key), a
resource of A's for every `{id}` a route's path names, and agency B's owner.

`World.ids` is the fixture table: for each path parameter, the value the matrix puts there.
Most are real rows of A's made through the API; those in `ABSENT` are not (a notification,
a webhook delivery, an email delivery, a CSV import job, a session: things that appear on
their own, later, from events), so every caller who may look gets 404 there, and the row
still shows the permission (403) and the token (401) outcomes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from agencyos.testing.deals import create_client
from agencyos.testing.factories import PASSWORD, AgencySession, new_project, new_task
from agencyos.testing.inbox import join
from agencyos.testing.infra import wait_for
from agencyos.testing.mailpit import unique_address

# Ids nobody has (fixed, so runs compare): the routes naming them answer 404 to everyone
# allowed to look, as they would for another agency's row.
ABSENT: dict[str, str] = {
    "notification_id": "00000000-0000-4000-8000-00000000000a",
    "delivery_id": "00000000-0000-4000-8000-00000000000b",
    "job_id": "00000000-0000-4000-8000-00000000000c",
    "session_id": "00000000-0000-4000-8000-00000000000d",
    "payment_id": "00000000-0000-4000-8000-00000000000e",
}

FILE_BYTES = b"%PDF-1.4 matrix\n"


@dataclass(frozen=True)
class Caller:
    name: str
    headers: dict[str, str]
    # For a fresh session of the same person (routes that end the caller's session).
    email: str | None = None


@dataclass(frozen=True)
class World:
    agency: AgencySession
    callers: dict[str, Caller]
    ids: dict[str, str]

    @property
    def marks(self) -> set[str]:
        """A's ids that another agency's answers must never show."""
        return {v for k, v in self.ids.items() if k not in ABSENT and _is_uuid(v)}


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return response.json()


async def make_world(
    gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
) -> World:
    owner = agency
    admin = await join(gateway, owner, "admin", name="Ada Admin")
    manager = await join(gateway, owner, "manager", name="Mona Manager")
    member = await join(gateway, owner, "member", name="Mel Member")
    # Who the member routes act on (suspended, removed...), never one of the callers.
    victim = await join(gateway, owner, "member", name="Vic Victim")

    client = await create_client(gateway, owner, company_name="Matrixco")
    contact = await ok(
        await gateway.post(
            f"/v1/clients/{client['id']}/contacts",
            json={"name": "Mat Contact", "email": unique_address("contact"), "is_primary": True},
            headers=owner.headers,
        ),
        201,
    )
    client_user = await join(gateway, owner, "client", name="Cli User", client_id=client["id"])

    def post(path: str, body: dict[str, Any], who: AgencySession = owner) -> Any:
        return gateway.post(path, json=body, headers=who.headers)

    key = await ok(await post("/v1/api-keys", {"name": "matrix", "role": "manager"}), 201)
    spare_key = await ok(await post("/v1/api-keys", {"name": "spare", "role": "member"}), 201)
    invitation = await ok(
        await post("/v1/invitations", {"email": unique_address("invitee"), "role": "member"}),
        201,
    )

    pipeline = await ok(
        await post(
            "/v1/pipelines",
            {
                "name": "Matrix pipeline",
                "stages": [
                    {"kind": "open", "name": "Intro", "probability": 20},
                    {"kind": "won", "name": "Signed"},
                    {"kind": "lost", "name": "Declined"},
                ],
            },
        ),
        201,
    )
    deal = await ok(
        await post(
            "/v1/deals",
            {"title": "Matrix deal", "client_id": client["id"], "currency": "EUR"},
        ),
        201,
    )

    project = await new_project(
        gateway, owner, manager, member, name="Matrix site", client_id=client["id"]
    )
    task = await new_task(gateway, manager, project["id"], visible_to_client=True)
    subtask = await ok(await post(f"/v1/tasks/{task['id']}/subtasks", {"title": "Sub"}), 201)
    comment = await ok(
        await post(f"/v1/tasks/{task['id']}/comments", {"body": "Matrix comment"}), 201
    )
    column = await ok(
        await post(f"/v1/projects/{project['id']}/columns", {"name": "QA", "status": "review"}),
        201,
    )
    milestone = await ok(
        await post(
            f"/v1/projects/{project['id']}/milestones",
            {"name": "Launch", "due_date": "2031-06-30", "amount_cents": 100_000},
        ),
        201,
    )
    deliverable = await ok(
        await post(f"/v1/projects/{project['id']}/deliverables", {"title": "Mockups"}), 201
    )
    upload = await ok(
        await post(
            f"/v1/projects/{project['id']}/files",
            {"name": "m.pdf", "content_type": "application/pdf", "size": len(FILE_BYTES)},
        ),
        201,
    )
    # The file's bytes go to the real local S3 server by the pre-signed POST, as a browser
    # would send them, and the upload is completed: its download works.
    async with httpx.AsyncClient(timeout=30) as s3:
        stored = await s3.post(
            upload["upload"]["url"],
            data=upload["upload"]["fields"],
            files={"file": ("m.pdf", FILE_BYTES, "application/pdf")},
        )
    assert stored.status_code in (200, 201, 204), stored.text
    await ok(await post(f"/v1/files/{upload['file']['id']}/complete", {}))
    template = await ok(await post("/v1/project-templates", {"name": "Matrix template"}), 201)

    entry = await ok(
        await post(
            "/v1/time-entries",
            {
                "project_id": project["id"],
                "date": (datetime.now(UTC).date() - timedelta(days=1)).isoformat(),
                "duration_seconds": 3600,
            },
            member,
        ),
        201,
    )
    sheets = await ok(await gateway.get("/v1/timesheets", headers=member.headers))
    sheet = sheets["items"][0] if "items" in sheets else sheets
    rate = await ok(
        await post(
            "/v1/rates",
            {
                "kind": "billable",
                "scope": "agency",
                "hourly_rate_cents": 10_000,
                "effective_from": "2031-01-01",
            },
        ),
        201,
    )

    invoice = await ok(await post("/v1/invoices", {"client_id": client["id"], "include": []}), 201)
    line = await ok(
        await post(
            f"/v1/invoices/{invoice['id']}/lines",
            {"description": "Matrix work", "quantity": 1, "unit_price_cents": 10_000},
        ),
        201,
    )

    endpoint = await ok(
        await post(
            "/v1/webhook-endpoints",
            {"url": "https://hooks.example.com/matrix", "event_types": ["crm.deal.won"]},
        ),
        201,
    )
    recipes = await ok(await gateway.get("/v1/automations/recipes", headers=owner.headers))
    recipe_list = recipes["items"] if isinstance(recipes, dict) else recipes
    recipe_key = recipe_list[0]["key"]
    rule = await ok(await post(f"/v1/automations/recipes/{recipe_key}", {}), 201)

    # time learns of people from identity's events: the capacity rows must be there first.
    async def time_knows_victim() -> bool:
        answer = await gateway.get(f"/v1/capacity/{victim.user_id}", headers=owner.headers)
        return answer.status_code == 200

    await wait_for(time_knows_victim, timeout=60)

    ids = {
        "agency_slug": owner.slug,
        "api_key_id": spare_key["id"],
        "client_id": client["id"],
        "column_id": column["id"],
        "comment_id": comment["id"],
        "contact_id": contact["id"],
        "deal_id": deal["id"],
        "deliverable_id": deliverable["id"],
        "endpoint_id": endpoint["id"],
        "entry_id": entry["entries"][0]["id"],
        "file_id": upload["file"]["id"],
        "invitation_id": invitation["id"],
        "invoice_id": invoice["id"],
        "key": recipe_key,
        "line_id": _line_id(line),
        "milestone_id": milestone["id"],
        "pipeline_id": pipeline["id"],
        "project_id": project["id"],
        "rate_id": rate["id"],
        "role": "member",
        "rule_id": rule["id"],
        "stage_id": pipeline["stages"][0]["id"],
        "subtask_id": subtask["id"],
        "task_id": task["id"],
        "template_id": template["id"],
        "timesheet_id": sheet["id"],
        "token": invitation["token"],
        "user_id": str(victim.user_id),
        # Identity of the callers themselves (a route's entry may name them instead).
        "owner_user_id": str(owner.user_id),
        # Values bodies name.
        "invitee_email": unique_address("invitee"),
        "now": datetime.now(UTC).isoformat(),
        "an_hour_ago": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "member_user_id": str(member.user_id),
        **ABSENT,
    }

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    callers = {
        "anonymous": Caller("anonymous", {}),
        "other_owner": Caller("other_owner", other_agency.headers, other_agency.email),
        "client": Caller("client", client_user.headers, client_user.email),
        "api_key": Caller("api_key", bearer(key["key"])),
        "member": Caller("member", member.headers, member.email),
        "manager": Caller("manager", manager.headers, manager.email),
        "admin": Caller("admin", admin.headers, admin.email),
        "owner": Caller("owner", owner.headers, owner.email),
    }
    return World(agency=owner, callers=callers, ids=ids)


def _line_id(answer: dict[str, Any]) -> str:
    """The new line's id, whether the route answers the line or the whole invoice."""
    if "lines" in answer:
        return str(answer["lines"][-1]["id"])
    return str(answer["id"])


async def fresh_session(gateway: httpx.AsyncClient, caller: Caller) -> Caller:
    """`caller` signed in anew (a session of its own to end); an API key or nobody as is."""
    if caller.email is None:
        return caller
    body = await ok(
        await gateway.post("/v1/auth/login", json={"email": caller.email, "password": PASSWORD})
    )
    return Caller(caller.name, {"Authorization": f"Bearer {body['access_token']}"}, caller.email)
