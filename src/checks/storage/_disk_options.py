"""check_disk's option surface, shared by check_partitions and check_inodes.

The selection options (``-p -E -x -X -N -l -r -R -i -I -A`` and vigie's regexes on fs
types), the free-space thresholds as check_disk takes them (``-w 10%``, ``-w 500``,
``-w 2G``, ``-W``/``-K`` for inodes) and vigie's ranges on the used share, parsed into
the :class:`~checks.storage._freespace.Condition` objects the judging takes; and
:func:`check`, the Check the parsed options ask for.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence

import nagiosplugin

from checks.core.cli import Parser, add_thresholds, regex, seconds, state
from checks.core.ranges import Range, parse_number
from checks.core.units import BYTES
from checks.storage._freespace import (
    Condition,
    Filesystems,
    FreeContext,
    FreeSummary,
    Quantity,
    Unjudged,
)
from checks.storage._mounts import Selection

#: Seconds a mount may take to answer statvfs before it counts as stale (``--mount-timeout``).
DEFAULT_MOUNT_TIMEOUT = 3.0


class FreeLimit:
    """A check_disk threshold as given: ``10%``, ``500`` (in ``-u`` units) or ``2G``."""

    __slots__ = ("number", "percent", "text", "unit")

    def __init__(self, text: str, number: float, percent: bool, unit: float | None) -> None:
        self.text, self.number, self.percent, self.unit = text, number, percent, unit

    def condition(self, quantity: Quantity, default_unit: float = 1.0) -> Condition:
        """The condition ``free share or amount <= number``, bound included."""
        if self.percent:
            return Condition(quantity, "free_percent", at_most(self.number, self.text))
        amount = self.number * (self.unit if self.unit is not None else default_unit)
        return Condition(quantity, "free", at_most(amount, self.text))


def at_most(number: float, text: str) -> Range:
    """Alert when the value is at most ``number``: the guidelines' ``@~:number``."""
    return Range(-math.inf, number, inside=True, text=text)


def free_limit(sizes: bool) -> Callable[[str], FreeLimit]:
    """Argparse type of check_disk's ``-w``/``-c``: ``N%``, a number, or (``sizes``) ``2G``."""
    shape = "N%, N units or a size such as 2G" if sizes else "N% or a number of inodes"

    def parse(text: str) -> FreeLimit:
        spec = text.strip()
        percent = spec.endswith("%")
        body = spec[:-1] if percent else spec
        bare = percent or body[-1:].isdigit() or body.endswith(".")
        try:
            if not (bare or sizes):
                raise ValueError(body)
            number = parse_number(body, None if bare else BYTES)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a free threshold ({shape})"
            ) from None
        if number < 0 or (percent and number > 100):
            raise argparse.ArgumentTypeError(
                f"{text!r}: give a percentage from 0 to 100 or {shape}"
            )
        return FreeLimit(spec, number, percent, None if bare else 1.0)

    return parse


def inode_percent(text: str) -> FreeLimit:
    """check_disk's ``-W``/``-K``: a share of free inodes, with or without ``%``."""
    spec = text.strip()
    try:
        number = parse_number(spec.removesuffix("%"))
    except ValueError:
        number = math.nan
    if not 0 <= number <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage of free inodes (0-100)")
    return FreeLimit(spec if spec.endswith("%") else spec + "%", number, True, None)


