"""Emails from Jinja2 templates: `templates/<name>.subject.j2`, `<name>.html.j2` (escaped,
extends the branded `base.html.j2`) and `<name>.txt.j2` (plain text, extends `base.txt.j2`).

Every template gets the caller's context plus `brand` and `unsubscribe_url`; a key it uses
that the context lacks is an error (StrictUndefined), never an empty string. Optional values
are passed as None. Filters: `money(cents, currency)`, `local_date` and `local_datetime` (in
the brand's time zone, with the zone named, so a reader elsewhere is not misled).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from agencyos.common.currencies import format_money
from agencyos.notification.email.message import Brand, RenderedEmail

TEMPLATES_DIR = Path(__file__).parent / "templates"
DEFAULT_COLOR = "#2f54eb"
# A CSS colour the layout may put in a style attribute as it is: #rgb, #rrggbb, #rrggbbaa.
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


def _moment(value: date | datetime | str) -> date | datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    return value


def _brand(ctx: Context) -> Brand:
    brand: Brand = ctx["brand"]
    return brand


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


@pass_context
def local_date(ctx: Context, value: date | datetime | str) -> str:
    """`5 December 2026`: a date as it is, an instant as its day in the agency's zone."""
    moment = _moment(value)
    if isinstance(moment, datetime):
        moment = moment.astimezone(_brand(ctx).timezone).date()
    return _day(moment)


@pass_context
def local_datetime(ctx: Context, value: datetime | str) -> str:
    """`5 December 2026, 14:30 CET (UTC+01:00)`: the instant in the agency's zone."""
    moment = _moment(value)
    if not isinstance(moment, datetime):
        return _day(moment)
    local = moment.astimezone(_brand(ctx).timezone)
    offset = local.strftime("%z")
    utc = f"UTC{offset[:3]}:{offset[3:]}" if offset not in ("+0000", "") else "UTC"
    name = local.tzname() or ""
    zone = utc if not name or name[0] in "+-" or name == "UTC" else f"{name} ({utc})"
    return f"{_day(local.date())}, {local:%H:%M} {zone}"


@pass_context
def money(ctx: Context, cents: int, currency: str | None = None) -> str:
    """`1,234.56 EUR`: minor units with the currency's decimals (the agency's by default)."""
    return format_money(int(cents), currency or _brand(ctx).currency)


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith(".html.j2")


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=_autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(money=money, local_date=local_date, local_datetime=local_datetime)
    return env


_ENV = _environment()


def template_names() -> list[str]:
    """Every email template there is (those with a subject, an HTML and a text part)."""
    return sorted(
        path.name.removesuffix(".subject.j2") for path in TEMPLATES_DIR.glob("*.subject.j2")
    )


def render_email(
    template: str,
    context: Mapping[str, Any],
    brand: Brand,
    *,
    unsubscribe_url: str | None = None,
) -> RenderedEmail:
    """Subject, HTML and text of email `template` for `brand`. Raises jinja2's
    UndefinedError when the template uses a key `context` does not give, and
    TemplateNotFound for an unknown template."""
    values = {
        **context,
        "brand": brand,
        "brand_color": brand.brand_color
        if brand.brand_color and _COLOR.match(brand.brand_color)
        else DEFAULT_COLOR,
        "logo_url": brand.logo_url
        if brand.logo_url and brand.logo_url.startswith(("https://", "http://"))
        else None,
        "unsubscribe_url": unsubscribe_url,
    }
    subject = _ENV.get_template(f"{template}.subject.j2").render(values)
    return RenderedEmail(
        # one line, however the template wraps it (a header cannot hold a newline)
        subject=" ".join(subject.split()),
        html=_ENV.get_template(f"{template}.html.j2").render(values),
        text=_ENV.get_template(f"{template}.txt.j2").render(values),
        unsubscribe_url=unsubscribe_url,
    )
