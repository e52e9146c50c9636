"""`/v1/notifications`: the caller's in-app notifications, newest first."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from agencyos.common.auth import Principal
from agencyos.common.errors import field_error
from agencyos.common.pagination import MAX_PAGE, MAX_PER_PAGE
from agencyos.common.web import TenantSession, require, service_context
from agencyos.notification.inapp.schemas import (
    MarkedRead,
    NotificationList,
    NotificationOut,
    UnreadCount,
)
from agencyos.notification.inapp.service import Listing, notification_service
from agencyos.notification.settings import NotificationSettings

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])

NotificationsRead = Annotated[Principal, require("notifications.read")]
KindQuery = Annotated[
    str | None, Query(description="Only this kind (one of the catalog's, e.g. `task.assigned`)")
]

DEFAULT_PER_PAGE = 50


def _signing_key(request: Request) -> str:
    settings = service_context(request).settings
    assert isinstance(settings, NotificationSettings)
    return settings.unsubscribe_signing_key


def _shown(listing: Listing, *, page: int | None, per_page: int) -> NotificationList:
    return NotificationList(
        items=[NotificationOut.model_validate(n) for n in listing.items],
        total=listing.total,
        page=page,
        per_page=per_page,
        next_cursor=listing.next_cursor,
    )


@router.get(
    "",
    response_model=NotificationList,
    summary="The caller's notifications, newest first",
    description=(
        "Two ways to page, one answer shape. **Page mode** (`page`, `per_page`; the default): "
        "`total`, `page` and `per_page` are filled in. **Cursor mode** (`limit`, then the "
        "`cursor` of the previous answer): `total` and `page` are null, `per_page` is the "
        "limit. In both, `next_cursor` continues after the last item (null when nothing "
        "older is left); it is opaque, bound to the caller and the filters, and an edited or "
        "foreign one is a 422 naming `cursor`. Mixing the two modes is a 422. Filters: "
        "`unread=true` only unread, `unread=false` only read ones; `kind` one of the "
        "catalog's kinds (else a 422 naming `kind`)."
    ),
)
async def list_notifications(
    request: Request,
    principal: NotificationsRead,
    session: TenantSession,
    unread: bool | None = None,
    kind: KindQuery = None,
    page: Annotated[int | None, Query(ge=1, le=MAX_PAGE, description="1-based page")] = None,
    per_page: Annotated[int | None, Query(ge=1, le=MAX_PER_PAGE)] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the last answer")] = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_PER_PAGE)] = None,
) -> NotificationList:
    wanted = notification_service.wanted(principal, unread=unread, kind=kind)
    key = _signing_key(request)
    if cursor is not None or limit is not None:
        if page is not None or per_page is not None:
            raise field_error("cursor", "use either page and per_page, or cursor and limit")
        size = limit or DEFAULT_PER_PAGE
        listing = await notification_service.by_cursor(
            session, wanted, key=key, cursor=cursor, limit=size
        )
        return _shown(listing, page=None, per_page=size)
    number, size = page or 1, per_page or DEFAULT_PER_PAGE
    listing = await notification_service.by_page(
        session, wanted, key=key, page=number, per_page=size
    )
    return _shown(listing, page=number, per_page=size)


@router.get("/unread-count", response_model=UnreadCount, summary="How many are unread")
async def unread_count(principal: NotificationsRead, session: TenantSession) -> UnreadCount:
    return UnreadCount(unread=await notification_service.unread_count(session, principal))


@router.post(
    "/read-all",
    response_model=MarkedRead,
    summary="Mark all of the caller's unread notifications read (of one `kind`, if given)",
)
async def read_all(
    principal: NotificationsRead, session: TenantSession, kind: KindQuery = None
) -> MarkedRead:
    return MarkedRead(marked=await notification_service.mark_all_read(session, principal, kind))


@router.post(
    "/{notification_id}/read",
    response_model=NotificationOut,
    summary="Mark one notification read",
    description="Idempotent: read again, it keeps the time it was first read. Someone else's "
    "or an unknown one is a 404.",
)
async def read_one(
    notification_id: uuid.UUID, principal: NotificationsRead, session: TenantSession
) -> NotificationOut:
    notice = await notification_service.mark_read(session, principal, notification_id)
    return NotificationOut.model_validate(notice)
