"""The client CSV format: parsing a file and validating its rows (no database here).

UTF-8 (a byte-order mark is allowed), comma-separated, a header row naming the columns in any
order. Cells that start with `'` followed by `= + - @`, a tab or a carriage return lose the `'`:
that is how an export protects spreadsheets from formulas, so exports import unchanged.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from pydantic import HttpUrl, TypeAdapter, ValidationError

from agencyos.common.errors import InvalidInput
from agencyos.crm.client.schemas import ClientStatus

# What the import reads, in the order the export writes them.
IMPORT_COLUMNS = (
    "company_name",
    "industry",
    "website",
    "tags",
    "status",
    "notes",
    "contact_name",
    "contact_email",
    "contact_phone",
    "external_id",
)
# Written by the export and accepted (so an export imports as it is); `id` matches the client
# it came from, the rest is read-only and ignored.
EXPORT_ONLY_COLUMNS = ("id", "owner_id", "created_at", "total_revenue_cents")
EXPORT_COLUMNS = IMPORT_COLUMNS + EXPORT_ONLY_COLUMNS
KNOWN_COLUMNS = frozenset(EXPORT_COLUMNS)

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
MAX_TAGS = 50
MAX_TAG_LENGTH = 50
TAG_SEPARATOR = ";"
# Cells a spreadsheet would run as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_LIMITS = {
    "company_name": 200,
    "industry": 100,
    "notes": 20_000,
    "contact_name": 200,
    "contact_email": 320,
    "contact_phone": 50,
    "external_id": 200,
}
_PHONE = re.compile(r"^[0-9+()./ -]*$")
_URL = TypeAdapter(HttpUrl)
_STATUSES = tuple(s.value for s in ClientStatus)


def file_problem(message: str, field_name: str = "file") -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field_name, "message": message}])


@dataclass(frozen=True)
class RawRow:
    number: int  # 1-based among the data rows (the header is not counted)
    cells: dict[str, str]
    surplus: int = 0  # cells beyond the header's columns


@dataclass(frozen=True)
class ParsedFile:
    columns: tuple[str, ...]
    rows: list[RawRow]


@dataclass(frozen=True)
class ContactRow:
    name: str
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class ClientRow:
    """One valid row. None (and an empty tag list's None) means "the cell was empty": a
    new client gets the default, an existing one keeps its value."""

    number: int
    company_name: str
    industry: str | None = None
    website: str | None = None
    tags: list[str] | None = None
    status: str | None = None
    notes: str | None = None
    external_id: str | None = None
    client_id: uuid.UUID | None = None
    contact: ContactRow | None = None


class _RowCheck:
    """The cells of one row and the problems found in them."""

    def __init__(self, row: RawRow) -> None:
        self.row = row
        self.problems: list[dict[str, object]] = []

    def add(self, field_name: str | None, message: str) -> None:
        self.problems.append({"row": self.row.number, "field": field_name, "message": message})

    def cell(self, name: str) -> str:
        return self.row.cells.get(name, "")

    def text(self, name: str) -> str | None:
        """The cell, None when empty or too long (a problem then)."""
        value = self.cell(name)
        if not value:
            return None
        limit = _LIMITS[name]
        if len(value) > limit:
            self.add(name, f"at most {limit} characters (has {len(value)})")
            return None
        return value


def decode(raw: bytes) -> str:
    if not raw.strip():
        raise file_problem("the file is empty")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise file_problem(
            f"the file is not UTF-8 text (invalid byte at position {exc.start}); "
            "save it as CSV UTF-8"
        ) from exc


def unguard(value: str) -> str:
    """Undo the export's formula guard (`'=1+1` → `=1+1`)."""
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r":
        return value[1:]
    return value


def guard(value: str) -> str:
    """Make a cell inert in spreadsheets: a leading `'` before what would start a formula."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def parse(text: str, *, max_rows: int = MAX_ROWS) -> ParsedFile:
    """The header and the data rows (blank lines skipped); 422 for a file that is not CSV,
    has no usable header, names unknown columns, or has no or too many rows."""
    if "\x00" in text:
        raise file_problem("the file is not CSV text (it contains NUL bytes)")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise file_problem("the file has no header row")
        columns = tuple(h.strip().lower() for h in header)
        _check_header(columns)
        rows: list[RawRow] = []
        number = 0
        for record in reader:
            number += 1
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) == max_rows:
                raise file_problem(f"the file has more than {max_rows} data rows; split it")
            cells = {
                name: unguard(record[i].strip()) if i < len(record) else ""
                for i, name in enumerate(columns)
                if name
            }
            surplus = sum(1 for cell in record[len(columns) :] if cell.strip())
            rows.append(RawRow(number, cells, surplus))
    except csv.Error as exc:
        raise file_problem(f"the file is not valid CSV (line {reader.line_num}: {exc})") from exc
    if not rows:
        raise file_problem("the file has a header but no data rows")
    return ParsedFile(columns, rows)


