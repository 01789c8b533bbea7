"""check_nginx: nginx's stub_status page: connections, requests per second, dropped connections.

Fetches the page of ``ngx_http_stub_status_module`` (default ``-u /nginx_status``; the same
``-H -I -p -u -S``, TLS and ``--credentials`` options as check_url) and judges:

- **active** connections (``-w``/``-c``, also ``--warning-active``/``--critical-active``),
  with reading (request headers), writing (responses) and waiting (idle keep-alive)
  shown and in the perfdata;
- **requests/s** (``--warning-requests``/``--critical-requests``) and **dropped**
  connections (accepted but not handled: nginx ran out of ``worker_connections`` or
  another resource; ``--warning-dropped``/``--critical-dropped``, default WARNING above
  0), both from the counters' increase since the previous run (stored per URL, see
  :mod:`checks.core.statefile`) or, on a first run, over ``--sample`` seconds. The
  page's lifetime counters are kept as ``c`` perfdata for graphers.

After nginx restarts, its counters start again from zero: the stored reading is then
ahead of the new one and is discarded (the check samples instead), so a restart never
shows as a negative rate. A page that is not stub_status, a redirect, 401/403 or 404 is
UNKNOWN saying which; a 5xx or no answer is CRITICAL. Tengine's variant with a fourth
``request_time`` column is read too: the columns are taken by their names.
"""

from __future__ import annotations

import argparse
import re

import nagiosplugin

from checks.core import statefile
from checks.core.cli import Parser, add_thresholds
from checks.core.errors import ParseError
from checks.core.evaluate import Summary, Threshold
from checks.core.runtime import Bench, Plugin
from checks.core.units import human_number
from checks.core.web import add_http_options, fetch_status_page, request_of
from checks.web import _status

TYPE_CHECKING = False
if TYPE_CHECKING:
    from checks.core.web import Request

DEFAULT_PATH = "/nginx_status"
#: The counters of the page's third line that every stub_status has.
COUNTERS = ("accepts", "handled", "requests")
GAUGES = ("active", "reading", "writing", "waiting")
_ACTIVE = re.compile(r"Active connections:\s*(\d+)\s*")
_STATES = re.compile(r"Reading:\s*(\d+)\s+Writing:\s*(\d+)\s+Waiting:\s*(\d+)\s*")


def parse_stub_status(text: str) -> dict[str, int]:
    """The gauges and counters of a stub_status page (exactly its four-line format)::

        Active connections: 291
        server accepts handled requests
         16630948 16630948 31070465
        Reading: 6 Writing: 179 Waiting: 106

    Extra columns of the third line (Tengine's ``request_time``) are kept under their
    header's name. Anything else is a ParseError naming what is missing.
    """
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) != 4:
        raise ParseError(
            f"not a stub_status page (4 lines expected, {len(lines)} read): {text[:40]!r}"
        )
    active = _ACTIVE.fullmatch(lines[0])
    if not active:
        raise ParseError(
            f"not a stub_status page: {lines[0][:60]!r} is not 'Active connections: N'"
        )
    names = lines[1].split()
    if names[:1] != ["server"] or tuple(names[1:4]) != COUNTERS:
        raise ParseError(f"unknown stub_status counters line {lines[1][:60]!r}")
    numbers = lines[2].split()
    if len(numbers) != len(names) - 1 or not all(n.isascii() and n.isdigit() for n in numbers):
        raise ParseError(f"stub_status counters {lines[2][:60]!r} do not match {lines[1]!r}")
    states = _STATES.fullmatch(lines[3])
    if not states:
        raise ParseError(f"{lines[3][:60]!r} is not 'Reading: N Writing: N Waiting: N'")
    values = dict(zip(names[1:], map(int, numbers), strict=True))
    values["active"] = int(active[1])
    values.update(zip(GAUGES[1:], map(int, states.groups()), strict=True))
    return values


def state_name(request: Request) -> str:
    """The statefile name of one status page: its server, port and path."""
    return _status.state_name(
        "nginx", f"{request.address or request.host}_{request.port}{request.path}"
    )


