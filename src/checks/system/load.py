"""check_load: the load average over 1, 5 and 15 minutes, whole or per CPU.

Load counts the tasks running or waiting for a CPU (and, on Linux, for uninterruptible
I/O), so the same figure means saturation on two cores and idleness on sixty-four:
``--per-cpu`` divides by the online CPUs and judges that. Without -w and -c the per-CPU
load is judged against 2, 1.5, 1 (warning) and 4, 3, 2 (critical).

Takes the C plugin's options unchanged: ``-w 5,4,3 -c 10,8,6 [-r] [-n N]``; a plain number
is a guidelines range, so ``5`` alerts above 5 exactly as the C plugin's "exceeds" does, and
the perfdata labels are the C plugin's (``load1``; ``scaled_load1`` with ``-r``).
"""

from __future__ import annotations

import argparse
import logging
import os

import nagiosplugin

from checks.core import procfs
from checks.core.cli import Parser, thresholds
from checks.core.errors import ParseError
from checks.core.evaluate import Summary, Threshold, show
from checks.core.ranges import parse_range
from checks.core.runtime import Bench, Local, Plugin
from checks.system._process import cpu_percent, parse_stat

PERIODS = (1, 5, 15)
DEFAULT_PER_CPU_WARNING = [parse_range(value) for value in ("2", "1.5", "1")]
DEFAULT_PER_CPU_CRITICAL = [parse_range(value) for value in ("4", "3", "2")]

log = logging.getLogger(__name__)


def parse_loadavg(text: str) -> tuple[float, float, float]:
    """The three load averages of ``/proc/loadavg`` (``0.14 0.11 0.04 1/123 4567``)."""
    fields = text.split()
    try:
        one, five, fifteen = (float(field) for field in fields[:3])
    except ValueError:
        raise ParseError(
            f"/proc/loadavg does not start with three numbers: {text[:60]!r}"
        ) from None
    if any(value < 0 for value in (one, five, fifteen)):
        raise ParseError(f"/proc/loadavg has a negative load: {text[:60]!r}")
    return one, five, fifteen


def count_online_cpus(stat: str) -> int:
    """Online CPUs: the ``cpuN`` lines of ``/proc/stat`` (what sysconf's ONLN counts)."""
    count = sum(1 for line in stat.splitlines() if line.startswith("cpu") and line[3:4].isdigit())
    if count == 0:
        raise ParseError("/proc/stat lists no cpuN line")
    return count


def parse_process_cpu(stat: str, clock_ticks: int, uptime: float) -> tuple[str, float]:
    """A process's name and lifetime CPU % (as ``ps`` shows it) from ``/proc/<pid>/stat``."""
    process = parse_stat(stat)
    return process.comm, cpu_percent(process, uptime, clock_ticks)


class Load(nagiosplugin.Resource):
    """The load averages, and per CPU when asked; optionally the busiest processes."""

    def __init__(self, per_cpu: bool, top: int) -> None:
        self.per_cpu = per_cpu
        self.top = top
        self.cpus = 0
        self.busiest: list[str] = []

    def probe(self) -> list[nagiosplugin.Metric]:
        """Read /proc/loadavg (and /proc/stat for the CPU count)."""
        loads = parse_loadavg(procfs.read("loadavg"))
        metrics = [
            nagiosplugin.Metric(f"load{period}", load, min=0, context=f"load{period}")
            for period, load in zip(PERIODS, loads, strict=True)
        ]
        if self.per_cpu:
            self.cpus = count_online_cpus(procfs.read("stat"))
            log.info("%d online CPUs", self.cpus)
            metrics += [
                nagiosplugin.Metric(
                    f"scaled_load{period}", load / self.cpus, min=0, context=f"scaled_load{period}"
                )
                for period, load in zip(PERIODS, loads, strict=True)
            ]
        if self.top:
            self.busiest = self._busiest_processes()
        return metrics

    def _busiest_processes(self) -> list[str]:
        """The ``top`` processes by lifetime CPU %, like the C plugin's ``-n``."""
        ticks = os.sysconf("SC_CLK_TCK")
        uptime = float(procfs.read("uptime").split()[0])
        seen = []
        myself = str(os.getpid())
        for entry in os.listdir(procfs.root()):
            if not entry.isdigit() or entry == myself:
                continue
            try:
                name, percent = parse_process_cpu(procfs.read(f"{entry}/stat"), ticks, uptime)
            except (OSError, ParseError):  # gone meanwhile, or a kernel thread oddity
                continue
            seen.append((percent, int(entry), name))
        seen.sort(reverse=True)
        return [
            f"{percent:5.1f}% CPU  pid {pid}  {name}" for percent, pid, name in seen[: self.top]
        ]


