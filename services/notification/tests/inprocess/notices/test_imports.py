"""CSV import notices tell whoever started the import; an import started by an API key (not
a person) tells nobody."""

from __future__ import annotations

import uuid

from agencyos.common.events import CloudEvent, ImportFailed, ImportFinished
from agencyos.testing.inprocess import InProcess
from agencyos.testing.notices import Cast, deliver, emailed, event_of, notices_of, told


def finished(people: Cast, started_by: uuid.UUID) -> CloudEvent:
    return event_of(
        ImportFinished(
            job_id=uuid.uuid4(),
            kind="client_import",
            started_by=started_by,
            total=10,
            created=7,
            updated=2,
            failed=1,
        ),
        people.agency.id,
    )


class TestImportNotices:
    async def test_a_finished_import_tells_who_started_it(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = finished(people, people.manager.user_id)

        await deliver(in_process, event)

        [note] = await notices_of(in_process, people.manager, "import.finished")
        assert note["title"] == "Your client import finished"
        assert note["body"] == "10 rows: 7 created, 2 updated, 1 failed."
        assert note["link"] == f"/v1/jobs/{event.data['job_id']}"
        assert people.names(await told(in_process, event, "import.finished")) == {"manager"}

    async def test_a_failed_import_tells_who_started_it_by_email_too(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = event_of(
            ImportFailed(
                job_id=uuid.uuid4(),
                kind="client_import",
                started_by=people.manager.user_id,
                error="The file is not CSV",
            ),
            people.agency.id,
        )

        await deliver(in_process, event)

        assert people.names(await told(in_process, event, "import.failed")) == {"manager"}
        assert [e["user_id"] for e in await emailed(in_process, event)] == [people.manager.user_id]

    async def test_an_import_started_by_an_api_key_tells_nobody(
        self, in_process: InProcess, people: Cast
    ) -> None:
        api_key_id = uuid.uuid4()
        event = finished(people, api_key_id)

        await deliver(in_process, event)

        assert await told(in_process, event, "import.finished") == set()
        assert await emailed(in_process, event) == []
