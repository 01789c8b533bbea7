"""Runbooks: ordered, idempotent steps that plan, probe, run, journal and resume.

DRP activation and failback run rarely, under stress, on machines that are failing. So
each step can say what it will do before anything happens (:meth:`Step.describe`, sizes,
an estimate from the throughput of past runs), check its preconditions read-only
(:meth:`Step.probe`), do its work (:meth:`Step.run`), and tell from the real state
whether it is already done (:meth:`Step.done`). :func:`execute` runs them in order under
one lock, journaling each step's start and end (:mod:`drptools.journal`); steps of
different *lanes* next to each other run at the same time (:attr:`Step.lane`: an
activation's files and its databases touch different things, so its RTO is the longer
of the two, not their sum). So that:

- ``--dry-run`` builds the plan from the very steps a run would execute and runs every
  read-only probe (ReaR's ``-s`` only lists its scripts);
- ``--resume RUN_ID`` skips what the journal says is done, and a step that started but
  never ended (killed mid-way) is asked :meth:`Step.done` before it is redone;
- SIGINT/SIGTERM/SIGHUP (:class:`drptools.errors.Interrupted`, raised by the handlers
  ``drp`` installs) stop at once with the journal saying where (``stop``), exit 128+N;
- the final report gives the measured RTO (from the run's first start to the step that
  ends the outage, normally DNS verified) and RPO (that moment minus the age of the
  oldest data restored).
"""

from __future__ import annotations

import os
import signal
import statistics
import sys
import threading
import time

from drptools import journal, layout
from drptools.errors import Failure, Interrupted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import TextIO

#: The lock every runbook holds: an activation and a failback must never overlap.
LOCK = "runbook"


class StepFailed(Failure):
    """A step's probe or run failed: the runbook stops there (exit 1)."""


class Progress:
    """Step k/N, bytes, rate and ETA on a terminal, redrawn at most twice a second."""

    def __init__(
        self, index: int, count: int, title: str, stream: TextIO, live: bool = True
    ) -> None:
        self.prefix = f"[{index}/{count}] {title}"
        self.stream = stream
        #: One progress line at a time: a step beside the one drawing it counts silently.
        self.live = live and stream.isatty()
        self.started = time.monotonic()
        self.drawn = 0.0
        self.bytes = 0

    def update(self, done: int, total: int | None = None) -> None:
        """``done`` bytes of ``total`` moved so far."""
        from checks.core.units import human_bytes, human_duration

        self.bytes = done
        now = time.monotonic()
        if not self.live or now - self.drawn < 0.5:
            return
        self.drawn = now
        rate = done / max(now - self.started, 1e-3)
        text = f"{self.prefix}: {human_bytes(done)}"
        if total:
            text += f" of {human_bytes(total)}"
        text += f", {human_bytes(rate)}/s"
        if total and rate > 0 and done < total:
            text += f", {human_duration((total - done) / rate)} left"
        self.stream.write(f"\r\033[K{text}")
        self.stream.flush()

    def clear(self) -> None:
        """Erase the progress line before the step's result is printed."""
        if self.live and self.drawn:
            self.stream.write("\r\033[K")


class Step:
    """One idempotent step; subclasses override what applies.

    ``name`` is the step's key in the journal (unique in its runbook, stable across
    resumes: ``copy-files:www``), ``title`` what the operator reads, ``kind`` what past
    throughput is looked up by (``copy-files``), ``ends_outage`` whether the RTO clock stops
    when it is done (the DNS switch, once every authoritative server answers).
    """

    name = "step"
    title = "a step"
    kind = "step"
    ends_outage = False
    #: Steps of different lanes next to each other in a runbook run at the same time,
    #: those of one lane in order; a step of no lane (None) runs alone, once every step
    #: before it ended, and so does every step after it.
    lane: str | None = None

    def describe(self) -> list[str]:
        """What the step will do, in lines for the plan (sources, destinations, sizes)."""
        return []

    def size(self) -> int | None:
        """The bytes it will move (None: not a copy), for estimates and progress."""
        return None

    def probe(self) -> list[str]:
        """Problems that would make the step fail, found without changing anything."""
        return []

    def done(self) -> bool:
        """Whether the real state shows the step's work already done (asked on resume of
        a step killed mid-way; False redoes it, so only say True when it is certain)."""
        return False

    def run(self, progress: Progress) -> dict[str, object]:
        """Do the work; return details for the journal (``bytes``; ``data_time``: the Unix
        time of the data it restored, for the RPO). Raise Failure when it fails."""
        raise NotImplementedError


