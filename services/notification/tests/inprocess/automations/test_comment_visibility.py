"""An automation triggered by an internal comment never notifies nor emails a client user,
even when its author names them by id (a role target cannot be `client`): the action is
refused and nothing is queued for them; the team named alongside is still told. A
client-visible comment's rule emails them as written (the control)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agencyos.common.events import CommentCreated
from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.notices import join

from .support import Automations, create_rule, event_of


def commented(who: Caller, visibility: str) -> Any:
    return event_of(
        CommentCreated(
            comment_id=uuid.uuid4(),
            task_id=uuid.uuid4(),
            project_id=uuid.uuid4(),
            task_title="Homepage copy",
            author_id=who.user_id,
            excerpt="the client is late again",
            mentioned_user_ids=[],
            assignee_ids=[],
            follower_ids=[],
            visibility=visibility,  # type: ignore[arg-type]
        ),
        who,
    )


def email_to(to: dict[str, str]) -> dict[str, Any]:
    return {"kind": "email", "to": to, "subject": "New comment", "body": "{{ data.excerpt }}"}


async def emails(in_process: InProcess, tenant: Agency) -> list[Any]:
    service = await in_process.service("notification")
    return await service.rows(
        "SELECT to_email, user_id, text FROM email_deliveries WHERE template = 'automation' "
        "ORDER BY to_email",
        tenant_id=tenant.id,
    )


@pytest.mark.parametrize("visibility", ["internal", None], ids=["internal", "before_visibility"])
async def test_an_internal_comment_is_never_emailed_to_a_client_user(
    notification: httpx.AsyncClient,
    automations: Automations,
    in_process: InProcess,
    tenant: Agency,
    manager: Caller,
    visibility: str | None,
) -> None:
    client_user = await join(in_process, tenant, "client", client_id=uuid.uuid4())
    to = {"person_id": str(client_user.user_id)}
    rule = await create_rule(
        notification,
        tenant.owner,
        trigger="work.comment.created",
        actions=[email_to(to), email_to({"role": "manager"})],
    )

    event = commented(manager, visibility or "internal")
    if visibility is None:
        data = {k: v for k, v in (event.data or {}).items() if k != "visibility"}
        event = event.model_copy(update={"data": data})

    await automations.handle(event)

    [run] = await automations.runs(tenant.id, rule["id"])
    first, second = run["actions"]
    assert first["status"] == "failed"
    assert "client user" in first["error"]
    assert second["status"] == "succeeded"
    sent = await emails(in_process, tenant)
    assert [r["user_id"] for r in sent] == [manager.user_id]


async def test_a_client_visible_comment_is_emailed_as_the_rule_says(
    notification: httpx.AsyncClient,
    automations: Automations,
    in_process: InProcess,
    tenant: Agency,
    manager: Caller,
) -> None:
    client_user = await join(in_process, tenant, "client", client_id=uuid.uuid4())
    rule = await create_rule(
        notification,
        tenant.owner,
        trigger="work.comment.created",
        actions=[email_to({"person_id": str(client_user.user_id)})],
    )

    await automations.handle(commented(manager, "client"))

    [run] = await automations.runs(tenant.id, rule["id"])
    assert run["status"] == "succeeded", run
    [mail] = await emails(in_process, tenant)
    assert mail["user_id"] == client_user.user_id
    assert "the client is late again" in mail["text"]
