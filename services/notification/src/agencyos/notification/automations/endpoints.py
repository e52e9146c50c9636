"""`/v1/automations`: an agency's automation rules, their runs, and the ready-made recipes
(owners, admins and managers: `automations.manage`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from agencyos.common.auth import Principal
from agencyos.common.pagination import Page, Pagination
from agencyos.common.web import TenantSession, require
from agencyos.notification.automations.schemas import (
    AutomationRule,
    AutomationRuleCreate,
    AutomationRuleUpdate,
    AutomationRun,
    Recipe,
)
from agencyos.notification.automations.service import automation_service

router = APIRouter(prefix="/v1/automations", tags=["automations"])

AutomationsManage = Annotated[Principal, require("automations.manage")]


@router.get("/recipes", response_model=list[Recipe], summary="Ready-made rules to switch on")
async def list_recipes(principal: AutomationsManage, session: TenantSession) -> list[Recipe]:
    return await automation_service.recipes(session)


@router.post(
    "/recipes/{key}",
    response_model=AutomationRule,
    status_code=201,
    summary="Switch a recipe on (a rule made from it; 409 when the agency already has it)",
)
async def use_recipe(
    key: str, principal: AutomationsManage, session: TenantSession
) -> AutomationRule:
    rule = await automation_service.use_recipe(session, principal, key)
    return AutomationRule.model_validate(rule)


@router.post("", response_model=AutomationRule, status_code=201, summary="Create a rule")
async def create_rule(
    body: AutomationRuleCreate, principal: AutomationsManage, session: TenantSession
) -> AutomationRule:
    return AutomationRule.model_validate(await automation_service.create(session, principal, body))


@router.get("", response_model=Page[AutomationRule], summary="The agency's rules, oldest first")
async def list_rules(
    principal: AutomationsManage,
    session: TenantSession,
    pagination: Pagination,
    trigger: Annotated[str | None, Query(max_length=120, description="only this trigger")] = None,
    enabled: Annotated[bool | None, Query(description="only enabled (or disabled) rules")] = None,
) -> Page[AutomationRule]:
    items, total = await automation_service.list_rules(
        session,
        trigger=trigger,
        enabled=enabled,
        page=pagination.page,
        per_page=pagination.per_page,
    )
    return pagination.page_of([AutomationRule.model_validate(r) for r in items], total)


@router.get("/{rule_id}", response_model=AutomationRule, summary="One rule")
async def get_rule(
    rule_id: uuid.UUID, principal: AutomationsManage, session: TenantSession
) -> AutomationRule:
    return AutomationRule.model_validate(await automation_service.get(session, rule_id))


@router.patch("/{rule_id}", response_model=AutomationRule, summary="Change a rule")
async def update_rule(
    rule_id: uuid.UUID,
    body: AutomationRuleUpdate,
    principal: AutomationsManage,
    session: TenantSession,
) -> AutomationRule:
    return AutomationRule.model_validate(await automation_service.update(session, rule_id, body))


@router.delete("/{rule_id}", status_code=204, summary="Delete a rule (and its runs)")
async def delete_rule(
    rule_id: uuid.UUID, principal: AutomationsManage, session: TenantSession
) -> Response:
    await automation_service.delete(session, principal, rule_id)
    return Response(status_code=204)


@router.post("/{rule_id}/enable", response_model=AutomationRule, summary="Enable a rule")
async def enable_rule(
    rule_id: uuid.UUID, principal: AutomationsManage, session: TenantSession
) -> AutomationRule:
    return AutomationRule.model_validate(
        await automation_service.set_enabled(session, rule_id, True)
    )


@router.post("/{rule_id}/disable", response_model=AutomationRule, summary="Disable a rule")
async def disable_rule(
    rule_id: uuid.UUID, principal: AutomationsManage, session: TenantSession
) -> AutomationRule:
    return AutomationRule.model_validate(
        await automation_service.set_enabled(session, rule_id, False)
    )


@router.get(
    "/{rule_id}/runs", response_model=Page[AutomationRun], summary="The rule's runs, newest first"
)
async def list_runs(
    rule_id: uuid.UUID,
    principal: AutomationsManage,
    session: TenantSession,
    pagination: Pagination,
) -> Page[AutomationRun]:
    items, total = await automation_service.runs(
        session, rule_id, page=pagination.page, per_page=pagination.per_page
    )
    return pagination.page_of([AutomationRun.model_validate(r) for r in items], total)
