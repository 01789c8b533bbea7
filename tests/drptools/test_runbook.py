"""The runbook engine: plans that probe, journaled steps, resume, signals, one lock."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from drptools import journal, runbook
from drptools.errors import Failure, LockBusy
from drptools.status import LocalLock

REPO = Path(__file__).resolve().parents[2]


class Touch(runbook.Step):
    """Writes ``size`` bytes to ``path``; fails while ``broken`` exists; done when written."""

    kind = "copy-files"

    def __init__(self, name: str, path: Path, size: int = 10, broken: Path | None = None) -> None:
        self.name, self.title, self.path, self.bytes = name, f"write {name}", path, size
        self.broken = broken
        self.runs = 0

    def describe(self) -> list[str]:
        return [f"to {self.path}"]

    def size(self) -> int:
        return self.bytes

    def probe(self) -> list[str]:
        return [f"{self.path.parent} is missing"] if not self.path.parent.is_dir() else []

    def done(self) -> bool:
        return self.path.exists()

    def run(self, progress: runbook.Progress) -> dict[str, object]:
        self.runs += 1
        if self.broken is not None and self.broken.exists():
            raise Failure(f"{self.broken} says no")
        self.path.write_bytes(b"x" * self.bytes)
        progress.update(self.bytes, self.bytes)
        return {"bytes": self.bytes, "data_time": 1000.0}


def events(run_id: str) -> list[tuple[str, str | None]]:
    return [(str(r["event"]), r.get("step")) for r in journal.read(run_id)]  # type: ignore[misc]


def test_a_run_journals_every_step_and_measures_rto_and_rpo(tmp_path: Path) -> None:
    steps = [Touch("one", tmp_path / "1"), Touch("two", tmp_path / "2")]
    steps[1].ends_outage = True
    out = io.StringIO()
    report = runbook.execute(runbook.Runbook("activate", {"env": ["www"]}, steps), stream=out)
    assert events(report.run_id) == [
        ("begin", None), ("start", "one"), ("end", "one"), ("start", "two"), ("end", "two"),
        ("finish", None),
    ]  # fmt: skip
    records = journal.read(report.run_id)
    assert records[0]["parameters"] == {"env": ["www"]}
    assert records[2]["bytes"] == 10
    assert records[2]["result"] == "ok"
    assert report.rto is not None
    assert 0 <= report.rto < 5
    assert report.rpo is not None
    assert report.rpo > time.time() - 1000 - 60
    assert "[2/2] write two: done in" in out.getvalue()
    assert oct(os.stat(report.journal).st_mode & 0o777) == "0o640"


def test_a_failed_step_stops_the_runbook_and_resume_skips_what_was_done(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.touch()
    steps = [Touch("one", tmp_path / "1"), Touch("two", tmp_path / "2", broken=broken),
             Touch("three", tmp_path / "3")]  # fmt: skip
    book = runbook.Runbook("activate", {}, steps)
    with pytest.raises(runbook.StepFailed, match=r"\[2/3\] write two: .*broken says no"):
        runbook.execute(book, stream=io.StringIO())
    (run_id,) = list(journal.all_runs())
    assert not (tmp_path / "3").exists()
    assert journal.read(run_id)[-1]["result"] == "failed"
    broken.unlink()
    runbook.execute(book, resume=run_id, stream=io.StringIO())
    assert [s.runs for s in steps] == [1, 2, 1]
    assert events(run_id).count(("start", "one")) == 1


def test_a_failed_probe_runs_nothing(tmp_path: Path) -> None:
    step = Touch("one", tmp_path / "absent" / "1")
    with pytest.raises(runbook.StepFailed, match="absent is missing"):
        runbook.execute(runbook.Runbook("activate", {}, [step]), stream=io.StringIO())
    assert step.runs == 0


def test_the_plan_probes_everything_and_changes_nothing(tmp_path: Path) -> None:
    steps = [Touch("one", tmp_path / "1", size=2048), Touch("two", tmp_path / "absent" / "2")]
    lines, problems = runbook.plan(runbook.Runbook("activate", {}, steps))
    assert lines[0] == "1/2 write one (2 KiB)"
    assert f"    to {tmp_path / '1'}" in lines
    assert problems == [f"write two: {tmp_path / 'absent'} is missing"]
    assert not list(tmp_path.iterdir())
    assert not list(journal.all_runs())


def test_estimates_come_from_the_throughput_of_past_runs(tmp_path: Path) -> None:
    runbook.execute(runbook.Runbook("prestage", {}, [Touch("one", tmp_path / "1", 4096)]),
                    stream=io.StringIO())  # fmt: skip
    assert runbook.throughput("copy-files") is not None
    lines, _ = runbook.plan(runbook.Runbook("activate", {}, [Touch("a", tmp_path / "a", 1 << 20)]))
    assert ", about " in lines[0]
    assert "/s)" in lines[0]


def test_only_one_runbook_runs_at_a_time(tmp_path: Path) -> None:
    with LocalLock(runbook.LOCK), pytest.raises(LockBusy, match=f"pid {os.getpid()}"):
        runbook.execute(runbook.Runbook("failback", {}, [Touch("one", tmp_path / "1")]))
    assert not (tmp_path / "1").exists()


def test_resume_refuses_another_runbooks_run_and_a_finished_one(tmp_path: Path) -> None:
    report = runbook.execute(runbook.Runbook("activate", {}, [Touch("one", tmp_path / "1")]),
                             stream=io.StringIO())  # fmt: skip
    with pytest.raises(Failure, match="is a activate run, not failback"):
        runbook.resumed_parameters(report.run_id, "failback")
    with pytest.raises(Failure, match="finished successfully"):
        runbook.resumed_parameters(report.run_id, "activate")
    with pytest.raises(Failure, match="not a run id"):
        journal.read("../etc/passwd")


class Meet(Touch):
    """A step of lane ``lane`` that waits (10 s at most) until every step sharing
    ``meeting`` runs: they only meet if they run at the same time."""

    def __init__(self, name: str, path: Path, lane: str, meeting: threading.Barrier) -> None:
        super().__init__(name, path)
        self.lane, self.meeting = lane, meeting

    def run(self, progress: runbook.Progress) -> dict[str, object]:
        self.meeting.wait(10)
        return super().run(progress)


def test_lanes_run_at_the_same_time_each_in_order_and_the_plan_says_so(tmp_path: Path) -> None:
    first, second = threading.Barrier(2), threading.Barrier(2)
    steps = [Meet("files", tmp_path / "f", "files", first),
             Meet("db", tmp_path / "d", "db", first),
             Meet("files-again", tmp_path / "f2", "files", second),
             Meet("db-again", tmp_path / "d2", "db", second),
             Touch("dns", tmp_path / "n")]  # fmt: skip
    book = runbook.Runbook("activate", {}, steps)
    lines, _ = runbook.plan(book)
    assert lines[0] == "at the same time, each lane in order: files 1, 3; db 2, 4"
    assert lines[-2:] == ["5/5 write dns (10 B)", f"    to {tmp_path / 'n'}"]
    report = runbook.execute(book, stream=io.StringIO())
    recorded = events(report.run_id)
    assert recorded.index(("start", "db")) < recorded.index(("end", "files"))
    assert recorded.index(("end", "files")) < recorded.index(("start", "files-again"))
    assert recorded[-3:] == [("start", "dns"), ("end", "dns"), ("finish", None)]
    assert {step.name for step in steps if step.runs == 1} == {s.name for s in steps}


class Failing(Touch):
    """Fails, after telling ``told`` (the step beside it may end only then)."""

    def __init__(self, name: str, path: Path, told: threading.Event) -> None:
        super().__init__(name, path)
        self.lane, self.told = "db", told

    def run(self, progress: runbook.Progress) -> dict[str, object]:
        if not self.path.parent.joinpath("fixed").exists():
            self.told.set()
            raise Failure("the DRP database server went away")
        return super().run(progress)


class Waiting(Touch):
    """Of lane ``files``; ends once ``told`` is set (10 s at most)."""

    def __init__(self, name: str, path: Path, told: threading.Event) -> None:
        super().__init__(name, path)
        self.lane, self.told = "files", told

    def run(self, progress: runbook.Progress) -> dict[str, object]:
        self.told.wait(10)
        return super().run(progress)


def test_a_failing_lane_lets_the_others_end_their_step_and_start_no_other(tmp_path: Path) -> None:
    told = threading.Event()
    steps = [Waiting("copy", tmp_path / "c", told), Failing("import", tmp_path / "i", told),
             Touch("verify", tmp_path / "v"), Touch("dns", tmp_path / "n")]  # fmt: skip
    steps[2].lane = "files"
    book = runbook.Runbook("activate", {}, steps)
    out = io.StringIO()
    with pytest.raises(runbook.StepFailed, match=r"\[2/4\] write import: the DRP database"):
        runbook.execute(book, stream=out)
    (run_id,) = list(journal.all_runs())
    recorded = events(run_id)
    assert ("end", "copy") in recorded  # the copy went on to its end, and was journaled
    assert ("start", "verify") not in recorded
    assert ("start", "dns") not in recorded
    assert "(waiting for the steps still running to end)" in out.getvalue()
    (tmp_path / "fixed").touch()
    runbook.execute(book, resume=run_id, stream=io.StringIO())
    assert [step.runs for step in steps] == [1, 1, 1, 1]  # the copy not redone
    assert events(run_id).count(("start", "import")) == 2


# A runbook in its own process, so that it can be killed: step "slow" waits for a file.
SCRIPT = """
import sys, time
from pathlib import Path
from drptools import runbook
from drptools.errors import Interrupted, interrupt_on_signals

