"""check_clock: this machine's clock offset from NTP servers, and whether it is synchronised.

Each ``-H`` server is asked for the time by SNTP (RFC 4330; one request per second until it
answers, over plain UDP, IPv4 or IPv6, within what is left of ``-t``) and judged on its own:
it must answer (silence or "port unreachable" is CRITICAL), with an NTP reply (anything
else is UNKNOWN), from a synchronised clock (leap indicator 3, stratum 16 or a
kiss-o'-death are CRITICAL, UNKNOWN with ``-q``), and its offset must be within -w and -c.
A name with several addresses is one server: the best of its addresses' answers counts.

Offsets are server time minus local time (positive: this clock is behind). A threshold
judges the offset's absolute value, as check_ntp_time does (``-w 0.5``: |offset| > 0.5 s
warns), unless it has a negative bound (``-w -0.2:0.5``, ``~:0.5``): then the signed offset.
With one server the perfdata is ``offset``, as check_ntp_time's; with several, each
server's ``offset_<server>`` and ``offset``, the median of those that answered usably:
the local clock's offset from their consensus, which one bad server cannot drag.

The local time daemon is asked too (``--local auto``: chronyd, ntpd, systemd-timesyncd,
whichever answers; none answering is fine in auto mode): a clock its daemon calls
unsynchronised is a problem even while its offset is still small (``--unsynchronised``,
default WARNING). Without -H only the local state is judged.

Takes check_ntp_time's options unchanged: ``-H HOST -p PORT -w 0.5 -c 1 -4 -6 -q -o N``.
Without -w and -c: 0.5 s and 1 s (check_ntp_time's own defaults, 60 and 120 s, would let a
clock drift a full minute unnoticed).
"""

from __future__ import annotations

import argparse
import logging
import math

import nagiosplugin

from checks.core.cli import Parser, UsageError, add_thresholds, state
from checks.core.errors import CannotCheck, ParseError
from checks.core.evaluate import STATES, Perf, Summary, Verdict
from checks.core.net import add_family_options, chosen_family, port
from checks.core.ranges import Range
from checks.core.runtime import Bench, Local, Plugin, remaining
from checks.core.units import SECONDS
from checks.system import _timesync
from checks.system._ntp import (
    DOWN,
    GARBAGE,
    KISS,
    SILENT,
    UNRESOLVED,
    UNSYNCHRONISED,
    USABLE,
    Answer,
    ask_servers,
    offset_text,
)

log = logging.getLogger(__name__)

NTP_PORT = 123
#: Part of the time left kept for judging and printing after the last wait, at most.
SPARE_SECONDS = 0.5


def median(values: list[float]) -> float:
    """The middle value (mean of the two middle ones); ``statistics`` would import random."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


class Clock(nagiosplugin.Resource):
    """The local daemon's state, then every server's answer and offset."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.servers: list[str] = args.hostname or []
        self.port: int = args.port
        self.family = chosen_family(args)
        self.expected: float = args.time_offset
        self.local_mode: str = args.local
        self.chrony_address: str | None = args.chrony_address
        self.timeout: float = args.timeout
        self.answers: list[Answer] = []

    def probe(self) -> list[nagiosplugin.Metric]:
        """Local state first (a quick tool run), then the servers with the time left."""
        metrics = self._local()
        if not self.servers:
            if not metrics:
                raise CannotCheck(
                    "nothing to check: no -H server given and no time daemon answered "
                    "(chronyd, ntpd, systemd-timesyncd)"
                )
            return metrics
        left = remaining() or self.timeout
        wait = max(left - min(SPARE_SECONDS, left / 10), 0.001)
        self.answers = ask_servers(self.servers, self.port, self.family, wait)
        several = len(self.answers) > 1
        usable = []
        for answer in self.answers:
            metrics.append(nagiosplugin.Metric(f"server {answer.name}", answer, context="server"))
            if answer.kind != USABLE:
                continue
            usable.append(answer.offset - self.expected)
            label = f"offset_{answer.name}" if several else "offset"
            metrics.append(
                nagiosplugin.Metric(label, answer.offset - self.expected, "s", context="offset")
            )
        if several and usable:
            metrics.append(nagiosplugin.Metric("offset", median(usable), "s", context="median"))
        return metrics

    def _local(self) -> list[nagiosplugin.Metric]:
        if self.local_mode == "off":
            return []
        try:
            observed = _timesync.observe(self.local_mode, self.chrony_address)
        except ParseError:
            raise
        except CannotCheck as error:  # a named daemon that does not answer
            return [nagiosplugin.Metric("local", str(error), context="local")]
        if observed is None:
            log.info("no time daemon answered: the local synchronisation state is not judged")
            return []
        return [nagiosplugin.Metric("local", observed, context="local")]


