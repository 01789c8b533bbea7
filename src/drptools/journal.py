"""The journal of a runbook run: one JSON line per event, fsync'd before the step goes on.

A DRP activation or failback is long (hours before pre-staging) and runs while things
break: the machine may be killed mid-copy. The journal is what lets an on-call engineer
see where it stopped and ``--resume`` it without redoing finished work. Every record is
written with ``O_APPEND`` and fsync'd, so a line is either complete or, if the machine
died while writing it, the torn last line is ignored on reading (a step whose ``start``
has no ``end`` is *unknown*: re-probed before it is redone).

Records (``event``): ``begin`` (the runbook, its parameters, the time), ``start`` and
``end`` of a step (``result`` ok/failed/skipped, ``bytes``, ``seconds``, ``details``,
``error``), ``stop`` (interrupted by a signal, naming it), ``finish`` (the run's outcome,
RTO and RPO). Journals live in ``<state dir>/runs/<run id>.jsonl``, mode 0640.
"""

from __future__ import annotations

import json
import os
import secrets
import threading

from drptools import layout
from drptools.errors import BadUse, Failure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator


def runs_dir() -> str:
    """Where the journals are: ``runs/`` of drp's state directory."""
    from drptools.status import state_dir

    return os.path.join(state_dir(), "runs")


def new_run_id(runbook: str, now: float) -> str:
    """``activate-20261201T231500Z-3f9a``: the runbook, when it began, and 2 random bytes
    (two runs in the same second stay apart)."""
    return f"{runbook}-{layout.stamp(now)}-{secrets.token_hex(2)}"


def journal_path(run_id: str) -> str:
    """The journal of ``run_id``; BadUse for an id that is not a plain name."""
    if not run_id or "/" in run_id or run_id.startswith(".") or "\0" in run_id:
        raise BadUse(f"{run_id!r} is not a run id (see drp runs)")
    return os.path.join(runs_dir(), f"{run_id}.jsonl")


class Journal:
    """The append-only journal of one run, each record durable when :meth:`write` returns."""

    def __init__(self, run_id: str) -> None:
        from drptools.status import make_state_dir

        self.run_id = run_id
        self.path = journal_path(run_id)
        try:
            make_state_dir()
            os.makedirs(runs_dir(), mode=0o750, exist_ok=True)
            self.descriptor = os.open(
                self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640
            )
        except OSError as error:
            raise Failure(f"cannot write the journal {self.path}: {error.strerror}") from None
        self._lock = threading.Lock()
        self.sealed = False

    def write(self, event: str, **fields: object) -> dict[str, object]:
        """Append one record (``run``, ``time``, ``event`` and ``fields``) and fsync it;
        nothing once the journal is sealed (:meth:`seal`). Safe from several threads."""
        record: dict[str, object] = {"run": self.run_id, "time": round(layout.now(), 3)}
        record["event"] = event
        record.update(fields)
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        with self._lock:
            if self.sealed:
                return record
            try:
                os.write(self.descriptor, line.encode())
                os.fsync(self.descriptor)
            except OSError as error:
                raise Failure(f"cannot write the journal {self.path}: {error.strerror}") from None
        return record

    def seal(self) -> None:
        """Write nothing more: a run stopped by a signal journaled where each of its steps
        stood, and the steps that other threads end afterwards must not add an outcome."""
        with self._lock:
            self.sealed = True

    def close(self) -> None:
        """Close the journal file (sealed first: its descriptor's number may be reused)."""
        self.seal()
        os.close(self.descriptor)


def read(run_id: str) -> list[dict[str, object]]:
    """The records of ``run_id``'s journal, a torn last line left out."""
    path = journal_path(run_id)
    try:
        with open(path, encoding="utf-8") as stream:
            lines = stream.read().split("\n")
    except FileNotFoundError:
        raise BadUse(f"no run {run_id} (no journal {path}; see drp runs)") from None
    except OSError as error:
        raise Failure(f"cannot read the journal {path}: {error.strerror}") from None
    records = []
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if number >= len(lines) - 1:  # the last line, torn when the machine died
                break
            raise Failure(f"{path} line {number} is not a journal record") from None
        if isinstance(record, dict):
            records.append(record)
    if not records or records[0].get("event") != "begin":
        raise Failure(f"{path} does not begin with the run's begin record")
    return records


class StepState:
    """What a journal says of one step: ``done``, ``failed``, ``unknown`` (started, never
    ended: killed mid-step) or ``pending``, and its last end record."""

    __slots__ = ("end", "state")

    def __init__(self, state: str, end: dict[str, object] | None = None) -> None:
        self.state, self.end = state, end


def step_states(records: list[dict[str, object]]) -> dict[str, StepState]:
    """Each journaled step's state, from its last start and end records."""
    states: dict[str, StepState] = {}
    for record in records:
        step = record.get("step")
        if not isinstance(step, str):
            continue
        if record.get("event") == "start":
            states[step] = StepState("unknown")
        elif record.get("event") == "end":
            done = record.get("result") in ("ok", "skipped")
            states[step] = StepState("done" if done else "failed", record)
    return states


def all_runs() -> Iterator[str]:
    """The run ids with a journal, oldest first (their ids begin with a UTC stamp)."""
    try:
        names = os.listdir(runs_dir())
    except FileNotFoundError:
        return iter(())
    runs = [name[: -len(".jsonl")] for name in names if name.endswith(".jsonl")]
    return iter(sorted(runs, key=lambda run: run.split("-", 1)[-1]))


def finish(records: list[dict[str, object]]) -> dict[str, object] | None:
    """The run's last ``finish`` record (notices may follow it), None while unfinished."""
    return next((r for r in reversed(records) if r.get("event") == "finish"), None)


def readable_runs() -> Iterator[tuple[str, list[dict[str, object]]]]:
    """Every run with its records, oldest first; a journal that cannot be read is left out
    (``drp runs --show`` names its problem)."""
    for run_id in all_runs():
        try:
            yield run_id, read(run_id)
        except Failure:
            continue


def succeeded(records: list[dict[str, object]]) -> bool:
    """Whether the run's last ``finish`` says ok."""
    end = finish(records)
    return end is not None and end.get("result") == "ok"
