"""Notices about CSV imports, to whoever started one (an import started by an API key tells
nobody: keys are not people)."""

from __future__ import annotations

import uuid

from agencyos.common.events import ImportFailed, ImportFinished
from agencyos.notification.notices.builders import Builder
from agencyos.notification.notices.notice import Notice
from agencyos.notification.notices.telling import Telling
from agencyos.notification.recipients.rules import is_staff


def what(job_kind: str) -> str:
    """The job's kind as people say it: `client_import` is a "client import"."""
    return job_kind.removesuffix("_import").replace("_", " ") + " import"


def _notice(kind: str, job_id: uuid.UUID, title: str, body: str) -> Notice:
    return Notice(
        kind=kind,
        title=title,
        body=body,
        link=f"/v1/jobs/{job_id}",
        link_label="See the import",
        subject=f"jobs/{job_id}",
        data={"job_id": str(job_id)},
    )


async def import_finished(telling: Telling) -> None:
    p = telling.event.payload(ImportFinished)
    notice = _notice(
        "import.finished",
        p.job_id,
        f"Your {what(p.kind)} finished",
        f"{p.total} rows: {p.created} created, {p.updated} updated, {p.failed} failed.",
    )
    starters = await telling.named(p.started_by)
    await telling.tell(notice, [s for s in starters if is_staff(s)])


async def import_failed(telling: Telling) -> None:
    p = telling.event.payload(ImportFailed)
    notice = _notice("import.failed", p.job_id, f"Your {what(p.kind)} failed", p.error)
    starters = await telling.named(p.started_by)
    await telling.tell(notice, [s for s in starters if is_staff(s)])


BUILDERS: dict[str, Builder] = {
    ImportFinished.event_type: import_finished,
    ImportFailed.event_type: import_failed,
}
