"""check_inodes: free inodes of each mounted filesystem, in percent and in count.

A filesystem out of inodes refuses to create files while ``df -h`` still shows free
space: mail spools, session directories and caches of small files get there first. Every
real mount with a fixed inode table is judged (btrfs, vfat and the like create inodes on
demand and report none: they are left out, or reported as such when named with ``-p``).
Free is ``f_ffree`` of ``f_files``, as check_disk and ``df -i`` count.

Takes check_disk's inode thresholds with the same meaning: ``-w 10% -c 5%`` (or check_disk's
own ``-W 10% -K 5%``) alert when at most that share of the inodes is free, the bound
included; ``-w 5000`` alerts when at most 5000 inodes are free (vigie). The selection
options are check_disk's (``-p -E -x -X -N -l -A -r -R -i -I -e``), as for
check_partitions. Without thresholds: 10% and 5% free.
"""

from __future__ import annotations

import argparse

import nagiosplugin

from checks.core.cli import Parser
from checks.core.runtime import Bench, Local, Plugin
from checks.storage import _disk_options
from checks.storage._freespace import INODES, Condition

DEFAULT_FREE = ("10%", "5%")


def build_parser() -> Parser:
    """check_inodes' options: check_disk's inode thresholds and selection."""
    parser = Parser(
        "check_inodes",
        __doc__.split("\n\n")[0],
        examples=(
            "check_inodes                          every real mount, 10% / 5% free",
            "check_inodes -w 10% -c 5% -p /        as check_disk -W 10% -K 5% -p /",
            "check_inodes -w 50000 -c 10000 -p /var/spool    free inodes by count",
            "check_inodes --warning-used 80 -X nfs4",
        ),
    )
    thresholds = parser.add_argument_group("thresholds")
    _disk_options.add_free_options(
        thresholds, False,
        "warning when at most N%% or N inodes are free; may be given once as a share "
        "and once as a count (C-compatible as check_disk -W)",
        "critical, as -w (C-compatible as check_disk -K)",
    )  # fmt: skip
    _disk_options.add_inode_options(thresholds)
    _disk_options.add_used_options(thresholds, "inodes")
    _disk_options.add_selection_options(parser)
    return parser


def conditions(args: argparse.Namespace, level: str) -> list[Condition]:
    """The conditions of one level: free share or count (-w/-c, -W/-K), used share."""
    given = list(getattr(args, level))
    inode = args.iwarning if level == "warning" else args.icritical
    if inode is not None:
        given.append(inode)
    latest = {limit.percent: limit for limit in given}  # a later one of a kind wins
    found = [limit.condition(INODES) for limit in latest.values()]
    used = getattr(args, f"{level}_used")
    if used is not None:
        found.append(Condition(INODES, "used_percent", used))
    return found


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``; without thresholds, 10% and 5% free."""
    warning, critical = conditions(args, "warning"), conditions(args, "critical")
    return _disk_options.check(args, INODES, warning, critical, DEFAULT_FREE)


PLUGIN = Plugin(
    "inodes",
    build_parser,
    make_check,
    local=(Local("inodes", rank=7),),
    bench=(
        Bench("check_inodes -w 10% -c 5% -p /", ("-w", "10%", "-c", "5%", "-p", "/"),
              twin="C check_disk -W 10% -K 5% -p /"),
    ),
)  # fmt: skip
main = PLUGIN.main
