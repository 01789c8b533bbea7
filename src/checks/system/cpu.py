"""check_cpu: how busy the CPUs were, as user, system, iowait and steal percentages.

The kernel counts CPU time in ``/proc/stat``; a percentage needs two readings. The check
uses the reading its previous run stored (so Icinga sees the average over its whole check
interval), even a recent one (from :data:`SHORTEST` seconds old: a share of CPU time means
something over a tenth of a second, a second run soon after the first need not wait a
whole sample), and otherwise samples for ``--sample`` seconds (see
:mod:`checks.core.statefile`).
``used`` is the time not idle and not waiting for I/O; iowait and steal (time a hypervisor
gave to other guests) have their own thresholds because each points at another culprit.
"""

from __future__ import annotations

import argparse

import nagiosplugin

from checks.core import procfs, statefile
from checks.core.cli import Parser, add_thresholds
from checks.core.errors import ParseError
from checks.core.evaluate import Summary, Threshold, show
from checks.core.runtime import Bench, Local, Plugin

# /proc/stat's cpu line: user nice system idle iowait irq softirq steal guest guest_nice.
# guest and guest_nice are already counted in user and nice, so they are left out of the total.
FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
METRICS = ("used", "user", "system", "iowait", "steal", "idle")
DEFAULTS: dict[str, tuple[str | None, str | None]] = {"iowait": ("30", "50"), "steal": ("20", "40")}
#: Seconds a previous run's reading must be old to be judged over: the kernel counts CPU
#: time in ticks of 10 ms per CPU, so 0.1 s holds 10 ticks per CPU (shares in steps of at
#: most 10% on one CPU, 5% on two, finer on more); a younger reading is waited for until it
#: is this old, never for a whole ``--sample``.
SHORTEST = 0.1


def parse_stat_cpu(stat: str) -> dict[str, float]:
    """The aggregate CPU time counters (in clock ticks) of ``/proc/stat``'s ``cpu`` line."""
    for line in stat.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            try:
                values = [float(field) for field in fields[1 : 1 + len(FIELDS)]]
            except ValueError:
                break
            if len(values) < 4:  # kernels before 2.5.41 had no iowait and later fields
                break
            values += [0.0] * (len(FIELDS) - len(values))
            return dict(zip(FIELDS, values, strict=True))
    raise ParseError("/proc/stat has no readable 'cpu' line")


def percentages(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Share of each kind of CPU time between two readings, in percent of the total."""
    delta = {key: after[key] - before[key] for key in FIELDS}
    total = sum(delta.values())
    if total <= 0:
        raise ParseError("the CPU time counters did not advance between the two readings")
    share = {key: 100.0 * value / total for key, value in delta.items()}
    busy = {
        "user": share["user"] + share["nice"],
        "system": share["system"] + share["irq"] + share["softirq"],
        "iowait": share["iowait"],
        "steal": share["steal"],
        "idle": share["idle"],
    }
    busy["used"] = max(100.0 - share["idle"] - share["iowait"], 0.0)
    return busy


class Cpu(nagiosplugin.Resource):
    """CPU time shares over the interval since the previous run, or over a sample."""

    def __init__(self, sample: float) -> None:
        self.sample = sample
        self.interval = ""

    def probe(self) -> list[nagiosplugin.Metric]:
        """Two readings of /proc/stat and the percentages between them."""
        interval = statefile.counters(
            "cpu", lambda: parse_stat_cpu(procfs.read("stat")), self.sample, SHORTEST
        )
        self.interval = interval.how
        shares = percentages(interval.before, interval.after)
        return [nagiosplugin.Metric(name, shares[name], "%", 0, 100) for name in METRICS]


def describe(metric: nagiosplugin.Metric) -> str:
    """``CPU used 97.1%``, ``iowait 35%``."""
    name = "CPU used" if metric.name == "used" else metric.name
    return f"{name} {show(metric.value, '%')}"


class CpuSummary(Summary):
    """``CPU used 12.3% (user 8.1%, system 4.2%, iowait 0%, steal 0%) over the last 60 s``."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """The used share, its parts, and the interval measured."""
        parts = ", ".join(
            f"{name} {show(results[name].metric.value, '%')}"
            for name in ("user", "system", "iowait", "steal")
        )
        used = show(results["used"].metric.value, "%")
        return f"CPU used {used} ({parts}) {results[0].resource.interval}"

    def problem(self, results: nagiosplugin.Results) -> str:
        """The problems, then the interval they were measured over."""
        return f"{super().problem(results)} {results[0].resource.interval}"


def build_parser() -> Parser:
    """check_cpu's options: a range per share, and the sampling time."""
    parser = Parser(
        "check_cpu",
        __doc__.split("\n\n")[0],
        examples=(
            "check_cpu                                 used 90/95, iowait 30/50, steal 20/40",
            "check_cpu -w 80 -c 95 --warning-steal 10  stricter on a shared hypervisor",
            "check_cpu --sample 5                      5 s sample when no previous reading",
        ),
    )
    add_thresholds(parser, "used %%", defaults=("90", "95"))
    for name in ("user", "system", "iowait", "steal"):
        add_thresholds(parser, f"{name} %%", metric=name, defaults=DEFAULTS.get(name, (None, None)))
    statefile.add_sample_option(parser, shortest=SHORTEST)
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    contexts = [Threshold("used", args.warning, args.critical, describe), Threshold("idle")]
    contexts += [
        Threshold(
            name, getattr(args, f"warning_{name}"), getattr(args, f"critical_{name}"), describe
        )
        for name in ("user", "system", "iowait", "steal")
    ]
    return nagiosplugin.Check(Cpu(args.sample), *contexts, CpuSummary())


PLUGIN = Plugin(
    "cpu",
    build_parser,
    make_check,
    local=(Local("cpu", ("--sample", "0.4"), rank=2),),
    bench=(Bench("check_cpu --sample 0.05", ("--sample", "0.05")),),
)  # fmt: skip
main = PLUGIN.main
