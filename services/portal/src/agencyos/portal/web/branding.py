"""An agency's colours on its portal, with text that stays readable (WCAG AA) on them."""

from __future__ import annotations

import re

DEFAULT_BRAND = "#1f3a5f"
_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")


def normalized_color(raw: str | None) -> str:
    """`#rrggbb` from an agency's colour, or the default for anything else."""
    match = _HEX.match((raw or "").strip())
    if not match:
        return DEFAULT_BRAND
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits.lower()


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(color: str) -> float:
    """WCAG 2.x relative luminance of `#rrggbb`."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(a: str, b: str) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_color_on(background: str) -> str:
    """Black or white, whichever contrasts more with `background` (one of them always reaches
    4.5:1, WCAG AA for body text)."""
    black, white = "#000000", "#ffffff"
    if contrast_ratio(background, black) >= contrast_ratio(background, white):
        return black
    return white
