"""Replacing a small file atomically: the one way checks and drp store state.

A reader (the next check run, check_backup, ``drp status``) must never see half a file,
so the text goes to a temporary file in the same directory, which then takes the final
name by ``rename(2)``. The mode (and group) are set on the open descriptor, explicitly,
because the umask of whoever runs the writer must not decide who may read the result.
``durable`` adds the fsync a status record needs to survive a crash; a check's counters
do without it. What a failure means is the caller's business: the OSError propagates,
after the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os


def replace_atomically(
    path: str, text: str, *, mode: int = 0o644, group: int | None = None, durable: bool = False
) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    directory, name = os.path.split(path)
    # A name of our own rather than tempfile's: importing tempfile costs a check run ~2 ms.
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            if group is not None:
                os.fchown(descriptor, -1, group)
            os.fchmod(descriptor, mode)
            file.write(text)
            if durable:
                file.flush()
                os.fsync(descriptor)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
