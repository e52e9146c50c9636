"""The event loop a process runs on follows its settings (uvloop unless told otherwise).
Each case runs in a child process: a loop started here would replace the test session's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROGRAM = """
import asyncio
from agencyos.common.runtime import run_loop
from agencyos.common.settings import ServiceSettings

async def main() -> None:
    print(type(asyncio.get_running_loop()).__module__)

run_loop(main(), ServiceSettings())
"""


@pytest.mark.parametrize(
    ("setting", "loop_module"), [(None, "uvloop"), ("uvloop", "uvloop"), ("asyncio", "asyncio")]
)
def test_the_process_runs_on_the_loop_its_settings_name(
    setting: str | None, loop_module: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENCYOS_")}
    if setting is not None:
        env["AGENCYOS_EVENT_LOOP"] = setting

    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().split(".")[0] == loop_module


def test_an_unknown_loop_is_refused_at_start() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENCYOS_")}
    env["AGENCYOS_EVENT_LOOP"] = "trio"

    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode != 0
    assert "event_loop" in done.stderr
