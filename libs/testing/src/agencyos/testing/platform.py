"""The whole platform as real processes for a test run: every service (`python -m
agencyos.<svc> all`) and the gateway, on free ports, with their own freshly migrated
databases and their own Kafka topics (a per-run topic prefix)."""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from agencyos.common.services import EXTRA_TOPICS, SERVICES
from agencyos.testing.infra import Infra, free_port
from agencyos.testing.mailpit import mailpit_url, smtp_host, smtp_port
from agencyos.testing.s3 import ensure_test_bucket, fresh_bucket, s3_environment
from agencyos.testing.verification import register_identity_database

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url() -> str:
    """The local stack's Redis (`AGENCYOS_REDIS_URL` when set)."""
    return os.environ.get("AGENCYOS_REDIS_URL", DEFAULT_REDIS_URL)


DEFAULT_STRIPE_API = "http://127.0.0.1:12111"
# The suite signs up and logs in hundreds of agencies from 127.0.0.1 through one gateway;
# its limits are on (the code path is exercised) but out of reach. Rate-limit tests start
# their own gateways with strict limits.
GENEROUS_RATE_LIMIT = "100000"
REPO_ROOT = Path(__file__).resolve().parents[5]
# The local hour notification's daily and weekly digests are due from.
DIGEST_HOUR = 22


