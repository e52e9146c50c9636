"""Microbenchmark: what the per-request revocation check (agencyos.common.revocation) costs.

Runs `RevocationStore.check` (one MGET of the token's 3 keys) N times against the local Redis,
one at a time and with C concurrent callers on one event loop (how a gateway or service process
runs them), next to a bare PING on the same connection pool (the round-trip floor). Prints
wall-clock latency percentiles and the CPU each check costs this process. The namespace is
unique per run and its entries are deleted afterwards.

    .venv/bin/python bench/revocation_check.py [--checks 5000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

from agencyos.common.auth import Principal
from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.common.revocation import RevocationStore


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def measure(
    name: str, op: Callable[[], Awaitable[object]], checks: int, concurrency: int
) -> None:
    latencies: list[float] = []
    per_worker = checks // concurrency

    async def worker() -> None:
        for _ in range(per_worker):
            started = time.perf_counter()
            await op()
            latencies.append(time.perf_counter() - started)

    for _ in range(200):  # warm the pool and the script cache
        await op()
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    done = per_worker * concurrency
    print(
        f"{name:<28} c={concurrency:<3} {done:>6} ops  {done / wall:>8.0f} ops/s  "
        f"p50 {percentile(latencies, 0.50) * 1e3:6.3f} ms  "
        f"p95 {percentile(latencies, 0.95) * 1e3:6.3f} ms  "
        f"p99 {percentile(latencies, 0.99) * 1e3:6.3f} ms  "
        f"mean {statistics.fmean(latencies) * 1e3:6.3f} ms  "
        f"CPU {cpu / done * 1e6:6.1f} µs/op"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--redis-url", default=os.environ.get("AGENCYOS_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()

    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    store = RevocationStore(
        args.redis_url, namespace=namespace, service="bench", timeout_seconds=5.0
    )
    tenant = uuid.uuid4()
    principal = Principal(
        user_id=uuid.uuid4(),
        tenant_id=tenant,
        role=Role.MEMBER,
        permissions=DEFAULT_ROLE_PERMISSIONS[Role.MEMBER],
        token="",
        session_id=str(uuid.uuid4()),
        issued_at_ms=int(time.time() * 1000),
    )
    # Some entries exist (another user's not-before, another session), as in a live system.
    await store.revoke_user(tenant, uuid.uuid4(), ttl_seconds=120)
    await store.revoke_sessions([uuid.uuid4()], ttl_seconds=120)
    try:
        for concurrency in (1, args.concurrency):
            await measure("redis PING (floor)", store.client.ping, args.checks, concurrency)
            await measure(
                "revocation check (MGET x3)",
                lambda: store.check(principal, fail_open=False),
                args.checks,
                concurrency,
            )
    finally:
        keys = [k async for k in store.client.scan_iter(match=f"agencyos:rv:{namespace}:*")]
        if keys:
            await store.client.delete(*keys)
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
