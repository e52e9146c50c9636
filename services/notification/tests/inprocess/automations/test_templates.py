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
    "source",
    [
        "{{ 'x' * 100000000 }}",
        "{{ [1] * 100000000 }}",
        "{{ 10 ** 100000 }}",
        "{{ ('x' * 1000) | replace('x', 'y' * 1000) }}",
        "{{ (['x'] * 1000) | join('y' * 1000) }}",
        "{{ '%*d' % (100000000, 1) }}",
        "{{ 'x'.center(100000000) }}",
        "{{ 'x'.ljust(100000000) }}",
        "{{ '{:>100000000}'.format(1) }}",
        "{{ range(100000000) | list | length }}",
    ],
    ids=[
        "str-product",
        "list-product",
        "power",
        "replace",
        "join",
        "percent-width",
        "center",
        "ljust",
        "format-width",
        "range",
    ],
)
def test_what_would_make_a_huge_text_or_spin_is_refused(source: str) -> None:
    with pytest.raises(TemplateFailed, match="sandbox"):
        render_text(source, EVENT)


def test_the_output_is_capped() -> None:
    out = render_text("{% for i in range(1000) %}xxxxxxxxxxxxxxxxxxxx{% endfor %}", EVENT)
    assert len(out) == OUTPUT_LIMIT


def test_html_escapes_the_event_s_values_and_text_keeps_them() -> None:
    assert str(render_html("Hi {{ data.company_name }}", EVENT)) == "Hi &lt;b&gt;Acme&lt;/b&gt;"
    assert render_text("Hi {{ data.company_name }}", EVENT) == "Hi <b>Acme</b>"


@pytest.mark.parametrize(
    "source",
    [
        "{% set big = 'x' * 1000 %}{{ big ~ big }}",
        "{% with a = 'x' %}{{ a }}{% endwith %}",
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
        "{% for a in range(1000) %}{% if a %}{% for b in range(1000) %}.{% endfor %}"
        "{% endif %}{% endfor %}",
        "{% include 'base.html.j2' %}",
        "{{ 'x' | center(100) }}",
        "{{ lipsum(100000) }}",
    ],
    ids=["set", "with", "macro", "nested-loop", "include", "unknown-filter", "lipsum"],
)
def test_statements_that_keep_values_or_repeat_work_are_refused_when_saved_and_run(
    source: str,
) -> None:
    if "lipsum" not in source:
        assert syntax_error(source) is not None
    with pytest.raises(TemplateFailed):
        render_text(source, EVENT)


def test_one_loop_and_the_usual_filters_work() -> None:
    source = (
        "{% for x in data.names %}{{ x | upper }}{% if not loop.last %}, {% endif %}{% endfor %}"
    )
    assert syntax_error(source) is None
    assert render_text(source, {"data": {"names": ["a", "b"]}}) == "A, B"
    assert render_text("{{ 12345 | money('EUR') }}", EVENT) == "123.45 EUR"


def test_a_syntax_error_is_described_and_a_good_template_is_not() -> None:
    assert syntax_error("{{ data.x }") is not None
    assert syntax_error("{% for x in y %}") is not None
    assert syntax_error("Hello {{ data.company_name | upper }}") is None
