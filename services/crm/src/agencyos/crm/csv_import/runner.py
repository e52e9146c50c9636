"""The import runner: a background worker in every crm process (`worker` and `all` modes).

It polls for queued import jobs of every agency, claims one under the job's tenant, and imports
its rows in batches: each batch's clients, contacts, events and the job's progress commit in
one transaction that also holds the job row's lock, so `GET /v1/jobs/{id}` sees `processed`
move, a crash loses at most the batch in hand, and two replicas never both import one batch
(see `agencyos.crm.job.repository`). A job whose runner died is claimed again once its
heartbeat is stale, at most `max_attempts` times in all; a stopping process hands its jobs back.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from typing import Any

from sqlalchemy.exc import DBAPIError

from agencyos.common.db import Database
from agencyos.common.logs import get_logger
from agencyos.common.tracing import tracer
from agencyos.common.web import ServiceContext
from agencyos.crm.csv_import.outcome import publish_outcome
from agencyos.crm.csv_import.rows import RawRow, parse
from agencyos.crm.csv_import.service import (
    JOB_KIND,
    ImportInput,
    import_service,
    is_transient_conflict,
)
from agencyos.crm.job.repository import ClaimedJob, job_repository
from agencyos.crm.models.job import JOB_RUNNER_SETTING

log = get_logger(__name__)

# Beyond this, rejected rows are still skipped but no longer listed one by one.
MAX_LISTED_ERRORS = 1000
# A batch that keeps colliding with concurrent imports is given up (the job retries later).
BATCH_TRIES = 5


class ImportRunner:
    def __init__(
        self,
        db: Database,
        *,
        poll_seconds: float = 0.5,
        batch_size: int = 250,
        concurrency: int = 2,
        stale_after_seconds: float = 60.0,
        max_attempts: int = 3,
    ) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.stale_after_seconds = stale_after_seconds
        self.max_attempts = max_attempts
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        log.info("import runner started", concurrency=self.concurrency)
        backoff = self.poll_seconds
        try:
            while not self._stopping.is_set():
                claimed = 0
                free = self.concurrency - len(self._running)
                if free > 0:
                    try:
                        claimed = await self.claim_and_start(free)
                        backoff = self.poll_seconds
                    except Exception:
                        log.exception("import runner cannot claim jobs")
                        backoff = min(backoff * 2, 10.0)
                if claimed and claimed == free:
                    continue  # more may be waiting; a finishing job wakes the loop
                await self._sleep(backoff)
        finally:
            # Let the jobs in hand end their current batch and go back to the queue.
            if self._running:
                await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def claim_and_start(self, free: int) -> int:
        """Claim up to `free` runnable jobs and start running them; answers how many."""
        async with self.db.transaction(None, settings={JOB_RUNNER_SETTING: "on"}) as session:
            candidates = await job_repository.runnable(
                session, kind=JOB_KIND, stale_seconds=self.stale_after_seconds, limit=free * 4
            )
        started = 0
        for candidate in candidates:
            if started == free or self._stopping.is_set():
                break
            if candidate.id in self._running:
                continue
            async with self.db.transaction(candidate.tenant_id) as session:
                if candidate.attempts >= self.max_attempts:
                    if await job_repository.give_up_if_exhausted(
                        session,
                        candidate.id,
                        stale_seconds=self.stale_after_seconds,
                        max_attempts=self.max_attempts,
                    ):
                        await publish_outcome(session, candidate.id)
                        log.warning("import job given up", job_id=str(candidate.id))
                    continue
                job = await job_repository.claim(
                    session,
                    candidate.id,
                    stale_seconds=self.stale_after_seconds,
                    max_attempts=self.max_attempts,
                )
            if job is None:
                continue  # another runner was first
            task = asyncio.create_task(self._run_job(job), name=f"import:{job.id}")
            self._running[job.id] = task
            task.add_done_callback(functools.partial(self._finished, job.id))
            started += 1
        return started

    def _finished(self, job_id: uuid.UUID, _: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)
        self._wake.set()

    async def _run_job(self, job: ClaimedJob) -> None:
        context: dict[str, Any] = {"job_id": str(job.id), "tenant_id": str(job.tenant_id)}
        with tracer().start_as_current_span("crm.import_job") as span:
            span.set_attribute("agencyos.job_id", str(job.id))
            span.set_attribute("agencyos.tenant_id", str(job.tenant_id))
            try:
                await self._import(job, context)
            except Exception as exc:
                log.exception("import job crashed", attempt=job.attempt, **context)
                await self._after_crash(job, exc, context)

    async def _import(self, job: ClaimedJob, context: dict[str, Any]) -> None:
        if job.input is None:
            raise RuntimeError("the job has no input")
        params = ImportInput.load(job.input)
        rows = (await asyncio.to_thread(parse, params.csv_text)).rows
        log.info("import job started", total=len(rows), resume_at=job.processed, **context)
        while True:
            if self._stopping.is_set():
                async with self.db.transaction(job.tenant_id) as session:
                    await job_repository.release(session, job.id, job.attempt)
                log.info("import job handed back (stopping)", **context)
                return
            finished = await self._import_batch(job, params.owner_id, rows, context)
            if finished is None:
                log.warning("import job taken over by another runner", **context)
                return
            if finished:
                log.info("import job completed", total=len(rows), **context)
                return

    async def _import_batch(
        self,
        job: ClaimedJob,
        owner_id: uuid.UUID | None,
        rows: list[RawRow],
        context: dict[str, Any],
    ) -> bool | None:
        """Import the next batch and record the progress in one transaction; answers whether
        the job is finished (None: this run no longer owns the job). A batch that collided
        with a concurrent import of the same clients is rolled back and run again."""
        for attempt in range(1, BATCH_TRIES + 1):
            try:
                async with self.db.transaction(job.tenant_id, user_id=job.created_by) as session:
                    progress = await job_repository.lock_owned(session, job.id, job.attempt)
                    if progress is None:
                        return None
                    start = progress.processed
                    batch = rows[start : start + self.batch_size]
                    outcome = await import_service.import_rows(
                        session, job.tenant_id, batch, owner_id=owner_id, created_by=job.created_by
                    )
                    processed = start + len(batch)
                    finished = processed >= len(rows)
                    await job_repository.record_progress(
                        session,
                        job.id,
                        processed=processed,
                        created=outcome.created,
                        updated=outcome.updated,
                        errors=_listable(outcome.errors, progress.errors),
                        finished=finished,
                    )
                    if finished:
                        await publish_outcome(session, job.id)
                return finished
            except DBAPIError as exc:
                if attempt == BATCH_TRIES or not is_transient_conflict(exc):
                    raise
                log.info("import batch met a concurrent change; running it again", **context)
                await asyncio.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    async def _after_crash(self, job: ClaimedJob, exc: Exception, context: dict[str, Any]) -> None:
        message = (
            f"the import stopped on an unexpected error ({type(exc).__name__}) after "
            f"{self.max_attempts} attempts; the rows counted in `processed` were imported"
        )
        try:
            async with self.db.transaction(job.tenant_id) as session:
                status = await job_repository.retry_or_fail(
                    session, job.id, job.attempt, max_attempts=self.max_attempts, message=message
                )
                if status == "failed":
                    await publish_outcome(session, job.id)
            log.info("import job after crash", status=status, **context)
        except Exception:
            # The heartbeat goes stale and another claim retries it.
            log.exception("import job state could not be saved after a crash", **context)

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        except TimeoutError:
            pass


def _listable(errors: list[dict[str, Any]], already_listed: int) -> list[dict[str, Any]]:
    """The errors to add to the job's list, capped at `MAX_LISTED_ERRORS` with one note."""
    if already_listed > MAX_LISTED_ERRORS:
        return []  # the note is there already
    room = MAX_LISTED_ERRORS - already_listed
    if len(errors) <= room:
        return errors
    note = {
        "row": None,
        "field": None,
        "message": f"more than {MAX_LISTED_ERRORS} problems: the rest are not listed "
        "(those rows were skipped too)",
    }
    return [*errors[:room], note]


def import_runner(ctx: ServiceContext) -> ImportRunner:
    return ImportRunner(ctx.database())
