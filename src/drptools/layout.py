"""Where backups live on a target, what their names mean, and which target a day uses.

Pure functions only: ``drp`` applies them to listings it gets by running commands on a
target (local or over ssh), ``check_backup`` to directories it reads itself. One set of
rules decides for both whether a backup is complete, so that no reader can take an
interrupted run for a finished one.

On a target, under its location::

    <environment>/files/.lock                     flock(1) lock of file backups
    <environment>/files/<stamp>/data/…            a complete snapshot's tree (rsync -R)
    <environment>/files/<stamp>/MANIFEST          path, size, mtime, sha256 of every file
    <environment>/files/<stamp>/COMPLETE          JSON summary, written before the rename
    <environment>/files/<stamp>.partial/          a run in progress, or an interrupted one
    <environment>/db/<database>/.lock
    <environment>/db/<database>/<stamp>.<suffix>  a dump artifact (.sql.zst, .dump, …)
    <environment>/db/<database>/<stamp>.sha256    the set's checksums, in sha256sum format
    <environment>/db/<database>/*.partial         being written, or left by a failed run

A file snapshot is complete only when its directory has its final name (the rename of
``<stamp>.partial`` is the atomic last step of a run) AND holds ``COMPLETE``. A dump set
is complete only when ``<stamp>.sha256`` exists (renamed into place as the last step,
after every artifact got its final name). ``<stamp>`` is the UTC start time,
``20261124T013000Z``: the point in time the data is from, sortable as text.

Day parity uses the LOCAL calendar date, counted in days since 1970-01-01: the timer and
cron entry fire at a local time, so consecutive daily runs fall on consecutive local dates
and alternate even though DST moves their UTC time (a UTC day count would give two runs
around a DST change the same parity when they are scheduled near midnight). The day of
the month would not do: the 31st and the 1st are both odd.
"""

from __future__ import annotations

import os
import time

#: Test-only: the Unix time ``drp`` and ``check_backup`` take as "now" (whole seconds).
NOW_VARIABLE = "VIGIE_DRP_NOW"
STAMP_LENGTH = len("20261124T013000Z")
PARTIAL = ".partial"
MARKER = "COMPLETE"
MANIFEST = "MANIFEST"
DATA = "data"
LOCK = ".lock"
CHECKSUMS = ".sha256"

# Snapshot and dump states, as ``drp snapshots`` and check_backup word them.
COMPLETE = "complete"
IN_PROGRESS = "in progress"
INTERRUPTED = "partial"
UNMARKED = "incomplete"


def now() -> float:
    """The current Unix time, or the test-only ``VIGIE_DRP_NOW``."""
    forced = os.environ.get(NOW_VARIABLE)
    if forced:
        return float(forced)
    return time.time()


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).

    Computed rather than imported: ``datetime``/``calendar`` would cost check_backup an
    import for one subtraction.
    """
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def local_day(seconds: float) -> int:
    """Days since 1970-01-01 of the local calendar date at ``seconds``."""
    moment = time.localtime(seconds)
    return days_from_civil(moment.tm_year, moment.tm_mon, moment.tm_mday)


def target_of_day(day: int) -> str:
    """Even days go to A, odd days to B."""
    return "A" if day % 2 == 0 else "B"


def stamp(seconds: float) -> str:
    """``20261124T013000Z``: the UTC time a backup's data is from."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(seconds))


def parse_stamp(text: str) -> float | None:
    """The Unix time of a stamp, or None when ``text`` is not one."""
    if (
        len(text) != STAMP_LENGTH
        or text[8] != "T"
        or text[15] != "Z"
        or not (text[:8] + text[9:15]).isdigit()
        or not text.isascii()
    ):
        return None
    year, month, day = int(text[:4]), int(text[4:6]), int(text[6:8])
    hour, minute, second = int(text[9:11]), int(text[11:13]), int(text[13:15])
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    days = days_from_civil(year, month, day)
    if (year, month, day) != _civil_check(days):
        return None  # 31 February and the like
    return float(days * 86400 + hour * 3600 + minute * 60 + second)


def _civil_check(days: int) -> tuple[int, int, int]:
    moment = time.gmtime(days * 86400)
    return moment.tm_year, moment.tm_mon, moment.tm_mday


# --- paths on a target ------------------------------------------------------------------


def files_dir(root: str, environment: str) -> str:
    """Where an environment's file snapshots live on a target."""
    return f"{root}/{environment}/files"


def dumps_dir(root: str, environment: str, database: str) -> str:
    """Where a database's dumps live on a target."""
    return f"{root}/{environment}/db/{database}"


# --- what a listing means ---------------------------------------------------------------


