"""``drp backup db``: a consistent dump of each chosen database, streamed to its targets.

Which databases and targets the command line chooses; the dump itself, its steps and
their order: :mod:`drptools.procedures.backup_db`.
"""

from __future__ import annotations

import logging

from drptools.actions import common
from drptools.errors import BadUse, Failure
from drptools.procedures.backup_db import backup_database, dry_run

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from drptools.config import Config

log = logging.getLogger("drptools")


def main(config: Config, args: argparse.Namespace) -> int:
    """``drp backup db [ENVIRONMENT…] [--database NAME] [--target T] [--dry-run]``."""
    clock = common.Clock()
    chosen = common.environments(config, args.environments)
    if args.database:
        if len(chosen) != 1:
            raise BadUse("--database needs exactly one ENVIRONMENT")
        selected = [common.database(chosen[0], args.database)]
    else:
        selected = [db for environment in chosen for db in environment.databases]
    if not selected:
        raise BadUse("no database configured in the environment(s) chosen")
    failures = 0
    for database in selected:
        targets = [t for t in database.targets if args.target in (None, t)]
        if not targets:
            raise BadUse(
                f"{database.environment}/{database.key} is not dumped to {args.target} "
                f"(its targets: {', '.join(database.targets)})"
            )
        if args.dry_run:
            dry_run(config, database, targets, clock)
            continue
        try:
            errors = backup_database(config, database, targets, clock, prune=not args.no_prune)
        except Failure as failure:  # the local lock: nothing was done
            log.error("backup db %s/%s: %s", database.environment, database.key, failure)
            failures = max(failures, failure.exit_code)
            continue
        for error in errors:
            log.error("%s", error)
            failures = max(failures, 1)
    return failures
