"""The one wrapper around rsync: a hard-link snapshot of an environment's paths.

``rsync -a --relative`` copies each configured path under the snapshot's ``data/`` with
its full path (``/srv/www`` lands in ``data/srv/www``), so a restore puts every file back
where it came from. A configured path that is a symlink to a directory is given with a
trailing slash, so its content is copied under the link's name, as ``tar -h`` and ``df``
users expect; without it rsync copies the link alone and the snapshot holds no file.
``--link-dest`` points at the newest COMPLETE snapshot on the same target: unchanged files
become hard links to it and cost no space and no transfer. ``--delete
--delete-excluded`` matter only when a run resumes an interrupted ``.partial``: what
vanished from the source, or was excluded since, leaves it. ``--numeric-ids`` keeps owners
as numbers, because the backup server's user names are not the service's.

What makes a snapshot exact, not merely close:

- ``--modify-window=-1`` compares modification times to the nanosecond. rsync's quick
  check otherwise compares whole seconds, and a file rewritten with the same size within
  the second of the previous snapshot would be hard-linked to the stale copy for ever.
- ``--hard-links``, ``--sparse``, ``--acls``, ``--xattrs`` (each on by default, each can
  be turned off in ``[files]``): a site restored on the DRP server needs its hard links,
  its sparse files not expanded, its ACLs, xattrs and file capabilities.
- ``--stats``: the sender's count of regular files, which the snapshot must hold (less
  the files that vanished during the copy) before it may be marked complete.

Exit code 24 (files vanished while being copied) is normal on a live system and is
logged, not fatal; every other non-zero code fails the run.
"""

from __future__ import annotations

import logging
import os
import re

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
#: What each ``[files]`` preservation switch adds to the rsync command, in this order.
PRESERVE_OPTIONS = {
    "hard_links": "--hard-links",
    "sparse": "--sparse",
    "acls": "--acls",
    "xattrs": "--xattrs",
}
_FILES_LINE = re.compile(rb"^Number of files: [\d,]+(?: \((.*)\))?$", re.MULTILINE)
_VANISHED_LINE = re.compile(r'^file has vanished: "(.*)"$', re.MULTILINE)


def source_argument(path: str) -> str:
    """``path`` as rsync's source: with a trailing slash when it is (a link to) a directory.

    With ``--relative`` both forms land in ``data/<path>``; only the slash makes rsync
    follow a symlink instead of copying the link itself.
    """
    return path.rstrip("/") + "/" if os.path.isdir(path) and path != "/" else path


def snapshot_arguments(
    sources: Sequence[str],
    destination: str,
    *,
    excludes: Sequence[str] = (),
    link_dest: str | None = None,
    shell: Sequence[str] = (),
    preserve: Sequence[str] = tuple(PRESERVE_OPTIONS),
    progress: bool = False,
) -> tuple[str, ...]:
    """The rsync argument list of one snapshot (a pure function, tested as such)."""
    return (
        ("rsync", "-a", "--relative", "--delete", "--delete-excluded", "--numeric-ids")
        + tuple(option for name, option in PRESERVE_OPTIONS.items() if name in preserve)
        + ("--modify-window=-1", "--stats", "--no-human-readable")
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


def regular_files_sent(stdout: bytes) -> int:
    """The sender's count of regular files, from ``--stats`` (``Number of files: 8 (reg: 5,
    dir: 3)``; the parenthesis lists only the kinds present, so no ``reg:`` means none).

    Raises ValueError when the statistics are not in the output: a copy whose extent is
    unknown cannot be proved complete.
    """
    match = _FILES_LINE.search(stdout)
    if match is None:
        raise ValueError("rsync printed no 'Number of files' statistics")
    for part in (match.group(1) or b"").split(b","):
        kind, _, count = part.strip().partition(b": ")
        if kind == b"reg":
            return int(count.replace(b",", b""))
    return 0


def vanished(stderr: str) -> list[str]:
    """The paths rsync reports as vanished during the copy (exit code 24)."""
    return _VANISHED_LINE.findall(stderr)


class Copy:
    """What one rsync run copied: the sender's regular files and those that vanished."""

    __slots__ = ("regular_files", "vanished")

    def __init__(self, regular_files: int, vanished: list[str]) -> None:
        self.regular_files = regular_files
        self.vanished = vanished


def snapshot(arguments: Sequence[str], what: str, progress: bool = False) -> Copy:
    """Run rsync; CommandFailed names its exit code's meaning and its first error line."""
    if progress:
        result = _run_showing_progress(arguments, what)
    else:
        result = execute.run(arguments, what, ok=(0, VANISHED), meanings=MEANINGS, cause=cause)
    gone = vanished(result.stderr) if result.returncode == VANISHED else []
    if result.returncode == VANISHED:
        log.warning("%s: %d file(s) vanished while rsync copied them", what, len(gone))
    try:
        sent = regular_files_sent(result.stdout)
    except ValueError as error:
        raise execute.CommandFailed(what, said=str(error)) from None
    return Copy(sent, gone)


def _run_showing_progress(arguments: Sequence[str], what: str) -> execute.Result:
    """rsync with its progress line on the terminal, its output also kept for the stats."""
    import subprocess
    import sys
    import tempfile

    kept = bytearray()
    with tempfile.TemporaryFile() as errors:
        process = execute.start(arguments, stdout=subprocess.PIPE, stderr=errors)
        assert process.stdout is not None
        try:
            while chunk := os.read(process.stdout.fileno(), 65536):
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
                kept += chunk
                del kept[: max(0, len(kept) - 65536)]  # the statistics come last
        except BaseException:  # interrupted (SIGTERM): rsync stops with drp
            process.terminate()
            raise
        finally:
            process.stdout.close()
            returncode = execute.reap(process)
        errors.seek(0)
        said = errors.read().decode(errors="replace")
    if returncode not in (0, VANISHED):
        raise execute.CommandFailed(
            what, returncode, said, MEANINGS.get(returncode, ""), cause(said)
        )
    return execute.Result(returncode, bytes(kept), said)
