"""The dump of ``drp backup db``: one database's consistent dump, streamed to its targets.

Every 2 hours (the policy's RPO), for each database of each environment, to each of its
targets (both by default) at once:

1. lock     the local lock of the database, then each target's (a target that cannot be
            reached or locked fails alone; the others go on)
2. stream   each file of the dump set (:mod:`drptools.engines`) into
            ``<stamp>.<suffix>.partial`` on every target, hashed on the way
3. rename   once the dump tool exited 0 and the target's ``dd`` did too: flush, give
            every file its final name
4. commit   write ``<stamp>.sha256`` (sha256sum format: ``sha256sum -c`` checks the set)
            as ``.sha256.partial`` and rename it: the set counts only from this rename

A dump tool that fails or is killed fails the run and its partial files are removed: no
reader ever takes an unfinished set for a dump (:func:`drptools.layout.classify_dumps`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os

from checks.core.units import human_bytes, human_duration
from drptools import engines, layout, status
from drptools.engines import stream
from drptools.errors import Failure
from drptools.procedures import common
from drptools.procedures.prune import prune_dumps
from drptools.status import LocalLock
from drptools.targets import Place

TYPE_CHECKING = False
if TYPE_CHECKING:
    from drptools.config import Config, Database
    from drptools.engines.common import Artifact

log = logging.getLogger("drptools")


class TargetRun:
    """One target's share of a dump: its place, lock, status record and files so far."""

    def __init__(self, name: str, database: Database, clock: common.Clock) -> None:
        self.name = name
        self.place: Place | None = None
        self.directory = ""
        self.checksums: list[str] = []
        self.size = 0
        self.error: str | None = None
        fields: dict[str, object] = {
            "what": "db",
            "environment": database.environment,
            "database": database.key,
            "target": name,
        }
        self.record = status.Run(
            status.record_name("db", database.environment, name, database.key),
            fields,
            clock.started,
        )

    def fail(self, error: str) -> None:
        """This target is out of the run, for ``error``."""
        if self.error is None:
            self.error = error


def backup_database(
    config: Config,
    database: Database,
    targets: list[str],
    clock: common.Clock,
    *,
    prune: bool = True,
) -> list[str]:
    """Dump ``database`` to ``targets``; the errors of the targets that failed."""
    what = f"{database.environment}/{database.key}"
    stamp = layout.stamp(clock.started)
    with LocalLock(f"db.{database.environment}.{database.key}"), contextlib.ExitStack() as stack:
        runs = [TargetRun(name, database, clock) for name in targets]
        for run in runs:
            try:
                run.place = stack.enter_context(Place(config.targets[run.name]))
                run.directory = layout.dumps_dir(run.place.root, database.environment, database.key)
                stack.enter_context(run.place.lock(f"{run.directory}/{layout.LOCK}"))
                environment = os.path.dirname(os.path.dirname(run.directory))
                run.place.show_to_monitoring(
                    [environment, os.path.dirname(run.directory), run.directory],
                    [f"{run.directory}/{layout.LOCK}"],
                )
            except Failure as failure:
                run.fail(str(failure))
        try:
            _dump(database, stamp, [run for run in runs if run.error is None], what)
        except Failure as failure:
            for run in runs:
                run.fail(str(failure))
        except BaseException as error:  # interrupted: record it, leave only partials
            for run in runs:
                run.fail(f"{type(error).__name__}: {error}".rstrip(": "))
                run.record.failed(clock.finished(), str(run.error))
            raise
        pruning_failed = []
        for run in runs:
            pruned: dict[str, object] = {}
            if run.error is None and prune and run.place is not None:
                pruned = common.retention(
                    functools.partial(prune_dumps, run.place, database, config.keep_dumps, False)
                )
            if pruned:  # the dump stands: recorded ok, the run still fails (exit 1)
                pruning_failed.append(
                    f"backup db {what} to {run.name}: retention failed after dump {stamp} was "
                    f"committed (recorded ok): {pruned[common.PRUNE_ERROR]}"
                )
            if run.error is None:
                run.record.succeeded(
                    clock.finished(),
                    snapshot=stamp,
                    files=len(run.checksums),
                    bytes=run.size,
                    **pruned,
                )
                log.info(
                    "backup db %s to %s: %s, %s in %s",
                    what,
                    run.name,
                    stamp,
                    human_bytes(run.size),
                    human_duration(clock.elapsed()),
                )
            else:
                run.record.failed(clock.finished(), run.error)
        failed = [
            f"backup db {what} to {run.name} failed: {run.error}" for run in runs if run.error
        ]
        return failed + pruning_failed


def _dump(database: Database, stamp: str, runs: list[TargetRun], what: str) -> None:
    """Stream every artifact to every run's target, then commit where all went well."""
    if not runs:
        return
    artifacts = engines.artifacts(database)
    try:
        for artifact in artifacts:
            name = stamp + artifact.suffix
            live = [run for run in runs if run.error is None]
            sinks = [
                stream.Sink(run.place, f"{run.directory}/{name}{layout.PARTIAL}")
                for run in live
                if run.place is not None
            ]
            digest, size = stream.stream(artifact, sinks, f"dumping {what}")
            for run, sink in zip(live, sinks, strict=True):
                if sink.error:
                    run.fail(sink.error)
                else:
                    run.checksums.append(f"{digest}  {name}\n")
                    run.size += size
    except BaseException:
        _clean(runs, stamp, artifacts)
        raise
    for run in runs:
        if run.error is None:
            try:
                _commit(run, stamp, artifacts)
            except Failure as failure:
                run.fail(str(failure))
        if run.error is not None:
            _clean([run], stamp, artifacts)


def _commit(run: TargetRun, stamp: str, artifacts: list[Artifact]) -> None:
    place = run.place
    assert place is not None
    directory = run.directory
    place.sync(directory)
    for artifact in artifacts:
        final = f"{directory}/{stamp}{artifact.suffix}"
        place.rename(final + layout.PARTIAL, final)
    marker = f"{directory}/{stamp}{layout.CHECKSUMS}"
    place.write(marker + layout.PARTIAL, "".join(run.checksums).encode())
    place.rename(marker + layout.PARTIAL, marker)
    place.sync(directory)


def _clean(runs: list[TargetRun], stamp: str, artifacts: list[Artifact]) -> None:
    """Remove what a failed run wrote on its targets (nothing there counts as a dump)."""
    for run in runs:
        if run.place is None:
            continue
        paths = [f"{run.directory}/{stamp}{a.suffix}{layout.PARTIAL}" for a in artifacts]
        paths.append(f"{run.directory}/{stamp}{layout.CHECKSUMS}{layout.PARTIAL}")
        with contextlib.suppress(Failure):
            run.place.remove(paths)


def dry_run(config: Config, database: Database, targets: list[str], clock: common.Clock) -> None:
    """Print the plan: commands, destinations, and what retention would remove."""
    what = f"{database.environment}/{database.key}"
    stamp = layout.stamp(clock.started)
    print(f"would dump {what} ({database.engine}) as {stamp} to {', '.join(targets)}")
    for artifact in engines.artifacts(database):
        print(f"  {artifact.shown()}  > {stamp}{artifact.suffix}")
    for target in targets:
        with Place(config.targets[target]) as place:
            for line in prune_dumps(place, database, config.keep_dumps, dry_run=True):
                print(f"  after it: {line}")
