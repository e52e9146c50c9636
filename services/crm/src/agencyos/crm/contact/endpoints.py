import uuid
from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from agencyos.common.web import TenantSession
from agencyos.crm.client.permissions import ClientsRead, ClientsWrite
from agencyos.crm.contact.schemas import Contact, ContactCreate, ContactUpdate
from agencyos.crm.contact.service import contact_service

router = APIRouter(prefix="/v1/clients/{client_id}/contacts", tags=["contacts"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such client (or contact) in your agency"}
}


class ContactList(BaseModel):
    items: list[Contact]


@router.get(
    "",
    response_model=ContactList,
    summary="A client's contacts, the primary first",
    responses=_NOT_FOUND,
)
async def list_contacts(
    client_id: uuid.UUID, principal: ClientsRead, session: TenantSession
) -> ContactList:
    contacts = await contact_service.list_contacts(session, client_id)
    return ContactList(items=[Contact.model_validate(c) for c in contacts])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Contact,
    summary="Add a contact",
    description="The first contact becomes primary; `is_primary: true` moves the primary here.",
    responses=_NOT_FOUND,
)
async def create_contact(
    client_id: uuid.UUID, body: ContactCreate, principal: ClientsWrite, session: TenantSession
) -> Contact:
    return Contact.model_validate(await contact_service.create(session, principal, client_id, body))


@router.get("/{contact_id}", response_model=Contact, summary="One contact", responses=_NOT_FOUND)
async def get_contact(
    client_id: uuid.UUID, contact_id: uuid.UUID, principal: ClientsRead, session: TenantSession
) -> Contact:
    return Contact.model_validate(await contact_service.get(session, client_id, contact_id))


@router.patch(
    "/{contact_id}",
    response_model=Contact,
    summary="Update a contact",
    description=(
        "`is_primary: true` makes it the primary (the previous one stops being primary); the "
        "primary cannot be unset directly (409): make another contact primary instead."
    ),
    responses={**_NOT_FOUND, 409: {"description": "`is_primary: false` on the primary contact"}},
)
async def update_contact(
    client_id: uuid.UUID,
    contact_id: uuid.UUID,
    body: ContactUpdate,
    principal: ClientsWrite,
    session: TenantSession,
) -> Contact:
    contact = await contact_service.update(session, client_id, contact_id, body)
    return Contact.model_validate(contact)


@router.delete(
    "/{contact_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a contact (the oldest remaining one becomes primary if needed)",
    responses=_NOT_FOUND,
)
async def delete_contact(
    client_id: uuid.UUID, contact_id: uuid.UUID, principal: ClientsWrite, session: TenantSession
) -> Response:
    await contact_service.delete(session, principal, client_id, contact_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
