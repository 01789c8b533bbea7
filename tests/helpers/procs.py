"""Processes of our own for check_procs: started, and waited for until they sleep."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from checks.system import procs


def wait_until_asleep(started: list[subprocess.Popen[bytes]]) -> None:
    """Until each process sleeps: a process just forked runs a moment before it sleeps."""
    deadline = time.monotonic() + 10
    for process in started:
        while procs.parse_stat(Path(f"/proc/{process.pid}/stat").read_text()).state != "S":
            assert time.monotonic() < deadline, f"pid {process.pid} does not go to sleep"
            time.sleep(0.01)
