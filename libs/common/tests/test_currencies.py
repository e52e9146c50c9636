"""The one ISO 4217 list (agencyos.common.currencies): which codes an input may carry, and how
an amount in minor units is shown in each currency's own decimals. Pure functions, in process."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from agencyos.common.currencies import ACTIVE_CURRENCIES, format_amount, format_money, minor_units
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


class TestFormatMoney:
    @pytest.mark.parametrize(
        ("cents", "currency", "text"),
        [
            pytest.param(123_456, "USD", "1,234.56 USD", id="usd"),
            pytest.param(5, "USD", "0.05 USD", id="usd-below-one"),
            pytest.param(0, "USD", "0.00 USD", id="usd-zero"),
            pytest.param(123_456, "JPY", "123,456 JPY", id="jpy-has-no-cents"),
            pytest.param(1_234_567, "KWD", "1,234.567 KWD", id="kwd-three-decimals"),
            pytest.param(5, "KWD", "0.005 KWD", id="kwd-below-one"),
            pytest.param(-123_456, "USD", "-1,234.56 USD", id="negative-usd"),
            pytest.param(-5, "USD", "-0.05 USD", id="negative-usd-below-one"),
            pytest.param(-1_500, "JPY", "-1,500 JPY", id="negative-jpy"),
            pytest.param(-1, "KWD", "-0.001 KWD", id="negative-kwd"),
        ],
    )
    def test_an_amount_shows_the_currencys_own_decimals(
        self, cents: int, currency: str, text: str
    ) -> None:
        assert format_money(cents, currency) == text

    def test_the_bare_amount_is_the_same_number_without_the_code(self) -> None:
        assert format_amount(-123_456, "EUR") == "-1,234.56"

    def test_a_code_stored_before_codes_were_checked_still_shows(self) -> None:
        assert format_money(1_050, "XXX") == "10.50 XXX"