def add_selection_options(parser: Parser) -> None:
    """The options that choose mounts, shared by check_partitions and check_inodes."""
    group = parser.add_argument_group("choosing mounts (check_disk's options unless noted)")
    add = group.add_argument
    add(
        "-p",
        "--path",
        "--partition",
        action="append",
        default=[],
        metavar="PATH",
        help="judge the mount of PATH: a mount point, a device, or a path on it (the longest "
        "mount point that is a prefix, as check_disk); repeatable; always judged, "
        "whatever its type (C-compatible)",
    )
    add(
        "-E",
        "--exact-match",
        action="store_true",
        help="-p names mount points exactly; one that is not mounted is CRITICAL (C-compatible)",
    )
    add(
        "-x",
        "--exclude_device",
        "--exclude-device",
        action="append",
        default=[],
        metavar="PATH",
        help="leave out this device or mount point; repeatable (C-compatible)",
    )
    add(
        "-X",
        "--exclude-type",
        action="append",
        default=[],
        metavar="TYPE",
        help="leave out filesystems of this type; repeatable (C-compatible)",
    )
    add(
        "-N",
        "--include-type",
        action="append",
        default=[],
        metavar="TYPE",
        help="judge only filesystems of this type, pseudo ones too; repeatable (C-compatible)",
    )
    add(
        "-l",
        "--local",
        action="store_true",
        help="leave out network filesystems (nfs, cifs, ceph, sshfs...) (C-compatible)",
    )
    add(
        "-A",
        "--all",
        action="store_true",
        help="select every mount (the default without -p; adds them to -p) (C-compatible)",
    )
    add(
        "-r",
        "--ereg-path",
        "--ereg-partition",
        action="append",
        default=[],
        type=regex(),
        metavar="REGEX",
        help="judge mounts whose mount point or device matches; repeatable (C-compatible)",
    )
    add(
        "-R",
        "--eregi-path",
        "--eregi-partition",
        action="append",
        default=[],
        type=regex(ignore_case=True),
        metavar="REGEX",
        help="as -r, ignoring case (C-compatible)",
    )
    add(
        "-i",
        "--ignore-ereg-path",
        "--ignore-ereg-partition",
        action="append",
        default=[],
        type=regex(),
        metavar="REGEX",
        help="leave out mounts whose mount point or device matches; repeatable (C-compatible)",
    )
    add(
        "-I",
        "--ignore-eregi-path",
        "--ignore-eregi-partition",
        action="append",
        default=[],
        type=regex(ignore_case=True),
        metavar="REGEX",
        help="as -i, ignoring case (C-compatible)",
    )
    add(
        "--also-type",
        action="append",
        default=[],
        metavar="TYPE",
        help="also judge this type although it is ignored by default, e.g. tmpfs (vigie)",
    )
    add(
        "--type-regex",
        action="append",
        default=[],
        type=regex(),
        metavar="REGEX",
        help="judge only filesystem types matching, pseudo ones too; repeatable (vigie)",
    )
    add(
        "--ignore-type-regex",
        action="append",
        default=[],
        type=regex(),
        metavar="REGEX",
        help="leave out filesystem types matching; repeatable (vigie)",
    )
    add(
        "--mount-timeout",
        type=seconds,
        default=DEFAULT_MOUNT_TIMEOUT,
        metavar="SECONDS",
        help="give up on a mount whose statvfs has not answered after this long "
        "(default: %(default)g; vigie)",
    )
    add(
        "--stale",
        type=state,
        default="critical",
        metavar="STATE",
        help="state of a mount that does not answer in time or is broken (stale NFS handle, "
        "FUSE daemon gone): ok, warning, critical, unknown (default: critical; vigie)",
    )
    add(
        "-e",
        "--errors-only",
        action="store_true",
        help="list only the mounts with a problem in the long output (C-compatible)",
    )


def add_free_options(
    container: argparse._ActionsContainer, sizes: bool, warning_help: str, critical_help: str
) -> None:
    """check_disk's ``-w``/``-c`` (repeatable): free ``N%``, ``N`` or (``sizes``) ``SIZE``."""
    for letter, level, text in (("-w", "warning", warning_help), ("-c", "critical", critical_help)):
        container.add_argument(
            letter, f"--{level}", action="append", default=[], type=free_limit(sizes=sizes),
            metavar="N%|N|SIZE" if sizes else "N%|N", help=text,
        )  # fmt: skip


def add_used_options(parser: argparse._ActionsContainer, what: str) -> None:
    """vigie's ranges on the used share (``--warning-used 90``: above 90% used)."""
    add_thresholds(
        parser, f"the percentage of {what} used", metric="used", note="e.g. 90: above 90%%"
    )


def add_inode_options(parser: argparse._ActionsContainer) -> None:
    """check_disk's ``-W``/``-K``: free inodes in percent."""
    parser.add_argument(
        "-W", "--iwarning", type=inode_percent, metavar="N%",
        help="warning when at most N%% of the inodes are free (C-compatible)",
    )  # fmt: skip
    parser.add_argument(
        "-K", "--icritical", type=inode_percent, metavar="N%",
        help="critical when at most N%% of the inodes are free (C-compatible)",
    )  # fmt: skip


def selection(args: argparse.Namespace) -> Selection:
    """The mount selection the parsed options ask for."""
    path_regexes = [*args.ereg_path, *args.eregi_path]
    if args.all:
        path_regexes.append(regex()(""))
    return Selection(
        paths=args.path,
        exact=args.exact_match,
        path_regexes=path_regexes,
        ignore_path_regexes=[*args.ignore_ereg_path, *args.ignore_eregi_path],
        exclude=args.exclude_device,
        include_types=args.include_type,
        exclude_types=args.exclude_type,
        also_types=args.also_type,
        type_regexes=args.type_regex,
        ignore_type_regexes=args.ignore_type_regex,
        local_only=args.local,
    )


def check(
    args: argparse.Namespace,
    quantity: Quantity,
    warning: Sequence[Condition],
    critical: Sequence[Condition],
    default_free: tuple[str, str],
) -> nagiosplugin.Check:
    """The Check of check_partitions or check_inodes once their conditions are known;
    without any, free thresholds ``default_free`` (warning, critical)."""
    if not warning and not critical:
        default = free_limit(sizes=quantity.uom == "B")  # sizes (2G) for space, not inodes
        warning = [default(default_free[0]).condition(quantity)]
        critical = [default(default_free[1]).condition(quantity)]
    return nagiosplugin.Check(
        Filesystems(selection(args), quantity, args.mount_timeout, args.stale),
        FreeContext(quantity, warning, critical),
        Unjudged(quantity),
        FreeSummary(args.errors_only),
    )
