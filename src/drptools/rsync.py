"""The one wrapper around rsync: a hard-link snapshot of an environment's paths.

``rsync -a --relative`` copies each configured path under the snapshot's ``data/`` with
its full path (``/srv/www`` lands in ``data/srv/www``), so a restore puts every file back
where it came from. ``--link-dest`` points at the newest COMPLETE snapshot on the same
target: unchanged files become hard links to it and cost no space and no transfer.
``--delete --delete-excluded`` matter only when a run resumes an interrupted
``.partial``: what vanished from the source, or was excluded since, leaves it.
``--numeric-ids`` keeps owners as numbers, because the backup server's user names are not
the service's. A target account that is not root could neither set those owners nor,
held to the modes it writes, read a 0000 file back or empty a 0555 directory: there the
receiving side runs with ``--fake-super``, which keeps modes, owners and devices in
``user.rsync.*`` xattrs (a restore with ``--fake-super`` on the sending side reads them
back) and leaves the files themselves to their writer.

Exit code 24 (files vanished while being copied) is normal on a live system and is
logged, not fatal. So is exit code 23 when all rsync said is that it could not open some
source files (drp not root, a file its owner made unreadable): one such file must not
cost the backup of every other, so the snapshot goes without them and the run names them.
Every other non-zero code, 23 for any other cause included, fails the run.
"""

from __future__ import annotations

import logging
import re

from drptools import execute
from drptools.execute import CommandFailed

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
PARTIAL = 23
VANISHED = 24
#: How many unreadable source files a warning (and the status record) names.
SHOWN = 10
#: What rsync's sender says of a source file it cannot open for reading.
OPEN_FAILED = re.compile(
    r'rsync: \[sender\] send_files failed to open "(.*)": Permission denied \(13\)'
)
NO_USER_XATTRS = (
    "the target filesystem has no user extended attributes, where a target account that"
    " is not root keeps the modes and owners of the files (ext4, XFS and btrfs have them)"
)


def snapshot_arguments(
    sources: Sequence[str],
    destination: str,
    *,
    excludes: Sequence[str] = (),
    link_dest: str | None = None,
    shell: Sequence[str] = (),
    progress: bool = False,
    fake_super: bool = False,
) -> tuple[str, ...]:
    """The rsync argument list of one snapshot (a pure function, tested as such).

    ``fake_super`` (the target account is not root): the receiving side alone keeps
    modes, owners and devices in ``user.rsync.*`` xattrs and its files accessible to
    itself; on the sending side it would read the SOURCE's xattrs as modes.
    """
    return (
        ("rsync", "-a", "--relative", "--delete", "--delete-excluded", "--numeric-ids")
        + (("--remote-option=--fake-super",) if fake_super else ())
        + (("--info=progress2",) if progress else ())
        + tuple(shell)
        + tuple(f"--exclude={pattern}" for pattern in excludes)
        + ((f"--link-dest={link_dest}",) if link_dest else ())
        + ("--",)
        + tuple(sources)
        + (destination,)
    )


def unreadable(stderr: str) -> list[str] | None:
    """The source files rsync could not open, if that is all it complained of; else None."""
    paths = []
    for line in stderr.splitlines():
        if line.startswith("rsync: "):
            match = OPEN_FAILED.fullmatch(line)
            if match is None:
                return None
            paths.append(match.group(1))
    return paths or None


def cause(stderr: str) -> str:
    """The first ``rsync: …`` line (the cause), not the ``rsync error: …`` summary after it.

    Unreadable source files are passed over for a cause that fails the run, if any. A
    target filesystem without user xattrs makes rsync fail on every file with a line
    about ``user.rsync.%stat`` that does not say what to do: it is named for what it is.
    """
    lines = [" ".join(line.split()) for line in stderr.splitlines() if line.startswith("rsync: ")]
    fatal = [line for line in lines if not OPEN_FAILED.fullmatch(line)]
    said = next(iter(fatal or lines), None)
    if said is None:
        return execute.last_line(stderr)
    if "failed to write xattr user.rsync." in said and "Operation not supported" in said:
        return f"{NO_USER_XATTRS} ({said})"
    return said


def snapshot(arguments: Sequence[str], what: str, progress: bool = False) -> list[str]:
    """Run rsync; the source files it could not read (logged), CommandFailed for the rest.

    The failure names its exit code's meaning and rsync's own line about the cause.
    """
    result = execute.run(
        arguments,
        what,
        ok=(0, PARTIAL, VANISHED),
        capture=not progress,
        meanings=MEANINGS,
        cause=cause,
    )
    if result.returncode == VANISHED:
        log.warning("%s: some files vanished while rsync copied them", what)
    if result.returncode != PARTIAL:
        return []
    skipped = unreadable(result.stderr)
    if skipped is None:
        raise CommandFailed(what, PARTIAL, result.stderr, MEANINGS[PARTIAL], cause(result.stderr))
    more = f" and {len(skipped) - SHOWN} more" if len(skipped) > SHOWN else ""
    log.warning(
        "%s: %d source file(s) could not be read and are not in the snapshot: %s%s",
        what,
        len(skipped),
        ", ".join(skipped[:SHOWN]),
        more,
    )
    return skipped
