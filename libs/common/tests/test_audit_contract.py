from agencyos.common.audit import changed_fields
from agencyos.common.events.audit import FieldChange


def test_only_the_fields_that_differ_are_kept() -> None:
    changes = changed_fields({"role": "member", "name": "A"}, {"role": "admin", "name": "A"})
    assert changes == {"role": FieldChange(before="member", after="admin")}


def test_a_field_that_appears_or_disappears_is_null_on_the_other_side() -> None:
    changes = changed_fields({"old": 1}, {"new": 2})
    assert changes == {
        "new": FieldChange(before=None, after=2),
        "old": FieldChange(before=1, after=None),
    }


def test_nothing_before_or_after() -> None:
    assert changed_fields(None, None) == {}
    assert changed_fields(None, {"a": 1}) == {"a": FieldChange(before=None, after=1)}
