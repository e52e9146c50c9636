"""SQL for background jobs: a small queue in the `jobs` table, safe with many replicas.

A runner finds runnable jobs of every agency through a read-only policy (the job-runner flag),
then claims one under the job's own tenant with a conditional UPDATE. `attempts` is the claim's
token: each claim increments it, and every step of a run locks the job row and checks that the
token is still its own, so two runners never both commit work for one job. `updated_at` is the
heartbeat: a job left `running` by a dead process is claimable again once it is stale.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository
from agencyos.crm.models import Job

_STALE = "updated_at < now() - make_interval(secs => :stale_seconds)"


@dataclass(frozen=True)
class RunnableJob:
    tenant_id: uuid.UUID
    id: uuid.UUID
    status: str
    attempts: int


@dataclass(frozen=True)
class ClaimedJob:
    tenant_id: uuid.UUID
    id: uuid.UUID
    kind: str
    input: str | None
    total: int
    processed: int
    created_by: uuid.UUID
    # The claim's token: the run owns the job while `jobs.attempts` still equals it.
    attempt: int


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended, for its `crm.import.finished` / `crm.import.failed`."""

    id: uuid.UUID
    kind: str
    status: str
    created_by: uuid.UUID
    total: int
    processed: int
    created: int
    updated: int
    # the message of the job's last error entry (why a failed job failed)
    last_error: str | None


@dataclass(frozen=True)
class JobProgress:
    processed: int
    total: int
    errors: int  # entries in the job's error list


