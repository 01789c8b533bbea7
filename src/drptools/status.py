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
lock as well, for two machines that share a target).
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

RUNNING, OK, FAILED = "running", "ok", "failed"


def state_dir() -> str:
    """``$VIGIE_STATE_DIR/drp``, else ``/var/lib/vigie/drp``."""
    return os.path.join(os.environ.get("VIGIE_STATE_DIR") or "/var/lib/vigie", "drp")


def record_name(what: str, environment: str, target: str, database: str | None = None) -> str:
    """``files.www.A`` or ``db.www.shop.B``."""
    parts = [what, environment] + ([database] if database else []) + [target]
    return ".".join(parts)


def read(name: str) -> dict[str, object] | None:
    """The record ``name``, or None if there is none or it cannot be read."""
    try:
        with open(os.path.join(state_dir(), f"{name}.json"), encoding="utf-8") as file:
            record = json.load(file)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def read_all() -> list[dict[str, object]]:
    """Every record in the state directory, sorted by name."""
    try:
        names = sorted(os.listdir(state_dir()))
    except OSError:
        return []
    records = []
    for name in names:
        if name.endswith(".json") and name.startswith(("files.", "db.")):
            record = read(name[: -len(".json")])
            if record is not None:
                records.append(record)
    return records


def write(name: str, record: dict[str, object]) -> None:
    """Store ``record`` as ``name`` atomically and durably."""
    directory = state_dir()
    os.makedirs(directory, mode=0o755, exist_ok=True)
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(record, file, indent=1, sort_keys=True)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, os.path.join(directory, f"{name}.json"))


class Run:
    """The record of one run: written as running at the start, then as ok or failed."""

    def __init__(self, name: str, fields: dict[str, object], started: float) -> None:
        import socket

        self.name = name
        previous = read(name) or {}
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


def pid_alive(pid: object) -> bool:
    """True when a process with this pid exists (a running record's writer)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalLock:
    """flock(2) on ``locks/<name>.lock`` in the state directory, never waiting."""

    def __init__(self, name: str) -> None:
        self.path = os.path.join(state_dir(), "locks", f"{name}.lock")
        self.descriptor = -1

    def __enter__(self) -> LocalLock:
        import fcntl

        from drptools.errors import LockBusy

        os.makedirs(os.path.dirname(self.path), mode=0o755, exist_ok=True)
        self.descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self.descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.descriptor, 32, 0).decode(errors="replace").strip()
            os.close(self.descriptor)
            raise LockBusy(
                f"another drp run holds {self.path}" + (f" (pid {holder})" if holder else "")
            ) from None
        os.ftruncate(self.descriptor, 0)
        os.pwrite(self.descriptor, f"{os.getpid()}\n".encode(), 0)
        return self

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
