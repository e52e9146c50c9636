"""How timeline titles show money: the code first, then the number with the currency's own
decimals (`EUR 1,234.56`, `JPY 123,456`, `KWD 1.234`)."""

from __future__ import annotations

from agencyos.common.currencies import format_amount


def money(cents: int, currency: str) -> str:
    return f"{currency} {format_amount(cents, currency)}"
