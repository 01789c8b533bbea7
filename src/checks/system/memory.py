"""check_memory: RAM that is really in use, with page cache not counted as used.

The kernel lends free RAM to the page cache and takes it back on demand, so "free" memory
is always near zero on a healthy server. ``MemAvailable`` (``/proc/meminfo``, Linux 3.14+)
is the kernel's own estimate of what can be given to programs without swapping; used is
the rest. Judged as a percentage (-w/-c) and, optionally, as bytes still available.
"""

from __future__ import annotations

import argparse

import nagiosplugin

from checks.core import procfs
from checks.core.cli import Parser, add_thresholds
from checks.core.evaluate import Summary, Threshold, show
from checks.core.runtime import Bench, Local, Plugin
from checks.core.units import BYTES
from checks.system._meminfo import parse_meminfo


def memory_usage(meminfo: dict[str, int]) -> dict[str, int]:
    """Total, available, used and buff/cache bytes (cache as ``free`` counts it).

    Before Linux 3.14 there is no MemAvailable; it is then estimated as free RAM plus the
    cache minus shared memory (tmpfs sits in the cache but cannot be dropped).
    """
    total = meminfo["MemTotal"]
    cache = meminfo.get("Buffers", 0) + meminfo.get("Cached", 0) + meminfo.get("SReclaimable", 0)
    estimate = meminfo.get("MemFree", 0) + cache - meminfo.get("Shmem", 0)
    available = min(max(meminfo.get("MemAvailable", estimate), 0), total)
    return {"total": total, "available": available, "used": total - available, "cache": cache}


class Memory(nagiosplugin.Resource):
    """RAM usage from /proc/meminfo."""

    def probe(self) -> list[nagiosplugin.Metric]:
        """Used percent for thresholds, bytes for graphs."""
        usage = memory_usage(parse_meminfo(procfs.read("meminfo")))
        total = usage["total"]
        return [
            nagiosplugin.Metric("used_percent", 100.0 * usage["used"] / total, "%", 0, 100),
            nagiosplugin.Metric("available", usage["available"], "B", 0, total),
            nagiosplugin.Metric("used", usage["used"], "B", 0, total),
            nagiosplugin.Metric("cache", usage["cache"], "B", 0, total),
        ]


class MemorySummary(Summary):
    """``RAM used 42.1% (10 GiB of 24 GiB), 14 GiB available``."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """Used share and amounts, and what is still available."""
        used = results["used"].metric
        percent = show(results["used_percent"].metric.value, "%")
        amounts = f"{show(used.value, 'B')} of {show(used.max, 'B')}"
        available = show(results["available"].metric.value, "B")
        return f"RAM used {percent} ({amounts}), {available} available"


def describe(metric: nagiosplugin.Metric) -> str:
    """``RAM used 96.2%`` / ``available 512 MiB``."""
    if metric.name == "used_percent":
        return f"RAM used {show(metric.value, '%')}"
    return f"{metric.name} {show(metric.value, metric.uom)}"


def build_parser() -> Parser:
    """check_memory's options: ranges on used %, and on bytes available."""
    parser = Parser(
        "check_memory",
        __doc__.split("\n\n")[0],
        examples=(
            "check_memory                                  used 90% / 95%",
            "check_memory -w 80 -c 90 --critical-available 512M:",
        ),
    )
    add_thresholds(parser, "RAM used %%", defaults=("90", "95"))
    add_thresholds(
        parser,
        "bytes available",
        metric="available",
        scale=BYTES,
        note="e.g. 1G: alerts below 1 GiB",
    )
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    return nagiosplugin.Check(
        Memory(),
        Threshold("used_percent", args.warning, args.critical, describe),
        Threshold("available", args.warning_available, args.critical_available, describe),
        Threshold("used"),
        Threshold("cache"),
        MemorySummary(),
    )


PLUGIN = Plugin(
    "memory",
    build_parser,
    make_check,
    local=(Local("memory", rank=3),),
    bench=(Bench("check_memory"),),
)  # fmt: skip
main = PLUGIN.main