class Runbook:
    """A procedure: its name (``activate``), the parameters it was built from (journaled,
    so ``--resume`` rebuilds the same steps) and its steps in order."""

    def __init__(
        self, name: str, parameters: dict[str, object], steps: Sequence[Step],
        resumable: bool = True,
    ) -> None:  # fmt: skip
        self.name, self.parameters, self.steps = name, parameters, list(steps)
        #: Whether ``--resume`` can go on with a failed run (a drill cannot: its scratch
        #: copies are gone once it ends; it is simply run again).
        self.resumable = resumable
        names = [step.name for step in steps]
        if len(set(names)) != len(names):
            raise ValueError(f"runbook {name}: step names repeat: {names}")


def resumed_parameters(run_id: str, runbook: str) -> dict[str, object]:
    """The parameters ``run_id`` began with, to rebuild its runbook; Failure if that run is
    of another runbook or already finished."""
    records = journal.read(run_id)
    begin = records[0]
    if begin.get("runbook") != runbook:
        raise Failure(f"run {run_id} is a {begin.get('runbook')} run, not {runbook}")
    if journal.succeeded(records):
        raise Failure(f"run {run_id} finished successfully; there is nothing to resume")
    parameters = begin.get("parameters")
    return parameters if isinstance(parameters, dict) else {}


def throughput(kind: str) -> float | None:
    """The median bytes per second of past ``kind`` steps that moved data (None: no past)."""
    rates = []
    for _, records in journal.readable_runs():
        for record in records:
            moved, seconds = record.get("bytes"), record.get("seconds")
            if (
                record.get("event") == "end"
                and record.get("kind") == kind
                and record.get("result") == "ok"
                and isinstance(moved, int)
                and isinstance(seconds, int | float)
                and moved > 0
                and seconds > 0
            ):
                rates.append(moved / seconds)
    return statistics.median(rates) if rates else None


Lane = list[tuple[int, Step]]


def stages(steps: Sequence[Step]) -> list[dict[str | None, Lane]]:
    """The steps, numbered from 1, as the stages run one after the other: each stage's
    lanes (by :attr:`Step.lane`), which run at the same time."""
    staged: list[dict[str | None, Lane]] = []
    for index, step in enumerate(steps, 1):
        if step.lane is None or not staged or None in staged[-1]:
            staged.append({})
        staged[-1].setdefault(step.lane, []).append((index, step))
    return staged


def plan(runbook: Runbook, probe: bool = True) -> tuple[list[str], list[str]]:
    """The plan's lines and, with ``probe``, every problem the steps' probes found."""
    from checks.core.units import human_bytes, human_duration

    lines, problems = [], []
    rates: dict[str, float | None] = {}
    count = len(runbook.steps)
    together = {}  # the first step of each stage of more than one lane: the stage
    for stage in stages(runbook.steps):
        if len(stage) > 1:
            together[min(index for lane in stage.values() for index, _ in lane)] = stage
    for index, step in enumerate(runbook.steps, 1):
        if index in together:
            lanes = "; ".join(f"{name} {', '.join(str(number) for number, _ in lane)}"
                              for name, lane in together[index].items())  # fmt: skip
            lines.append(f"at the same time, each lane in order: {lanes}")
        size = step.size()
        heading = f"{index}/{count} {step.title}"
        if size is not None:
            heading += f" ({human_bytes(size)}"
            if step.kind not in rates:  # every journal is read once per kind
                rates[step.kind] = throughput(step.kind)
            rate = rates[step.kind]
            if rate and size:
                heading += f", about {human_duration(size / rate)} at {human_bytes(rate)}/s"
            heading += ")"
        lines.append(heading)
        lines += [f"    {line}" for line in step.describe()]
        if probe:
            found = step.probe()
            problems += [f"{step.title}: {problem}" for problem in found]
            lines += [f"    PROBLEM: {problem}" for problem in found]
    return lines, problems


class Report:
    """The outcome of a run: its id, journal, and measured RTO and RPO (seconds or None)."""

    __slots__ = ("journal", "rpo", "rto", "run_id")

    def __init__(self, run_id: str, path: str, rto: float | None, rpo: float | None) -> None:
        self.run_id, self.journal, self.rto, self.rpo = run_id, path, rto, rpo


_saying = threading.Lock()


