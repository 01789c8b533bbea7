"""check_ping: whether a host answers ICMP echo, how fast (rta) and how reliably (pl).

Sends ``-p`` echo requests 0.2 s apart (closer when many packets must fit in half of
``-t``) and judges the round-trip average of the replies in milliseconds and the share of
requests left unanswered. A host that answers nothing is CRITICAL whatever the thresholds
(100% loss; the reason too when the network reported one, such as "host unreachable");
a name that does not resolve is UNKNOWN, as in the C plugin. A reply counts when it comes
within ``max(1 s, 2 × the critical rta)`` of the last request and before ``-t``.

Echo requests go from an ICMP socket when this process may open one (raw as root or with
CAP_NET_RAW, or a datagram socket when ``net.ipv4.ping_group_range`` admits its group),
else through the system's ``ping`` (iputils), whose output is parsed; ``--method`` forces
either. A name is pinged at its first address in the system's order, like ``ping``; the C
plugin uses IPv4 for names unless given ``-6``, so add ``-4`` to keep its choice.

Takes the C plugin's options unchanged: ``-H HOST -w RTA,PL% -c RTA,PL% [-p N] [-4|-6]``,
alerting when the round-trip average reaches RTA milliseconds or the loss reaches PL
percent, bound included as in the C plugin (perfdata ranges ``@100:``); ``-w 100`` or
``-w 20%`` set only one of the two. Without -w and -c: 100,5% and 200,15%, as Icinga's
ITL ``ping`` command. Perfdata labels are the C plugin's: ``rta`` (ms) and ``pl`` (%).
"""

from __future__ import annotations

import argparse
import math
import socket

import nagiosplugin
from nagiosplugin.state import Critical, Warn

from checks.core.cli import Parser, UsageError, seconds
from checks.core.errors import CannotCheck, ParseError, ServiceDown
from checks.core.evaluate import Summary, Verdict, show
from checks.core.net import (
    Latency,
    add_family_options,
    add_host_option,
    chosen_family,
    human_latency,
    name_of,
    resolve,
)
from checks.core.ranges import Range, parse_number
from checks.core.runtime import Bench, Plugin, remaining
from checks.reach._echo import MARGIN, Round, exchange, open_socket

DEFAULT_PACKETS = 5
DEFAULT_INTERVAL = 0.2
#: iputils' smallest interval for users without privileges.
MIN_INTERVAL = 0.002
MIN_WAIT = 1.0
#: Icinga ITL ``ping`` defaults: (rta ms, loss %) for warning and critical.
DEFAULT_WARNING = "100,5%"
DEFAULT_CRITICAL = "200,15%"
THRESHOLD_HELP = "RTA,PL% (e.g. 100,20%: round-trip average in ms, packet loss in %)"


def parse_ping_output(text: str) -> Round:
    """What iputils ``ping -n`` printed: its statistics and the errors it was sent.

    Reads ``5 packets transmitted, 3 received, +1 duplicates, +2 errors, 40% packet loss``,
    ``rtt min/avg/max/mdev = 0.03/0.04/0.05/0.01 ms`` (absent without replies) and the
    ``From 198.51.100.1 icmp_seq=1 Destination Host Unreachable`` lines.
    """
    counts: dict[str, int] = {}
    rtts: tuple[float, float, float] | None = None
    errors: list[str] = []
    for line in text.splitlines():
        if " packets transmitted, " in line:
            counts = _statistics(line)
        elif line.startswith("rtt min/avg/max/mdev = "):
            rtts = _round_trips(line)
        elif line.startswith("From ") and " icmp_seq=" in line:
            sender = line.split()[1]
            reason = line.partition(" icmp_seq=")[2].partition(" ")[2].strip()
            errors.append(f"{reason or 'error'} (from {sender})")
    if not counts:
        raise ParseError("ping printed no statistics line (… packets transmitted, …)")
    sent, received = counts["transmitted"], counts["received"]
    if received > sent:
        raise ParseError(f"ping counted {received} replies to {sent} requests")
    if received and rtts is None:
        raise ParseError(f"ping counted {received} replies but printed no round-trip times")
    return Round(
        sent,
        received,
        counts.get("duplicates", 0),
        rtts if received else None,
        tuple(dict.fromkeys(errors)),
        "ping command",
    )


