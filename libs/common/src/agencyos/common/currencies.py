"""The currencies AgencyOS bills in (ISO 4217), each with its minor units, and money as text.

No maintained currency library is installed and this list changes about once a year, so it
lives here, once, for every service. It holds the circulating national and regional
currencies (ISO 4217 list one, as amended to 2025: XCG replaced ANG, ZWG replaced ZWL, SLE
replaced SLL, HRK and CUC are gone). Fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI,
UYW), precious metals, SDR and the testing/"no currency" codes (XTS, XXX) are left out on
purpose: nobody invoices in them. When ISO publishes an amendment, update this table.

Minor units are ISO's exponent: an amount of `1234` in `*_cents` is 12.34 USD, 1,234 JPY and
1.234 KWD. Every amount is stored and sent in the minor unit already; the exponent matters
only when an amount is shown to a person.
"""

from __future__ import annotations

# Every active code has two minor units except those listed under another exponent.
_TWO = """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD
    CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP
    GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD
    LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB
    PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC
    SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VED VES WST XCD XCG YER ZAR ZMW
    ZWG
"""
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"

MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(_TWO.split(), 2),
    **dict.fromkeys(_ZERO.split(), 0),
    **dict.fromkeys(_THREE.split(), 3),
}
ACTIVE_CURRENCIES: frozenset[str] = frozenset(MINOR_UNITS)


def is_currency(code: str) -> bool:
    """True for an active ISO 4217 code, upper case (`EUR`); `eur`, `XXX` and `ABC` are not."""
    return code in MINOR_UNITS


def minor_units(currency: str) -> int:
    """The ISO 4217 exponent: 2 for EUR and USD, 0 for JPY, 3 for KWD. A code not in the
    table (a row stored before codes were checked) counts as 2, so showing it never fails."""
    return MINOR_UNITS.get(currency, 2)


def format_amount(cents: int, currency: str) -> str:
    """The amount in minor units as a number with the currency's decimals and thousands
    separators: `123456, "EUR"` -> `"1,234.56"`, `123456, "JPY"` -> `"123,456"`,
    `-5, "KWD"` -> `"-0.005"`. For display only, never for arithmetic."""
    places = minor_units(currency)
    sign = "-" if cents < 0 else ""
    whole, fraction = divmod(abs(cents), 10**places)
    text = f"{sign}{whole:,}"
    return f"{text}.{fraction:0{places}d}" if places else text


def format_money(cents: int, currency: str) -> str:
    """An amount with its code, as documents show it: `123456, "EUR"` -> `"1,234.56 EUR"`."""
    return f"{format_amount(cents, currency)} {currency}"
