"""The rules of an agency's automation rules: saved only when valid (see `validation`),
recipes switched on once, runs read per rule."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.db import utcnow
from agencyos.common.errors import Conflict, InvalidInput, NotFound
from agencyos.notification.automations.recipes import RECIPES
from agencyos.notification.automations.repository import rule_repository, run_repository
from agencyos.notification.automations.schemas import (
    Action,
    AutomationRuleCreate,
    AutomationRuleUpdate,
    Condition,
    Recipe,
)
from agencyos.notification.automations.validation import check_rule
from agencyos.notification.models import AutomationRule, AutomationRun

_ACTIONS: TypeAdapter[list[Action]] = TypeAdapter(list[Action])
_CONDITIONS: TypeAdapter[list[Condition]] = TypeAdapter(list[Condition])


def _stored(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json", exclude_none=True) for item in items]


class AutomationService:
    async def create(
        self, session: AsyncSession, principal: Principal, new: AutomationRuleCreate
    ) -> AutomationRule:
        await check_rule(session, new.trigger, new.conditions, new.actions)
        return await rule_repository.create(
            session,
            AutomationRule(
                tenant_id=principal.tenant_id,
                id=uuid.uuid4(),
                name=new.name,
                description=new.description,
                trigger=new.trigger,
                conditions=_stored(new.conditions),
                actions=_stored(new.actions),
                enabled=new.enabled,
                created_by=principal.user_id,
            ),
        )

    async def get(self, session: AsyncSession, rule_id: uuid.UUID) -> AutomationRule:
        found = await rule_repository.get(session, rule_id)
        if found is None:
            raise NotFound("automation rule not found")
        return found

    async def list_rules(
        self,
        session: AsyncSession,
        *,
        trigger: str | None,
        enabled: bool | None,
        page: int,
        per_page: int,
    ) -> tuple[Sequence[AutomationRule], int]:
        return await rule_repository.page(
            session, trigger=trigger, enabled=enabled, page=page, per_page=per_page
        )

    async def update(
        self, session: AsyncSession, rule_id: uuid.UUID, changes: AutomationRuleUpdate
    ) -> AutomationRule:
        rule = await self.get(session, rule_id)
        given = changes.model_dump(exclude_unset=True)
        trigger = changes.trigger or rule.trigger
        conditions = (
            changes.conditions
            if changes.conditions is not None
            else _CONDITIONS.validate_python(rule.conditions)
        )
        actions = changes.actions if changes.actions is not None else self._actions_of(rule)
        await check_rule(session, trigger, conditions, actions)
        values: dict[str, Any] = {
            "trigger": trigger,
            "conditions": _stored(conditions),
            "actions": _stored(actions),
            "version": rule.version + 1,
            "updated_at": utcnow(),
        }
        for name in ("name", "description", "enabled"):
            if name in given:
                values[name] = given[name]
        return await rule_repository.update(session, rule, values)

    def _actions_of(self, rule: AutomationRule) -> list[Action]:
        try:
            return _ACTIONS.validate_python(rule.actions)
        except ValidationError as exc:  # saved before a shape changed: say so, save nothing
            raise InvalidInput("the rule's saved actions are no longer valid; send them") from exc

    async def set_enabled(
        self, session: AsyncSession, rule_id: uuid.UUID, enabled: bool
    ) -> AutomationRule:
        rule = await self.get(session, rule_id)
        if rule.enabled == enabled:
            return rule
        return await rule_repository.update(
            session,
            rule,
            {"enabled": enabled, "version": rule.version + 1, "updated_at": utcnow()},
        )

    async def delete(self, session: AsyncSession, principal: Principal, rule_id: uuid.UUID) -> None:
        rule = await self.get(session, rule_id)
        await session.delete(rule)
        await session.flush()
        await record_audit(
            session,
            action="automation_rule.deleted",
            entity_type="automation_rule",
            entity_id=rule.id,
            actor=principal,
            source_service="notification",
            before={"name": rule.name, "trigger": rule.trigger, "enabled": rule.enabled},
            detail={"actions": len(rule.actions), "recipe": rule.recipe},
        )

    async def runs(
        self, session: AsyncSession, rule_id: uuid.UUID, *, page: int, per_page: int
    ) -> tuple[Sequence[AutomationRun], int]:
        await self.get(session, rule_id)
        return await run_repository.page(session, rule_id, page=page, per_page=per_page)

    # --- recipes -------------------------------------------------------------------------

    async def recipes(self, session: AsyncSession) -> list[Recipe]:
        mine = await rule_repository.by_recipe(session)
        return [
            Recipe(
                key=recipe.key,
                name=recipe.name,
                description=recipe.description,
                trigger=recipe.trigger,
                conditions=recipe.conditions,
                actions=recipe.actions,
                rule_id=mine[recipe.key].id if recipe.key in mine else None,
                enabled=recipe.key in mine and mine[recipe.key].enabled,
            )
            for recipe in RECIPES.values()
        ]

    async def use_recipe(
        self, session: AsyncSession, principal: Principal, key: str
    ) -> AutomationRule:
        recipe = RECIPES.get(key)
        if recipe is None:
            raise NotFound(f"no recipe {key!r}")
        if key in await rule_repository.by_recipe(session):
            raise Conflict(f"the recipe {key!r} is already on (its rule can be edited or enabled)")
        conditions = _CONDITIONS.validate_python(recipe.conditions)
        actions = _ACTIONS.validate_python(recipe.actions)
        await check_rule(session, recipe.trigger, conditions, actions)
        rule = AutomationRule(
            tenant_id=principal.tenant_id,
            id=uuid.uuid4(),
            name=recipe.name,
            description=recipe.description,
            trigger=recipe.trigger,
            conditions=_stored(conditions),
            actions=_stored(actions),
            enabled=True,
            recipe=key,
            created_by=principal.user_id,
        )
        try:
            async with session.begin_nested():
                return await rule_repository.create(session, rule)
        except IntegrityError as exc:  # switched on at the same moment by someone else
            raise Conflict(f"the recipe {key!r} is already on") from exc


automation_service = AutomationService()