def _statistics(line: str) -> dict[str, int]:
    """``5 packets transmitted, 5 received, +1 duplicates, …`` as counts by name."""
    counts = {}
    for field in line.split(","):
        words = field.split()
        name = words[-1] if words else ""
        if name not in ("transmitted", "received", "duplicates"):
            continue  # errors, packet loss (computed here), time
        number = words[0].removeprefix("+")
        if not (number.isascii() and number.isdigit()):
            raise ParseError(f"ping statistics: {field.strip()!r} has no count")
        counts[name] = int(number)
    if "transmitted" not in counts or "received" not in counts:
        raise ParseError(f"ping statistics without sent and received counts: {line.strip()!r}")
    return counts


def _round_trips(line: str) -> tuple[float, float, float]:
    """``rtt min/avg/max/mdev = 0.028/0.038/0.045/0.006 ms`` as (min, avg, max) seconds."""
    values, _, unit = line.partition(" = ")[2].partition(" ")
    try:
        low, average, high, _ = (parse_number(value) for value in values.split("/"))
    except ValueError:
        raise ParseError(f"ping round-trip times are not four numbers: {line.strip()!r}") from None
    if not unit.startswith("ms") or not 0 <= low <= average <= high:
        raise ParseError(f"ping round-trip times do not add up: {line.strip()!r}")
    return low / 1000, average / 1000, high / 1000


def rta_and_loss(text: str) -> tuple[Range | None, Range | None]:
    """The C plugin's threshold pair ``RTA,PL%`` (or ``RTA`` or ``PL%``) as two ranges.

    The C plugin alerts when rta >= RTA or pl >= PL: inside ranges ``@RTA:`` and ``@PL:``.
    """
    parts = [part.strip() for part in text.split(",")]
    if len(parts) == 2 and not parts[0].endswith("%") and parts[1].endswith("%"):
        rta_text, loss_text = parts
    elif len(parts) == 1 and parts[0] not in ("", "%"):
        rta_text, loss_text = ("", parts[0]) if parts[0].endswith("%") else (parts[0], "")
    else:
        raise argparse.ArgumentTypeError(f"{text!r} is not {THRESHOLD_HELP}")
    return _reached(rta_text, text, math.inf), _reached(loss_text.removesuffix("%"), text, 100)


def _reached(number: str, text: str, maximum: float) -> Range | None:
    """``@number:`` (alert once the value reaches it), 0 to ``maximum``; None for none."""
    if not number:
        return None
    try:
        value = parse_number(number)
    except ValueError:
        value = -1
    if not 0 <= value <= maximum:
        raise argparse.ArgumentTypeError(f"{text!r} is not {THRESHOLD_HELP}")
    return Range(value, math.inf, inside=True, text=number)


