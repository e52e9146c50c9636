"""The one ISO 4217 list (agencyos.common.currencies): which codes an input may carry, and each
currency's minor units. Pure functions, in process."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from agencyos.common.currencies import ACTIVE_CURRENCIES, minor_units
from agencyos.common.types import Currency


class Priced(BaseModel):
    currency: Currency


class TestTheCurrencyInputType:
    @pytest.mark.parametrize("code", ["EUR", "USD", "JPY", "KWD", "CHF", "XCG"])
    def test_an_active_iso_code_is_accepted(self, code: str) -> None:
        assert Priced(currency=code).currency == code

    @pytest.mark.parametrize(
        "code",
        [
            pytest.param("XXX", id="no-currency-code"),
            pytest.param("XTS", id="testing-code"),
            pytest.param("ABC", id="shaped-right-but-unknown"),
            pytest.param("ANG", id="withdrawn"),
            pytest.param("eur", id="lower-case"),
            pytest.param("EURO", id="too-long"),
            pytest.param("EU", id="too-short"),
            pytest.param("", id="empty"),
        ],
    )
    def test_anything_else_is_refused_naming_the_field(self, code: str) -> None:
        with pytest.raises(ValidationError) as caught:
            Priced(currency=code)

        assert [error["loc"] for error in caught.value.errors()] == [("currency",)]

    def test_the_openapi_documents_the_shape(self) -> None:
        schema = Priced.model_json_schema()["properties"]["currency"]

        assert schema["pattern"] == "^[A-Z]{3}$"


class TestMinorUnits:
    @pytest.mark.parametrize(
        ("code", "places"),
        [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3)],
    )
    def test_each_currency_has_its_iso_exponent(self, code: str, places: int) -> None:
        assert minor_units(code) == places

    def test_every_active_code_is_three_upper_case_letters(self) -> None:
        assert all(len(c) == 3 and c.isalpha() and c.isupper() for c in ACTIVE_CURRENCIES)
        assert {"XXX", "XTS"}.isdisjoint(ACTIVE_CURRENCIES)
