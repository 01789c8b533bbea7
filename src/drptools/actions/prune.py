"""``drp prune``: retention, per target; ``--dry-run`` prints the plan and removes nothing.

What is kept, what goes and under which locks: :mod:`drptools.procedures.prune`.
"""

from __future__ import annotations

from drptools.actions import common
from drptools.procedures.prune import prune_environment

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from drptools.config import Config


def main(config: Config, args: argparse.Namespace) -> int:
    """``drp prune [ENVIRONMENT…] [--target T] [--dry-run]``."""
    for environment in common.environments(config, args.environments):
        for target in common.targets(config, args.target):
            for line in prune_environment(config, environment, target, args.dry_run):
                print(line)
    return 0