class Slow(runbook.Step):
    name, title = "slow", "the slow step"
    def __init__(self, root):
        self.root = root
    def done(self):
        return (self.root / "slow.done").exists()
    def run(self, progress):
        (self.root / "slow.started").touch()
        while not (self.root / "go").exists():
            time.sleep(0.05)
        (self.root / "slow.done").touch()
        return {}

class Quick(Slow):
    name, title = "quick", "the quick step"
    def run(self, progress):
        (self.root / "quick.runs").open("a").write("x")
        return {}

class Beside(Slow):
    name, title, lane = "beside", "the step beside", "db"
    def run(self, progress):
        (self.root / "beside.started").touch()
        time.sleep(30)
        return {}

root = Path(sys.argv[1])
resume = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] != "lanes" else None
steps = [Slow(root), Quick(root)]
if sys.argv[2:] == ["lanes"]:
    steps[0].lane = "files"
    steps.insert(1, Beside(root))
interrupt_on_signals()
try:
    runbook.execute(runbook.Runbook("activate", {}, steps), resume=resume)
except Interrupted as stop:
    sys.exit(128 + stop.signum)
"""


def start(tmp_path: Path, *resume: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path), *resume], text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ),
    )  # fmt: skip


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + 20
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_sigterm_stops_with_the_journal_saying_where(tmp_path: Path) -> None:
    process = start(tmp_path)
    wait_for(tmp_path / "slow.started")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 128 + signal.SIGTERM
    (run_id,) = list(journal.all_runs())
    assert journal.read(run_id)[-1] | {"time": 0} == {
        "run": run_id, "time": 0, "event": "stop", "step": "slow", "kind": "step",
        "signal": "SIGTERM",
    }  # fmt: skip


def test_sigterm_stops_every_lane_with_the_journal_saying_where(tmp_path: Path) -> None:
    process = start(tmp_path, "lanes")
    wait_for(tmp_path / "slow.started")
    wait_for(tmp_path / "beside.started")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 128 + signal.SIGTERM
    (run_id,) = list(journal.all_runs())
    assert sorted(events(run_id)[-2:]) == [("stop", "beside"), ("stop", "slow")]
    assert events(run_id).count(("start", "quick")) == 0


def test_a_step_killed_midway_is_reprobed_on_resume(tmp_path: Path) -> None:
    process = start(tmp_path)
    wait_for(tmp_path / "slow.started")
    (tmp_path / "slow.done").touch()  # its work happened, the journal never heard of it
    process.kill()
    process.wait(timeout=20)
    (run_id,) = list(journal.all_runs())
    assert events(run_id)[-1] == ("start", "slow")
    resumed = start(tmp_path, run_id)
    assert resumed.wait(timeout=30) == 0, resumed.communicate()
    assert events(run_id)[-5:] == [("resume", None), ("end", "slow"), ("start", "quick"),
                                   ("end", "quick"), ("finish", None)]  # fmt: skip
    assert journal.read(run_id)[-4]["details"] == {"found": "done, on resume"}
    assert (tmp_path / "quick.runs").read_text() == "x"


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    report = runbook.execute(runbook.Runbook("activate", {}, [Touch("one", tmp_path / "1")]),
                             stream=io.StringIO())  # fmt: skip
    with open(report.journal, "a") as stream:
        stream.write('{"run": "torn')
    assert json.dumps(journal.read(report.run_id)[-1]["event"]) == '"finish"'
