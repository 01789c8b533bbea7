"""Reading the kernel's /proc files, or a recorded copy of them.

``VIGIE_PROC_ROOT`` points the local checks at a directory laid out like /proc (a snapshot
from another machine, a recorded sample in the tests) instead of the live one, so a check
can be replayed end to end on the data an operator captured.
"""

from __future__ import annotations

import os

from checks.core.runtime import doing


def root() -> str:
    """The /proc to read: ``$VIGIE_PROC_ROOT`` or ``/proc``."""
    return os.environ.get("VIGIE_PROC_ROOT") or "/proc"


def read(name: str) -> str:
    """The text of ``/proc/<name>``; OSError (with the path) when it cannot be read."""
    path = os.path.join(root(), name)
    with doing(f"reading {path}"), open(path, encoding="utf-8", errors="replace") as file:
        return file.read()
