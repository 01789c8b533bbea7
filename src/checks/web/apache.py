"""check_apache: how busy an Apache httpd is, from mod_status (/server-status?auto).

Judges the workers busy as a percentage of the server's limit: the scoreboard has one slot
per possible worker (ServerLimit × ThreadLimit for the threaded MPMs, ServerLimit for
prefork), so its length is the limit and ``.`` (open slot) the room left. A
MaxRequestWorkers below that is not on the page: ``--max-workers N`` then names the limit
(Debian's event MPM: ServerLimit 16 × 25 slots, MaxRequestWorkers 150). ``-w``/``-c``
are ranges on that busy % (default 80 and 95); ``--warning-requests``/
``--critical-requests`` on requests per second. Every scoreboard state is counted
(waiting, starting, reading, sending, keepalive, dns, closing, logging, graceful, idle
cleanup, open) into the perfdata and the long output.

Requests/s and bytes/s come from the counters ``Total Accesses`` and ``Total kBytes``
over the interval since the check's previous run (stored, see
:mod:`checks.core.statefile`), or over ``--sample`` seconds on a first run, never from the
lifetime averages ``?auto`` also prints (``ReqPerSec`` since the last restart says nothing
about now). A restart is detected by counters going backwards or by the server's uptime
growing less than the time between the two readings; the stored reading is then dropped
and the rate sampled. Without ``ExtendedStatus`` (no counters) the rates are left out.

The event MPM of Apache 2.4.35 to 2.4.5x prints ``BusyWorkers`` and ``IdleWorkers``
twice: first mod_status's count over the whole scoreboard, then, after ``Processes:`` and
``Stopping:``, the MPM's count over the processes not stopping. The first is taken, the
count over the same slots the limit counts (2.4.6x and later print it once).

The page comes through check_url's options (``-H -I -p -u -S``, TLS, ``--credentials``
for a status page behind basic auth); default ``-u /server-status?auto`` on port 80.
What is not ``?auto`` output (the HTML page, a login page) is UNKNOWN, naming what came.
There is no C monitoring-plugin for mod_status.
"""

from __future__ import annotations

import argparse

import nagiosplugin

from checks.core.cli import Parser, add_thresholds
from checks.core.errors import ParseError
from checks.core.evaluate import Summary, Threshold, show
from checks.core.output import STATE_NAMES, screen
from checks.core.runtime import Bench, Plugin
from checks.core.statefile import Interval, add_sample_option
from checks.core.units import count_of
from checks.core.web import add_http_options
from checks.web._status import number_of, read_page, state_name, stored_rates

DEFAULT_PATH = "/server-status?auto"
#: mod_status's scoreboard key: character, name in perfdata and long output.
SCOREBOARD = {
    "_": "waiting", "S": "starting", "R": "reading", "W": "sending", "K": "keepalive",
    "D": "dns", "C": "closing", "L": "logging", "G": "graceful", "I": "idle_cleanup",
    ".": "open",
}  # fmt: skip
#: Seconds the server's uptime may lag behind the interval before it counts as a restart
#: (both are whole seconds apart, read a request's time apart).
UPTIME_SLACK = 2.0


class ApacheStatus:
    """What ``?auto`` says: workers, scoreboard, counters (None without ExtendedStatus)."""

    __slots__ = ("busy", "counters", "idle", "limit", "mpm", "scoreboard", "version")

    def __init__(self, fields: dict[str, str], scoreboard: str) -> None:
        self.busy = _count(fields, "BusyWorkers")
        self.idle = _count(fields, "IdleWorkers")
        self.limit = len(scoreboard)
        self.scoreboard = {name: scoreboard.count(char) for char, name in SCOREBOARD.items()}
        self.version = fields.get("ServerVersion", "Apache")
        self.mpm = fields.get("ServerMPM", "")
        self.counters: dict[str, float] | None = None
        if "Total Accesses" in fields:
            uptime = "ServerUptimeSeconds" if "ServerUptimeSeconds" in fields else "Uptime"
            self.counters = {
                "accesses": _count(fields, "Total Accesses"),
                "kbytes": _count(fields, "Total kBytes"),
                "uptime": _count(fields, uptime),
            }
        if self.busy + self.idle > self.limit:
            raise ParseError(
                f"BusyWorkers {self.busy:g} and IdleWorkers {self.idle:g} are more than "
                f"the scoreboard's {self.limit} slots"
            )


def _count(fields: dict[str, str], key: str) -> float:
    """The number of ``key``: present, finite and not negative."""
    text = fields.get(key)
    if text is None:
        raise ParseError(f"mod_status output without {key!r}")
    value = count_of(text)
    if value is None:
        raise ParseError(f"mod_status {key} is not a count: {screen(text)[:40]!r}")
    return value


def parse_status(text: str) -> ApacheStatus:
    """The ``?auto`` page of mod_status; HTML or anything else is refused, saying what.

    Lines are ``Key: value``; of a key printed twice the first is taken (see the module
    docstring). The scoreboard holds only the characters of mod_status's key.
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if colon:
            fields.setdefault(key.strip(), value.strip())
    scoreboard = fields.get("Scoreboard")
    if scoreboard is None:
        start = text.lstrip()[:200].lower()
        if start.startswith("<") or "<html" in start:
            raise ParseError("an HTML page, not mod_status ?auto output (does -u end with ?auto?)")
        shown = screen(text)[:60]
        raise ParseError(f"not mod_status ?auto output (no Scoreboard line): {shown!r}")
    unknown = set(scoreboard) - set(SCOREBOARD)
    if not scoreboard or unknown:
        raise ParseError(f"the Scoreboard holds states mod_status does not have: {unknown or ''}")
    return ApacheStatus(fields, scoreboard)


def restarted(interval: Interval) -> bool:
    """Whether the server's uptime grew less than the time between the two readings."""
    return interval.delta("uptime") < interval.seconds - UPTIME_SLACK


