"""``drp verify files|db``: prove a backup is still what was written, by its checksums.

Files: the snapshot's ``COMPLETE`` must name it and seal its ``MANIFEST`` (sha256 and
size); the full listing of ``data/`` must match the manifest (missing, unlisted, resized
or retouched files, broken hard links); and the files are hashed again (nothing is reused
here) and compared with the manifest. ``--rolling DAYS`` hashes only the day's share of
the files (a path's share is fixed by a checksum of its name, so every file is read once
in DAYS consecutive days, as restic's ``--read-data-subset``) while still checking the
marker and the whole listing: a daily timer proves every snapshot's content within DAYS
days at 1/DAYS of the cost. Each verification of files leaves a status record
(``verify.<environment>.<target>``) that check_backup judges: a failed one is critical, an
old one (no verification for longer than its ``--*-verified`` range) is reported.
Dumps: ``sha256sum -c`` of the set's ``<stamp>.sha256`` on the target, which names every
artifact that is missing or differs. Default: the newest complete backup on each target.
Exit 1 when anything differs.
"""

from __future__ import annotations

import logging

from drptools import layout, status
from drptools.actions import common
from drptools.errors import Failure, Mismatch
from drptools.procedures.verify import Share, verify_dump, verify_snapshot
from drptools.targets import Place

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from drptools.config import Config

log = logging.getLogger("drptools")
#: Problems of a failed verification kept in its status record (all are printed).
PROBLEMS_KEPT = 20


def verify_files(
    config: Config, environment: str, target: str, wanted: str | None, share: Share
) -> list[str]:
    """Verify one environment's snapshot on one target, leaving a status record.

    The record of a verification that found problems lists the first of them
    (``problems``): check_backup tells a damaged snapshot from a verification that
    could not run (an unreachable target) by it.
    """
    clock = common.Clock()
    fields: dict[str, object] = {
        "what": "verify",
        "environment": environment,
        "target": target,
        "location": str(config.targets[target].location),
        "share": str(share),
        "days": share.days,
    }
    record = status.Run(status.record_name("verify", environment, target), fields, clock.started)
    try:
        with Place(config.targets[target]) as place:
            name, problems, figures = verify_snapshot(place, environment, wanted, share)
        print(figures.pop("summary", ""))
    except BaseException as error:
        record.failed(clock.finished(), str(error) or type(error).__name__)
        raise
    if problems:
        record.record.update(snapshot=name, problems=problems[:PROBLEMS_KEPT], **figures)
        record.failed(clock.finished(), f"{name}: {len(problems)} problem(s): {problems[0]}")
    else:
        record.succeeded(clock.finished(), snapshot=name, **figures)
    return [f"{target}: {problem}" for problem in problems]


def main(config: Config, args: argparse.Namespace) -> int:
    """Verify on each chosen target; print every problem; exit 1 if any."""
    problems: list[str] = []
    if args.handler == "verify_files":
        day = layout.local_day(layout.now())
        share = Share(args.rolling, day) if args.rolling else Share()
        if args.snapshot and len(args.environments) != 1:
            raise Failure("--snapshot needs exactly one ENVIRONMENT")
        for environment in common.environments(config, args.environments):
            for target in common.targets(config, args.target):
                problems += verify_files(config, environment.name, target, args.snapshot, share)
    else:
        (environment,) = common.environments(config, [args.environment])
        databases = (
            [common.database(environment, args.database)]
            if args.database
            else list(environment.databases)
        )
        if not databases:
            raise Failure(f"environment {environment.name!r} has no databases")
        for database in databases:
            for target in database.targets:
                if args.target and target != args.target:
                    continue
                with Place(config.targets[target]) as place:
                    _, found, summary = verify_dump(place, database, args.dump)
                print(summary)
                problems += [f"{target}: {problem}" for problem in found]
    for problem in problems:
        print(f"  {problem}")
    if problems:
        raise Mismatch(f"verify: {len(problems)} problem(s) found; listed above")
    return 0
