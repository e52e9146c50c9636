"""The sandbox the actions' texts render in: Python's internals stay out of reach, absent
values render empty, output and products are capped, HTML is escaped."""

from __future__ import annotations

import pytest

from agencyos.notification.automations.templates import (
    OUTPUT_LIMIT,
    TemplateFailed,
    render_html,
    render_text,
    syntax_error,
)

EVENT = {"id": "e1", "type": "crm.client.created", "data": {"company_name": "<b>Acme</b>"}}


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ data.__class__.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ lipsum.__globals__ }}",
        "{{ self._TemplateReference__context }}",
    ],
    ids=["mro", "globals", "cycler", "lipsum", "context"],
)
def test_reading_python_internals_renders_nothing(source: str) -> None:
    assert render_text(f"[{source}]", EVENT) == "[]"


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ event.__class__.__base__.__subclasses__() }}",
    ],
    ids=["str-subclasses", "dict-subclasses"],
)
def test_calling_into_python_internals_is_refused(source: str) -> None:
    with pytest.raises(TemplateFailed, match="refused by the sandbox"):
        render_text(source, EVENT)


def test_values_cannot_be_changed() -> None:
    with pytest.raises(TemplateFailed, match="unsafe"):
        render_text("{{ data.update({'x': 1}) }}", EVENT)


def test_an_absent_value_renders_empty_at_any_depth() -> None:
    assert render_text("[{{ data.nope }}|{{ data.nope.deeper.still }}]", EVENT) == "[|]"


@pytest.mark.parametrize(
    "source", ["{{ 'x' * 100000000 }}", "{{ [1] * 100000000 }}", "{{ 10 ** 100000 }}"]
)
def test_huge_products_are_refused(source: str) -> None:
    with pytest.raises(TemplateFailed, match="sandbox"):
        render_text(source, EVENT)


def test_the_output_is_capped() -> None:
    out = render_text("{% for i in range(100000) %}xxxxxxxxxx{% endfor %}", EVENT)
    assert len(out) == OUTPUT_LIMIT


def test_html_escapes_the_event_s_values_and_text_keeps_them() -> None:
    assert str(render_html("Hi {{ data.company_name }}", EVENT)) == "Hi &lt;b&gt;Acme&lt;/b&gt;"
    assert render_text("Hi {{ data.company_name }}", EVENT) == "Hi <b>Acme</b>"


def test_a_syntax_error_is_described_and_a_good_template_is_not() -> None:
    assert syntax_error("{{ data.x }") is not None
    assert syntax_error("{% for x in y %}") is not None
    assert syntax_error("Hello {{ data.company_name | upper }}") is None