class JobRepository(Repository[Job]):
    model = Job

    async def runnable(
        self, session: AsyncSession, *, kind: str, stale_seconds: float, limit: int
    ) -> list[RunnableJob]:
        """Queued jobs, and running ones whose runner stopped beating, oldest first.
        Needs a transaction with the job-runner flag (it reads every agency's jobs)."""
        rows = (
            await session.execute(
                text(
                    "SELECT tenant_id, id, status, attempts FROM jobs "
                    "WHERE kind = :kind AND (status = 'queued' "
                    f"OR (status = 'running' AND {_STALE})) "
                    "ORDER BY created_at LIMIT :limit"
                ),
                {"kind": kind, "stale_seconds": stale_seconds, "limit": limit},
            )
        ).all()
        return [RunnableJob(r.tenant_id, r.id, r.status, r.attempts) for r in rows]

    async def claim(
        self, session: AsyncSession, job_id: uuid.UUID, *, stale_seconds: float, max_attempts: int
    ) -> ClaimedJob | None:
        """Take the job if it is still queued (or stale) and has attempts left; None when
        another runner was first. Runs under the job's tenant."""
        row = (
            await session.execute(
                text(
                    "UPDATE jobs SET status = 'running', attempts = attempts + 1, "
                    "started_at = coalesce(started_at, now()), updated_at = now() "
                    "WHERE id = :id AND attempts < :max_attempts AND (status = 'queued' "
                    f"OR (status = 'running' AND {_STALE})) "
                    "RETURNING tenant_id, id, kind, input, total, processed, created_by, attempts"
                ),
                {"id": job_id, "stale_seconds": stale_seconds, "max_attempts": max_attempts},
            )
        ).first()
        if row is None:
            return None
        return ClaimedJob(
            row.tenant_id,
            row.id,
            row.kind,
            row.input,
            row.total,
            row.processed,
            row.created_by,
            row.attempts,
        )

    async def give_up_if_exhausted(
        self, session: AsyncSession, job_id: uuid.UUID, *, stale_seconds: float, max_attempts: int
    ) -> bool:
        """Fail a job that has no attempts left and is not being run (queued, or stale)."""
        error = {
            "row": None,
            "field": None,
            "message": f"the job was interrupted {max_attempts} times and was given up",
        }
        result = await session.execute(
            text(
                "UPDATE jobs SET status = 'failed', finished_at = now(), updated_at = now(), "
                "input = NULL, errors = errors || CAST(:error AS jsonb) "
                "WHERE id = :id AND attempts >= :max_attempts AND (status = 'queued' "
                f"OR (status = 'running' AND {_STALE}))"
            ),
            {
                "id": job_id,
                "error": json.dumps([error]),
                "stale_seconds": stale_seconds,
                "max_attempts": max_attempts,
            },
        )
        return bool(getattr(result, "rowcount", 0))

    async def lock_owned(
        self, session: AsyncSession, job_id: uuid.UUID, attempt: int
    ) -> JobProgress | None:
        """Lock the job row for this step of the run; None if the run no longer owns it."""
        row = (
            await session.execute(
                text(
                    "SELECT processed, total, jsonb_array_length(errors) AS errors "
                    "FROM jobs WHERE id = :id "
                    "AND status = 'running' AND attempts = :attempt FOR UPDATE"
                ),
                {"id": job_id, "attempt": attempt},
            )
        ).first()
        return JobProgress(row.processed, row.total, row.errors) if row is not None else None

    async def record_progress(
        self,
        session: AsyncSession,
        job_id: uuid.UUID,
        *,
        processed: int,
        created: int,
        updated: int,
        errors: list[dict[str, Any]],
        finished: bool,
    ) -> None:
        """Add a step's counts and errors (the row is locked by `lock_owned`); the last step
        also completes the job and drops its input."""
        await session.execute(
            text(
                "UPDATE jobs SET processed = :processed, created = created + :created, "
                "updated = updated + :updated, errors = errors || CAST(:errors AS jsonb), "
                # the heartbeat: when the step ended, not when its transaction began
                "updated_at = clock_timestamp(), "
                "status = CASE WHEN :finished THEN 'completed' ELSE status END, "
                "finished_at = CASE WHEN :finished THEN now() ELSE finished_at END, "
                "input = CASE WHEN :finished THEN NULL ELSE input END "
                "WHERE id = :id"
            ),
            {
                "id": job_id,
                "processed": processed,
                "created": created,
                "updated": updated,
                "errors": json.dumps(errors),
                "finished": finished,
            },
        )

    async def release(self, session: AsyncSession, job_id: uuid.UUID, attempt: int) -> None:
        """Hand the job back to the queue (this process is stopping); a graceful stop does
        not use up an attempt."""
        await session.execute(
            text(
                "UPDATE jobs SET status = 'queued', attempts = attempts - 1, updated_at = now() "
                "WHERE id = :id AND status = 'running' AND attempts = :attempt"
            ),
            {"id": job_id, "attempt": attempt},
        )

    async def retry_or_fail(
        self,
        session: AsyncSession,
        job_id: uuid.UUID,
        attempt: int,
        *,
        max_attempts: int,
        message: str,
    ) -> str | None:
        """After a run crashed: queue the job again while it has attempts left, else fail it
        with `message`. Answers the new status (None if the run no longer owned the job)."""
        error = {"row": None, "field": None, "message": message}
        row = (
            await session.execute(
                text(
                    "UPDATE jobs SET updated_at = now(), "
                    "status = CASE WHEN attempts < :max_attempts THEN 'queued' ELSE 'failed' END, "
                    "finished_at = CASE WHEN attempts < :max_attempts THEN NULL ELSE now() END, "
                    "input = CASE WHEN attempts < :max_attempts THEN input ELSE NULL END, "
                    "errors = CASE WHEN attempts < :max_attempts THEN errors "
                    "ELSE errors || CAST(:error AS jsonb) END "
                    "WHERE id = :id AND status = 'running' AND attempts = :attempt "
                    "RETURNING status"
                ),
                {
                    "id": job_id,
                    "attempt": attempt,
                    "max_attempts": max_attempts,
                    "error": json.dumps([error]),
                },
            )
        ).first()
        return str(row.status) if row is not None else None

    async def outcome(self, session: AsyncSession, job_id: uuid.UUID) -> JobOutcome:
        """The job as it ended (read in the transaction that ended it)."""
        row = (
            await session.execute(
                text(
                    "SELECT id, kind, status, created_by, total, processed, created, updated, "
                    "errors -> -1 ->> 'message' AS last_error FROM jobs WHERE id = :id"
                ),
                {"id": job_id},
            )
        ).one()
        return JobOutcome(
            row.id,
            row.kind,
            row.status,
            row.created_by,
            row.total,
            row.processed,
            row.created,
            row.updated,
            row.last_error,
        )


job_repository = JobRepository()