def _say(stream: TextIO, text: str) -> None:
    """One line, whole, whichever lane's thread says it (over a progress line, erased)."""
    with _saying:
        stream.write(("\r\033[K" if stream.isatty() else "") + text + "\n")
        stream.flush()


class Herald:
    """Announces a run's start, its steps' ends (if asked) and its end, journaling each
    notice and what failed in it: a notice that fails never stops the runbook.

    ``announce(subject, lines)`` sends a notice and returns what failed
    (:func:`drptools.notify.notice`); ``steps``: also after each step.
    """

    def __init__(
        self, announce: Callable[[str, list[str]], list[str]] | None = None, steps: bool = False
    ) -> None:
        self.announce, self.steps = announce, steps
        self.record: journal.Journal | None = None

    def tell(self, subject: str, lines: list[str]) -> None:
        """Send the notice and journal it."""
        if self.announce is None:
            return
        failed = self.announce(subject, lines)
        if self.record is not None:
            self.record.write("notice", subject=subject, failed=failed)


def execute(
    runbook: Runbook, resume: str | None = None, stream: TextIO = sys.stdout,
    herald: Herald | None = None, lock: str | None = LOCK,
) -> Report:  # fmt: skip
    """Run ``runbook`` (or resume run ``resume`` of it) to its end under the runbook lock.

    Raises StepFailed when a step fails, Interrupted on a signal (both after journaling
    it), LockBusy when another runbook runs. ``herald`` announces the start, the steps
    (if it is asked to) and the end. ``lock`` None: the caller holds a lock of its own
    over more than the run (a drill, whose scratch copies outlive its steps and must not
    be shared with another drill, yet which must never keep an activation waiting).
    """
    import contextlib

    from drptools.status import LocalLock

    with LocalLock(lock) if lock is not None else contextlib.nullcontext():
        now = layout.now()
        if resume:
            states = journal.step_states(journal.read(resume))
            run_id = resume
        else:
            states, run_id = {}, journal.new_run_id(runbook.name, now)
        record = journal.Journal(run_id)
        herald = herald or Herald()
        herald.record = record
        title = f"DRP {runbook.name} run {run_id}"
        try:
            if resume:
                record.write("resume", pid=os.getpid())
            else:
                record.write(
                    "begin", runbook=runbook.name, parameters=runbook.parameters,
                    steps=[step.name for step in runbook.steps], pid=os.getpid(),
                )  # fmt: skip
            _say(stream, f"drp {runbook.name}: run {run_id}, journal {record.path}")
            herald.tell(
                f"{title} {'resumed' if resume else 'started'}",
                [
                    f"{index}/{len(runbook.steps)} {step.title}"
                    for index, step in enumerate(runbook.steps, 1)
                ],
            )
            _run_steps(runbook, states, record, stream, herald)
            rto, rpo = measured(journal.read(run_id))
            record.write("finish", result="ok", rto=rto, rpo=rpo)
            herald.tell(f"{title} complete", [f"RTO {rto} s, RPO {rpo} s; journal {record.path}"])
            return Report(run_id, record.path, rto, rpo)
        except StepFailed as failure:
            record.write("finish", result="failed", error=str(failure))
            herald.tell(
                f"{title} FAILED",
                [
                    str(failure),
                    f"journal {record.path}; go on with "
                    f"drp {runbook.name} --resume {run_id} once the cause is fixed"
                    if runbook.resumable
                    else f"journal {record.path}",
                ],
            )
            raise
        finally:
            record.close()


def _run_steps(
    runbook: Runbook, states: dict[str, journal.StepState], record: journal.Journal,
    stream: TextIO, herald: Herald,
) -> None:  # fmt: skip
    """Each stage in order; in a stage, each lane's steps in order, the lanes at once."""
    count = len(runbook.steps)

    def run(index: int, step: Step, live: bool) -> None:
        _run_step(runbook.name, index, count, step, states.get(step.name), record, stream,
                  herald, live)  # fmt: skip

    for stage in stages(runbook.steps):
        lanes = list(stage.values())
        if len(lanes) == 1:
            for index, step in lanes[0]:
                run(index, step, True)
        else:
            _run_lanes(lanes, run, record, stream)


