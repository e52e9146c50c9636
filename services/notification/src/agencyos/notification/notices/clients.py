"""The notice of a new client, to the member who owns it: "you are now the owner" when someone
else made them its owner, else "was created" to its creator (who is then told of their own
action on purpose: the client is theirs to follow up)."""

from __future__ import annotations

from agencyos.common.events import ClientCreated
from agencyos.notification.kinds import KINDS
from agencyos.notification.notices.builders import Builder
from agencyos.notification.notices.notice import Notice, quoted
from agencyos.notification.notices.telling import Telling
from agencyos.notification.recipients.rules import holds

READ_CLIENTS = "clients.read"


async def client_created(telling: Telling) -> None:
    payload = telling.event.payload(ClientCreated)
    name = quoted(payload.company_name)
    handed_over = payload.owner_id is not None and payload.owner_id != payload.created_by
    notice = Notice(
        kind="client.created",
        title=f"You are now the owner of {name}" if handed_over else f"Client {name} was created",
        link=f"/v1/clients/{payload.client_id}",
        link_label="Open the client",
        subject=telling.event.subject,
        data={"client_id": str(payload.client_id)},
        actor_id=payload.created_by if handed_over else None,
    )
    owners = await telling.named(payload.owner_id if handed_over else payload.created_by)
    kind = KINDS[notice.kind]
    await telling.tell(notice, [p for p in owners if holds(p, READ_CLIENTS, kind)])


BUILDERS: dict[str, Builder] = {ClientCreated.event_type: client_created}
