import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile, status
from fastapi.responses import StreamingResponse

from agencyos.common.errors import PayloadTooLarge
from agencyos.common.types import Name
from agencyos.common.web import TenantSession, service_context
from agencyos.crm.client.permissions import ClientsExport, ClientsWrite
from agencyos.crm.client.schemas import ClientSort, ClientStatus
from agencyos.crm.csv_import.rows import (
    EXPORT_COLUMNS,
    IMPORT_COLUMNS,
    MAX_FILE_BYTES,
    MAX_ROWS,
    MAX_TAGS,
)
from agencyos.crm.csv_import.schemas import ImportAccepted
from agencyos.crm.csv_import.service import ExportFilters, import_service

# Included before the clients router: `/import` and `/export` are not client ids.
router = APIRouter(prefix="/v1/clients", tags=["clients"])

_MB = MAX_FILE_BYTES // (1024 * 1024)
IMPORT_FORMAT = f"""
Upload a CSV file as multipart/form-data in the field `file`. The import runs in the
background: the answer is `202 {{"job_id"}}` with `Location: /v1/jobs/{{job_id}}`; poll that
for `status`, `processed`/`total`, `created`/`updated` and `errors`.

**Format.** UTF-8 (a byte-order mark is fine), comma-separated, quoted as usual for CSV, at most
{_MB} MB and {MAX_ROWS:,} data rows. The first row is the header; column names are
case-insensitive, in any order, and all but `company_name` are optional:

| column | content |
|---|---|
| `company_name` | required, at most 200 characters |
| `industry` | at most 100 characters |
| `website` | an http(s) URL; `acme.example` is read as `https://acme.example` |
| `tags` | separated by `;`, at most {MAX_TAGS} tags of at most 50 characters each |
| `status` | `lead`, `active`, `inactive` or `archived` (new clients default to `lead`) |
| `notes` | free text |
| `contact_name`, `contact_email`, `contact_phone` | a contact at the client |
| `external_id` | your own id for the client, at most 200 characters |

The columns the export adds (`id`, `owner_id`, `created_at`, `total_revenue_cents`) are accepted
too, so an export imports as it is: `id` matches the exported client, the others are ignored.
Cells an export protected against spreadsheet formulas (`'=…`) lose the leading `'`.

**Matching.** A row updates the client with its `id` (a re-imported export), else the client
with its `external_id`; a row without `external_id` updates the client with the same company
name (case-insensitive). Otherwise it creates a client, owned by the uploader (no owner when an
API key uploads). Empty cells never clear what an existing client has. A row with
`contact_name` adds that contact to the client, or updates the contact with the same email
(else the same name); a client's first contact becomes its primary contact.

**Errors.** A wrong file answers at once: 422 for a file that is not UTF-8 or not CSV, is empty,
lacks the `company_name` column or has unknown columns (each named in `errors`); 413 over
{_MB} MB. Every row is validated; a bad row is never imported and is listed in the job's
`errors` as `{{"row", "field", "message"}}` (`row` counts data rows from 1, without the header),
one entry per problem, while the good rows are imported.
"""

EXPORT_FORMAT = f"""
The clients as CSV (UTF-8, a header row), streamed, with the same filters and sort as
`GET /v1/clients` and no paging. Columns: {", ".join(f"`{c}`" for c in EXPORT_COLUMNS)};
`contact_*` are the primary contact's, `tags` are `;`-separated. Cells that a spreadsheet would
run as a formula (starting with `=`, `+`, `-`, `@`) get a leading `'`. The file can be imported
again as it is (`POST /v1/clients/import`); the import columns are {", ".join(IMPORT_COLUMNS)}.
"""


@router.post(
    "/import",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ImportAccepted,
    summary="Import clients from a CSV file (a background job)",
    description=IMPORT_FORMAT,
    responses={
        413: {"description": f"The file is larger than {_MB} MB"},
        422: {"description": "Not a UTF-8 CSV file, empty, or a wrong header"},
    },
)
async def import_clients(
    principal: ClientsWrite,
    session: TenantSession,
    response: Response,
    file: Annotated[UploadFile, File(description="The CSV file")],
) -> ImportAccepted:
    if file.size is not None and file.size > MAX_FILE_BYTES:
        raise PayloadTooLarge(f"the file is larger than {_MB} MB")
    raw = await file.read(MAX_FILE_BYTES + 1)
    job = await import_service.enqueue(session, principal, raw)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return ImportAccepted(job_id=job.id)


@router.get(
    "/export",
    response_class=StreamingResponse,
    summary="Export clients as CSV",
    description=EXPORT_FORMAT
    + "\n\nNeeds `clients.export` (managers, admins and owners by default; an owner may "
    "grant it to a member) as well as `clients.read`. Each export is recorded in the "
    "agency's audit log (who, with which filters).",
    responses={200: {"content": {"text/csv": {}}, "description": "The clients, as CSV"}},
)
async def export_clients(
    principal: ClientsExport,
    request: Request,
    session: TenantSession,
    q: Annotated[Name | None, Query(max_length=200)] = None,
    tag: Annotated[Name | None, Query(max_length=50)] = None,
    industry: Annotated[Name | None, Query(max_length=100)] = None,
    status_filter: Annotated[ClientStatus | None, Query(alias="status")] = None,
    owner_id: uuid.UUID | None = None,
    sort: ClientSort = ClientSort.CREATED_AT_DESC,
) -> StreamingResponse:
    principal.require("clients.read")
    filters = ExportFilters(
        q=q.strip() or None if q else None,
        tag=tag,
        industry=industry,
        status=status_filter.value if status_filter else None,
        owner_id=owner_id,
        sort=sort.value,
    )
    await import_service.record_export(session, principal, filters)
    db = service_context(request).database()
    filename = f"clients-{datetime.now(UTC).date().isoformat()}.csv"
    return StreamingResponse(
        import_service.export_csv(db, principal, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
