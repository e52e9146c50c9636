"""An SMTP outage loses nothing: a delivery worker process (`python -m agencyos.notification
worker`, on a database of its own) whose SMTP server is down retries, and once the server is
up every email goes out, once. The server is one this test controls (aiosmtpd on a port of
its own), never the shared mailpit."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agencyos.testing.infra import wait_for
from agencyos.testing.platform import REPO_ROOT, Platform
from agencyos.testing.smtp_sink import SmtpSink
from agencyos.testing.sql import fetch_rows

EMAILS = 6


@pytest.fixture
async def database(platform: Platform) -> AsyncIterator[str]:
    name = f"{platform.db_prefix}notification_outage_{uuid.uuid4().hex[:6]}"
    await platform.infra.recreate_database(name)
    yield name
    await platform.infra.drop_database(name)


def worker_env(platform: Platform, database: str, sink: SmtpSink) -> dict[str, str]:
    env = platform.environment()
    env |= {
        "AGENCYOS_NOTIFICATION_DATABASE_NAME": database,
        "AGENCYOS_NOTIFICATION_SMTP_PORT": str(sink.port),
        "AGENCYOS_NOTIFICATION_SMTP_TIMEOUT_SECONDS": "2",
        "AGENCYOS_NOTIFICATION_EMAIL_RETRY_SECONDS": "[0.2]",
        "AGENCYOS_NOTIFICATION_EMAIL_MAX_ATTEMPTS": "1000",
    }
    return env


async def run(args: list[str], env: dict[str, str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode(errors="replace")


async def queue_rows(platform: Platform, database: str, tenant: uuid.UUID) -> list[str]:
    recipients = [f"outage-{uuid.uuid4().hex[:10]}@example.com" for _ in range(EMAILS)]
    for to in recipients:
        await fetch_rows(
            platform.infra,
            database,
            "INSERT INTO email_deliveries (tenant_id, id, source_event_id, template, to_email, "
            "subject, html, text) VALUES ($1, $2, $3, 'notice', $4, 'Hello', '<p>Hi</p>', 'Hi') "
            "RETURNING id",
            tenant,
            uuid.uuid4(),
            uuid.uuid4(),
            to,
            tenant_id=tenant,
            owner=True,
        )
    return recipients


async def statuses(platform: Platform, database: str, tenant: uuid.UUID) -> list[str]:
    rows = await fetch_rows(
        platform.infra,
        database,
        "SELECT status FROM email_deliveries",
        tenant_id=tenant,
        owner=True,
    )
    return [r["status"] for r in rows]


class TestSmtpOutage:
    async def test_emails_queued_while_the_server_is_down_all_go_out_once_when_it_is_back(
        self, platform: Platform, database: str, tmp_path: Path
    ) -> None:
        sink = SmtpSink()  # not started yet: its port refuses connections
        env = worker_env(platform, database, sink)
        await run([sys.executable, "-m", "agencyos.notification", "migrate"], env)
        tenant = uuid.uuid4()
        recipients = await queue_rows(platform, database, tenant)
        log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "agencyos.notification", "worker"],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:

            async def tried_and_waiting() -> bool:
                rows = await fetch_rows(
                    platform.infra,
                    database,
                    "SELECT attempts, status FROM email_deliveries",
                    tenant_id=tenant,
                    owner=True,
                )
                return all(r["attempts"] >= 2 and r["status"] != "sent" for r in rows)

            await wait_for(tried_and_waiting, timeout=30)
            assert "failed" not in await statuses(platform, database, tenant)

            sink.start()

            async def all_sent() -> bool:
                return await statuses(platform, database, tenant) == ["sent"] * EMAILS

            await wait_for(all_sent, timeout=30)
        finally:
            worker.terminate()
            await asyncio.to_thread(worker.wait, 15)
            sink.stop()
            log.close()

        for to in recipients:
            assert len(sink.to(to)) == 1, (tmp_path / "worker.log").read_text()[-3000:]
