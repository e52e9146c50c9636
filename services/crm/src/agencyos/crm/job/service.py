"""Reading jobs. Services never commit: the edge owns the transaction."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.errors import NotFound
from agencyos.crm.job.repository import job_repository
from agencyos.crm.models import Job


class JobService:
    async def get(self, session: AsyncSession, job_id: uuid.UUID) -> Job:
        # Row-level security hides other agencies' jobs: theirs answer 404 like a missing one.
        job = await job_repository.get(session, job_id)
        if job is None:
            raise NotFound("no such job")
        return job


job_service = JobService()
