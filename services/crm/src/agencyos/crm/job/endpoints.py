import uuid

from fastapi import APIRouter

from agencyos.common.web import TenantSession
from agencyos.crm.client.permissions import ClientsRead
from agencyos.crm.job.schemas import Job
from agencyos.crm.job.service import job_service

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get(
    "/{job_id}",
    response_model=Job,
    summary="A background job's status and progress",
    description=(
        "Poll this while a job runs: `status` goes `queued` → `running` → `completed` (or "
        "`failed`), `processed` counts the rows handled so far out of `total`, `created` and "
        "`updated` count clients, and `errors` lists every rejected row's problems as "
        '`{"row", "field", "message"}`.'
    ),
    responses={404: {"description": "No such job in your agency"}},
)
async def get_job(job_id: uuid.UUID, principal: ClientsRead, session: TenantSession) -> Job:
    return Job.model_validate(await job_service.get(session, job_id))