class Ping(nagiosplugin.Resource):
    """Echo requests to the first address of ``host``: loss and round-trip times."""

    def __init__(
        self, host: str, family: int, count: int, interval: float, wait: float, method: str
    ) -> None:
        self.host, self.family, self.method = host, family, method
        self.count, self.interval, self.wait = count, interval, wait
        self.target = host
        self.round = Round(0, 0)

    def probe(self) -> list[nagiosplugin.Metric]:
        """Resolve, send, and measure: rta (ms) when anything answered, and pl (%)."""
        family, sockaddr = resolve(self.host, self.family)[0]
        self.target = name_of(self.host, sockaddr[0])
        left = remaining()
        if left is not None:  # what is left of -t once the requests are out
            sending = (self.count - 1) * self.interval
            self.wait = max(min(self.wait, left - sending - 2 * MARGIN), MARGIN)
        self.round = self._by_socket(family, sockaddr) or self._by_command(family, sockaddr[0])
        metrics = []
        if self.round.rtt_avg is not None:
            metrics.append(
                nagiosplugin.Metric("rta", self.round.rtt_avg * 1000, "ms", 0, context="rta")
            )
        metrics.append(nagiosplugin.Metric("pl", self.round.loss, "%", 0, 100, context="pl"))
        if self.round.duplicates:
            metrics.append(
                nagiosplugin.Metric("duplicates", self.round.duplicates, context="duplicates")
            )
        return metrics

    def _by_socket(self, family: int, sockaddr: tuple[object, ...]) -> Round | None:
        """The round from an ICMP socket; None when this user may open none (``auto``)."""
        if self.method == "ping":
            return None
        opened = open_socket(family == socket.AF_INET6)
        if opened is None:
            if self.method == "socket":
                raise CannotCheck(
                    "no ICMP socket allowed: run as root, give the interpreter CAP_NET_RAW, "
                    "or admit this group in net.ipv4.ping_group_range (or use --method ping)"
                )
            return None
        sock, raw = opened
        with sock:
            return exchange(sock, raw, sockaddr, self.count, self.interval, self.wait)

    def _by_command(self, family: int, address: str) -> Round:
        """The round from iputils ``ping`` (setuid or CAP_NET_RAW), parsed."""
        from checks.core import external

        version = "-6" if family == socket.AF_INET6 else "-4"
        completed = external.run(
            [
                "ping",
                "-n",
                "-c",
                str(self.count),
                "-i",
                f"{self.interval:.3f}",
                "-W",
                f"{self.wait:.3f}",
                version,
                address,
            ],
            what=f"pinging {address}",
        )
        if " packets transmitted, " not in completed.stdout:
            said = completed.stderr.strip().splitlines() or [f"exit code {completed.returncode}"]
            if "Network is unreachable" in completed.stderr:
                raise ServiceDown(f"{address}: network is unreachable")
            raise CannotCheck(f"ping failed: {said[-1]}")
        return parse_ping_output(completed.stdout)


class PacketLoss(Latency):
    """Loss against the thresholds; no reply at all is CRITICAL whatever they say."""

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """CRITICAL at 100%, naming the errors the network reported."""
        if metric.value >= 100 and isinstance(resource, Ping):
            why = f": {', '.join(resource.round.errors)}" if resource.round.errors else ""
            return Verdict(Critical, f"(no reply to {resource.round.sent} requests{why})", metric)
        return super().evaluate(metric, resource)

    def shown(self, value: float, uom: str) -> str:
        """Loss bounds as percentages."""
        return show(value, uom)


