"""One process as /proc/<pid> tells it, the model check_procs and check_load share.

:func:`parse_stat` reads ``/proc/<pid>/stat`` (the command name may hold spaces and
``)``), :func:`parse_status` the effective user and exact RSS, :func:`command_line` what
``ps -o args`` shows, :func:`cpu_percent` the lifetime CPU share ``ps -o %cpu`` shows.
"""

from __future__ import annotations

import os

from checks.core.errors import ParseError

#: The task states of /proc/<pid>/stat (fs/proc/array.c), W and K only on old kernels.
STATE_LETTERS = "RSDZTtXxIPWK"
ZOMBIE = "Z"
#: The kernel-thread bit of the process flags (PF_KTHREAD, include/linux/sched.h).
KERNEL_THREAD = 0x00200000
KIB = 1024
#: What ps does to the bytes of a command line: NUL and newline become spaces, other
#: control characters ``?``.
PS_ARGS = bytes(
    32 if byte in (0, 10) else 63 if byte < 32 or byte == 127 else byte for byte in range(256)
)
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class Process:
    """One process as /proc tells it; ``uid`` and ``args`` only when they were read."""

    __slots__ = (
        "args",
        "comm",
        "cpu_ticks",
        "flags",
        "pid",
        "ppid",
        "rss",
        "start_ticks",
        "state",
        "uid",
        "vsize",
    )

    def __init__(self, pid: int, comm: str, fields: list[str]) -> None:
        # fields[0] is field 3 of proc(5) (state): ppid 4, flags 9, utime 14, stime 15,
        # starttime 22, vsize 23, rss 24.
        self.pid = pid
        self.comm = comm
        self.state = fields[0]
        self.ppid = int(fields[1])
        self.flags = int(fields[6])
        self.cpu_ticks = int(fields[11]) + int(fields[12])
        self.start_ticks = int(fields[19])
        self.vsize = int(fields[20])
        #: Resident bytes: stat's page count, replaced by status's exact VmRSS when read.
        self.rss = int(fields[21]) * PAGE_SIZE
        self.uid: int | None = None
        self.args = ""

    def __repr__(self) -> str:
        return f"Process({self.pid}, {self.comm!r}, {self.state!r})"


def parse_stat(text: str) -> Process:
    """``/proc/<pid>/stat``: ``pid (comm) state ppid …``; comm may hold spaces and ``)``."""
    opening, closing = text.find("("), text.rfind(")")
    if opening < 1 or closing < opening:
        raise ParseError(f"/proc/<pid>/stat has no '(command name)': {text[:60]!r}")
    fields = text[closing + 1 :].split()
    try:
        pid = int(text[:opening])
        if len(fields) < 22 or fields[0] not in STATE_LETTERS or len(fields[0]) != 1:
            raise ValueError
        return Process(pid, text[opening + 1 : closing], fields)
    except ValueError:
        raise ParseError(f"/proc/<pid>/stat is not a process status: {text[:60]!r}") from None


def parse_status(text: str) -> tuple[int, int | None]:
    """The effective user ID and the resident size in bytes of ``/proc/<pid>/status``.

    The effective ID (``Uid: real effective saved fs``), as ``ps -o uid`` and the C
    plugin's ``-u`` use; ``VmRSS``, which ps shows, exact where stat's page count may lag
    (None for kernel threads and zombies, which have no memory of their own).
    """
    uid = rss = None
    for line in text.splitlines():
        if line.startswith("Uid:"):
            ids = line.split()[1:]
            if len(ids) < 2 or not ids[1].isdigit():
                break
            uid = int(ids[1])
        elif line.startswith("VmRSS:"):
            size = line.split()[1:]
            if len(size) != 2 or not size[0].isdigit() or size[1] != "kB":
                raise ParseError(f"/proc/<pid>/status: cannot read {line.strip()!r}")
            rss = int(size[0]) * KIB
    if uid is None:
        raise ParseError("/proc/<pid>/status has no readable 'Uid:' line")
    return uid, rss


def command_line(raw: bytes, comm: str, state: str) -> str:
    """The command line as ``ps -o args`` shows it, which ``-a`` searches.

    /proc/<pid>/cmdline holds the arguments NUL-separated; ps joins them with spaces, turns
    newlines into spaces too and other control characters into ``?``. A kernel thread (or a
    process that wiped its arguments) has none and shows ``[comm]``, a zombie
    ``[comm] <defunct>``.
    """
    text = raw.rstrip(b"\0").translate(PS_ARGS).decode("utf-8", "replace")
    if not text:
        text = f"[{comm}]"
    if state == ZOMBIE:
        text += " <defunct>"
    return text


def cpu_percent(process: Process, uptime: float, ticks: int) -> float:
    """CPU time over the process's lifetime, in % of one CPU, as ``ps -o %cpu``."""
    alive = uptime - process.start_ticks / ticks
    return 100.0 * process.cpu_ticks / ticks / alive if alive > 0 else 0.0


def read_bytes(path: str, limit: int = 65536) -> bytes:
    """A /proc file's bytes (os.read: a third of open()'s cost, for hundreds of files)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        return os.read(descriptor, limit)
    finally:
        os.close(descriptor)