class StubStatus(nagiosplugin.Resource):
    """The page now and the counters' increase over the interval."""

    def __init__(self, request: Request, sample: float) -> None:
        self.request, self.sample = request, sample
        self.how = ""
        self.latest: dict[str, int] = {}

    def read(self) -> dict[str, float]:
        """One fetch of the page; the counters for the interval, the gauges kept."""
        page = fetch_status_page(self.request, "stub_status page")
        self.latest = parse_stub_status(page.text)
        return {name: float(self.latest[name]) for name in COUNTERS}

    def probe(self) -> list[nagiosplugin.Metric]:
        """Gauges of the latest reading, rates and dropped over the interval, counters."""
        interval = statefile.counters(state_name(self.request), self.read, self.sample)
        self.how = interval.how
        dropped = max(interval.delta("accepts") - interval.delta("handled"), 0.0)
        metrics = [nagiosplugin.Metric(name, self.latest[name], min=0, context=name)
                   for name in GAUGES]  # fmt: skip
        metrics += [
            nagiosplugin.Metric("requests_per_second", interval.rate("requests"), min=0,
                                context="requests"),
            nagiosplugin.Metric("dropped", dropped, min=0, context="dropped"),
        ]  # fmt: skip
        metrics += [nagiosplugin.Metric(name, self.latest[name], "c", 0, context="counter")
                    for name in COUNTERS]  # fmt: skip
        return metrics


class NginxSummary(Summary):
    """``active 585 (reading 4, writing 135, waiting 446), 12.5 requests/s, 0 dropped over …``."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """Connections, request rate, dropped, and the interval measured."""
        value = {result.metric.name: result.metric.value for result in results.results}
        states = ", ".join(f"{name} {value[name]}" for name in GAUGES[1:])
        return (
            f"active {value['active']} ({states}), "
            f"{human_number(value['requests_per_second'], 1)} requests/s, "
            f"{human_number(value['dropped'], 0)} dropped {results[0].resource.how}"
        )

    def problem(self, results: nagiosplugin.Results) -> str:
        """The problems, then the whole picture."""
        return f"{super().problem(results)} - {self.ok(results)}"


def build_parser() -> Parser:
    """check_nginx's options: the HTTP ones, thresholds on three metrics, the sample."""
    parser = Parser(
        "check_nginx",
        __doc__.split("\n\n")[0],
        examples=(
            "check_nginx -H web1                          http://web1/nginx_status",
            "check_nginx -H web1 -u /status -w 800 -c 1000 active connections",
            "check_nginx -H web1 --warning-requests 500 --critical-dropped 10",
        ),
    )
    add_http_options(parser, default_path=DEFAULT_PATH)
    judge = parser.add_argument_group("thresholds")
    add_thresholds(judge, "active connections", metric="active", short=True)
    add_thresholds(judge, "requests per second", metric="requests")
    add_thresholds(judge, "connections dropped (accepted, not handled) since the last run",
                   metric="dropped", defaults=("0", None))  # fmt: skip
    statefile.add_sample_option(parser, " of the counters")
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    return nagiosplugin.Check(
        StubStatus(request_of(args), args.sample),
        Threshold("active", args.warning_active, args.critical_active,
                  lambda m: f"active {m.value}"),
        *(Threshold(name) for name in GAUGES[1:]),
        Threshold("requests", args.warning_requests, args.critical_requests,
                  lambda m: f"{human_number(m.value, 1)} requests/s"),
        Threshold("dropped", args.warning_dropped, args.critical_dropped,
                  lambda m: f"{human_number(m.value, 0)} dropped"),
        Threshold("counter"),
        NginxSummary(),
    )  # fmt: skip


PLUGIN = Plugin(
    "nginx",
    build_parser,
    make_check,
    address=True,
    services=("vigie-nginx",),
    nagios=("nginx",),
    bench=(
        Bench("check_nginx -H 127.0.0.1 -p PORT --sample 0.05",
              ("-H", "127.0.0.1", "-p", "{http_port}", "--sample", "0.05"), kind="tool"),
    ),
)  # fmt: skip
main = PLUGIN.main
