"""The one wrapper around rsync: a hard-link snapshot of an environment's paths.

``rsync -a --relative`` copies each configured path under the snapshot's ``data/`` with
its full path (``/srv/www`` lands in ``data/srv/www``), so a restore puts every file back
where it came from. ``--link-dest`` points at the newest COMPLETE snapshot on the same
target: unchanged files become hard links to it and cost no space and no transfer.
``--delete --delete-excluded`` matter only when a run resumes an interrupted
``.partial``: what vanished from the source, or was excluded since, leaves it.
``--numeric-ids`` keeps owners as numbers, because the backup server's user names are not
the service's. Exit code 24 (files vanished while being copied) is normal on a live
system and is logged, not fatal; every other non-zero code fails the run.
"""

from __future__ import annotations

import logging

from drptools import execute

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger("drptools")

#: Exit codes with their meaning from rsync(1), for the one-line error.
MEANINGS = {
    1: "syntax or usage error",
    2: "protocol incompatibility",
    3: "errors selecting input/output files, dirs",
    5: "error starting client-server protocol",
    10: "error in socket I/O",
    11: "error in file I/O",
    12: "error in rsync protocol data stream",
    20: "received SIGUSR1 or SIGINT",
    23: "partial transfer due to error",
    24: "partial transfer due to vanished source files",
    30: "timeout in data send/receive",
    35: "timeout waiting for daemon connection",
    255: "ssh failed",
}
VANISHED = 24


def snapshot_arguments(
    sources: Sequence[str],
    destination: str,
    *,
    excludes: Sequence[str] = (),
    link_dest: str | None = None,
    shell: Sequence[str] = (),
    progress: bool = False,
) -> tuple[str, ...]:
    """The rsync argument list of one snapshot (a pure function, tested as such)."""
    return (
        ("rsync", "-a", "--relative", "--delete", "--delete-excluded", "--numeric-ids")
        + (("--info=progress2",) if progress else ())
        + tuple(shell)
        + tuple(f"--exclude={pattern}" for pattern in excludes)
        + ((f"--link-dest={link_dest}",) if link_dest else ())
        + ("--",)
        + tuple(sources)
        + (destination,)
    )


def cause(stderr: str) -> str:
    """The first ``rsync: …`` line (the cause), not the ``rsync error: …`` summary after it."""
    for line in stderr.splitlines():
        if line.startswith("rsync: "):
            return " ".join(line.split())
    return execute.last_line(stderr)


def snapshot(arguments: Sequence[str], what: str, progress: bool = False) -> None:
    """Run rsync; CommandFailed names its exit code's meaning and its last error line."""
    result = execute.run(
        arguments, what, ok=(0, VANISHED), capture=not progress, meanings=MEANINGS, cause=cause
    )
    if result.returncode == VANISHED:
        log.warning("%s: some files vanished while rsync copied them", what)
