"""What an API input may hold: the shared field types of every request schema and query
parameter (ARCHITECTURE.md §6: bad input is a 4xx naming the field, never a 500).

Strings. PostgreSQL refuses NUL in text, so no input string may carry one; anything else a
database or a PDF would choke on is refused where it has no business either:

- `SafeStr` (marker `NoNul`): any text without NUL (passwords, tokens, opaque values).
- `Text` (marker `MultiLine`): multi-line prose (descriptions, comments, notes): keeps tab,
  line feed and carriage return, refuses every other control character (C0 and DEL).
- `Name` (marker `SingleLine`): one line (names, titles, search terms, labels): refuses
  every control character, tab included: a tab or line break in a name is a paste accident
  that breaks CSV exports and one-line displays.

Integers. Every integer has bounds its column can hold (`Int32`, `Int64`) or tighter domain
bounds (`Position`, `Percent`, `BasisPoints`, `Cents`, `Seconds`, ...). Amounts, durations
and counts sent in a body are strict: `"12"`, `true` and `12.0` are refused, not coerced, so
a client bug never silently becomes a price. Query parameters arrive as text, so their
integers (`page`, `per_page`, filters) use the non-strict bounded types.

Currencies. `Currency` is an active ISO 4217 code in upper case (`EUR`, `JPY`): `eur`,
`EURO`, `ABC` and the "no currency" code `XXX` are refused (agencyos.common.currencies holds
the list and each currency's minor units).

Dates and times. `IsoDate` takes only `YYYY-MM-DD` (no `"0"`, no Unix timestamps);
`Timestamp` takes only RFC 3339 date-times with a UTC offset (`Z` or `±hh:mm`). Both work in
bodies and in query parameters.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict
from pydantic_core import PydanticCustomError

from agencyos.common.currencies import is_currency

# --- strings ------------------------------------------------------------------------------

_NUL = "\x00"
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def contains_nul(value: str) -> bool:
    return _NUL in value


def reject_nul(value: str) -> str:
    if _NUL in value:
        raise PydanticCustomError("nul_character", "must not contain the NUL character (U+0000)")
    return value


def reject_controls_but_line_breaks(value: str) -> str:
    reject_nul(value)
    if _CONTROL_BUT_LINES.search(value):
        raise PydanticCustomError(
            "control_character",
            "must not contain control characters other than tab, line feed and carriage return",
        )
    return value


def reject_controls(value: str) -> str:
    reject_nul(value)
    if _ANY_CONTROL.search(value):
        raise PydanticCustomError(
            "control_character", "must be a single line without control characters"
        )
    return value


# Markers to put after a field's own StringConstraints (so whitespace is stripped first):
# `Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), SingleLine]`.
NoNul = AfterValidator(reject_nul)
MultiLine = AfterValidator(reject_controls_but_line_breaks)
SingleLine = AfterValidator(reject_controls)

SafeStr = Annotated[str, NoNul]
Text = Annotated[str, MultiLine]
Name = Annotated[str, SingleLine]

# --- integers -----------------------------------------------------------------------------

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# Money: far past any real amount, and leaves room in a bigint for amount x quantity,
# amount x probability and tax arithmetic.
MAX_CENTS = 10**15

# Lax (query parameters, or where coercion is harmless): bounded to the column.
Int32 = Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
NonNegativeInt32 = Annotated[int, Field(ge=0, le=INT32_MAX)]

# Strict (request bodies): an integer in JSON, never a string, a boolean or a float.
StrictInt32 = Annotated[int, Strict(), Field(ge=INT32_MIN, le=INT32_MAX)]
Position = Annotated[
    int, Strict(), Field(ge=0, le=INT32_MAX, description="0-based place (0 = first)")
]
Count = Annotated[int, Strict(), Field(ge=0, le=INT32_MAX)]
Percent = Annotated[int, Strict(), Field(ge=0, le=100)]
BasisPoints = Annotated[int, Strict(), Field(ge=0, le=10_000)]
Cents = Annotated[int, Strict(), Field(ge=0, le=MAX_CENTS)]
SignedCents = Annotated[int, Strict(), Field(ge=-MAX_CENTS, le=MAX_CENTS)]
Seconds = Annotated[int, Strict(), Field(ge=0, le=INT32_MAX)]
Minutes = Annotated[int, Strict(), Field(ge=0, le=INT32_MAX)]
Days = Annotated[int, Strict(), Field(ge=0, le=36_500)]

# --- currencies ---------------------------------------------------------------------------


def _currency(value: str) -> str:
    if not is_currency(value):
        raise PydanticCustomError(
            "currency", "must be an active ISO 4217 currency code in upper case (e.g. EUR)"
        )
    return value


# The pattern is checked first (and documented in the OpenAPI), then the code itself.
Currency = Annotated[
    str,
    Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code"),
    AfterValidator(_currency),
]

# --- dates and times ----------------------------------------------------------------------

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)


def _iso_date(value: Any) -> Any:
    if isinstance(value, datetime):
        raise PydanticCustomError("date_type", "must be a date (YYYY-MM-DD), not a date-time")
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise PydanticCustomError("date_format", "must be an ISO date (YYYY-MM-DD)")
    return value


def _rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise PydanticCustomError(
            "datetime_format",
            "must be an RFC 3339 date-time with a UTC offset (2026-01-31T09:30:00Z)",
        )
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Timestamp = Annotated[datetime, BeforeValidator(_rfc3339)]
