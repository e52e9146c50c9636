"""The digest worker leads alone: of two instances one holds the lock, the other takes over
once it is given up; a tick runs only while leading."""

from __future__ import annotations

import asyncio
import random

import httpx

from agencyos.notification.digests.worker import DigestWorker
from agencyos.testing.inprocess import InProcess


async def worker(in_process: InProcess, lock_key: int) -> DigestWorker:
    service = await in_process.service("notification")
    return DigestWorker(
        service.ctx.database(),
        service.settings.database_url,
        hour=8,
        poll_seconds=0.05,
        lock_key=lock_key,
    )


class TestLeading:
    async def test_one_of_two_workers_leads_and_the_other_takes_over_when_it_stops(
        self, in_process: InProcess, notification: httpx.AsyncClient
    ) -> None:
        lock_key = random.randint(1, 2**62)
        first, second = await worker(in_process, lock_key), await worker(in_process, lock_key)
        try:
            assert await first.lead() is True
            assert await second.lead() is False
            assert await first.lead() is True

            await first.resign()

            assert await second.lead() is True
            assert await first.lead() is False
        finally:
            await first.close()
            await second.close()

    async def test_a_stopped_worker_gives_up_its_lock(
        self, in_process: InProcess, notification: httpx.AsyncClient
    ) -> None:
        lock_key = random.randint(1, 2**62)
        running, standby = await worker(in_process, lock_key), await worker(in_process, lock_key)
        try:
            task = asyncio.create_task(running.run())
            for _ in range(100):
                if running.leading:
                    break
                await asyncio.sleep(0.02)
            assert running.leading
            assert await standby.lead() is False

            running.stop()
            await asyncio.wait_for(task, 5)

            assert await standby.lead() is True
        finally:
            await standby.close()
