"""check_uptime: how long since the last boot; a recent reboot nobody planned is news.

Warns for ``-w`` (default 15 minutes) after a reboot, so that an unexpected restart
shows on the dashboard even when every service came back. A maximum (``-w 15m:180d``)
flags machines that have not rebooted into their security updates. Ranges take durations
with units: s, m (minutes), h, d, w.
"""

from __future__ import annotations

import argparse
import time

import nagiosplugin

from checks.core import procfs
from checks.core.cli import Parser, add_thresholds
from checks.core.errors import ParseError
from checks.core.evaluate import Summary, Threshold, show
from checks.core.runtime import Bench, Local, Plugin
from checks.core.units import SECONDS


def parse_uptime(text: str) -> float:
    """Seconds since boot, the first number of ``/proc/uptime`` (``622.35 1182.51``)."""
    try:
        seconds = float(text.split(maxsplit=1)[0])
    except (IndexError, ValueError):
        raise ParseError(f"/proc/uptime does not start with a number: {text[:40]!r}") from None
    if seconds < 0:
        raise ParseError(f"/proc/uptime is negative: {text[:40]!r}")
    return seconds


class Uptime(nagiosplugin.Resource):
    """Seconds since boot."""

    def probe(self) -> nagiosplugin.Metric:
        """Read /proc/uptime."""
        return nagiosplugin.Metric("uptime", parse_uptime(procfs.read("uptime")), "s", 0)


def describe(metric: nagiosplugin.Metric) -> str:
    """``up 12 d 3 h (booted 2026-11-12 10:03)``."""
    booted = time.strftime("%Y-%m-%d %H:%M", time.localtime(time.time() - metric.value))
    return f"up {show(metric.value, 's')} (booted {booted})"


def build_parser() -> Parser:
    """check_uptime's options: ranges of durations."""
    parser = Parser(
        "check_uptime",
        __doc__.split("\n\n")[0],
        examples=(
            "check_uptime                    warn for 15 minutes after a reboot",
            "check_uptime -w 30m: -c 5m:     critical within 5 minutes, warning within 30",
            "check_uptime -w 15m:180d        also warn after 180 days without a reboot",
        ),
    )
    add_thresholds(parser, "the uptime, units s m h d w", scale=SECONDS, defaults=("15m:", None))
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    return nagiosplugin.Check(
        Uptime(), Threshold("uptime", args.warning, args.critical, describe), Summary()
    )


PLUGIN = Plugin(
    "uptime",
    build_parser,
    make_check,
    local=(Local("uptime", rank=5),),
    bench=(Bench("check_uptime"),),
)  # fmt: skip
main = PLUGIN.main
