"""The error tree's helpers on their own (pure: no database, no Kafka)."""

from __future__ import annotations

from agencyos.common.errors import InvalidInput, field_error, field_problem


class TestFieldProblem:
    def test_is_one_errors_entry_with_field_message_and_type(self) -> None:
        assert field_problem("name", "must not be empty") == {
            "field": "name",
            "message": "must not be empty",
            "type": "invalid",
        }

    def test_takes_another_type(self) -> None:
        assert field_problem("probability", "is needed", "missing")["type"] == "missing"


class TestFieldError:
    def test_is_invalid_input_whose_detail_is_the_message(self) -> None:
        error = field_error("owner_id", "owner_id is not an active member of this agency")
        assert isinstance(error, InvalidInput)
        assert error.detail == "owner_id is not an active member of this agency"
        assert error.errors == [
            {
                "field": "owner_id",
                "message": "owner_id is not an active member of this agency",
                "type": "invalid",
            }
        ]

    def test_renders_as_one_problem_with_one_entry(self) -> None:
        problem = field_error("due_date", "is in the past", "past").problem("/invoices")
        assert problem == {
            "type": "https://agencyos.dev/problems/invalid-input",
            "title": "Invalid input",
            "status": 422,
            "detail": "is in the past",
            "instance": "/invoices",
            "errors": [{"field": "due_date", "message": "is in the past", "type": "past"}],
        }