@dataclass
class Process:
    name: str
    http_port: int
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class Platform:
    infra: Infra
    log_dir: Path
    topic_prefix: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:8]}.")
    # Unique per run, so two test runs (or a test run and a benchmark) on one PostgreSQL never
    # drop each other's databases; `stop()` drops them unless AGENCYOS_TEST_KEEP_DATABASES=1.
    db_prefix: str = field(default_factory=lambda: f"agencyos_test_{uuid.uuid4().hex[:6]}_")
    # Per run too, so concurrent runs sharing one Redis never share rate-limit counters.
    rate_limit_namespace: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:8]}")
    # And revoked tokens: one namespace for identity (which writes), the services and the
    # gateway (which check), never shared with another run.
    revocation_namespace: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:8]}")
    redis_url: str = field(default_factory=lambda: redis_url())
    # Stripe is stripe-mock (started by the local stack); the webhook secret is per run, and
    # tests sign their webhook payloads with it.
    stripe_api_base: str = field(
        default_factory=lambda: os.environ.get("AGENCYOS_STRIPE_API_BASE", DEFAULT_STRIPE_API)
    )
    stripe_webhook_secret: str = field(default_factory=lambda: f"whsec_{uuid.uuid4().hex}")
    # One service credential per run, the same for every service (tests acting as a service,
    # the automation engine's peers say, use it too).
    service_credential: str = field(default_factory=lambda: f"svc_{uuid.uuid4().hex}")
    # identity's key-encryption key (signing keys sealed at rest), per run like the credential.
    key_encryption_key: str = field(default_factory=lambda: f"kek_{uuid.uuid4().hex}")
    # Email goes to mailpit (started by the local stack); tests read it through its API.
    smtp_host: str = field(default_factory=smtp_host)
    smtp_port: int = field(default_factory=smtp_port)
    mailpit_url: str = field(default_factory=mailpit_url)
    # Files go to the local S3 server (versitygw), into a bucket of this platform's own.
    s3_bucket: str = field(default_factory=fresh_bucket)
    processes: dict[str, Process] = field(default_factory=dict)
    grpc_ports: dict[str, int] = field(default_factory=dict)
    # The gateway serves Prometheus metrics on a port of its own, never the public one.
    gateway_metrics_port: int = 0
    # Where every process exports its spans (an OpenTelemetry Collector: otelcol.Collector);
    # none, no export, as in most tests.
    otlp_endpoint: str = ""

    def database(self, service: str) -> str:
        return f"{self.db_prefix}{service}"

    @property
    def gateway_url(self) -> str:
        return self.processes["gateway"].url

    @property
    def gateway_metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_metrics_port}"

    def url(self, service: str) -> str:
        return self.processes[service].url

    def grpc_target(self, service: str) -> str:
        return f"127.0.0.1:{self.grpc_ports[service]}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENCYOS_")}
        env.update(
            {
                "AGENCYOS_POSTGRES_HOST": self.infra.pg_host,
                "AGENCYOS_POSTGRES_PORT": str(self.infra.pg_port),
                "AGENCYOS_KAFKA_BOOTSTRAP": self.infra.kafka_bootstrap,
                "AGENCYOS_KAFKA_TOPIC_PREFIX": self.topic_prefix,
                "AGENCYOS_JWKS_URL": f"{self.url('identity')}/.well-known/jwks.json",
                "AGENCYOS_LOG_JSON": "true",
                "AGENCYOS_RELAY_POLL_SECONDS": "0.05",
                "AGENCYOS_CONSUMER_RETRY_BACKOFF_SECONDS": "0.05",
                "AGENCYOS_SHUTDOWN_GRACE_SECONDS": "3",
                "AGENCYOS_GATEWAY_HTTP_PORT": str(self.processes["gateway"].http_port),
                "AGENCYOS_GATEWAY_METRICS_PORT": str(self.gateway_metrics_port),
                "AGENCYOS_REDIS_URL": self.redis_url,
                "AGENCYOS_GATEWAY_RATE_LIMIT_NAMESPACE": self.rate_limit_namespace,
                "AGENCYOS_REVOCATION_NAMESPACE": self.revocation_namespace,
                # The portal's page sessions in Redis, apart per run like revocations.
                "AGENCYOS_PORTAL_WEB_SESSION_NAMESPACE": self.revocation_namespace,
                # Writes fail closed when Redis cannot answer a revocation check in time, and
                # the next second's checks are not asked at all: on two cores running the whole
                # suite, fifty concurrent writes once waited past the 0.5 s default for one.
                "AGENCYOS_REVOCATION_REDIS_TIMEOUT_SECONDS": "2.0",
                "AGENCYOS_SERVICE_CREDENTIAL": self.service_credential,
                "AGENCYOS_IDENTITY_KEY_ENCRYPTION_KEY": self.key_encryption_key,
                # Tests reach the gateway from 127.0.0.1 and may say which address they call
                # from (X-Forwarded-For), as a load balancer would (IP allowlists, new-device
                # notices); the gateway passes its answer on in x-agencyos-client-ip.
                "AGENCYOS_GATEWAY_TRUSTED_PROXIES": '["127.0.0.1/32"]',
                "AGENCYOS_BILLING_STRIPE_API_BASE": self.stripe_api_base,
                "AGENCYOS_BILLING_STRIPE_WEBHOOK_SECRET": self.stripe_webhook_secret,
                "AGENCYOS_BILLING_SCHEDULER_INTERVAL_SECONDS": "1",
                "AGENCYOS_NOTIFICATION_SMTP_HOST": self.smtp_host,
                "AGENCYOS_NOTIFICATION_SMTP_PORT": str(self.smtp_port),
                # Every emailed link (notification's, billing's invoice document link) goes through
                # this run's gateway.
                "AGENCYOS_PUBLIC_BASE_URL": self.gateway_url,
                # retries in a test's time: a few quick ones, then every two seconds
                "AGENCYOS_NOTIFICATION_EMAIL_POLL_SECONDS": "0.1",
                "AGENCYOS_NOTIFICATION_EMAIL_RETRY_SECONDS": "[0.2, 0.5, 1, 2]",
                "AGENCYOS_NOTIFICATION_EMAIL_MAX_ATTEMPTS": "30",
                "AGENCYOS_NOTIFICATION_SMTP_TIMEOUT_SECONDS": "5",
                # Digests late in the local day, checked every second: a test moves its
                # agency's time zone past this hour to make its digest due now, while agencies
                # left in UTC get theirs only in the day's last two hours.
                "AGENCYOS_NOTIFICATION_DIGEST_HOUR": str(DIGEST_HOUR),
                "AGENCYOS_NOTIFICATION_DIGEST_POLL_SECONDS": "1",
                # the feed recorder: short waits between retries of a failing batch
                "AGENCYOS_NOTIFICATION_FEED_RETRY_BACKOFF_SECONDS": "0.05",
                "AGENCYOS_NOTIFICATION_FEED_POLL_SECONDS": "0.05",
                # Webhooks: plain http and the test receiver's address (127.0.0.2) only, so
                # 127.0.0.1, `localhost` and every other private address stay refused as in
                # production; retries compressed from ~52 hours to a few seconds (9 attempts).
                "AGENCYOS_NOTIFICATION_WEBHOOK_ALLOW_HTTP": "true",
                "AGENCYOS_NOTIFICATION_WEBHOOK_ALLOWED_PRIVATE_NETWORKS": '["127.0.0.2/32"]',
                "AGENCYOS_NOTIFICATION_WEBHOOK_RETRY_SECONDS": "[0.2,0.3,0.4,0.5,0.6,0.8,1,1]",
                "AGENCYOS_NOTIFICATION_WEBHOOK_POLL_SECONDS": "0.1",
                "AGENCYOS_NOTIFICATION_WEBHOOK_TIMEOUT_SECONDS": "5",
                # A live stream may fall 50 events behind before it is dropped as too slow
                # (1,000 in production): a test stalls a client with a few MB, not 60.
                "AGENCYOS_NOTIFICATION_STREAM_QUEUE_SIZE": "50",
                # argon2id at its floor: a test run signs up thousands of accounts, and the
                # production cost (64 MiB, 3 passes) is most of each signup's time there.
                "AGENCYOS_IDENTITY_PASSWORD_HASH_TIME_COST": "1",
                "AGENCYOS_IDENTITY_PASSWORD_HASH_MEMORY_KIB": "1024",
                "AGENCYOS_IDENTITY_PASSWORD_HASH_PARALLELISM": "1",
                # The sign-in lockout as in production (5 failures), but a 2 s first window,
                # long enough for a test to watch it hold on a loaded machine.
                "AGENCYOS_IDENTITY_LOGIN_LOCKOUT_BASE_SECONDS": "2",
                "AGENCYOS_IDENTITY_LOGIN_LOCKOUT_NAMESPACE": self.revocation_namespace,
                # Single sign-on: the local OIDC provider (agencyos.testing.oidc) over plain
                # http on loopback; every other private address stays refused.
                "AGENCYOS_IDENTITY_SSO_ALLOW_HTTP": "true",
                "AGENCYOS_IDENTITY_SSO_ALLOWED_PRIVATE_NETWORKS": '["127.0.0.1/32"]',
            }
        )
        for policy in ("AUTH", "API_USER", "API_KEY"):
            env[f"AGENCYOS_GATEWAY_RATE_LIMIT_{policy}_LIMIT"] = GENEROUS_RATE_LIMIT
        for service in SERVICES:
            key = service.upper()
            env[f"AGENCYOS_{key}_HTTP_PORT"] = str(self.processes[service].http_port)
            env[f"AGENCYOS_{key}_GRPC_PORT"] = str(self.grpc_ports[service])
            env[f"AGENCYOS_{key}_GRPC_TARGET"] = self.grpc_target(service)
            env[f"AGENCYOS_{key}_DATABASE_NAME"] = self.database(service)
            env[f"AGENCYOS_GATEWAY_{key}_URL"] = self.url(service)
        env.update(s3_environment(self.s3_bucket))
        if self.otlp_endpoint:
            env["AGENCYOS_OTLP_ENDPOINT"] = self.otlp_endpoint
            env["AGENCYOS_TRACE_SAMPLE_RATIO"] = "1"
            # The SDK's batch exporter sends every 200 ms instead of every 5 s.
            env["OTEL_BSP_SCHEDULE_DELAY"] = "200"
        return env

    async def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in (*SERVICES, "gateway"):
            self.processes[name] = Process(name, free_port(), self.log_dir / f"{name}.log")
        self.grpc_ports = {s: free_port() for s in SERVICES}
        self.gateway_metrics_port = free_port()
        env = self.environment()
        await self.infra.create_topics(
            [f"{self.topic_prefix}{s}.events" for s in SERVICES]
            + [f"{self.topic_prefix}{s}.events.dlq" for s in SERVICES]
            + [f"{self.topic_prefix}{t}" for t in EXTRA_TOPICS],
            partitions=3,
        )
        await ensure_test_bucket(self.s3_bucket)
        for service in SERVICES:
            await self.infra.recreate_database(self.database(service))
        await asyncio.gather(*(self._migrate(s, env) for s in SERVICES))
        for name in self.processes:
            self._spawn(name, env)
        await self._wait_healthy()
        for base_url in (self.gateway_url, self.url("identity")):
            register_identity_database(base_url, self.infra, self.database("identity"))

    def _spawn(self, name: str, env: dict[str, str], *, append: bool = False) -> None:
        process = self.processes[name]
        args = [sys.executable, "-m", f"agencyos.{name}"] + ([] if name == "gateway" else ["all"])
        process.popen = subprocess.Popen(
            args,
            env=env,
            cwd=REPO_ROOT,
            stdout=process.log_path.open("ab" if append else "wb"),
            stderr=subprocess.STDOUT,
        )

    async def stop_process(self, name: str, timeout: float = 15.0) -> None:
        """Stop one process as an orchestrator would (SIGTERM, then SIGKILL after `timeout`)."""
        popen = self.processes[name].popen
        if popen is None or popen.poll() is not None:
            return
        popen.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(popen.wait, timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            await asyncio.to_thread(popen.wait)

    async def start_process(self, name: str) -> None:
        """Start a stopped process again on its ports (its log goes on); back when healthy."""
        self._spawn(name, self.environment(), append=True)
        await self._wait_healthy()

    async def restart(self, name: str) -> None:
        """`name` stopped and started again, e.g. to show nothing is lost across a restart."""
        await self.stop_process(name)
        await self.start_process(name)

    async def consumer_lag(self) -> dict[str, int]:
        """Per consumer group of this platform, the events on its topics it has not handled
        yet (end offset minus committed offset, over the partitions it has committed on)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.infra.kafka_bootstrap)
        offsets = AIOKafkaConsumer(
            bootstrap_servers=self.infra.kafka_bootstrap, enable_auto_commit=False
        )
        await admin.start()
        await offsets.start()
        try:
            groups = [
                group
                for group, _ in await admin.list_consumer_groups()
                if group.startswith(self.topic_prefix)
            ]
            lag: dict[str, int] = {}
            for group in groups:
                committed = {
                    tp: meta.offset
                    for tp, meta in (await admin.list_consumer_group_offsets(group)).items()
                    if meta.offset >= 0
                }
                ends = await offsets.end_offsets(list(committed)) if committed else {}
                lag[group] = sum(max(0, ends[tp] - offset) for tp, offset in committed.items())
            return lag
        finally:
            await offsets.stop()
            await admin.close()

    async def wait_for_consumers(self, timeout: float = 300.0) -> None:
        """Back once every consumer group has caught up with its topics: a test that floods
        the platform with events (the OpenAPI fuzzing) leaves it as it found it, so the next
        test on this worker does not wait behind thousands of someone else's events."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            behind = {g: n for g, n in (await self.consumer_lag()).items() if n}
            if not behind:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"consumers still behind after {timeout}s: {behind}")
            await asyncio.sleep(1.0)

    async def token_expiring_in(self, access_token: str, seconds: float) -> str:
        """`access_token`'s claims, signed again by identity's current key with an `exp`
        `seconds` from now: a token that expires within a test, without shortening every
        token of the run."""
        kid, key = await self.signing_key()
        claims = jwt.decode(access_token, key).claims
        claims["exp"] = int(time.time() + seconds)
        return jwt.encode({"alg": "RS256", "kid": kid, "typ": "JWT"}, claims, key)

    async def signing_key(self, kids: set[str] | None = None) -> tuple[str, RSAKey]:
        """identity's newest unretired signing key (of `kids`, when given), opened with this
        run's key-encryption key: tokens a test forges with it verify everywhere."""
        conn = await self.infra.raw(self.database("identity"), owner=True)
        try:
            rows = await conn.fetch(
                "SELECT kid, private_key_sealed FROM signing_keys WHERE retired_at IS NULL "
                "ORDER BY created_at DESC"
            )
        finally:
            await conn.close()
        row = next((r for r in rows if kids is None or r["kid"] in kids), None)
        assert row is not None, "identity has no signing key yet"
        keys = importlib.import_module("agencyos.identity.tokens.keys")
        sealer = keys.key_sealer(self.key_encryption_key)
        pem = keys.open_private_pem(sealer, row["kid"], row["private_key_sealed"])
        return row["kid"], RSAKey.import_key(pem, parameters={"kid": row["kid"]})

    async def _migrate(self, service: str, env: dict[str, str]) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            f"agencyos.{service}",
            "migrate",
            env=env,
            cwd=REPO_ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"migrating {service} failed:\n{out.decode(errors='replace')}")

    async def _wait_healthy(self, timeout: float = 180.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        pending = dict(self.processes)
        async with httpx.AsyncClient(timeout=1.0) as client:
            while pending:
                for name, process in list(pending.items()):
                    assert process.popen is not None
                    if process.popen.poll() is not None:
                        raise RuntimeError(
                            f"{name} exited with {process.popen.returncode}:\n" + process.log_tail()
                        )
                    try:
                        response = await client.get(f"{process.url}/healthz")
                        if response.status_code == 200:
                            del pending[name]
                    except httpx.HTTPError:
                        pass
                if not pending:
                    break
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"not healthy in {timeout}s: {sorted(pending)}")
                await asyncio.sleep(0.2)

    async def stop(self) -> None:
        for process in self.processes.values():
            if process.popen is not None and process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            if process.popen is None:
                continue
            try:
                await asyncio.to_thread(process.popen.wait, 15)
            except subprocess.TimeoutExpired:
                process.popen.kill()
        await self.infra.delete_topics(self.topic_prefix)
        if os.environ.get("AGENCYOS_TEST_KEEP_DATABASES") != "1":
            for service in SERVICES:
                await self.infra.drop_database(self.database(service))
