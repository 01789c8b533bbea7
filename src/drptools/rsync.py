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
as numbers, because the backup server's user names are not the service's. A target
account that is not root could neither set those owners nor, held to the modes it writes,
read a 0000 file back or empty a 0555 directory: there the receiving side runs with
``--fake-super``, which keeps modes, owners and devices (and ACLs, xattrs) in
``user.rsync.*`` xattrs (a restore with ``--fake-super`` on the sending side reads them
back) and leaves the files themselves to their writer.

What makes a snapshot exact, not merely close:

- ``--modify-window=-1`` compares modification times to the nanosecond. rsync's quick
  check otherwise compares whole seconds, and a file rewritten with the same size within
  the second of the previous snapshot would be hard-linked to the stale copy for ever.
- ``--hard-links``, ``--sparse``, ``--acls``, ``--xattrs`` (each on by default, each can
  be turned off in ``[files]``): a site restored on the DRP server needs its hard links,
  its sparse files not expanded, its ACLs, xattrs and file capabilities.
- ``--stats``: the sender's count of regular files, which the snapshot must hold (less
  the files that vanished during the copy or could not be read) before it may be marked
  complete.

Exit code 24 (files vanished while being copied) is normal on a live system and is
logged, not fatal. So is exit code 23 when all rsync said is that it could not open some
source files (drp not root, a file its owner made unreadable): one such file must not
cost the backup of every other, so the snapshot goes without them and the run names them.
Every other non-zero code, 23 for any other cause included, fails the run.
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
#: What each ``[files]`` preservation switch adds to the rsync command, in this order.
PRESERVE_OPTIONS = {
    "hard_links": "--hard-links",
    "sparse": "--sparse",
    "acls": "--acls",
    "xattrs": "--xattrs",
}
_FILES_LINE = re.compile(rb"^Number of files: [\d,]+(?: \((.*)\))?$", re.MULTILINE)
_TRANSFERRED_LINE = re.compile(rb"^Total transferred file size: ([\d,]+) bytes$", re.MULTILINE)
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


def transferred_bytes(stdout: bytes) -> int:
    """The bytes of the files rsync had to send (``--stats``): what was not already in
    place (0 when the statistics are not there)."""
    match = _TRANSFERRED_LINE.search(stdout)
    return int(match.group(1).replace(b",", b"")) if match else 0


def vanished(stderr: str) -> list[str]:
    """The paths rsync reports as vanished during the copy (exit code 24)."""
    return _VANISHED_LINE.findall(stderr)


class Copy:
    """What one rsync run copied: the sender's regular files, and those it could not, and
    the bytes it had to send (the rest was already in place)."""

    __slots__ = ("regular_files", "transferred", "unreadable", "vanished")

    def __init__(
        self, regular_files: int, vanished: list[str], unreadable: list[str], transferred: int = 0
    ) -> None:
        self.regular_files = regular_files
        self.vanished = vanished
        self.unreadable = unreadable
        self.transferred = transferred

    def expected(self) -> int:
        """How many regular files the snapshot must hold."""
        return self.regular_files - len(self.vanished) - len(self.unreadable)


def snapshot(arguments: Sequence[str], what: str, progress: bool = False) -> Copy:
    """Run rsync; CommandFailed names its exit code's meaning and rsync's line on the cause.

    Source files rsync could not read (exit 23 and nothing else said) and files that
    vanished (exit 24) are logged and returned in the :class:`Copy`.
    """
    ok = (0, PARTIAL, VANISHED)
    if progress:
        result = _run_showing_progress(arguments, what, ok)
    else:
        result = execute.run(arguments, what, ok=ok, meanings=MEANINGS, cause=cause)
    gone = vanished(result.stderr) if result.returncode == VANISHED else []
    if result.returncode == VANISHED:
        log.warning("%s: %d file(s) vanished while rsync copied them", what, len(gone))
    skipped: list[str] = []
    if result.returncode == PARTIAL:
        skipped = unreadable(result.stderr) or []
        if not skipped:
            raise execute.CommandFailed(
                what, PARTIAL, result.stderr, MEANINGS[PARTIAL], cause(result.stderr)
            )
        more = f" and {len(skipped) - SHOWN} more" if len(skipped) > SHOWN else ""
        log.warning(
            "%s: %d source file(s) could not be read and are not in the snapshot: %s%s",
            what,
            len(skipped),
            ", ".join(skipped[:SHOWN]),
            more,
        )
    try:
        sent = regular_files_sent(result.stdout)
    except ValueError as error:
        raise execute.CommandFailed(what, said=str(error)) from None
    return Copy(sent, gone, skipped, transferred_bytes(result.stdout))


def _run_showing_progress(
    arguments: Sequence[str], what: str, ok: tuple[int, ...]
) -> execute.Result:
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
    if returncode not in ok:
        raise execute.CommandFailed(
            what, returncode, said, MEANINGS.get(returncode, ""), cause(said)
        )
    return execute.Result(returncode, bytes(kept), said)


def restore_arguments(
    source: str, relative_paths: Sequence[str], destination: str, *,
    shell: Sequence[str] = (), preserve: Sequence[str] = tuple(PRESERVE_OPTIONS),
    fake_super: bool = False, checksum_dry_run: bool = False,
) -> tuple[str, ...]:  # fmt: skip
    """The rsync argument list that puts ``relative_paths`` of the tree ``source`` (a
    snapshot's ``data``, or the root of the DRP server) at the same paths below
    ``destination``, deleting there what the source does not hold (a pure function).

    ``source``/``destination`` are rsync paths (``host:path`` when remote); the ``/./``
    of each source makes ``--relative`` keep the path after it. ``fake_super``: the
    source is a target whose account is not root, so its side reads modes and owners
    back from xattrs. ``checksum_dry_run``: only itemize what differs by content, the
    proof that two trees are the same.
    """
    return (
        ("rsync", "-a", "--relative", "--delete", "--numeric-ids")
        + (("--remote-option=--fake-super",) if fake_super else ())
        + tuple(option for name, option in PRESERVE_OPTIONS.items() if name in preserve)
        + ("--modify-window=-1",)
        + (("--checksum", "--dry-run", "--itemize-changes") if checksum_dry_run
           else ("--stats", "--no-human-readable"))
        + tuple(shell)
        + ("--",)
        + tuple(f"{source.rstrip('/')}/./{path.strip('/')}" for path in relative_paths)
        + (destination.rstrip("/") + "/",)
    )  # fmt: skip
