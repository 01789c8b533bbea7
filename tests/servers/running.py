"""A real server's lifetime in a test: started in a directory of its own, stopped and that
directory removed on the way out, even when the test (or the start) fails."""

from __future__ import annotations

import contextlib
import shutil
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
