"""The feed's catalog against the event contracts: every registered type has a decision (kept
with a rule, or excluded with a reason), and every rule names fields its events have."""

from __future__ import annotations

import pytest

from agencyos.common.events import registered_events
from agencyos.common.permissions import ALL_PERMISSIONS
from agencyos.notification.feed.catalog import EXCLUDED, RULES

REGISTERED = {event_type: cls for (event_type, _), cls in registered_events().items()}


def test_every_registered_type_is_kept_or_excluded_with_a_reason() -> None:
    undecided = sorted(set(REGISTERED) - set(RULES) - set(EXCLUDED))
    assert undecided == [], (
        f"decide whether the feed keeps these (catalog.RULES or EXCLUDED): {undecided}"
    )
    assert set(RULES) & set(EXCLUDED) == set()
    assert all(reason.strip() for reason in EXCLUDED.values())


def test_the_catalog_names_only_registered_types() -> None:
    assert sorted((set(RULES) | set(EXCLUDED)) - set(REGISTERED)) == []


def test_excluded_types_include_every_type_carrying_a_token() -> None:
    carrying = {t for t, cls in REGISTERED.items() if "token" in cls.model_fields}
    assert carrying
    assert carrying <= set(EXCLUDED)


@pytest.mark.parametrize("event_type", sorted(RULES))
def test_a_rule_names_fields_and_permissions_that_exist(event_type: str) -> None:
    rule, fields = RULES[event_type], set(REGISTERED[event_type].model_fields)
    if rule.permission is not None:
        assert rule.permission in ALL_PERMISSIONS
    for name in (rule.project, rule.person, rule.client):
        assert name is None or name in fields, name
    # A rule shared by several types (invoices) allows the client fields of any of them.
    sharing = set().union(
        *(set(REGISTERED[t].model_fields) for t, other in RULES.items() if other is rule)
    )
    for name in rule.client_fields or ():
        assert name in sharing, name
    for path, permission in rule.restricted:
        assert path.split(".", 1)[0] in fields, path
        assert permission in ALL_PERMISSIONS
    if rule.personal:
        assert rule.person is not None
