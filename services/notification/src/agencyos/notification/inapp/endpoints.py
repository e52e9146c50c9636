from typing import Annotated

from fastapi import APIRouter
from sqlalchemy import select

from agencyos.common.auth import Principal
from agencyos.common.db import Repository
from agencyos.common.pagination import Page, Pagination
from agencyos.common.web import TenantSession, require
from agencyos.notification.inapp.schemas import NotificationOut
from agencyos.notification.models import Notification

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])

NotificationsRead = Annotated[Principal, require("notifications.read")]


class NotificationRepository(Repository[Notification]):
    model = Notification


notification_repository = NotificationRepository()


@router.get("", response_model=Page[NotificationOut], summary="The caller's notifications")
async def list_notifications(
    principal: NotificationsRead, session: TenantSession, pagination: Pagination
) -> Page[NotificationOut]:
    stmt = (
        select(Notification)
        .where(Notification.user_id == principal.user_id)
        .order_by(Notification.created_at.desc(), Notification.id)
    )
    items, total = await notification_repository.paginate(
        session, stmt, page=pagination.page, per_page=pagination.per_page
    )
    return pagination.page_of([NotificationOut.model_validate(n) for n in items], total)
