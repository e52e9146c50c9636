"""The texts of a rule's actions (titles, bodies, subjects): Jinja2 templates rendered in an
immutable sandbox, given `event` (the CloudEvent as a dict) and `data` (its data).

- Nothing reaches Python's internals: the sandbox refuses attributes starting with `_` (they
  render empty) and calls to anything unsafe; values cannot be modified.
- A variable the event does not have renders empty, at any depth (`{{ data.nope.deeper }}`),
  so a rule keeps working when an optional field is absent.
- Multiplying strings or lists and powers are capped, and the output stops at
  `OUTPUT_LIMIT` characters: a template cannot make a huge text.
- `money` formats minor units: `{{ data.total_cents | money(data.currency) }}`.
- HTML (an email's HTML part) is rendered by a second environment with autoescape, so event
  values cannot inject markup.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.nodes import Template as TemplateNode
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from agencyos.common.currencies import format_money

OUTPUT_LIMIT = 10_000
# the longest string or list `*` may make, and the largest exponent `**` may use
PRODUCT_LIMIT = 10_000
EXPONENT_LIMIT = 64


class TemplateFailed(Exception):
    """A template could not be rendered (a refused operation, a wrong type)."""


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > EXPONENT_LIMIT:
                raise SecurityError("the exponent is too large")
            return operator.pow(left, right)
        if operator_name == "*":
            for sized, times in ((left, right), (right, left)):
                if isinstance(sized, str | list | tuple) and isinstance(times, int):
                    if len(sized) * times > PRODUCT_LIMIT:
                        raise SecurityError("the product is too long")
            return operator.mul(left, right)
        return super().call_binop(context, operator_name, left, right)


def money(cents: Any, currency: Any = "EUR") -> str:
    """`{{ data.total_cents | money(data.currency) }}`: `1,234.56 EUR` (empty when not a
    number)."""
    try:
        return format_money(int(cents), str(currency or "EUR"))
    except (TypeError, ValueError):
        return ""


def _environment(*, html: bool) -> _Sandbox:
    env = _Sandbox(
        autoescape=html, undefined=ChainableUndefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters["money"] = money
    return env


_TEXT = _environment(html=False)
_HTML = _environment(html=True)


def syntax_error(source: str) -> str | None:
    """Why `source` is not a template (None: it is one)."""
    try:
        node: TemplateNode = _TEXT.parse(source)
    except TemplateSyntaxError as exc:
        return f"template syntax error on line {exc.lineno}: {exc.message}"
    del node
    return None


def _render(env: _Sandbox, source: str, context: Mapping[str, Any]) -> str:
    try:
        template = env.from_string(source)
        out: list[str] = []
        size = 0
        for chunk in template.generate(dict(context)):
            out.append(chunk)
            size += len(chunk)
            if size >= OUTPUT_LIMIT:
                break
    except SecurityError as exc:
        raise TemplateFailed(f"refused by the sandbox: {exc}") from exc
    except Exception as exc:  # a template's runtime errors are the rule's, not ours
        raise TemplateFailed(f"{type(exc).__name__}: {exc}") from exc
    return "".join(out)[:OUTPUT_LIMIT]


def template_context(event: Mapping[str, Any]) -> dict[str, Any]:
    return {"event": dict(event), "data": dict(event.get("data") or {})}


def render_text(source: str, event: Mapping[str, Any]) -> str:
    return _render(_TEXT, source, template_context(event))


def render_html(source: str, event: Mapping[str, Any]) -> Markup:
    """HTML with every value escaped (safe to place in a page as it is)."""
    return Markup(_render(_HTML, source, template_context(event)))
