"""How an import ended, told to whoever started it: `crm.import.finished` when its rows ran
to the end (rows it could not take counted in `failed`), `crm.import.failed` when it was given
up. Written in the transaction that completes or fails the job, which only one run can commit
(see `agencyos.crm.job.repository`), so each job announces its end exactly once."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.events import ImportFailed, ImportFinished
from agencyos.common.outbox import publish
from agencyos.crm.job.repository import job_repository

SERVICE = "crm"


async def publish_outcome(session: AsyncSession, job_id: uuid.UUID) -> None:
    """The event for the job's end (the caller has just completed or failed it)."""
    job = await job_repository.outcome(session, job_id)
    subject = f"jobs/{job.id}"
    if job.status == "completed":
        await publish(
            session,
            ImportFinished(
                job_id=job.id,
                kind=job.kind,
                started_by=job.created_by,
                total=job.total,
                created=job.created,
                updated=job.updated,
                # every processed row was created, updated or skipped (a row with several
                # bad cells has several error entries but is one failed row)
                failed=max(job.processed - job.created - job.updated, 0),
            ),
            source_service=SERVICE,
            subject=subject,
        )
    elif job.status == "failed":
        await publish(
            session,
            ImportFailed(
                job_id=job.id,
                kind=job.kind,
                started_by=job.created_by,
                error=job.last_error or "the import failed",
            ),
            source_service=SERVICE,
            subject=subject,
        )
    else:  # pragma: no cover - the callers end the job first
        raise RuntimeError(f"job {job.id} has not ended ({job.status})")