def _run_lanes(
    lanes: list[Lane], run: Callable[[int, Step, bool], None], record: journal.Journal,
    stream: TextIO,
) -> None:  # fmt: skip
    """The lanes at the same time: the first in this thread, which the signals reach, the
    others in threads of their own.

    A step that fails lets the other lanes end the step they are in (a copy that goes on
    is not lost: ``--resume`` skips it) but start no other; the first failure is raised
    once they all ended. A signal stops the run at once: the steps of the other lanes
    are journaled stopped, then the journal is sealed (their children are ended by
    drp's handler, and their threads journal nothing more).
    """
    failed = threading.Event()
    failures: list[Exception] = []
    running: dict[int, Step] = {}

    def go(number: int, lane: Lane) -> None:
        try:
            for index, step in lane:
                if failed.is_set():
                    return
                running[number] = step
                run(index, step, number == 0)
                del running[number]
        except Exception as failure:  # StepFailed, or a defect: raised by this thread
            running.pop(number, None)
            failures.append(failure)
            failed.set()
            if isinstance(failure, StepFailed) and running:
                _say(stream, f"{failure} (waiting for the steps still running to end)")

    others = [threading.Thread(target=go, args=(number, lane), daemon=True)
              for number, lane in enumerate(lanes[1:], 1)]  # fmt: skip
    for thread in others:
        thread.start()
    try:
        go(0, lanes[0])
        for thread in others:
            while thread.is_alive():
                thread.join(0.2)
    except Interrupted as interruption:
        for number, step in list(running.items()):
            if number:
                record.write("stop", signal=signal.Signals(interruption.signum).name,
                             step=step.name, kind=step.kind)  # fmt: skip
        record.seal()
        raise
    if failures:
        raise failures[0]


def _run_step(
    name: str, index: int, count: int, step: Step, state: journal.StepState | None,
    record: journal.Journal, stream: TextIO, herald: Herald, live: bool,
) -> None:  # fmt: skip
    """One step: skipped when journaled done, re-probed when unknown, else run."""
    from checks.core.units import human_bytes, human_duration

    where = f"[{index}/{count}] {step.title}"
    if state is not None and state.state == "done":
        _say(stream, f"{where}: done in an earlier attempt of this run")
        return
    fields: dict[str, object] = {"step": step.name, "kind": step.kind}
    if state is not None and state.state == "unknown" and step.done():
        record.write("end", result="ok", details={"found": "done, on resume"}, **fields)
        _say(stream, f"{where}: found done (its outcome was unknown)")
        return
    problems = step.probe()
    if problems:
        error = "; ".join(problems)
        record.write("end", result="failed", error=f"preconditions: {error}", **fields)
        raise StepFailed(f"{where}: {error}")
    record.write("start", **fields)
    progress = Progress(index, count, step.title, stream, live)
    started = time.monotonic()
    try:
        details = step.run(progress)
    except Failure as failure:
        progress.clear()
        record.write("end", result="failed", error=str(failure),
                     seconds=round(time.monotonic() - started, 6), **fields)  # fmt: skip
        raise StepFailed(f"{where}: {failure}") from None
    except Interrupted as interruption:
        progress.clear()
        record.write("stop", signal=signal.Signals(interruption.signum).name, **fields)
        raise
    seconds = round(time.monotonic() - started, 6)
    moved = details.pop("bytes", progress.bytes or None)
    if step.ends_outage:
        details["ends_outage"] = True
    record.write("end", result="ok", seconds=seconds, bytes=moved, details=details, **fields)
    progress.clear()
    text = f"{where}: done in {human_duration(seconds)}"
    if isinstance(moved, int) and moved:
        text += f", {human_bytes(moved)}"
    _say(stream, text)
    if herald.steps:
        herald.tell(f"DRP {name} run {record.run_id}: step {index}/{count} done", [text])


def measured(records: list[dict[str, object]]) -> tuple[float | None, float | None]:
    """RTO and RPO of a run from its journal: from its first record to the end of the step
    that ends the outage (else of the last step), and that moment minus the oldest
    ``data_time`` a step restored."""
    begun = records[0].get("time")
    ends = [record for record in records if record.get("event") == "end"]
    if not isinstance(begun, int | float) or not ends:
        return None, None
    outage_end = next(
        (
            record
            for record in ends
            if isinstance(details := record.get("details"), dict) and details.get("ends_outage")
        ),
        ends[-1],
    )
    ended = outage_end.get("time")
    if not isinstance(ended, int | float):
        return None, None
    data_times = [
        details["data_time"]
        for record in ends
        if isinstance(details := record.get("details"), dict)
        and isinstance(details.get("data_time"), int | float)
    ]
    rpo = ended - min(data_times) if data_times else None
    return round(ended - begun, 3), (round(rpo, 3) if rpo is not None else None)
