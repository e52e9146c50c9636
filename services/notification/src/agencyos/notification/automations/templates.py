"""The texts of a rule's actions (titles, bodies, subjects): Jinja2 templates rendered in an
immutable sandbox, given `event` (the CloudEvent as a dict) and `data` (its data).

- Nothing reaches Python's internals: the sandbox refuses attributes starting with `_` (they
  render empty) and calls to anything unsafe; values cannot be modified.
- A variable the event does not have renders empty, at any depth (`{{ data.nope.deeper }}`),
  so a rule keeps working when an optional field is absent.
- A template cannot make a huge text or spin for long: multiplying strings or lists, powers,
  `range` and the `join` and `replace` filters are capped; what pads or formats to a width
  (`%`, `format`, `center`, `ljust`...) is refused; so are the statements that keep values
  or repeat work (`set`, `with`, `macro`, `call`, `include`, `import`, `extends`, a loop in
  a loop), checked when the rule is saved; and the output stops at `OUTPUT_LIMIT` characters.
- `money` formats minor units: `{{ data.total_cents | money(data.currency) }}`.
- HTML (an email's HTML part) is rendered by a second environment with autoescape, so event
  values cannot inject markup.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from agencyos.common.currencies import format_money

OUTPUT_LIMIT = 10_000
# the longest string or list `*` may make, and the largest exponent `**` may use
PRODUCT_LIMIT = 10_000
EXPONENT_LIMIT = 64
RANGE_LIMIT = 1000
# the longest text `join` and `replace` may make
JOIN_LIMIT = 100_000
# str methods that pad, repeat or format to a width chosen by the template
_AMPLIFYING_METHODS = frozenset(
    {"center", "ljust", "rjust", "zfill", "expandtabs", "format", "format_map", "join", "replace"}
)
_REFUSED_FILTERS = ("center", "indent", "wordwrap", "format")
_REFUSED_GLOBALS = ("lipsum", "cycler", "joiner", "namespace")
_REFUSED_NODES: dict[type[nodes.Node], str] = {
    nodes.Assign: "set",
    nodes.AssignBlock: "set",
    nodes.With: "with",
    nodes.Macro: "macro",
    nodes.CallBlock: "call",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "import",
    nodes.Extends: "extends",
    nodes.Block: "block",
}


class TemplateFailed(Exception):
    """A template could not be rendered (a refused operation, a wrong type)."""


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in _AMPLIFYING_METHODS:
            return False
        return bool(super().is_safe_attribute(obj, attr, value))

    def wrap_str_format(self, value: Any) -> None:
        # no sandboxed str.format either: the method is refused like the others that pad
        return None

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "%":
            if isinstance(left, str):
                raise SecurityError("formatting text with % is not allowed")
            return operator.mod(left, right)
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


def _capped_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > RANGE_LIMIT:
        raise SecurityError(f"a range of more than {RANGE_LIMIT} numbers")
    return numbers


def _capped(text: str) -> str:
    if len(text) > JOIN_LIMIT:
        raise SecurityError("the text made is too long")
    return text


def _environment(*, html: bool) -> _Sandbox:
    env = _Sandbox(
        autoescape=html, undefined=ChainableUndefined, trim_blocks=True, lstrip_blocks=True
    )
    join, replace = env.filters["join"], env.filters["replace"]

    def capped_join(*args: Any, **kwargs: Any) -> str:
        return _capped(join(*args, **kwargs))

    def capped_replace(*args: Any, **kwargs: Any) -> str:
        return _capped(replace(*args, **kwargs))

    # the originals are marked to receive the eval context; keep the marks
    for original, capped in ((join, capped_join), (replace, capped_replace)):
        capped.__dict__.update(original.__dict__)
    env.filters.update(join=capped_join, replace=capped_replace, money=money)
    for name in _REFUSED_FILTERS:
        env.filters.pop(name, None)
    for name in _REFUSED_GLOBALS:
        env.globals.pop(name, None)
    env.globals["range"] = _capped_range
    return env


_TEXT = _environment(html=False)
_HTML = _environment(html=True)


def _refused(tree: nodes.Node) -> str | None:
    for node in tree.find_all(tuple(_REFUSED_NODES)):
        return f"`{{% {_REFUSED_NODES[type(node)]} %}}` is not allowed in automation templates"
    for loop in tree.find_all(nodes.For):
        for part in (*loop.body, *loop.else_):
            if isinstance(part, nodes.For) or any(True for _ in part.find_all(nodes.For)):
                return "a loop inside a loop is not allowed in automation templates"
    return None


def syntax_error(source: str) -> str | None:
    """Why `source` is not a template rules may use (None: it is one)."""
    try:
        tree = _TEXT.parse(source)
        refused = _refused(tree)
        if refused is None:
            _TEXT.from_string(source)  # compiling finds unknown filters and tests
    except TemplateSyntaxError as exc:  # TemplateAssertionError too
        return f"template syntax error on line {exc.lineno}: {exc.message}"
    return refused


def _render(env: _Sandbox, source: str, context: Mapping[str, Any]) -> str:
    try:
        refused = _refused(env.parse(source))
        if refused is not None:
            raise SecurityError(refused)
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
