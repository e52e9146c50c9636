"""CSV import notices through the whole platform: a client import uploaded through CRM's API
tells whoever started it (only them) when it finished, with a link to the job. An import
fails only after repeated unexpected crashes, which no request can cause: `crm.import.failed`
is written to crm's topic as crm writes it, and its email and link are checked."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from agencyos.common.events import ImportFailed, build_event
from agencyos.testing.csv_imports import csv_file
from agencyos.testing.factories import AgencySession, add_member
from agencyos.testing.inbox import link_to, notices_about, one_email, open_link, wait_for_notice
from agencyos.testing.kafka import TopicWriter, topic_writer
from agencyos.testing.mailpit import Mailpit
from agencyos.testing.platform import Platform

pytestmark = pytest.mark.e2e


@pytest.fixture
async def mailpit(platform: Platform) -> AsyncIterator[Mailpit]:
    async with Mailpit(platform.mailpit_url) as client:
        yield client


@pytest.fixture
async def writer(platform: Platform) -> AsyncIterator[TopicWriter]:
    async with topic_writer(platform.infra.kafka_bootstrap) as started:
        yield started


async def start_import(gateway: httpx.AsyncClient, who: AgencySession, content: bytes) -> str:
    response = await gateway.post(
        "/v1/clients/import",
        files={"file": ("clients.csv", content, "text/csv")},
        headers=who.headers,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def rows(good: int) -> bytes:
    """`good` valid rows and one without a company name."""
    made = [{"company_name": f"Imported {uuid.uuid4().hex[:8]}"} for _ in range(good)]
    return csv_file(
        [*made, {"company_name": "", "industry": "Nameless"}], ["company_name", "industry"]
    )


def of_job(job_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda n: n["data"]["job_id"] == job_id


class TestAFinishedImport:
    async def test_tells_whoever_started_it_and_links_to_the_job(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        mailpit: Mailpit,
        agency: AgencySession,
    ) -> None:
        starter = await add_member(platform, gateway, agency, "manager")
        colleague = await add_member(platform, gateway, agency, "manager")

        job_id = await start_import(gateway, starter, rows(good=2))

        notice = await wait_for_notice(gateway, starter, "import.finished", of_job(job_id))
        assert "import finished" in notice["title"]
        assert notice["body"] == "3 rows: 2 created, 0 updated, 1 failed."
        assert notice["link"] == f"/v1/jobs/{job_id}"
        job = await open_link(gateway, notice["link"], starter)
        assert job.status_code == 200, job.text
        assert (job.json()["status"], job.json()["created"]) == ("completed", 2)
        # the colleague's later import proves the first was handled; neither heard of the
        # other's, and import.finished emails nobody by default
        theirs = await start_import(gateway, colleague, rows(good=1))
        await wait_for_notice(gateway, colleague, "import.finished", of_job(theirs))
        assert await notices_about(gateway, colleague, "import.finished", "job_id", job_id) == []
        assert await notices_about(gateway, agency, "import.finished", "job_id", job_id) == []
        assert await notices_about(gateway, starter, "import.finished", "job_id", theirs) == []
        assert [m for m in await mailpit.messages_to(starter.email) if "import" in m.subject] == []


class TestAFailedImport:
    async def test_tells_whoever_started_it_in_the_app_and_by_email(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        mailpit: Mailpit,
        writer: TopicWriter,
        agency: AgencySession,
    ) -> None:
        starter = await add_member(platform, gateway, agency, "manager")
        colleague = await add_member(platform, gateway, agency, "manager")
        job_id = await start_import(gateway, starter, rows(good=1))
        failed = build_event(
            ImportFailed(
                job_id=uuid.UUID(job_id),
                kind="client_import",
                started_by=starter.user_id,
                error="the import stopped on an unexpected error (OSError) after 3 attempts",
            ),
            tenant_id=agency.agency_id,
            source_service="crm",
            subject=f"jobs/{job_id}",
        )

        await writer.send_event(f"{platform.topic_prefix}crm.events", failed)

        notice = await wait_for_notice(gateway, starter, "import.failed", of_job(job_id))
        assert "import failed" in notice["title"]
        assert notice["body"].startswith("the import stopped on an unexpected error")
        message = await one_email(mailpit, starter.email, notice["title"])
        assert message.to == [starter.email]
        assert "unexpected error (OSError)" in message.text
        job = await open_link(gateway, link_to(platform, message, f"/v1/jobs/{job_id}"), starter)
        assert job.status_code == 200, job.text
        assert job.json()["id"] == job_id
        assert await notices_about(gateway, colleague, "import.failed", "job_id", job_id) == []
        assert await notices_about(gateway, agency, "import.failed", "job_id", job_id) == []
