"""argon2 hashes run on a pool of `password_hash_workers` threads, so a burst of logins holds
at most that many hashes' memory (64 MiB each by default) at once, whatever the node's CPUs."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
import yaml

from agencyos.identity.passwords import hash_password, run_hashing, verify_password
from agencyos.identity.settings import IdentitySettings

CHART_VALUES = Path(__file__).resolve().parents[5] / "charts" / "agencyos" / "values.yaml"


def cheap(workers: int) -> IdentitySettings:
    return IdentitySettings(
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
        password_hash_parallelism=1,
        password_hash_workers=workers,
    )


class ConcurrencyProbe:
    """Counts how many calls run at the same moment (each holds its slot for a while)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def work(self) -> str:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.05)
        with self.lock:
            self.running -= 1
        return threading.current_thread().name


@pytest.mark.parametrize("workers", [1, 3])
async def test_no_more_hashes_run_at_once_than_the_workers_setting(workers: int) -> None:
    probe = ConcurrencyProbe()

    names = await asyncio.gather(*(run_hashing(cheap(workers), probe.work) for _ in range(12)))

    assert probe.most == workers
    assert all(name.startswith("argon2") for name in names)
    assert len(set(names)) == workers


async def test_hashing_and_verifying_still_answer_on_a_single_worker() -> None:
    settings = cheap(1)

    stored = await hash_password(settings, "correct horse battery staple")

    assert await verify_password(settings, stored, "correct horse battery staple")
    assert not await verify_password(settings, stored, "wrong")
    assert not await verify_password(settings, None, "anything")


def test_the_default_fits_the_charts_memory_limit() -> None:
    values = yaml.safe_load(CHART_VALUES.read_text())
    service = values["services"]["identity"].get("resources") or {}
    limit = (service.get("limits") or values["serviceDefaults"]["resources"]["limits"])["memory"]
    assert limit.endswith("Mi"), limit
    defaults = IdentitySettings.model_fields
    workers = defaults["password_hash_workers"].default
    memory_mib = defaults["password_hash_memory_kib"].default // 1024
    # concurrent hashes may take at most a quarter of identity's memory limit
    assert workers * memory_mib <= int(limit.removesuffix("Mi")) // 4
