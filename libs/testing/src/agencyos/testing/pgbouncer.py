"""A real PgBouncer (Debian's package, installed by deploy/local/stack.sh) in front of the test
run's PostgreSQL, in transaction mode as the chart's CloudNativePG Pooler runs it: each
transaction may land on another server connection, with fewer server connections than clients."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agencyos.testing.infra import Infra, free_port


@dataclass(frozen=True)
class PgBouncer:
    host: str
    port: int
    infra: Infra

    def dsn(self, database: str) -> str:
        """The application role's DSN to `database`, through PgBouncer."""
        infra = self.infra
        return (
            f"postgresql+asyncpg://{infra.app_user}:{infra.app_password}"
            f"@{self.host}:{self.port}/{database}"
        )


def _binary() -> str:
    found = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )
    if found is None:
        raise RuntimeError(
            "pgbouncer not found: deploy/local/stack.sh installs it (apt-get install pgbouncer)"
        )
    return found


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@contextmanager
def running_pgbouncer(infra: Infra, *, server_connections: int = 2) -> Iterator[PgBouncer]:
    """PgBouncer on a free local port for the duration of the block; `server_connections` per
    (database, role), far fewer than the clients the tests open."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="agencyos-pgbouncer-") as scratch:
        folder = Path(scratch)
        users = folder / "userlist.txt"
        users.write_text(
            f"{_quote(infra.app_user)} {_quote(infra.app_password)}\n"
            f"{_quote(infra.owner_user)} {_quote(infra.owner_password)}\n"
        )
        config = folder / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host={infra.pg_host} port={infra.pg_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {port}\n"
            "unix_socket_dir =\n"
            "auth_type = plain\n"
            f"auth_file = {users}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {server_connections}\n"
            "max_client_conn = 500\n"
        )
        command = [_binary(), str(config)]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root; it reads its files as `nobody`.
            folder.chmod(0o755)
            users.chmod(0o644)
            config.chmod(0o644)
            command = [_binary(), "-u", "nobody", str(config)]
        log = (folder / "pgbouncer.log").open("wb")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 10
            while True:
                if process.poll() is not None:
                    raise RuntimeError(
                        "pgbouncer exited: " + (folder / "pgbouncer.log").read_text()[-2000:]
                    )
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"pgbouncer did not listen on {port}") from None
                    time.sleep(0.05)
            yield PgBouncer("127.0.0.1", port, infra)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()