def describe(metric: nagiosplugin.Metric) -> str:
    """``load1 4.2`` or ``load1 per CPU 2.1``."""
    if metric.name.startswith("scaled_"):
        return f"{metric.name[len('scaled_') :]} per CPU {show(metric.value)}"
    return f"{metric.name} {show(metric.value)}"


class LoadSummary(Summary):
    """``load average 0.14, 0.11, 0.04`` (and per CPU), plus the busiest processes."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """All three averages, as ``uptime`` shows them."""
        loads = ", ".join(show(results[f"load{period}"].metric.value) for period in PERIODS)
        text = f"load average {loads}"
        if f"scaled_load{PERIODS[0]}" in results:
            scaled = ", ".join(show(results[f"scaled_load{p}"].metric.value) for p in PERIODS)
            cpus = results[0].resource.cpus
            text += f" ({scaled} per CPU, {cpus} CPUs)"
        return text

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        """The per-metric lines, then the busiest processes when ``-n`` asked for them."""
        busiest = results[0].resource.busiest if results.results else []
        return super().verbose(results) + [f"busiest: {line}" for line in busiest]


def build_parser() -> Parser:
    """check_load's options: the C plugin's, with ranges."""
    parser = Parser(
        "check_load",
        __doc__.split("\n\n")[0],
        examples=(
            "check_load                       per-CPU load against 2,1.5,1 / 4,3,2",
            "check_load -w 5,4,3 -c 10,8,6    as the C plugin (total load)",
            "check_load -r -w 1.5 -c 3        per CPU, same limits for 1, 5 and 15 min",
        ),
    )
    parser.add_argument(
        "-w",
        "--warning",
        type=thresholds(3),
        metavar="W1,W5,W15",
        help="warning ranges for the 1, 5 and 15 min load; one value for all (C-compatible)",
    )
    parser.add_argument(
        "-c",
        "--critical",
        type=thresholds(3),
        metavar="C1,C5,C15",
        help="critical ranges, as -w (C-compatible)",
    )
    parser.add_argument(
        "-r",
        "--per-cpu",
        "--percpu",
        action="store_true",
        help="judge the load divided by the number of online CPUs (C-compatible -r/--percpu)",
    )
    parser.add_argument(
        "-n",
        "--procs-to-show",
        type=int,
        default=0,
        metavar="N",
        help="list the N busiest processes by CPU in the long output (C-compatible)",
    )
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``: ranges on the total or the per-CPU load."""
    warning, critical, per_cpu = args.warning, args.critical, args.per_cpu
    if warning is None and critical is None:
        warning, critical, per_cpu = DEFAULT_PER_CPU_WARNING, DEFAULT_PER_CPU_CRITICAL, True
    none = [None] * len(PERIODS)
    judged = "scaled_load" if per_cpu else "load"
    contexts = [
        Threshold(
            f"{prefix}{period}",
            (warning or none)[index] if prefix == judged else None,
            (critical or none)[index] if prefix == judged else None,
            describe,
        )
        for prefix in ("load", "scaled_load")
        for index, period in enumerate(PERIODS)
    ]
    top = max(args.procs_to_show, 0)
    summary = LoadSummary(long_output=top > 0)
    return nagiosplugin.Check(Load(per_cpu, top), *contexts, summary)


PLUGIN = Plugin(
    "load",
    build_parser,
    make_check,
    local=(Local("load", rank=1),),
    bench=(
        Bench("check_load -w 5,4,3 -c 10,8,6", ("-w", "5,4,3", "-c", "10,8,6"),
              twin="C check_load -w 5,4,3 -c 10,8,6"),
        Bench("check_load (defaults: per CPU)"),
    ),
)  # fmt: skip
main = PLUGIN.main
