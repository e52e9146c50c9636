"""Emails rendered from the templates: branded, escaped, in the agency's zone and currency,
with a plain-text part, and strict about missing values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jinja2 import UndefinedError
from markupsafe import Markup

from agencyos.notification.email.message import Brand
from agencyos.notification.email.rendering import DEFAULT_COLOR, render_email, template_names

ACME = Brand(
    name="Acme Studio",
    logo_url="https://cdn.example.com/acme.png",
    brand_color="#12ab34",
    timezone=ZoneInfo("America/New_York"),
    currency="USD",
)
TASK = {
    "title": "Write copy",
    "project_name": "Website",
    "due_date": date(2026, 12, 6),
    "link_url": "http://127.0.0.1:8080/v1/tasks/1",
}
# A context for every template, with each optional value given.
CONTEXTS: dict[str, dict[str, Any]] = {
    "automation": {
        "subject": "Invoice 7 is overdue",
        "text_body": "Please pay",
        "html_body": Markup("Please <b>pay</b>"),
    },
    "invitation": {
        "agency_name": "Acme Studio",
        "inviter_name": "Ada",
        "role": "member",
        "accept_url": "http://127.0.0.1:8080/v1/invitations/tok/accept",
        "expires_at": datetime(2026, 12, 12, 15, 0, tzinfo=UTC),
    },
    "password_reset": {"reset_url": "http://x/reset", "expires_at": datetime.now(UTC)},
    "email_verification": {"verify_url": "http://x/verify", "expires_at": datetime.now(UTC)},
    "magic_link": {"sign_in_url": "http://x/magic", "expires_at": datetime.now(UTC)},
    "new_device_sign_in": {
        "agency_name": "Acme Studio",
        "device": "Mozilla/5.0 (X11; Linux x86_64)",
        "ip_address": "203.0.113.7",
        "signed_in_at": datetime(2026, 12, 5, 9, 30, tzinfo=UTC),
        "sessions_url": "http://x/v1/sessions",
        "reset_url": "http://x/v1/auth/password-reset",
    },
    "invoice_sent": {
        "client_name": "Globex",
        "number": "INV-0007",
        "total_cents": 123456,
        "currency": "EUR",
        "due_date": date(2027, 1, 4),
        "pay_url": "http://x/pay",
        "document_url": "http://x/doc.pdf",
    },
    "payment_reminder": {
        "number": "INV-0007",
        "amount_due_cents": 5000,
        "currency": "USD",
        "due_date": date(2027, 1, 4),
        "days_from_due": -3,
        "pay_url": "http://x/pay",
    },
    "invoice_overdue": {
        "number": "INV-0007",
        "amount_due_cents": 5000,
        "currency": "USD",
        "due_date": date(2027, 1, 4),
        "pay_url": None,
    },
    "payment_receipt": {
        "number": "INV-0007",
        "amount_cents": 5000,
        "total_cents": 5000,
        "currency": "USD",
        "paid_at": datetime(2027, 1, 5, 3, 0, tzinfo=UTC),
    },
    "payment_failed": {
        "number": None,
        "amount_due_cents": None,
        "currency": None,
        "reason": None,
        "pay_url": None,
    },
    "notice": {"title": "Hi", "body": "Body", "link_url": None, "link_label": None},
    "mention": {
        "author_name": "Ada",
        "task_title": "Write copy",
        "project_name": None,
        "excerpt": "@you look",
        "link_url": "http://x/t",
    },
    "task_assigned": {
        "task_title": "Write copy",
        "project_name": "Website",
        "due_date": None,
        "assigned_by_name": None,
        "link_url": "http://x/t",
    },
    "deliverable_awaiting_approval": {
        "deliverable_title": "Logo v2",
        "project_name": None,
        "link_url": "http://x/d",
    },
    "timesheet_rejected": {
        "week_start": date(2026, 11, 30),
        "rejected_by_name": "Bo",
        "reason": "Missing Friday",
        "link_url": "http://x/ts",
    },
    "due_digest": {"today": date(2026, 12, 5), "due_tomorrow": [TASK], "overdue": []},
    "weekly_digest": {
        "week_start": date(2026, 11, 30),
        "week_end": date(2026, 12, 6),
        "notices": [{"title": "A task was assigned", "created_at": datetime.now(UTC)}],
        "due_soon": [TASK],
        "unread_count": 2,
    },
}


def context(template: str, **changes: Any) -> dict[str, Any]:
    return {"recipient_name": "Grace", **CONTEXTS[template], **changes}


class TestEveryTemplate:
    def test_every_template_has_a_context_here(self) -> None:
        assert sorted(CONTEXTS) == template_names()

    @pytest.mark.parametrize("template", sorted(CONTEXTS))
    def test_renders_a_branded_subject_html_and_text(self, template: str) -> None:
        email = render_email(template, context(template), ACME, unsubscribe_url="http://x/unsub")

        assert email.subject
        assert "\n" not in email.subject
        assert "Acme Studio" in email.html
        assert 'src="https://cdn.example.com/acme.png"' in email.html
        assert "#12ab34" in email.html
        assert "Hello Grace," in email.html
        assert "Hello Grace," in email.text
        assert "<p " not in email.text
        assert "<a href" not in email.text
        assert "Acme Studio" in email.text
        assert email.unsubscribe_url == "http://x/unsub"
        assert 'href="http://x/unsub"' in email.html
        assert "http://x/unsub" in email.text

    @pytest.mark.parametrize("template", sorted(CONTEXTS))
    def test_a_missing_value_is_an_error_not_an_empty_string(self, template: str) -> None:
        values = context(template)
        # the first value the template's own part needs
        key = next(iter(CONTEXTS[template]))
        del values[key]

        with pytest.raises(UndefinedError):
            render_email(template, values, ACME)


class TestBranding:
    def test_without_a_logo_the_agency_name_stands_in_the_header(self) -> None:
        plain = Brand("Plain Co", None, None, ZoneInfo("UTC"), "USD")

        email = render_email("notice", context("notice"), plain)

        assert "<img" not in email.html
        assert "Plain Co" in email.html
        assert DEFAULT_COLOR in email.html

    def test_a_colour_that_is_not_a_hex_colour_is_not_put_in_the_style(self) -> None:
        hostile = Brand("X", "javascript:alert(1)", "red;background:url(x)", ZoneInfo("UTC"), "USD")

        email = render_email("notice", context("notice"), hostile)

        assert "url(x)" not in email.html
        assert "javascript:" not in email.html
        assert DEFAULT_COLOR in email.html

    def test_without_an_unsubscribe_link_the_footer_has_none(self) -> None:
        email = render_email("notice", context("notice"), ACME)

        assert "Unsubscribe" not in email.html
        assert "Unsubscribe" not in email.text
        assert email.unsubscribe_url is None


class TestEscaping:
    def test_user_text_is_escaped_in_html_and_left_as_is_in_text(self) -> None:
        values = context(
            "mention",
            author_name='<script>alert("x")</script>',
            excerpt="Tom & Jerry <b>bold</b>",
        )

        email = render_email("mention", values, ACME)

        assert "<script>" not in email.html
        assert "&lt;script&gt;" in email.html
        assert "Tom &amp; Jerry &lt;b&gt;bold&lt;/b&gt;" in email.html
        assert "Tom & Jerry <b>bold</b>" in email.text
        assert email.subject.startswith('<script>alert("x")</script> mentioned you')

    def test_a_hostile_agency_name_is_escaped_too(self) -> None:
        brand = Brand('"><img src=x onerror=1>', None, None, ZoneInfo("UTC"), "USD")

        email = render_email("notice", context("notice"), brand)

        assert "<img src=x" not in email.html


class TestLocalisation:
    def test_money_has_the_currency_s_decimals_and_code(self) -> None:
        email = render_email("invoice_sent", context("invoice_sent"), ACME)

        assert "1,234.56 EUR" in email.html
        assert "1,234.56 EUR" in email.text
        assert "1,234.56 EUR" in email.subject

    def test_a_zero_decimal_currency_shows_no_decimals(self) -> None:
        values = context("invoice_sent", total_cents=123456, currency="JPY")

        email = render_email("invoice_sent", values, ACME)

        assert "123,456 JPY" in email.text

    def test_an_instant_is_shown_in_the_agency_s_zone_with_the_zone_named(self) -> None:
        # 03:00 UTC on 5 January is 22:00 on 4 January in New York
        email = render_email("payment_receipt", context("payment_receipt"), ACME)

        assert "4 January 2027, 22:00 EST (UTC-05:00)" in email.text
        assert "4 January 2027, 22:00 EST (UTC-05:00)" in email.html

    def test_the_same_instant_for_an_agency_in_tokyo_is_the_next_day(self) -> None:
        tokyo = Brand("Tokyo Co", None, None, ZoneInfo("Asia/Tokyo"), "JPY")

        email = render_email("payment_receipt", context("payment_receipt"), tokyo)

        assert "5 January 2027, 12:00 JST (UTC+09:00)" in email.text

    def test_a_date_is_shown_as_that_day_whatever_the_zone(self) -> None:
        email = render_email("invoice_overdue", context("invoice_overdue"), ACME)

        assert "4 January 2027" in email.text

    def test_an_instant_given_as_text_is_read_as_an_instant(self) -> None:
        values = context("payment_receipt", paid_at="2027-01-05T03:00:00Z")

        email = render_email("payment_receipt", values, ACME)

        assert "4 January 2027, 22:00 EST" in email.text


class TestOptionalValues:
    def test_an_invoice_without_a_pay_link_has_no_pay_button(self) -> None:
        values = context("invoice_sent", pay_url=None, document_url=None)

        email = render_email("invoice_sent", values, ACME)

        assert "Pay the invoice" not in email.html
        assert "Pay the invoice" not in email.text

    def test_a_payment_failure_with_every_detail_names_them(self) -> None:
        values = context(
            "payment_failed",
            number="INV-9",
            amount_due_cents=990,
            currency="EUR",
            reason="card declined",
            pay_url="http://x/pay",
        )

        email = render_email("payment_failed", values, ACME)

        assert email.subject == "Your payment for invoice INV-9 did not go through"
        assert "card declined" in email.text
        assert "9.90 EUR" in email.text
        assert "http://x/pay" in email.text