def _check_header(columns: tuple[str, ...]) -> None:
    named = [c for c in columns if c]
    unknown = sorted({c for c in named if c not in KNOWN_COLUMNS})
    duplicated = sorted({c for c in named if named.count(c) > 1})
    errors = [{"field": c, "message": "unknown column"} for c in unknown]
    errors += [{"field": c, "message": "column appears more than once"} for c in duplicated]
    if "company_name" not in named:
        errors.append({"field": "company_name", "message": "required column is missing"})
    if not errors:
        return
    parts = []
    if unknown:
        parts.append(
            "unknown columns: " + ", ".join(unknown) + " (known: " + ", ".join(IMPORT_COLUMNS) + ")"
        )
    if duplicated:
        parts.append("duplicated columns: " + ", ".join(duplicated))
    if "company_name" not in named:
        parts.append("the company_name column is missing")
    raise InvalidInput("; ".join(parts), errors=errors)


def validate(row: RawRow) -> tuple[ClientRow | None, list[dict[str, object]]]:
    """A valid row, or None and one problem per bad cell."""
    check = _RowCheck(row)
    if row.surplus:
        check.add(None, f"the row has {row.surplus} more cells than the header has columns")
    if not check.cell("company_name"):
        check.add("company_name", "required")
    company_name = check.text("company_name")
    industry = check.text("industry")
    notes = check.text("notes")
    external_id = check.text("external_id")
    website = _website(check)
    tags = _tags(check)
    status = _status(check)
    client_id = _client_id(check)
    contact = _contact(check)
    if check.problems or company_name is None:
        return None, check.problems
    return (
        ClientRow(
            number=row.number,
            company_name=company_name,
            industry=industry,
            website=website,
            tags=tags,
            status=status,
            notes=notes,
            external_id=external_id,
            client_id=client_id,
            contact=contact,
        ),
        [],
    )


def _website(check: _RowCheck) -> str | None:
    value = check.cell("website")
    if not value:
        return None
    # "acme.example" is what people type; the API stores full URLs.
    candidate = value if "://" in value else f"https://{value}"
    try:
        url = str(_URL.validate_python(candidate))
    except ValidationError:
        check.add("website", "not a valid http(s) URL")
        return None
    if len(url) > 500:
        check.add("website", "at most 500 characters")
        return None
    return url


def _tags(check: _RowCheck) -> list[str] | None:
    value = check.cell("tags")
    if not value:
        return None
    tags: list[str] = []
    for tag in (t.strip() for t in value.split(TAG_SEPARATOR)):
        if tag and tag not in tags:
            tags.append(tag)
    for tag in tags:
        if len(tag) > MAX_TAG_LENGTH:
            check.add("tags", f"tag '{tag[:20]}…' is longer than {MAX_TAG_LENGTH} characters")
    if len(tags) > MAX_TAGS:
        check.add("tags", f"at most {MAX_TAGS} tags (has {len(tags)})")
    return tags


def _status(check: _RowCheck) -> str | None:
    value = check.cell("status").lower()
    if not value:
        return None
    if value not in _STATUSES:
        check.add("status", f"must be one of {', '.join(_STATUSES)}")
        return None
    return value


def _client_id(check: _RowCheck) -> uuid.UUID | None:
    value = check.cell("id")
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        check.add("id", "not a client id (a UUID, as the export writes it)")
        return None


def _contact(check: _RowCheck) -> ContactRow | None:
    name = check.text("contact_name")
    email = None
    raw_email = check.cell("contact_email")
    if len(raw_email) > _LIMITS["contact_email"]:
        check.add("contact_email", f"at most {_LIMITS['contact_email']} characters")
    elif raw_email:
        try:
            email = validate_email(raw_email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            check.add("contact_email", f"not a valid email address ({exc})")
    phone = check.text("contact_phone")
    if phone is not None and not _PHONE.match(phone):
        check.add("contact_phone", "only digits, spaces and + ( ) . / - are allowed")
        phone = None
    if (raw_email or check.cell("contact_phone")) and not check.cell("contact_name"):
        check.add("contact_name", "required when contact_email or contact_phone is given")
    if name is None:
        return None
    return ContactRow(name=name, email=email, phone=phone)