class Snapshot:
    """One file snapshot (or attempt) on a target."""

    __slots__ = ("name", "stamp", "state", "time")

    def __init__(self, name: str, stamp: str, time: float, state: str) -> None:
        self.name = name  # directory name: the stamp, or the stamp + ".partial"
        self.stamp = stamp
        self.time = time
        self.state = state

    def __repr__(self) -> str:
        return f"Snapshot({self.name!r}, {self.state!r})"


def classify_snapshots(entries: set[str], running: bool = False) -> list[Snapshot]:
    """The snapshots a files directory holds, oldest first.

    ``entries`` are the names of the directory's children and grandchildren
    (``20261124T013000Z``, ``20261124T013000Z/COMPLETE``, …), as ``find -mindepth 1
    -maxdepth 2 -printf '%P\\0'`` lists them. ``running`` says a run holds the lock, which
    makes its partial one "in progress" rather than interrupted. Names that are not
    stamps are not ours and are ignored (and never pruned).
    """
    snapshots = []
    for entry in entries:
        if "/" in entry:
            continue
        base = entry.removesuffix(PARTIAL)
        seconds = parse_stamp(base)
        if seconds is None:
            continue
        if entry.endswith(PARTIAL):
            state = IN_PROGRESS if running else INTERRUPTED
        elif f"{entry}/{MARKER}" in entries:
            state = COMPLETE
        else:
            state = UNMARKED
        snapshots.append(Snapshot(entry, base, seconds, state))
    snapshots.sort(key=lambda snapshot: (snapshot.stamp, snapshot.name))
    return snapshots


def latest_complete(snapshots: list[Snapshot]) -> Snapshot | None:
    """The newest complete snapshot (or dump set), the only base ``--link-dest`` may use."""
    complete = [snapshot for snapshot in snapshots if snapshot.state == COMPLETE]
    return complete[-1] if complete else None


def classify_dumps(names: set[str], running: bool = False) -> list[Snapshot]:
    """The dump sets a database directory holds, oldest first.

    A set (all files starting with one stamp) is complete when its ``<stamp>.sha256``
    exists; anything else of that stamp is a partial set, in progress while ``running``.
    """
    stamps: dict[str, set[str]] = {}
    for name in names:
        base = name[:STAMP_LENGTH]
        if name[STAMP_LENGTH : STAMP_LENGTH + 1] == "." and parse_stamp(base) is not None:
            stamps.setdefault(base, set()).add(name)
    sets = []
    for base, members in stamps.items():
        state = COMPLETE if base + CHECKSUMS in members else IN_PROGRESS if running else INTERRUPTED
        sets.append(Snapshot(base, base, parse_stamp(base) or 0.0, state))
    sets.sort(key=lambda dump: dump.stamp)
    return sets


def dump_members(names: set[str], stamp: str) -> list[str]:
    """Every file of the dump set ``stamp``, marker last, so removal undoes the commit first."""
    members = sorted(name for name in names if name.startswith(stamp + "."))
    marker = stamp + CHECKSUMS
    if marker in members:
        members.remove(marker)
        members.insert(0, marker)
    return members


# --- retention --------------------------------------------------------------------------


def expired(
    snapshots: list[Snapshot], keep: int, resumable: bool = True, at: float | None = None
) -> list[Snapshot]:
    """What retention removes: complete ones beyond the ``keep`` newest, and leftovers.

    The newest complete one is never removed (``keep`` is at least 1), nothing in
    progress is, nor an unmarked one (a final name without ``COMPLETE``: drp never makes
    those, so a person must look). With ``resumable`` (file snapshots), an interrupted
    partial newer than every complete one is kept for the next run to resume; other
    partials are leftovers (a dump cannot be resumed).

    Complete ones dated after ``at`` (default: :func:`now`) are kept and not counted:
    they come from a clock that was ahead, or this one went back. Otherwise, with the
    clock set back, the run that just wrote a snapshot would prune it, being older by
    stamp than those of the future, and its record would name a snapshot that is gone.
    """
    keep = max(keep, 1)
    limit = stamp(now() if at is None else at)
    complete = [s for s in snapshots if s.state == COMPLETE and s.stamp <= limit]
    doomed = complete[:-keep]
    newest = complete[-1].stamp if complete else ""
    partials = [snapshot for snapshot in snapshots if snapshot.state == INTERRUPTED]
    kept = partials[-1] if resumable and partials and partials[-1].stamp > newest else None
    doomed += [snapshot for snapshot in partials if snapshot is not kept]
    return sorted(doomed, key=lambda snapshot: (snapshot.stamp, snapshot.name))
