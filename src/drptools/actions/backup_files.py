"""``drp backup files``: today's hard-link snapshot of each environment, on A or B.

The target is A on even days and B on odd days (``--target`` overrides); the snapshot
itself, its steps and why they are in that order: :mod:`drptools.procedures.backup_files`.
"""

from __future__ import annotations

import logging
import sys

from drptools import layout
from drptools.actions import common
from drptools.errors import Failure
from drptools.procedures.backup_files import backup, dry_run

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from drptools.config import Config

log = logging.getLogger("drptools")


def main(config: Config, args: argparse.Namespace) -> int:
    """``drp backup files [ENVIRONMENT…] [--target A|B] [--dry-run] [--no-prune]``."""
    clock = common.Clock()
    target = args.target or layout.target_of_day(layout.local_day(clock.started))
    progress = sys.stdout.isatty()
    failures = 0
    for environment in common.environments(config, args.environments):
        if args.dry_run:
            dry_run(config, environment, target, clock)
            continue
        try:
            backup(config, environment, target, clock, prune=not args.no_prune, progress=progress)
        except Failure as failure:
            log.error("backup files %s to %s failed: %s", environment.name, target, failure)
            failures = max(failures, failure.exit_code)
    return failures
