"""``drp drill``: prove every week that the newest backups restore, and how fast.

A backup never restored is a hope. Per environment, the drill picks the backups an
activation would (:func:`drptools.procedures.restore.choose_backups`, or those of
``--target``), restores them into scratch copies, verifies them against the MANIFEST
and the dumps' row counts and checksums (:mod:`drptools.procedures.drill`), and removes
the copies again, also when it fails or is interrupted. It touches no DNS, no production
and nothing the DRP server serves, so it needs no order and no go-ahead; ``--dry-run``
prints the plan.

Each environment is its own journaled runbook ``drill`` (one failing does not stop the
next) and leaves a status record ``drill.<environment>.<target>`` that check_drp and
check_backup read: the result and its problems, the snapshot and dumps restored, the RPO
(the drill's start minus the age of the oldest data restored), the RTO estimate (from
the measured copy, import and verification times: the longer of the files' copy and
proof and the databases' imports, which an activation runs at the same time) and the
figures. One lock, ``drill``,
covers a whole drill with its cleanup: the scratch databases have fixed names (a killed
drill's leftovers are dropped by the next), so two drills must never overlap, while an
activation (the ``runbook`` lock) is never kept waiting by a drill.
"""

from __future__ import annotations

import os

from drptools import journal, runbook, status
from drptools.actions import common
from drptools.errors import BadUse, Failure
from drptools.procedures import drill, restore

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from drptools.config import Config, Environment

LOCK = "drill"
RECORD = "drill.{environment}.{target}"
#: The runbook's step kinds, and the part of the record each one measures.
PARTS = {"drill-files": "files", "drill-db": "db", "drill-verify": "verify"}


def build(config: Config, chosen: restore.Chosen, scratch: drill.Scratch) -> runbook.Runbook:
    """The drill of one environment from ``chosen``, into the directory ``scratch``."""
    steps: list[runbook.Step] = [drill.DrillFiles(config, chosen, scratch)]
    steps += [
        drill.DrillDatabase(config, chosen, database, scratch)
        for database in chosen.environment.databases
    ]
    steps.append(drill.DrillVerify(config, chosen, scratch))
    parameters: dict[str, object] = {
        "environment": chosen.environment.name,
        "target": chosen.target,
        "snapshot": chosen.snapshot,
        "dumps": chosen.dumps,
        "scratch": scratch.parameters(),
    }
    return runbook.Runbook("drill", parameters, steps, resumable=False)


def main(config: Config, args: argparse.Namespace) -> int:
    """``drp drill [ENV…] [--target A|B] [--dry-run]``: 0 when every drill passed."""
    if config.drp is None:
        raise BadUse(
            f"{config.source} has no [drp] section: a drill restores into the DRP's "
            "database servers ([drp.databases.ENGINE])"
        )
    environments = common.environments(config, args.environments)
    if args.dry_run:
        return _plan(config, environments, args.target)
    passed = True
    with status.LocalLock(LOCK):
        for environment in environments:
            passed = _drill(config, environment, args.target) and passed
    return 0 if passed else 1


def _plan(config: Config, environments: list[Environment], only: str | None) -> int:
    """Print each environment's drill plan with its probes' problems; 1 if any."""
    problems = False
    for environment in environments:
        try:
            chosen = restore.Chosen(environment, restore.choose_backups(config, environment, only))
        except Failure as failure:
            print(f"{environment.name}: PROBLEM: {failure}")
            problems = True
            continue
        top = os.path.join(config.drill_scratch, f"{environment.name}.XXXXXX")
        files, dumps = os.path.join(top, drill.FILES), os.path.join(top, drill.DUMPS)
        scratch = drill.Scratch(files, dumps, config.drill_on_drp, (top, top))
        problems = common.planned(build(config, chosen, scratch), True) != 0 or problems
    return 1 if problems else 0


