"""The small process that starts every measured command and reports its cost.

It is started fresh and kept small because a child's peak RSS includes what its parent
held when it forked (Linux keeps the highest RSS across execve), and a bench process
holds the servers' helpers. It reads one command per line (arguments NUL-separated) and
answers ``wall cpu rss_kib``: wall from fork to reaping, CPU the user + system time of
the child and the children it reaped (wait4). A ``prefix`` (``unshare -m …``) runs the
launcher itself inside a namespace, so that every command it starts, and the mounts it
is told to make, share that namespace.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

LAUNCHER = """
import os, sys, time
null = os.open(os.devnull, os.O_WRONLY)
for line in sys.stdin:
    argv = line.rstrip("\\n").split("\\0")
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.execv(argv[0], argv)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    print(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, status, flush=True)
"""


class Launcher:
    """The launcher process, with the environment every measured command gets."""

    def __init__(self, environment: dict[str, str], prefix: Sequence[str] = ()) -> None:
        self.process = subprocess.Popen(
            [*prefix, sys.executable, "-I", "-S", "-c", LAUNCHER], env=environment, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        self.status = 0

    def measure(self, argv: Sequence[str]) -> tuple[float, float, float]:
        """One run of ``argv``: wall seconds, CPU seconds, peak RSS in MiB.

        The run's wait status is kept in ``status`` for the callers that need a success.
        """
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("\0".join(argv) + "\n")
        self.process.stdin.flush()
        wall, cpu, rss, status = self.process.stdout.readline().split()
        self.status = int(status)
        return float(wall), float(cpu), int(rss) / 1024

    def run(self, argv: Sequence[str]) -> None:
        """Run ``argv`` (a setup step: a mount, a link) and require its success."""
        self.measure(argv)
        if self.status != 0:
            raise SystemExit(f"{' '.join(argv)} failed in the launcher (status {self.status})")

    def close(self) -> None:
        """End the launcher (and with it a namespace only it held)."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()
