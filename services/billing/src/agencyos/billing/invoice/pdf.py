"""The invoice as a PDF (fpdf2): the agency's branding (colour band, logo, name, address, tax
number), the client and its address, number and dates, the lines, tax per rate, totals, the
payment link and the agency's footer.

Text is set in the PDF core font (Helvetica), which covers Latin-1: other characters are
transliterated where Unicode allows (e.g. "Ł" stays readable as "L") and shown as "?"
otherwise, rather than failing the document."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from agencyos.billing.invoice.status import InvoiceStatus
from agencyos.billing.models import Invoice, InvoiceLine
from agencyos.common.currencies import format_money
from agencyos.common.logs import get_logger

log = get_logger(__name__)

_DEFAULT_BRAND = (33, 37, 41)
_MUTED = (108, 117, 125)
_PUNCTUATION = {
    "\u2013": "-",
    "\u2014": "-",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2026": "...",
    "\u20ac": "EUR",
    "\u2022": "*",
    # letters Unicode does not decompose into a base letter and an accent
    "\u0141": "L",
    "\u0142": "l",
    "\u0110": "D",
    "\u0111": "d",
    "\u0152": "OE",
    "\u0153": "oe",
}


@dataclass(frozen=True)
class Document:
    invoice: Invoice
    lines: Sequence[InvoiceLine]
    agency_name: str
    brand_color: str | None
    logo: bytes | None
    sender_address: str | None
    tax_number: str | None
    footer: str | None
    client_name: str
    client_contact: str | None
    client_email: str | None
    client_address: Sequence[str]


def latin1(text: str) -> str:
    out: list[str] = []
    for char in text:
        if char in _PUNCTUATION:
            out.append(_PUNCTUATION[char])
            continue
        try:
            char.encode("latin-1")
            out.append(char)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


def _rgb(color: str | None) -> tuple[int, int, int]:
    if not color or len(color) != 7 or not color.startswith("#"):
        return _DEFAULT_BRAND
    try:
        return (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))
    except ValueError:
        return _DEFAULT_BRAND


def _quantity(quantity: Decimal) -> str:
    text = f"{quantity:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _rate(bps: int) -> str:
    """1900 -> "19 %", 750 -> "7.5 %"."""
    return _quantity(Decimal(bps) / 100) + " %"


def _day(value: date | None) -> str:
    return value.isoformat() if value else "-"


class _Pdf(FPDF):
    footer_text: str = ""

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("helvetica", size=8)
        self.set_text_color(*_MUTED)
        if self.footer_text:
            self.cell(0, 4, self.footer_text, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.cell(0, 4, f"Page {self.page_no()}/{{nb}}", align="C")


def render(doc: Document, *, compress: bool = True) -> bytes:
    """The PDF's bytes (CPU-bound: callers run it in a thread)."""
    invoice = doc.invoice
    brand = _rgb(doc.brand_color)
    pdf = _Pdf(format="A4", unit="mm")
    pdf.set_compression(compress)
    pdf.footer_text = latin1(doc.footer or "")[:300]
    pdf.set_title(latin1(f"Invoice {invoice.number or '(draft)'}"))
    pdf.set_author(latin1(doc.agency_name))
    pdf.set_auto_page_break(auto=True, margin=22)
    pdf.add_page()
    width = pdf.epw

    # brand band and header
    pdf.set_fill_color(*brand)
    pdf.rect(0, 0, pdf.w, 6, style="F")
    top = 14.0
    if doc.logo:
        try:
            pdf.image(io.BytesIO(doc.logo), x=pdf.l_margin, y=top, h=18, keep_aspect_ratio=True)
        except Exception as exc:  # a broken image never stops the invoice
            log.info("the agency logo could not be drawn", error=repr(exc))
    pdf.set_xy(pdf.l_margin, top)
    pdf.set_font("helvetica", "B", 18)
    pdf.set_text_color(*brand)
    pdf.cell(width, 9, latin1(doc.agency_name), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", size=9)
    pdf.set_text_color(*_MUTED)
    for sender_line in latin1(doc.sender_address or "").splitlines():
        pdf.cell(width, 4.5, sender_line, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if doc.tax_number:
        pdf.cell(
            width,
            4.5,
            latin1(f"Tax number: {doc.tax_number}"),
            align="R",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    pdf.set_y(max(pdf.get_y(), top + 22) + 6)

    # title
    status_word = {InvoiceStatus.DRAFT.value: "DRAFT", InvoiceStatus.VOID.value: "VOID"}.get(
        invoice.status
    )
    pdf.set_font("helvetica", "B", 20)
    pdf.set_text_color(*brand)
    title = f"Invoice {invoice.number}" if invoice.number else "Invoice (draft)"
    pdf.cell(width * 0.7, 10, latin1(title))
    if status_word:
        pdf.set_text_color(200, 35, 51)
        pdf.cell(width * 0.3, 10, status_word, align="R")
    pdf.ln(14)

    # client and dates side by side
    column_y = pdf.get_y()
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("helvetica", "B", 9)
    pdf.cell(width / 2, 5, "Bill to", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", size=10)
    for text in [
        doc.client_name,
        *([f"Attn. {doc.client_contact}"] if doc.client_contact else []),
        *doc.client_address,
        *([doc.client_email] if doc.client_email else []),
    ]:
        pdf.cell(width / 2, 5, latin1(text)[:90], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    left_bottom = pdf.get_y()
    facts = [
        ("Invoice number", invoice.number or "(assigned when sent)"),
        ("Issue date", _day(invoice.issue_date)),
        ("Due date", _day(invoice.due_date)),
        ("Currency", invoice.currency),
    ]
    if invoice.period_from or invoice.period_to:
        facts.append(("Period", f"{_day(invoice.period_from)} to {_day(invoice.period_to)}"))
    pdf.set_y(column_y)
    for label, value in facts:
        pdf.set_x(pdf.l_margin + width / 2)
        pdf.set_font("helvetica", "B", 9)
        pdf.cell(width / 4, 5, label)
        pdf.set_font("helvetica", size=10)
        pdf.cell(width / 4, 5, latin1(value), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 8)

    # lines
    columns = (
        ("Description", width * 0.46, "L"),
        ("Quantity", width * 0.12, "R"),
        ("Unit price", width * 0.16, "R"),
        ("Tax", width * 0.08, "R"),
        ("Amount", width * 0.18, "R"),
    )
    pdf.set_fill_color(*brand)
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("helvetica", "B", 9)
    for label, w, align in columns:
        pdf.cell(w, 7, label, align=align, fill=True)
    pdf.ln(7)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("helvetica", size=9)
    for line in doc.lines:
        values = (
            latin1(line.description),
            _quantity(line.quantity),
            format_money(line.unit_price_cents, invoice.currency),
            _rate(line.tax_rate_bps),
            format_money(line.amount_cents, invoice.currency),
        )
        row_y = pdf.get_y()
        if row_y > pdf.h - 40:
            pdf.add_page()
            row_y = pdf.get_y()
        pdf.multi_cell(columns[0][1], 5, values[0], new_x=XPos.RIGHT, new_y=YPos.TOP)
        row_bottom = pdf.get_y()
        x = pdf.l_margin + columns[0][1]
        for value, (_, w, align) in zip(values[1:], columns[1:], strict=True):
            pdf.set_xy(x, row_y)
            pdf.cell(w, 5, value, align=align)
            x += w
        pdf.set_y(max(row_bottom, row_y + 5) + 1)
        pdf.set_draw_color(222, 226, 230)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
        pdf.ln(1)

    # totals, with tax per rate
    by_rate: dict[int, tuple[int, int]] = {}
    for line in doc.lines:
        base, tax = by_rate.get(line.tax_rate_bps, (0, 0))
        by_rate[line.tax_rate_bps] = (base + line.amount_cents, tax + line.tax_cents)
    rows: list[tuple[str, int, bool]] = [("Subtotal", invoice.subtotal_cents, False)]
    for bps in sorted(by_rate):
        base, tax = by_rate[bps]
        rows.append((f"Tax {_rate(bps)} on {format_money(base, invoice.currency)}", tax, False))
    rows.append(("Total", invoice.total_cents, True))
    if invoice.amount_paid_cents:
        rows.append(("Paid", invoice.amount_paid_cents, False))
        rows.append(("Amount due", invoice.amount_due_cents, True))
    pdf.ln(3)
    for label, cents, bold in rows:
        pdf.set_x(pdf.l_margin + width * 0.4)
        pdf.set_font("helvetica", "B" if bold else "", 11 if bold else 9)
        pdf.cell(width * 0.4, 6, label, align="R")
        pdf.cell(width * 0.2, 6, format_money(cents, invoice.currency), align="R")
        pdf.ln(6)

    # payment and notes
    pdf.ln(6)
    if invoice.payment_url and invoice.status != InvoiceStatus.VOID:
        pdf.set_font("helvetica", "B", 10)
        pdf.cell(0, 6, "Pay online", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("helvetica", "U", 7)
        pdf.set_text_color(*brand)
        pdf.multi_cell(0, 5, latin1(invoice.payment_url), link=invoice.payment_url)
        pdf.set_text_color(0, 0, 0)
        pdf.ln(2)
    if invoice.due_date and invoice.status != InvoiceStatus.VOID:
        pdf.set_font("helvetica", size=9)
        pdf.multi_cell(
            0,
            5,
            f"Please pay {format_money(invoice.amount_due_cents, invoice.currency)} "
            f"by {invoice.due_date.isoformat()}, quoting {latin1(invoice.number or '')}.",
        )
        pdf.ln(2)
    if invoice.notes:
        pdf.set_font("helvetica", "B", 10)
        pdf.cell(0, 6, "Notes", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("helvetica", size=9)
        pdf.multi_cell(0, 5, latin1(invoice.notes))
    if invoice.status == InvoiceStatus.VOID and invoice.void_reason:
        pdf.ln(2)
        pdf.set_font("helvetica", "I", 9)
        pdf.multi_cell(0, 5, latin1(f"Voided: {invoice.void_reason}"))
    return bytes(pdf.output())
