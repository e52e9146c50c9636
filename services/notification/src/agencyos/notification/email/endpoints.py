"""`GET /v1/email-deliveries`: what the agency's emails became (owners and admins)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from agencyos.common.auth import Principal
from agencyos.common.db import Repository
from agencyos.common.errors import NotFound
from agencyos.common.pagination import Page, Pagination
from agencyos.common.web import TenantSession, require
from agencyos.notification.email.schemas import EmailDeliveryOut
from agencyos.notification.models import DeliveryStatus, EmailDelivery

router = APIRouter(prefix="/v1/email-deliveries", tags=["email deliveries"])

EmailDeliveriesRead = Annotated[Principal, require("email_deliveries.read")]


class StatusFilter(StrEnum):
    QUEUED = DeliveryStatus.QUEUED.value
    SENDING = DeliveryStatus.SENDING.value
    SENT = DeliveryStatus.SENT.value
    FAILED = DeliveryStatus.FAILED.value


class EmailDeliveryRepository(Repository[EmailDelivery]):
    model = EmailDelivery


email_delivery_repository = EmailDeliveryRepository()


@router.get(
    "",
    response_model=Page[EmailDeliveryOut],
    summary="The agency's emails and where each stands, newest first",
)
async def list_email_deliveries(
    principal: EmailDeliveriesRead,
    session: TenantSession,
    pagination: Pagination,
    status: Annotated[StatusFilter | None, Query(description="only emails in this status")] = None,
    to: Annotated[
        str | None,
        Query(min_length=1, max_length=320, description="only emails to this address (any case)"),
    ] = None,
    template: Annotated[
        str | None, Query(min_length=1, max_length=100, description="only this template")
    ] = None,
) -> Page[EmailDeliveryOut]:
    stmt = select(EmailDelivery).order_by(EmailDelivery.created_at.desc(), EmailDelivery.id)
    if status is not None:
        stmt = stmt.where(EmailDelivery.status == status.value)
    if to is not None:
        stmt = stmt.where(func.lower(EmailDelivery.to_email) == to.strip().lower())
    if template is not None:
        stmt = stmt.where(EmailDelivery.template == template)
    items, total = await email_delivery_repository.paginate(
        session, stmt, page=pagination.page, per_page=pagination.per_page
    )
    return pagination.page_of([EmailDeliveryOut.model_validate(d) for d in items], total)


@router.get("/{delivery_id}", response_model=EmailDeliveryOut, summary="One email's delivery")
async def get_email_delivery(
    delivery_id: uuid.UUID, principal: EmailDeliveriesRead, session: TenantSession
) -> EmailDeliveryOut:
    found = await email_delivery_repository.get(session, delivery_id)
    if found is None:
        raise NotFound("email delivery not found")
    return EmailDeliveryOut.model_validate(found)
