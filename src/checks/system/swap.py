"""check_swap: swap space left, and how fast pages move to and from swap.

Swap that fills up is the last step before the OOM killer; pages moving in and out every
second (``pswpin``/``pswpout`` of ``/proc/vmstat``) mean the machine is thrashing even when
space is left, so both are judged. Rates cover the interval since the previous run, or a
``--sample`` (see :mod:`checks.core.statefile`).

Takes the C plugin's options unchanged: ``-w 20% -c 10%`` alert when at most that share of
swap is free, ``-w 1000000`` when at most that many bytes are (units allowed: ``512M``),
``-a`` judges each swap device, ``-n STATE`` is the state when no swap is configured
(default critical, as the C plugin). Without -w and -c: 50% and 25% free, as Icinga's ITL.
Used is SwapTotal - SwapFree, as ``free`` shows it (the C plugin also counts SwapCached
as free).
"""

from __future__ import annotations

import argparse
import math
import os

import nagiosplugin

from checks.core import procfs, statefile
from checks.core.cli import Parser, UsageError, add_thresholds, state
from checks.core.errors import ParseError
from checks.core.evaluate import Perf, Summary, Threshold, Verdict, show
from checks.core.ranges import Range, parse_number
from checks.core.runtime import Bench, Local, Plugin
from checks.core.units import BYTES, human_number
from checks.system._meminfo import KIB, parse_meminfo

DEFAULT_FREE = ("50%", "25%")


def parse_swaps(text: str) -> list[tuple[str, int, int]]:
    """``/proc/swaps`` as (device, size, used) in bytes, one per active swap area."""
    devices = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if not fields:
            continue
        try:
            devices.append((fields[0], int(fields[2]) * KIB, int(fields[3]) * KIB))
        except (IndexError, ValueError):
            raise ParseError(f"/proc/swaps: cannot read {line.strip()!r}") from None
    return devices


def parse_vmstat(text: str) -> dict[str, float]:
    """The swap page counters of ``/proc/vmstat``."""
    counters = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("pswpin", "pswpout"):
            try:
                counters[name] = float(value)
            except ValueError:
                raise ParseError(f"/proc/vmstat: {line.strip()!r} has no number") from None
    if len(counters) != 2:
        raise ParseError("/proc/vmstat has no pswpin and pswpout counters")
    return counters


def free_threshold(text: str) -> tuple[str, Range]:
    """A C check_swap threshold: ``N%`` or bytes free, as a range on the metric it judges.

    The C plugin alerts when at most N% or N bytes are free: the bound is included, which
    the guidelines write as an inside range (``@~:20``, ``@~:1000000``).
    """
    spec = text.strip()
    percent = spec.endswith("%")
    try:
        value = parse_number(spec[:-1]) if percent else parse_number(spec, BYTES)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a free-swap threshold (N% or a size, e.g. 20% or 512M): {error}"
        ) from None
    if value < 0 or (percent and value > 100):
        raise argparse.ArgumentTypeError(f"{text!r}: give a percentage from 0 to 100 or a size")
    return ("free_percent" if percent else "free"), Range(-math.inf, value, inside=True, text=spec)


class Swap(nagiosplugin.Resource):
    """Swap space from /proc/meminfo (and per device), page rates from /proc/vmstat."""

    def __init__(self, per_device: bool, sample: float) -> None:
        self.per_device = per_device
        self.sample = sample
        self.interval = ""

    def probe(self) -> list[nagiosplugin.Metric]:
        """Space metrics, or the single ``no swap`` metric; then the rates."""
        meminfo = parse_meminfo(procfs.read("meminfo"))
        total, free = meminfo.get("SwapTotal", 0), meminfo.get("SwapFree", 0)
        if total == 0:
            return [nagiosplugin.Metric("total", 0, "B", 0, context="no_swap")]
        metrics = self._space("", total, total - free)
        if self.per_device:
            for device, size, used in parse_swaps(procfs.read("swaps")):
                metrics += self._space(os.path.basename(device) + "_", size, used)
        interval = statefile.counters(
            "swap", lambda: parse_vmstat(procfs.read("vmstat")), self.sample
        )
        self.interval = interval.how
        metrics += [
            nagiosplugin.Metric(label, interval.rate(counter), min=0, context="rate")
            for label, counter in (("swap_in", "pswpin"), ("swap_out", "pswpout"))
        ]
        return metrics

    @staticmethod
    def _space(prefix: str, total: int, used: int) -> list[nagiosplugin.Metric]:
        percent = 100.0 * (total - used) / total if total else 0.0
        return [
            nagiosplugin.Metric(f"{prefix}free_percent", percent, "%", 0, 100, "free_percent"),
            nagiosplugin.Metric(f"{prefix}free", total - used, "B", 0, total, "free"),
            nagiosplugin.Metric(f"{prefix}used", used, "B", 0, total, "used"),
        ]


