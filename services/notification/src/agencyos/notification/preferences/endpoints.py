"""`/v1/notification-preferences`: the caller's own preferences, the agency's defaults per
role, and the unsubscribe link every email carries (no login)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from agencyos.common.auth import Principal
from agencyos.common.errors import BadRequest, NotFound, field_problem
from agencyos.common.permissions import Role
from agencyos.common.web import TenantSession, require, service_context
from agencyos.notification.kinds import Channel
from agencyos.notification.preferences.resolution import Setting
from agencyos.notification.preferences.schemas import (
    UPDATE_SCHEMA,
    ChannelSettingOut,
    DefaultsOut,
    KindPreferenceOut,
    PreferencesOut,
    RoleDefaultsOut,
    UnsubscribedOut,
    parse_update,
)
from agencyos.notification.preferences.service import KindSettings, preference_service
from agencyos.notification.preferences.unsubscribe import (
    InvalidUnsubscribeToken,
    read_unsubscribe,
)
from agencyos.notification.settings import NotificationSettings

router = APIRouter(prefix="/v1/notification-preferences", tags=["notification preferences"])

NotificationsRead = Annotated[Principal, require("notifications.read")]
UpdateBody = Annotated[Any, Body()]

_UPDATE_DOC: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": UPDATE_SCHEMA}}}
}
_CHANGE_RULES = (
    "Each entry names a kind and the channels it sets: `true` or `false` is a choice, `null` "
    "forgets it (the default applies again), an absent channel stays as it is. An unknown "
    "kind, a channel the kind does not have, a kind the role cannot receive, a kind listed "
    "twice or a wrong type is a 422 naming the field (`preferences[2].kind`), and nothing is "
    "saved."
)


def _channel(setting: Setting | None) -> ChannelSettingOut | None:
    if setting is None:
        return None
    return ChannelSettingOut(enabled=setting.enabled, source=setting.source)


def _shown(found: list[KindSettings]) -> list[KindPreferenceOut]:
    return [
        KindPreferenceOut(
            kind=item.kind.name,
            label=item.kind.label,
            in_app=_channel(item.settings.get(Channel.IN_APP)),
            email=_channel(item.settings.get(Channel.EMAIL)),
        )
        for item in found
    ]


@router.get(
    "",
    response_model=PreferencesOut,
    summary="The caller's notification preferences",
    description=(
        "Every kind the caller's role can receive, and per channel whether it is on and who "
        "decided: `you` (the caller's own choice), `agency` (an owner's change of the role's "
        "default) or `default` (the platform's)."
    ),
)
async def get_preferences(principal: NotificationsRead, session: TenantSession) -> PreferencesOut:
    return PreferencesOut(preferences=_shown(await preference_service.own(session, principal)))


@router.put(
    "",
    response_model=PreferencesOut,
    summary="Change some of the caller's notification preferences",
    description=_CHANGE_RULES,
    openapi_extra=_UPDATE_DOC,
)
async def put_preferences(
    principal: NotificationsRead, session: TenantSession, body: UpdateBody
) -> PreferencesOut:
    update = parse_update(body)
    found = await preference_service.change_own(session, principal, update.preferences)
    return PreferencesOut(preferences=_shown(found))


@router.get(
    "/defaults",
    response_model=DefaultsOut,
    summary="What each role hears by default in the agency (owners and admins)",
    description="Per role, each kind it can receive; `source` is `agency` or `default`.",
)
async def get_defaults(principal: NotificationsRead, session: TenantSession) -> DefaultsOut:
    found = await preference_service.role_defaults(session, principal)
    return DefaultsOut(
        roles=[
            RoleDefaultsOut(role=str(role), preferences=_shown(items))
            for role, items in found.items()
        ]
    )


@router.put(
    "/defaults/{role}",
    response_model=RoleDefaultsOut,
    summary="Change what a role hears by default in the agency (owners only)",
    description=_CHANGE_RULES + " A person's own choice still wins over these defaults.",
    openapi_extra=_UPDATE_DOC,
)
async def put_defaults(
    role: str, principal: NotificationsRead, session: TenantSession, body: UpdateBody
) -> RoleDefaultsOut:
    if role not in set(Role):
        raise NotFound(f"no role {role!r}")
    preference_service.check_may_change_defaults(principal)
    update = parse_update(body)
    found = await preference_service.change_role_defaults(
        session, principal, Role(role), update.preferences
    )
    return RoleDefaultsOut(role=role, preferences=_shown(found))


_UNSUBSCRIBE_DOC = (
    "The link in every email (`GET`) and its RFC 8058 one-click form (`POST`): turns off the "
    "email of the kind the signed `token` names, for the person it names, and nothing else. "
    "No login; a tampered, foreign or malformed token is a 400 naming `token`."
)


async def _unsubscribe(request: Request, token: str) -> UnsubscribedOut:
    ctx = service_context(request)
    assert isinstance(ctx.settings, NotificationSettings)
    try:
        target = read_unsubscribe(ctx.settings.unsubscribe_signing_key, token)
        # Under the token's agency only: row-level security keeps every other agency out.
        async with ctx.database().transaction(target.tenant_id) as session:
            kind = await preference_service.unsubscribe(session, target)
    except InvalidUnsubscribeToken as exc:
        raise BadRequest(
            "this unsubscribe link is not valid", errors=[field_problem("token", str(exc))]
        ) from exc
    return UnsubscribedOut(kind=kind.name, label=kind.label, email=False)


_UNSUBSCRIBE_ANSWERS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The token is tampered, foreign or malformed (names `token`)"}
}
TokenQuery = Annotated[str, Query(description="The signed token of the email's link")]


@router.get(
    "/unsubscribe",
    response_model=UnsubscribedOut,
    summary="Unsubscribe from one kind's email (the link in the email)",
    description=_UNSUBSCRIBE_DOC,
    responses=_UNSUBSCRIBE_ANSWERS,
)
async def unsubscribe_by_link(request: Request, token: TokenQuery = "") -> UnsubscribedOut:
    return await _unsubscribe(request, token)


@router.post(
    "/unsubscribe",
    response_model=UnsubscribedOut,
    summary="Unsubscribe from one kind's email (one-click, RFC 8058)",
    description=_UNSUBSCRIBE_DOC,
    responses=_UNSUBSCRIBE_ANSWERS,
)
async def unsubscribe_one_click(request: Request, token: TokenQuery = "") -> UnsubscribedOut:
    return await _unsubscribe(request, token)
