"""Status records: what the last run of each backup did, for ``drp status`` and check_backup.

One small JSON file per kind of run: ``files.<environment>.<target>.json`` and
``db.<environment>.<database>.<target>.json`` in ``$VIGIE_STATE_DIR/drp`` (default
``/var/lib/vigie/drp``). A run writes its record when it starts (``result: running``, with
its pid) and when it ends (``ok`` or ``failed`` with the error), each time atomically
(temporary file, fsync, rename), so a reader never sees half a record. The record carries
the last successful run (``last_ok``) forward through failures: check_backup reads the age
of the newest good backup and the fact that the latest run failed from one cheap file.

Fields: ``what`` (files, db), ``environment``, ``database`` (db only), ``target``,
``location``, ``started`` and ``finished`` (Unix times; finished is null while running),
``result``, ``error``, ``snapshot`` (the stamp written), ``files``, ``bytes``, ``pid``,
``host``, ``last_ok`` (snapshot, started, finished, files, bytes of the last success).

Local locks live here too: ``locks/<name>.lock``, held with flock(2) for a run's duration,
so two runs of the same backup on this machine never overlap (each target has its own
lock as well, for two machines that share a target). The lock file holds its holder's pid
and start, so that a refused run says who holds it and for how long, and fails (exit 1,
not 75) once that is longer than the configured maximum (``[limits]``): a hung run must
not turn every later one into a silent "nothing to do".

Modes are set explicitly, never left to the umask of whoever ran drp: records are read by
check_backup as the monitoring user, so directories are 0755 and records 0644, or 0750 and
0640 with the group of ``[status] group``. A record that exists but cannot be read or
parsed raises :class:`Unreadable`: a reader must say so, never take it for "no record".
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat

from checks.core.files import replace_atomically
from drptools import layout
from drptools.errors import Failure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

RUNNING, OK, FAILED = "running", "ok", "failed"
#: What a running record really is, as :func:`judged` tells it.
DIED, HUNG = "died", "hung"


class Unreadable(Failure):
    """A status record exists but cannot be read, or is not a record."""


class StateError(Failure):
    """The state directory cannot be written (full, read-only, a file in the way)."""


class Settings:
    """Who may read the state, and how long runs may take: ``[status]`` and ``[limits]``.

    Module-wide because records and locks are written from every action, and the
    configuration is loaded once per process (:func:`configure`, by the CLI).
    """

    __slots__ = ("gid", "limits")

    def __init__(self) -> None:
        #: Group of the state directory and records (None: readable by everyone).
        self.gid: int | None = None
        #: Longest run, in seconds, per kind of run (``files``, ``db``).
        self.limits: dict[str, float] = {}


settings = Settings()


def configure(gid: int | None, limits: dict[str, float]) -> None:
    """Use ``gid`` for the state and ``limits`` (seconds per kind) for locks held too long."""
    settings.gid = gid
    settings.limits = dict(limits)


def state_dir() -> str:
    """``$VIGIE_STATE_DIR/drp``, else ``/var/lib/vigie/drp``."""
    return os.path.join(os.environ.get("VIGIE_STATE_DIR") or "/var/lib/vigie", "drp")


def record_name(what: str, environment: str, target: str, database: str | None = None) -> str:
    """``files.www.A`` or ``db.www.shop.B``."""
    parts = [what, environment] + ([database] if database else []) + [target]
    return ".".join(parts)


def _not_a_number(name: str) -> float:
    raise ValueError(f"{name} where a number was expected")


def read(name: str) -> dict[str, object] | None:
    """The record ``name``, or None if there is none; Unreadable if it cannot be used.

    NaN and Infinity (which Python's json accepts) are refused: no age can be computed
    from them, and every reader would trip over them later.
    """
    path = os.path.join(state_dir(), f"{name}.json")
    try:
        with open(path, encoding="utf-8") as file:
            record = json.load(file, parse_constant=_not_a_number)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise Unreadable(f"cannot read the status record {path}: {error.strerror}") from None
    except ValueError as error:  # JSON, UTF-8, or a constant refused above
        raise Unreadable(f"{path}: not a usable status record: {error}") from None
    if not isinstance(record, dict):
        raise Unreadable(f"{path}: not a usable status record: not a JSON object")
    return record


def read_all(problems: list[str] | None = None) -> list[dict[str, object]]:
    """Every usable record in the state directory, sorted by name.

    Why the others cannot be used (and why the directory cannot be listed) goes to
    ``problems`` when given.
    """
    complaints = problems if problems is not None else []
    try:
        names = sorted(os.listdir(state_dir()))
    except FileNotFoundError:
        return []
    except OSError as error:
        complaints.append(f"cannot list {state_dir()}: {error.strerror}")
        return []
    records = []
    for name in names:
        if name.endswith(".json") and name.startswith(("files.", "db.")):
            try:
                record = read(name[: -len(".json")])
            except Unreadable as error:
                complaints.append(str(error))
                continue
            if record is not None:
                records.append(record)
    return records


def make_state_dir() -> str:
    """The state directory, created (parents 0755) with the state's mode and group."""
    directory = state_dir()
    _directory(directory)
    return directory


def _directory(path: str) -> None:
    """Create ``path`` (and missing parents, 0755) with the state's mode and group.

    Existing directories get the mode too: one made under ``umask 077`` (or by an older
    drp) would hide every record from the monitoring user.
    """
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        _parents(parent)
    mode = 0o755 if settings.gid is None else 0o750
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, mode)
    status = os.stat(path)
    if not stat.S_ISDIR(status.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", path)
    if settings.gid is not None and status.st_gid != settings.gid:
        os.chown(path, -1, settings.gid)
    if status.st_mode & 0o7777 != mode:
        os.chmod(path, mode)


def _parents(path: str) -> None:
    """Create ``path`` and its parents, each 0755 whatever the umask."""
    parent = os.path.dirname(path)
    if parent != path and not os.path.isdir(parent):
        _parents(parent)
    try:
        os.mkdir(path)
    except FileExistsError:
        return
    os.chmod(path, 0o755)  # noqa: S103 - the monitoring user must traverse it


def _own(descriptor: int) -> None:
    """Give a state file the state's group and mode (0644, or 0640 with a group)."""
    if settings.gid is not None:
        os.fchown(descriptor, -1, settings.gid)
    os.fchmod(descriptor, 0o644 if settings.gid is None else 0o640)


def append(path: str, record: dict[str, object]) -> None:
    """``record`` as one JSON line at the end of the history ``path`` (the state
    directory made first), durable when this returns: the authorisations' history and the
    event handler's decision log, which must survive a crash right after a decision."""
    make_state_dir()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
    try:
        os.write(descriptor, (json.dumps(record, sort_keys=True) + "\n").encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write(name: str, record: dict[str, object]) -> None:
    """Store ``record`` as ``name`` atomically and durably; StateError says what failed."""
    directory = state_dir()
    text = json.dumps(record, indent=1, sort_keys=True) + "\n"
    try:
        make_state_dir()
        replace_atomically(
            os.path.join(directory, f"{name}.json"),
            text,
            mode=0o644 if settings.gid is None else 0o640,
            group=settings.gid,
            durable=True,
        )
    except OSError as error:
        where = error.filename or directory
        raise StateError(
            f"cannot write the status record {name} in {where}: {error.strerror}"
        ) from None


class Run:
    """The record of one run: written as running at the start, then as ok or failed."""

    def __init__(self, name: str, fields: dict[str, object], started: float) -> None:
        import socket

        self.name = name
        try:
            previous = read(name) or {}
        except Unreadable as error:  # replaced by this run's; last_ok is lost with it
            import logging  # only here: check_backup imports this module at every run

            logging.getLogger("drptools").warning("%s (replacing it)", error)
            previous = {}
        self.record: dict[str, object] = {
            **fields,
            "started": started,
            "finished": None,
            "result": RUNNING,
            "error": None,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "last_ok": previous.get("last_ok"),
        }
        write(name, self.record)

    def succeeded(self, finished: float, **figures: object) -> None:
        """Record success; this run becomes ``last_ok``."""
        self.record.update(figures, finished=finished, result=OK)
        keep = ("snapshot", "started", "finished", "files", "bytes")
        self.record["last_ok"] = {key: self.record.get(key) for key in keep}
        write(self.name, self.record)

    def failed(self, finished: float, error: str) -> None:
        """Record failure with its one-line reason."""
        self.record.update(finished=finished, result=FAILED, error=error)
        write(self.name, self.record)


def judged(record: dict[str, object], now: float, limit: float) -> str:
    """The record's result as a reader must take it.

    A running record is ``died`` when its process is gone (or is no longer drp), and
    ``hung`` when it still runs ``limit`` seconds after its start: a run that holds its
    locks for ever makes every later one give up "busy", so it must not look "running".
    """
    result = str(record.get("result", "?"))
    if result != RUNNING:
        return result
    if not pid_alive(record.get("pid")):
        return DIED
    started = record.get("started")
    if isinstance(started, int | float) and now - started > limit:
        return HUNG
    return RUNNING


def pid_alive(pid: object) -> bool:
    """True when the process ``pid`` exists and is a drp run (a running record's writer).

    A pid left in the record of a run killed with SIGKILL (or lost in a reboot) is soon
    reused by something else: only a process whose command line is drp's counts, else
    such a run would be "running" for ever and never reported as died.
    """
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            arguments = file.read().split(b"\0")[:2]
    except FileNotFoundError:
        return False
    except OSError:  # /proc mounted hidepid: it exists, and cannot be told apart
        return True
    return any(os.path.basename(argument) == b"drp" for argument in arguments)


class LocalLock:
    """flock(2) on ``locks/<name>.lock`` in the state directory, never waiting.

    The file holds ``<pid> <start>`` of its holder. A refused run names them; when the
    holder has held the lock longer than the limit of its kind (``files.…``, ``db.…``)
    it is taken for hung and the refusal is a failure (exit 1), not "busy" (75), which
    cron and systemd are told to accept as success.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.path = os.path.join(state_dir(), "locks", f"{name}.lock")
        self.descriptor = -1

    def __enter__(self) -> LocalLock:
        import fcntl

        try:
            make_state_dir()
            _directory(os.path.dirname(self.path))
            self.descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            where = error.filename or self.path
            detail = error.strerror if where == self.path else f"{where}: {error.strerror}"
            raise StateError(f"cannot create the lock {self.path}: {detail}") from None
        try:
            fcntl.flock(self.descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.descriptor, 64, 0).decode(errors="replace").split()
            os.close(self.descriptor)
            raise self._refusal(holder) from None
        try:
            _own(self.descriptor)
            os.ftruncate(self.descriptor, 0)
            os.pwrite(self.descriptor, f"{os.getpid()} {layout.now():.0f}\n".encode(), 0)
        except OSError as error:
            os.close(self.descriptor)
            raise StateError(f"cannot write the lock {self.path}: {error.strerror}") from None
        return self

    def _refusal(self, holder: list[str]) -> Failure:
        """LockBusy naming the holder; a Failure (exit 1) when it has held it too long."""
        from checks.core.units import human_duration
        from drptools.errors import LockBusy

        text = f"another drp run holds {self.path}"
        pid = holder[0] if holder and holder[0].isdigit() else None
        held = None
        if len(holder) > 1 and holder[1].isdigit():
            held = max(layout.now() - int(holder[1]), 0.0)
        if pid is None:
            return LockBusy(text)
        if held is None:
            return LockBusy(f"{text} (pid {pid})")
        text += f" (pid {pid}, for {human_duration(held)})"
        kind = self.name.split(".", 1)[0]
        limit = settings.limits.get(kind)
        if limit is not None and held > limit:
            return Failure(
                f"{text}: longer than limits.{kind}_minutes ({limit / 60:g} min), so it looks "
                f"hung: see what pid {pid} does, kill it if it is stuck"
            )
        return LockBusy(text)

    def __exit__(self, *exc: object) -> None:
        os.close(self.descriptor)


def newest_ok(records: Iterator[dict[str, object]] | list[dict[str, object]]) -> float | None:
    """The start time of the newest successful run among ``records`` (None: never)."""
    times = []
    for record in records:
        last = record.get("last_ok")
        if isinstance(last, dict) and isinstance(last.get("started"), int | float):
            times.append(float(last["started"]))
    return max(times) if times else None
