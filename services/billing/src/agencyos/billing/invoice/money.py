"""How billing turns time, prices and tax rates into whole cents.

Money is integer minor units (`*_cents`) everywhere; no float ever touches it. Each amount is
rounded exactly once, on its line, and the invoice's figures are plain sums of the lines:

- A time line bills the exact seconds of its entries at one hourly rate:
  `amount_cents = round(total_seconds * rate_cents / 3600)`. Its `quantity` is the hours shown
  to the reader, `total_seconds / 3600` rounded to 4 decimals; the amount comes from the exact
  seconds, not from the rounded quantity (so `quantity * unit_price` may differ from the
  amount by under a cent per 0.0001 h).
- A manual line bills `round(quantity * unit_price_cents)`; a milestone line is quantity 1 at
  the milestone's amount.
- Tax per line: `tax_cents = round(amount_cents * tax_rate_bps / 10000)` (basis points:
  1900 = 19 %).
- `subtotal_cents` = sum of line amounts, `tax_cents` = sum of line taxes,
  `total_cents = subtotal_cents + tax_cents`.

`round` is **half up**, meaning half away from zero (commercial rounding): 0.5 cent becomes 1
cent, -0.5 cent (a discount line) becomes -1 cent. It is computed with exact integer or
Decimal arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

SECONDS_PER_HOUR = 3600
BPS_PER_UNIT = 10_000
QUANTITY_STEP = Decimal("0.0001")


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to an integer, halves away from zero (exact)."""
    if denominator <= 0:
        raise ValueError("the denominator must be positive")
    magnitude = (2 * abs(numerator) + denominator) // (2 * denominator)
    return magnitude if numerator >= 0 else -magnitude


def time_amount_cents(total_seconds: int, hourly_rate_cents: int) -> int:
    """What `total_seconds` cost at `hourly_rate_cents` per hour, in whole cents."""
    if total_seconds < 0:
        raise ValueError("durations are never negative")
    return round_half_up(total_seconds * hourly_rate_cents, SECONDS_PER_HOUR)


def hours(total_seconds: int) -> Decimal:
    """The seconds as hours with 4 decimals (half up), as the line's quantity."""
    return (Decimal(total_seconds) / SECONDS_PER_HOUR).quantize(QUANTITY_STEP, ROUND_HALF_UP)


def line_amount_cents(quantity: Decimal, unit_price_cents: int) -> int:
    """quantity x unit price, in whole cents (half up)."""
    exact = quantity * Decimal(unit_price_cents)
    return int(exact.quantize(Decimal(1), ROUND_HALF_UP))


def tax_cents(amount_cents: int, tax_rate_bps: int) -> int:
    """The tax on one line's amount (half up)."""
    if not 0 <= tax_rate_bps <= BPS_PER_UNIT:
        raise ValueError("a tax rate is 0..10000 basis points")
    return round_half_up(amount_cents * tax_rate_bps, BPS_PER_UNIT)


def totals(lines: Iterable[tuple[int, int]]) -> tuple[int, int, int]:
    """(subtotal, tax, total) of lines given as (amount_cents, tax_cents)."""
    subtotal = tax = 0
    for amount, line_tax in lines:
        subtotal += amount
        tax += line_tax
    return subtotal, tax, subtotal + tax