class NoSwap(nagiosplugin.Context):
    """No swap configured: the state the ``--no-swap`` policy names."""

    def __init__(self, policy: int) -> None:
        super().__init__("no_swap", result_cls=Verdict)
        self.policy = policy

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """Always the policy's state."""
        states = (nagiosplugin.Ok, nagiosplugin.Warn, nagiosplugin.Critical, nagiosplugin.Unknown)
        return Verdict(states[self.policy], "no swap is configured", metric)

    def performance(self, metric: nagiosplugin.Metric, resource: object) -> Perf:
        """``total=0B``: the graphs keep a series."""
        return Perf("total", 0, "B")


def describe(metric: nagiosplugin.Metric) -> str:
    """``swap free 4%``, ``sda2 free 12 MiB``, ``swap out 120 pages/s``."""
    if metric.context == "rate":
        rate = human_number(metric.value, 0 if metric.value >= 10 else 1)
        return f"{metric.name.replace('_', ' ')} {rate} pages/s"
    device = metric.name[: -len(metric.context)].rstrip("_") or "swap"
    what = "free" if metric.context == "free_percent" else metric.context
    return f"{device} {what} {show(metric.value, metric.uom)}"


class SwapSummary(Summary):
    """``swap 12% used (1.8 GiB free of 2 GiB), 0 pages/s in, 0 out over the last 60 s``."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """Used share, free amount, rates; or that there is no swap."""
        if "total" in results:
            return str(results["total"])
        free = results["free"].metric
        used = show(100 - results["free_percent"].metric.value, "%")
        return (
            f"swap {used} used ({show(free.value, 'B')} free of {show(free.max, 'B')}), "
            f"{describe(results['swap_in'].metric).removeprefix('swap in ')} in, "
            f"{describe(results['swap_out'].metric).removeprefix('swap out ')} out "
            f"{results[0].resource.interval}"
        )

    def problem(self, results: nagiosplugin.Results) -> str:
        """The problems; for rates, the interval they were measured over."""
        text = super().problem(results)
        rates = [result for result in results if result.metric and result.metric.context == "rate"]
        if any(result.state != nagiosplugin.Ok for result in rates):
            text += f" {results[0].resource.interval}"
        return text


def build_parser() -> Parser:
    """check_swap's options: the C plugin's, plus rate thresholds and the sample time."""
    parser = Parser(
        "check_swap",
        __doc__.split("\n\n")[0],
        examples=(
            "check_swap                          free 50% / 25%, as Icinga's ITL",
            "check_swap -w 20% -c 10%            as the C plugin",
            "check_swap -w 1G -c 256M -n ok      bytes free; a host without swap is fine",
            "check_swap --warning-rate 100       warn above 100 pages/s in or out",
        ),
    )
    parser.add_argument(
        "-w",
        "--warning",
        type=free_threshold,
        metavar="N%|BYTES",
        help="warning when at most N%% or BYTES of swap are free (C-compatible)",
    )
    parser.add_argument(
        "-c",
        "--critical",
        type=free_threshold,
        metavar="N%|BYTES",
        help="critical when at most N%% or BYTES of swap are free (C-compatible)",
    )
    parser.add_argument(
        "-a", "--allswaps", action="store_true", help="also judge each swap device (C-compatible)"
    )
    parser.add_argument(
        "-n",
        "--no-swap",
        type=state,
        default="critical",
        metavar="STATE",
        help="state when no swap is configured: ok, warning, critical, unknown "
        "(default: critical, C-compatible)",
    )
    add_thresholds(parser, "pages swapped in, and out, per second", metric="rate")
    statefile.add_sample_option(parser, " for the rates")
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``; free thresholds land on the metric they judge."""
    warning, critical = args.warning, args.critical
    if warning is None and critical is None:
        warning, critical = free_threshold(DEFAULT_FREE[0]), free_threshold(DEFAULT_FREE[1])
    # Like the C plugin, refuse a critical level that leaves more free than the warning one.
    if warning and critical and warning[0] == critical[0] and critical[1].end > warning[1].end:
        raise UsageError(
            f"warning ({warning[1].text}) should leave more swap free than critical "
            f"({critical[1].text})"
        )
    ranges: dict[str, list[Range | None]] = {"free_percent": [None, None], "free": [None, None]}
    for index, given in enumerate((warning, critical)):
        if given is not None:
            ranges[given[0]][index] = given[1]
    return nagiosplugin.Check(
        Swap(args.allswaps, args.sample),
        *(Threshold(name, warn, crit, describe) for name, (warn, crit) in ranges.items()),
        Threshold("used", describe=describe),
        Threshold("rate", args.warning_rate, args.critical_rate, describe),
        NoSwap(args.no_swap),
        SwapSummary(long_output=args.allswaps),
    )


PLUGIN = Plugin(
    "swap",
    build_parser,
    make_check,
    local=(Local("swap", ("--no-swap", "ok", "--sample", "0.4"), rank=4),),
    bench=(
        Bench("check_swap -w 50% -c 25% --sample 0.05", ("-w", "50%", "-c", "25%", "--sample",
              "0.05"), twin="C check_swap -w 50% -c 25%"),
    ),
)  # fmt: skip
main = PLUGIN.main