def _drill(config: Config, environment: Environment, only: str | None) -> bool:
    """One environment's drill, its record written and its scratch copies removed."""
    clock = common.Clock()
    record: dict[str, object] = {
        "what": "drill", "environment": environment.name, "target": only, "run": None,
        "started": clock.started, "snapshot": None, "dumps": {},
    }  # fmt: skip
    problems: list[str] = []
    chosen: restore.Chosen | None = None
    scratch: drill.Scratch | None = None
    book: runbook.Runbook | None = None
    herald = common.herald(config)
    measured = Measured()
    try:
        chosen = restore.Chosen(environment, restore.choose_backups(config, environment, only))
        record.update(target=chosen.target, snapshot=chosen.snapshot, dumps=chosen.dumps)
        scratch = drill.make_scratch(config, environment.name)
        book = build(config, chosen, scratch)
        try:
            runbook.execute(book, herald=herald, lock=None)
        finally:
            if herald.record is not None:
                record["run"] = herald.record.run_id
                measured = Measured(journal.read(herald.record.run_id))
    except Failure as failure:
        verify = book.steps[-1] if book is not None else None
        found = verify.problems if isinstance(verify, drill.DrillVerify) else []
        problems += found or [str(failure)]
    except BaseException as error:  # interrupted: still cleaned up and recorded
        problems.append(f"{type(error).__name__}: {error}".rstrip(": "))
        raise
    finally:
        problems += drill.clean(config, chosen, scratch)
        targets = [chosen.target] if chosen is not None else common.targets(config, only)
        _write(record, measured, problems, clock, targets)
    return not problems


class Measured:
    """What a drill's journal says: each part's seconds, the bytes its steps moved, the
    time of the data they restored, and the files and rows its verification proved."""

    def __init__(self, records: list[dict[str, object]] | None = None) -> None:
        self.parts: dict[str, float] = {}
        self.bytes = self.files = self.rows = 0
        self.data_times: list[float] = []
        for entry in records or []:
            if entry.get("event") == "end" and entry.get("result") == "ok":
                self._add(entry)

    def _add(self, entry: dict[str, object]) -> None:
        kind, step = str(entry.get("kind")), str(entry.get("step", ""))
        seconds, moved, details = entry.get("seconds"), entry.get("bytes"), entry.get("details")
        if kind not in PARTS or not isinstance(seconds, int | float):
            return
        part = f"db:{step.rsplit(':', 1)[-1]}" if kind == "drill-db" else PARTS[kind]
        self.parts[part] = round(float(seconds), 3)
        self.bytes += moved if isinstance(moved, int) else 0
        details = details if isinstance(details, dict) else {}
        if isinstance(data_time := details.get("data_time"), int | float):
            self.data_times.append(float(data_time))
        if kind == "drill-verify":
            self.files, self.rows = int(details.get("files") or 0), int(details.get("rows") or 0)


def rto_estimate(parts: dict[str, float]) -> float:
    """An activation's RTO from a drill's parts: it imports the databases while it copies
    and proves the files (runbook lanes), so the longer of the two."""
    databases = sum(seconds for part, seconds in parts.items() if part.startswith("db:"))
    return round(max(parts.get("files", 0.0) + parts.get("verify", 0.0), databases), 3)


def _write(
    record: dict[str, object], measured: Measured, problems: list[str], clock: common.Clock,
    targets: list[str],
) -> None:  # fmt: skip
    """The drill's status record, ``ok`` only when it found no problem at all."""
    data_time = min(measured.data_times, default=None)
    started = clock.started
    parts = measured.parts
    record.update(
        finished=clock.finished(),
        result=status.OK if not problems else status.FAILED,
        problems=problems,
        data_time=data_time,
        rpo_seconds=round(started - data_time, 3) if data_time is not None else None,
        rto_estimate_seconds=rto_estimate(parts) if parts else None,
        parts=parts,
        files=measured.files,
        bytes=measured.bytes,
        rows=measured.rows,
    )
    for name in targets:  # a drill that found no backup fails for every target tried
        status.write(RECORD.format(environment=record["environment"], target=name),
                     dict(record, target=name))  # fmt: skip
    if problems:
        print(f"drp drill {record['environment']}: FAILED: {problems[0]}")
    else:
        print(
            f"drp drill {record['environment']}: ok, {record['files']} files and "
            f"{record['rows']} rows restored and verified from {record['target']}; "
            f"RPO {record['rpo_seconds']} s, RTO estimate {record['rto_estimate_seconds']} s"
        )
