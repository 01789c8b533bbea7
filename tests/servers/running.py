"""A real server's lifetime in a test: started in a directory of its own, stopped and that
directory removed on the way out, even when the test (or the start) fails.

:func:`running` is that lifetime for a server object with a ``stop()``; :func:`answering`
is the wait for a daemon process to answer, with its log in the failure, and its end.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar


class Stoppable(Protocol):
    def stop(self) -> None: ...


Server = TypeVar("Server", bound=Stoppable)


@contextlib.contextmanager
def running(root: Path, start: Callable[[Path], Server]) -> Iterator[Server]:
    """The server ``start(root)`` returns, for the ``with`` block."""
    try:
        server = start(root)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def answering(
    name: str,
    process: subprocess.Popen[bytes],
    log: Path,
    ready: Callable[[], bool],
    *,
    within: float,
    pause: float = 0.05,
    stop_within: float = 10,
) -> Iterator[None]:
    """The ``with`` block runs once ``ready()``; ``process`` is terminated on the way out.

    AssertionError with ``log`` when the daemon exits or is not ready ``within`` seconds.
    """
    try:
        deadline = time.monotonic() + within
        while not ready():
            assert process.poll() is None, f"{name} exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"{name} did not start: {log.read_text()}"
            time.sleep(pause)
        yield
    finally:
        process.terminate()
        process.wait(timeout=stop_within)