class Duplicates(nagiosplugin.Context):
    """Duplicate replies: WARNING, as the C plugin's ``DUPLICATES FOUND!``; no perfdata."""

    def __init__(self) -> None:
        super().__init__("duplicates", result_cls=Verdict)

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """Any duplicate warns."""
        return Verdict(Warn, None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``3 duplicate replies``."""
        return f"{metric.value} duplicate replies"


def describe(metric: nagiosplugin.Metric) -> str:
    """``rta 0.038 ms`` or ``packet loss 40%``."""
    if metric.name == "rta":
        return f"rta {human_latency(metric.value, 'ms')}"
    return f"packet loss {show(metric.value, '%')}"


class PingSummary(Summary):
    """``127.0.0.1: packet loss 0%, rta 0.038 ms``; problems after the host too."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """Loss, then the round-trip average, as the C plugin orders them."""
        return f"{results[0].resource.target}: " + ", ".join(
            str(results[name]) for name in ("pl", "rta") if name in results
        )

    def problem(self, results: nagiosplugin.Results) -> str:
        """Every problem, worst first, after the host."""
        return f"{results[0].resource.target}: {super().problem(results)}"

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        """How the requests went out, and the spread of the round trips."""
        measured = results[0].resource.round
        lines = [
            f"{measured.sent} requests sent via {measured.how}, {measured.received} "
            f"replies, {measured.duplicates} duplicates"
        ]
        if measured.rtt_min is not None:
            times = (measured.rtt_min, measured.rtt_avg or 0, measured.rtt_max or 0)
            spread = "/".join(f"{seconds * 1000:.3f}" for seconds in times)
            lines.append(f"round trip min/avg/max {spread} ms")
        return super().verbose(results) + lines


def packets(text: str) -> int:
    """A positive number of packets (``-p``)."""
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of packets")
    return int(text)


def build_parser() -> Parser:
    """check_ping's options: the C plugin's, plus the interval and the method."""
    parser = Parser(
        "check_ping",
        __doc__.split("\n\n")[0],
        examples=(
            "check_ping -H 192.0.2.10                      100,5% / 200,15%, as the ITL",
            "check_ping -H host -w 100,20% -c 500,60%      as the C plugin",
            "check_ping -H host -6 -p 10 -c 100%           IPv6, 10 packets, only total loss",
        ),
    )
    add_host_option(parser, "host name or address to ping (C-compatible)", required=True)
    for option, level, default in (
        ("-w", "warning", DEFAULT_WARNING),
        ("-c", "critical", DEFAULT_CRITICAL),
    ):
        parser.add_argument(
            option,
            f"--{level}",
            type=rta_and_loss,
            metavar="RTA,PL%",
            help=f"{level} when the round-trip average reaches RTA ms or the packet loss "
            f"reaches PL%% (C-compatible; default: {default.replace('%', '%%')})",
        )
    parser.add_argument(
        "-p",
        "--packets",
        type=packets,
        default=DEFAULT_PACKETS,
        metavar="N",
        help="echo requests to send (default: %(default)s, C-compatible)",
    )
    add_family_options(parser)
    parser.add_argument(
        "-i",
        "--interval",
        type=seconds,
        default=DEFAULT_INTERVAL,
        metavar="SECONDS",
        help="time between requests (default: %(default)g; closer when -p requests "
        "would take more than half of -t)",
    )
    parser.add_argument(
        "--method",
        choices=("auto", "socket", "ping"),
        default="auto",
        help="send from an ICMP socket, or run the system's ping (default: auto, a socket "
        "when this user may open one)",
    )
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``: thresholds checked as the C plugin does."""
    if args.warning is None and args.critical is None:
        args.warning, args.critical = rta_and_loss(DEFAULT_WARNING), rta_and_loss(DEFAULT_CRITICAL)
    warning, critical = args.warning or (None, None), args.critical or (None, None)
    for what, warn, crit in zip(
        ("round-trip average", "packet loss"), warning, critical, strict=True
    ):
        if warn is not None and crit is not None and warn.start > crit.start:
            raise UsageError(
                f"the warning {what} ({warn.text}) is above the critical one ({crit.text})"
            )
    interval = min(args.interval, args.timeout / 2 / args.packets)
    if interval < MIN_INTERVAL:
        raise UsageError(
            f"{args.packets} packets do not fit in half of -t {args.timeout:g} s "
            f"(at least {MIN_INTERVAL * 1000:g} ms apart): raise -t or lower -p"
        )
    critical_rta = critical[0].start / 1000 if critical[0] else 0
    wait = max(MIN_WAIT, 2 * critical_rta)
    return nagiosplugin.Check(
        Ping(args.hostname, chosen_family(args), args.packets, interval, wait, args.method),
        Latency("rta", warning[0], critical[0], describe),
        PacketLoss("pl", warning[1], critical[1], describe),
        Duplicates(),
        PingSummary(),
    )


PLUGIN = Plugin(
    "ping",
    build_parser,
    make_check,
    address=True,
    services=("vigie-ping4", "vigie-ping6"),
    nagios=("ping",),
    bench=(
        Bench("check_ping -H 127.0.0.1 -w 100,20% -c 500,60% -p 1", ("-H", "127.0.0.1", "-w",
              "100,20%", "-c", "500,60%", "-p", "1"), kind="tool",
              twin="C check_ping -H 127.0.0.1 -w 100,20% -c 500,60% -p 1"),
        Bench("check_ping --method ping -H 127.0.0.1 -p 1 (via iputils ping)", ("--method",
              "ping", "-H", "127.0.0.1", "-p", "1"), kind="tool"),
    ),
)  # fmt: skip
main = PLUGIN.main
