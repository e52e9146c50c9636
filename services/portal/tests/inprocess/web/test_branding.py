"""An agency's colour on its portal: text on it is black or white, whichever reads (WCAG AA,
4.5:1), and anything that is not a colour falls back to the default."""

from __future__ import annotations

import pytest

from agencyos.portal.web.branding import (
    DEFAULT_BRAND,
    contrast_ratio,
    normalized_color,
    text_color_on,
)
from agencyos.portal.web.render import brand_css, money

AA = 4.5


class TestTextOnTheBrandColour:
    @pytest.mark.parametrize(
        ("brand", "text"),
        [
            ("#ffd400", "#000000"),  # yellow: black text
            ("#1f3a5f", "#ffffff"),  # navy: white text
            ("#ffffff", "#000000"),
            ("#000000", "#ffffff"),
            ("#1a73e8", "#000000"),  # a mid blue: black reaches AA, white does not
            ("#777777", "#000000"),
        ],
    )
    def test_the_text_colour_is_the_one_that_contrasts_more(self, brand: str, text: str) -> None:
        assert text_color_on(brand) == text

    @pytest.mark.parametrize("channel", [f"{v:02x}" for v in range(0, 256, 15)])
    def test_text_on_any_grey_or_hue_reaches_aa(self, channel: str) -> None:
        for brand in (f"#{channel * 3}", f"#{channel}0000", f"#00{channel}00", f"#0000{channel}"):
            assert contrast_ratio(brand, text_color_on(brand)) >= AA, brand


class TestColourInput:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("#1A73E8", "#1a73e8"),
            ("1a73e8", "#1a73e8"),
            ("#abc", "#aabbcc"),
            (None, DEFAULT_BRAND),
            ("", DEFAULT_BRAND),
            ("red", DEFAULT_BRAND),
            ("#12345g", DEFAULT_BRAND),
            ("#fff; } body { display:none", DEFAULT_BRAND),
        ],
    )
    def test_only_a_hex_colour_is_taken(self, raw: str | None, expected: str) -> None:
        assert normalized_color(raw) == expected

    def test_the_stylesheet_carries_the_colour_and_its_text_colour_only(self) -> None:
        assert brand_css("#ffd400") == ":root { --brand: #ffd400; --on-brand: #000000; }\n"
        assert "}" not in brand_css("#fff; } body { x").split("}")[1]


class TestMoney:
    @pytest.mark.parametrize(
        ("cents", "text"),
        [
            (42_000, "420.00 EUR"),
            (123_456_789, "1,234,567.89 EUR"),
            (5, "0.05 EUR"),
            (-250, "-2.50 EUR"),
        ],
    )
    def test_amounts_read_with_two_decimals_and_the_currency(self, cents: int, text: str) -> None:
        assert money(cents, "EUR") == text