class Apache(nagiosplugin.Resource):
    """One reading of mod_status (two on a first run, for the rates)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.status: ApacheStatus | None = None
        self.url = ""
        self.interval = ""
        self.limit = 0

    def read(self) -> ApacheStatus:
        """Fetch and parse the status page."""
        status, self.url = read_page(self.args, "mod_status page", parse_status)
        self.status = status
        return status

    def probe(self) -> list[nagiosplugin.Metric]:
        """Requests and bytes per second over the interval; workers and scoreboard of the
        newest reading (the second one after a sample)."""
        first = self.read()
        rates: list[nagiosplugin.Metric] = []
        if first.counters is not None:
            interval = stored_rates(
                state_name("apache", self.url),
                first.counters,
                lambda: self._counters(self.read()),
                self.args.sample,
                restarted,
            )
            self.interval = interval.how
            rates = [
                nagiosplugin.Metric("requests", interval.rate("accesses"), "", 0),
                nagiosplugin.Metric("bytes", 1024 * interval.rate("kbytes"), "B", 0),
            ]
        status = self.status or first
        limit = self.limit = self.args.max_workers or status.limit
        return [
            nagiosplugin.Metric("busy", 100.0 * status.busy / limit, "%", 0),
            nagiosplugin.Metric("busy_workers", status.busy, "", 0, limit),
            nagiosplugin.Metric("idle_workers", status.idle, "", 0, limit),
            *rates,
            *(nagiosplugin.Metric(name, count, "", 0, status.limit, context="scoreboard")
              for name, count in status.scoreboard.items()),
        ]  # fmt: skip

    @staticmethod
    def _counters(status: ApacheStatus) -> dict[str, float]:
        if status.counters is None:
            raise ParseError("mod_status stopped printing its counters (ExtendedStatus Off?)")
        return status.counters


def describe_busy(metric: nagiosplugin.Metric) -> str:
    """``busy 85%``."""
    return f"workers busy {show(metric.value, '%')}"


def describe_requests(metric: nagiosplugin.Metric) -> str:
    """``12.3 requests/s``."""
    return f"{show(metric.value)} requests/s"


def describe_bytes(metric: nagiosplugin.Metric) -> str:
    """``1.2 MiB/s``."""
    return f"{show(metric.value, 'B')}/s"


class ApacheSummary(Summary):
    """``12 of 150 workers busy (8%), 38 idle, 4.2 requests/s, 1.1 MiB/s over the last 300 s``."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """Workers, rates and the interval, then what answered."""
        resource: Apache = results[0].resource
        status = resource.status
        assert status is not None
        text = (
            f"{status.busy:g} of {resource.limit} workers busy "
            f"({show(results['busy'].metric.value, '%')}), {status.idle:g} idle"
        )
        if "requests" in results:
            text += f", {results['requests']}, {results['bytes']} {resource.interval}"
        return f"{text} ({screen(status.version)} {status.mpm})".replace(" )", ")")

    def problem(self, results: nagiosplugin.Results) -> str:
        """The problems, then the workers in use and the interval of the rates."""
        resource: Apache = results[0].resource
        status = resource.status
        assert status is not None
        text = f"{super().problem(results)} ({status.busy:g} of {resource.limit} workers busy"
        return f"{text} {resource.interval})" if "requests" in results else f"{text})"

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        """Every measure, then the scoreboard by state."""
        board = [result for result in results.results if result.context.name == "scoreboard"]
        lines = [
            f"{STATE_NAMES[result.state.code]}: {result}"
            for result in results.results
            if result not in board
        ]
        states = ", ".join(f"{result.metric.name} {result.metric.value:g}" for result in board)
        return [*lines, f"scoreboard: {states}"]


def build_parser() -> Parser:
    """check_apache's options: check_url's HTTP options, busy % and requests/s ranges."""
    parser = Parser(
        "check_apache",
        __doc__.split("\n\n")[0],
        examples=(
            "check_apache -H www.example.org              busy workers 80/95 %",
            "check_apache -H 10.0.0.5 -p 8080 -w 60 -c 90",
            "check_apache -H host --critical-requests 2000 --credentials /etc/icinga2/status.cred",
        ),
    )
    add_http_options(parser, default_port=80, default_path=DEFAULT_PATH)
    add_thresholds(parser, "workers busy, %% of the limit", defaults=("80", "95"))
    parser.add_argument(
        "--max-workers",
        type=number_of("workers"),
        metavar="N",
        help="the server's limit of workers, when MaxRequestWorkers is below what the "
        "scoreboard holds (default: the scoreboard's slots)",
    )
    add_thresholds(parser, "requests per second", metric="requests")
    add_sample_option(parser, " of the request counters")
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    return nagiosplugin.Check(
        Apache(args),
        Threshold("busy", args.warning, args.critical, describe_busy),
        Threshold("busy_workers"),
        Threshold("idle_workers"),
        Threshold("requests", args.warning_requests, args.critical_requests, describe_requests),
        Threshold("bytes", describe=describe_bytes),
        Threshold("scoreboard"),
        ApacheSummary(),
    )


PLUGIN = Plugin(
    "apache",
    build_parser,
    make_check,
    address=True,
    services=("vigie-apache",),
    nagios=("apache",),
    bench=(
        Bench("check_apache -H 127.0.0.1 -p PORT --sample 0.05",
              ("-H", "127.0.0.1", "-p", "{apache_port}", "--sample", "0.05"), kind="tool"),
    ),
)  # fmt: skip
main = PLUGIN.main