class ServerAnswer(nagiosplugin.Context):
    """A server's answer: usable, or why not (and how bad that is)."""

    def __init__(self, quiet: bool) -> None:
        super().__init__("server", result_cls=Verdict)
        self.quiet = quiet

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """Silent or unreachable: CRITICAL; garbage, unresolvable: UNKNOWN; unusable clock:
        CRITICAL (UNKNOWN with ``-q``, as check_ntp_time); usable: OK."""
        answer: Answer = metric.value
        if answer.kind in (SILENT, DOWN):
            return Verdict(nagiosplugin.Critical, None, metric)
        if answer.kind in (UNRESOLVED, GARBAGE):
            return Verdict(nagiosplugin.Unknown, None, metric)
        if answer.kind in (KISS, UNSYNCHRONISED):
            return Verdict(
                nagiosplugin.Unknown if self.quiet else nagiosplugin.Critical, None, metric
            )
        return Verdict(nagiosplugin.Ok, None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """The server and what it answered."""
        answer: Answer = metric.value
        return answer.describe()


class Offset(nagiosplugin.Context):
    """A server's offset against -w and -c: by absolute value, or signed (negative bounds)."""

    def __init__(self, name: str, warning: Range | None, critical: Range | None) -> None:
        super().__init__(name, result_cls=Verdict)
        self.warning = warning
        self.critical = critical

    @staticmethod
    def signed(limit: Range) -> bool:
        """A range with a negative bound judges the signed offset."""
        return limit.start < 0

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """CRITICAL if the critical range alerts, else WARNING if the warning one does."""
        for verdict, limit in (
            (nagiosplugin.Critical, self.critical),
            (nagiosplugin.Warn, self.warning),
        ):
            if limit is None:
                continue
            if self.signed(limit):
                if limit.alerts(metric.value):
                    return Verdict(verdict, limit.violation(metric.value, offset_text), metric)
            elif limit.alerts(abs(metric.value)):
                return Verdict(verdict, self._why(limit, abs(metric.value)), metric)
        return Verdict(nagiosplugin.Ok, None, metric)

    @staticmethod
    def _why(limit: Range, magnitude: float) -> str:
        if not limit.inside and limit.start == 0:
            return f"beyond ±{offset_text(limit.end, signed=False)}"
        shown = limit.violation(magnitude, lambda value: offset_text(value, signed=False))
        return f"(absolute value {shown})"

    @classmethod
    def perf_range(cls, limit: Range | None) -> Range | str | None:
        """The range as the signed perfdata value reads it: ``0.5`` on |offset| is ``-0.5:0.5``."""
        if limit is None or cls.signed(limit) or limit.inside or limit.start != 0:
            return limit
        return Range(-limit.end, limit.end)

    def performance(self, metric: nagiosplugin.Metric, resource: object) -> Perf:
        """The offset in seconds with the ranges it was judged by."""
        return Perf(
            metric.name,
            metric.value,
            "s",
            self.perf_range(self.warning),  # type: ignore[arg-type]
            self.perf_range(self.critical),  # type: ignore[arg-type]
        )

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``ntp1 offset +1.2 ms`` (one server's metric is just ``offset``, as C's)."""
        server = metric.name.removeprefix("offset").removeprefix("_")
        if not server and isinstance(metric.resource, Clock) and metric.resource.answers:
            server = metric.resource.answers[0].name
        return f"{server} offset {offset_text(metric.value)}"


class Median(Offset):
    """The median offset of several servers: perfdata only, each server is judged itself."""

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """Always OK: the servers' own results carry the judgement."""
        return Verdict(nagiosplugin.Ok, None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``median offset +1.2 ms``."""
        return f"median offset {offset_text(metric.value)}"


class LocalState(nagiosplugin.Context):
    """The local daemon's word: synchronised, unsynchronised, or not answering."""

    def __init__(self, unsynchronised: int) -> None:
        super().__init__("local", result_cls=Verdict)
        self.unsynchronised = unsynchronised

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """OK when synchronised; the ``--unsynchronised`` state when not; CRITICAL when the
        daemon named by ``--local`` does not answer."""
        if isinstance(metric.value, str):
            return Verdict(nagiosplugin.Critical, None, metric)
        if metric.value.synchronised:
            return Verdict(nagiosplugin.Ok, None, metric)
        return Verdict(STATES[self.unsynchronised], None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``chronyd: synchronised to 192.0.2.1 stratum 2`` or why not."""
        if isinstance(metric.value, str):
            return f"local time daemon: {metric.value}"
        local: _timesync.LocalSync = metric.value
        if not local.synchronised:
            return f"{local.daemon}: the local clock is not synchronised ({local.detail})"
        text = f"{local.daemon}: synchronised"
        if local.source:
            text += f" to {local.source}"
        if local.offset is not None:
            text += f", offset {offset_text(local.offset)}"
        return text


class ClockSummary(Summary):
    """``offset +0.2 ms from ntp1 (stratum 2); chronyd: synchronised to …``."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """The offset (or median), the servers, and the local daemon's state."""
        resource: Clock = results[0].resource
        parts = []
        answers = resource.answers
        if len(answers) == 1 and answers[0].reply is not None:
            answer, reply = answers[0], answers[0].reply
            parts.append(
                f"offset {offset_text(answer.offset)} from {answer.name} (stratum {reply.stratum})"
            )
        elif answers:
            each = ", ".join(f"{answer.name} {offset_text(answer.offset)}" for answer in answers)
            median = offset_text(results["offset"].metric.value)
            parts.append(f"offset {median}, median of {len(answers)} servers ({each})")
        if "local" in results:
            parts.append(str(results["local"]))
        return "; ".join(parts)


def build_parser() -> Parser:
    """check_clock's options: check_ntp_time's, several servers, the local daemon."""
    parser = Parser(
        "check_clock",
        __doc__.split("\n\n")[0],
        examples=(
            "check_clock -H ntp1.example.org -w 0.5 -c 1      as check_ntp_time",
            "check_clock -H ntp1 -H ntp2 -H ntp3              each judged, median offset",
            "check_clock                                      only the local daemon's state",
            "check_clock -H ntp1 -w -0.1:0.5 -c -1:2      signed offset bounds",
            "check_clock -H ntp1 --local chrony --unsynchronised critical",
        ),
    )
    parser.add_argument(
        "-H",
        "--hostname",
        action="append",
        metavar="HOST",
        help="NTP server to ask (name, IPv4 or IPv6 address); repeat for several (C-compatible)",
    )
    parser.add_argument(
        "-p",
        "--port",
        type=port,
        default=NTP_PORT,
        metavar="PORT",
        help="UDP port of the servers (default: %(default)s, C-compatible)",
    )
    add_family_options(parser)
    add_thresholds(
        parser,
        "each server's offset in seconds: |offset| unless the range has a negative bound",
        scale=SECONDS,
        defaults=("0.5", "1"),
        note="C-compatible",
    )
    parser.add_argument(
        "-o",
        "--time-offset",
        type=_signed_seconds,
        default=0.0,
        metavar="SECONDS",
        help="offset the servers are expected to have, e.g. -5; judged is the difference "
        "(C-compatible)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="UNKNOWN instead of CRITICAL when a server answers but its clock is "
        "unsynchronised or it sent a kiss-o'-death (C-compatible)",
    )
    parser.add_argument(
        "--local",
        choices=("auto", *_timesync.DAEMONS, "off"),
        default="auto",
        help="time daemon whose synchronisation state to judge: auto (the first of "
        "chronyd, ntpd, systemd-timesyncd that answers, none is fine), a named one (not "
        "answering is CRITICAL), or off (default: %(default)s)",
    )
    parser.add_argument(
        "--chrony-address",
        metavar="ADDRESS",
        help="where chronyc reaches chronyd: a Unix socket path or host (default: chronyc's)",
    )
    parser.add_argument(
        "--unsynchronised",
        type=state,
        default="warning",
        metavar="STATE",
        help="state when the local daemon says the clock is not synchronised: ok, warning, "
        "critical, unknown (default: %(default)s)",
    )
    return parser


def _signed_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds")
    return value


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    if args.hostname and len(set(args.hostname)) != len(args.hostname):
        raise UsageError("a server is given twice with -H")
    if args.hostname and any(not name.strip() for name in args.hostname):
        raise UsageError("-H needs a host name or address")
    return nagiosplugin.Check(
        Clock(args),
        ServerAnswer(args.quiet),
        Offset("offset", args.warning, args.critical),
        Median("median", args.warning, args.critical),
        LocalState(args.unsynchronised),
        ClockSummary(long_output=bool(args.hostname and len(args.hostname) > 1)),
    )


PLUGIN = Plugin(
    "clock",
    build_parser,
    make_check,
    local=(Local("clock", rank=8),),
    bench=(
        Bench("check_clock -H 127.0.0.1 -p PORT --local off", ("-H", "127.0.0.1", "-p",
              "{ntp_port}", "-w", "0.5", "-c", "1", "--local", "off"), kind="tool",
              twin="C check_ntp_time -H 127.0.0.1 -p PORT"),
    ),
)  # fmt: skip
main = PLUGIN.main
