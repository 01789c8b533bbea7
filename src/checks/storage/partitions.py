"""check_partitions: free space of each mounted filesystem, in percent and in bytes.

A full filesystem stops databases, mail queues and logs at once, so every real mount is
judged by default (pseudo filesystems such as proc, tmpfs, overlay or squashfs are left
out, see :mod:`checks.storage._mounts`). Free is what an unprivileged process may still
write (``f_bavail``), as for ``df`` and check_disk; blocks reserved for root are neither
free nor part of the size. A mount whose server does not answer is judged on its own
(``--stale``, default CRITICAL) and cannot hang the check.

Takes check_disk's options with the same meaning, so a service definition can switch
command and keep its arguments: ``-w 10% -c 5%`` alert when at most that share is free
(the bound included), ``-w 500 -c 100`` when at most that many ``-u`` units are free
(default MB, i.e. MiB: check_disk's units are all powers of 1024), ``-W``/``-K`` on free
inodes, and the selection options ``-p -E -x -X -N -l -A -r -R -i -I -e``. Not supported:
``-C`` (per-path thresholds: define one service per threshold set), ``-g`` (groups),
``-f``, ``-M``, ``-L``, ``-P`` and thresholds as positional arguments. Without any
threshold: 20% and 10% free, as Icinga's ITL ``disk`` command.
"""

from __future__ import annotations

import argparse

import nagiosplugin

from checks.core.cli import Parser
from checks.core.runtime import Bench, Local, Plugin
from checks.core.units import BYTES
from checks.storage import _disk_options
from checks.storage._freespace import INODES, SPACE, Condition

DEFAULT_FREE = ("20%", "10%")
#: check_disk's ``-u`` names (all powers of 1024 in monitoring-plugins 2.3), plus ours.
UNIT_NAMES = {"bytes": 1.0}


def unit(text: str) -> float:
    """Argparse type of ``-u``: bytes, kB, MB, GB, TB, KiB, MiB, GiB, TiB (powers of 1024)."""
    spec = text.strip()
    factor = UNIT_NAMES.get(spec.lower(), BYTES.get(spec.upper()))
    if not factor:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a unit (bytes, kB, MB, GB, TB, KiB, MiB, GiB, TiB)"
        )
    return factor


def build_parser() -> Parser:
    """check_partitions' options: check_disk's, plus ranges on the used share."""
    parser = Parser(
        "check_partitions",
        __doc__.split("\n\n")[0],
        examples=(
            "check_partitions                      every real mount, 20% / 10% free",
            "check_partitions -w 10% -c 5% -p /    as check_disk",
            "check_partitions -w 2G -c 500M -p /var -p /srv    free bytes",
            "check_partitions -w 500 -c 100 -u GB -x /boot     as check_disk, in GiB",
            "check_partitions --warning-used 90 --critical-used 95 --also-type tmpfs",
        ),
    )
    thresholds = parser.add_argument_group("thresholds")
    _disk_options.add_free_options(
        thresholds, True,
        "warning when at most N%% or N units (-u) or SIZE (2G) are free; may be given "
        "once as a share and once as an amount (C-compatible)",
        "critical, as -w (C-compatible)",
    )  # fmt: skip
    _disk_options.add_inode_options(thresholds)
    _disk_options.add_used_options(thresholds, "space")
    thresholds.add_argument(
        "-u", "--units", type=unit, default="MB", metavar="UNIT",
        help="unit of -w/-c numbers: bytes, kB, MB, GB, TB (powers of 1024), also KiB... "
             "(default: MB; C-compatible)",
    )  # fmt: skip
    thresholds.add_argument(
        "-k", "--kilobytes", action="store_true", help="same as -u kB (C-compatible)"
    )  # fmt: skip
    thresholds.add_argument(
        "-m", "--megabytes", action="store_true", help="same as -u MB (C-compatible)"
    )  # fmt: skip
    _disk_options.add_selection_options(parser)
    return parser


def conditions(args: argparse.Namespace, level: str) -> list[Condition]:
    """The conditions of one level: free share and amount, free inodes, used share.

    ``-w`` may be given as a share and as an amount; a later one of the same kind
    replaces the earlier, as in check_disk.
    """
    latest = {limit.percent: limit for limit in getattr(args, level)}
    found = [limit.condition(SPACE, units(args)) for limit in latest.values()]
    inode = args.iwarning if level == "warning" else args.icritical
    if inode is not None:
        found.append(inode.condition(INODES))
    used = getattr(args, f"{level}_used")
    if used is not None:
        found.append(Condition(SPACE, "used_percent", used))
    return found


def units(args: argparse.Namespace) -> float:
    """Bytes per unit of bare -w/-c numbers: -k, -m, else -u (default MB)."""
    if args.kilobytes:
        return 1024.0
    if args.megabytes:
        return 1024.0**2
    return float(args.units)


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``; without thresholds, 20% and 10% free."""
    warning, critical = conditions(args, "warning"), conditions(args, "critical")
    return _disk_options.check(args, SPACE, warning, critical, DEFAULT_FREE)


PLUGIN = Plugin(
    "partitions",
    build_parser,
    make_check,
    local=(Local("partitions", rank=6),),
    bench=(
        Bench("check_partitions -w 10% -c 5% -p /", ("-w", "10%", "-c", "5%", "-p", "/"),
              twin="C check_disk -w 10% -c 5% -p /"),
        Bench("check_partitions (defaults: every real mount)"),
    ),
)  # fmt: skip
main = PLUGIN.main
