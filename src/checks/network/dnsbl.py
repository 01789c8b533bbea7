"""check_dnsbl: whether the host's addresses are listed on DNS blocklists, and why.

Each address of ``-H`` (repeatable; an IPv4 or IPv6 address, or a name standing for all
its A and AAAA addresses) is looked up in every zone (``-s ZONE``, repeatable; or
``--zones-file FILE``, one ``zone[:weight]`` a line; else a default list of IP blocklists,
see :mod:`checks.network._blocklists`), all queries at once, within ``-t``, against the
system resolver (the first nameserver of /etc/resolv.conf) or ``--nameserver ADDRESS``
(``--nameserver-port N``). A listing is CRITICAL, or WARNING for a zone given as
``-s zone:warning``, naming the zone, the address, and the list's TXT reason.

Answers that are not listings never count as one: a list's error code (Spamhaus'
127.255.255.252/254/255, its DBL's 127.0.1.255), an address outside 127.0.0.0/8, a zone
that does not answer within ``-t``, answers SERVFAIL or REFUSED: that zone is UNKNOWN with
the meaning spelled out, never "not listed". ``--self-test`` also asks each zone for its
RFC 5782 test points: 127.0.0.2 must be listed (else the list is dead or renamed) and
127.0.0.1 must not (else it lists everything). As nagiosplugin ranks states, one zone
UNKNOWN makes the service UNKNOWN even beside a listing (the status line names both);
``--unanswered warning`` (or ok, critical) sets another state for such zones.

check_rbl-compatible: ``-H HOST -s ZONE … -w COUNT -c COUNT -n NAMESERVER -t SECONDS``
with check_rbl's meaning: ``-w``/``-c`` alert when COUNT zones or more list an address
(perfdata ``listed`` carries them as the ranges COUNT-1); then the count decides, and a
zone alerts on its own only when given a weight. Without them any listing is CRITICAL.
Deliberate differences: an error code or a zone not answering is UNKNOWN, where check_rbl
counts an error code as a listing and a failed query as "not listed"; check_rbl's
``--retry``, ``--workers``, ``--whitelistings`` and ``--url`` are not taken (every query
runs at once; whitelists are not blocklists). Perfdata: ``listed`` (zones listing any
address), ``time`` (s).
"""

from __future__ import annotations

import argparse
import ipaddress
import time

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Warn

from checks.clients import dns
from checks.core.cli import Parser, state
from checks.core.errors import CannotCheck, ParseError
from checks.core.evaluate import STATES, Summary, Threshold, Verdict
from checks.core.net import port, resolve
from checks.core.output import screen
from checks.core.ranges import Range, parse_range
from checks.core.runtime import Bench, Plugin, doing, remaining
from checks.core.threads import answer_within
from checks.network import _blocklists
from checks.network._blocklists import Zone

#: Time kept back from ``-t`` to word the answer after the queries' deadline.
MARGIN = 0.3


class Finding:
    """What one zone said about the addresses: listings with reasons, and problems."""

    __slots__ = ("listings", "problems", "zone")

    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.listings: list[tuple[str, list[str], str]] = []  # address, codes, TXT reason
        self.problems: list[str] = []


def failure(answer: object, wait: float) -> str | None:
    """Why a query gave no usable answer (None when it did)."""
    if answer is None or isinstance(answer, TimeoutError):
        return f"not answering within {wait:.1f} s"
    if isinstance(answer, OSError):
        return f"not answering: {answer.strerror or answer}"
    if isinstance(answer, BaseException):
        return f"not answering: {answer}"
    reply: dns.Reply = answer  # type: ignore[assignment]
    if reply.rcode not in ("NOERROR", "NXDOMAIN"):
        return f"not answering ({reply.rcode})"
    return None


class Blocklists(nagiosplugin.Resource):
    """Every address looked up in every zone, at once."""

    def __init__(
        self, hosts: list[str], zones: list[Zone], server: str, port: int, self_test: bool
    ) -> None:
        self.hosts, self.zones, self.server, self.port = hosts, zones, server, port
        self.self_test = self_test
        self.addresses: list[str] = []

    def probe(self) -> list[nagiosplugin.Metric]:
        """Resolve the hosts, ask every zone for every address, then for the listed' TXT."""
        self.addresses = addresses_of(self.hosts)
        dns.load()
        started = time.monotonic()
        names = {
            (zone.name, address): _blocklists.query_name(address, zone.name)
            for zone in self.zones
            for address in self.addresses
        }
        if self.self_test:
            for zone in self.zones:
                for point in (_blocklists.TEST_LISTED, _blocklists.TEST_NOT_LISTED):
                    names[(zone.name, point)] = _blocklists.query_name(point, zone.name)
        answers = self._ask(names, "A")
        findings = {zone.name: Finding(zone) for zone in self.zones}
        listed: dict[tuple[str, str], str] = {}
        for (zone_name, address), answer in answers.items():
            finding = findings[zone_name]
            problem = failure(answer, self.wait)
            if problem is not None or not isinstance(answer, dns.Reply):
                if problem not in finding.problems:
                    finding.problems.append(problem or "no answer")
                continue
            found = _blocklists.meaning(answer.records)
            finding.problems += [text for text in found.problems if text not in finding.problems]
            if found.problems:  # an error code already says what is wrong with the zone
                continue
            if address in (_blocklists.TEST_LISTED, _blocklists.TEST_NOT_LISTED):
                self._judge_test_point(finding, address, bool(found.codes))
            elif found.codes:
                listed[(zone_name, address)] = ",".join(found.codes)
        reasons = self._ask({key: names[key] for key in listed}, "TXT") if listed else {}
        for (zone_name, address), codes in listed.items():
            reply = reasons.get((zone_name, address))
            reason = "; ".join(reply.records) if isinstance(reply, dns.Reply) else ""
            findings[zone_name].listings.append((address, codes.split(","), reason))
        elapsed = time.monotonic() - started
        metrics = [
            nagiosplugin.Metric(name, finding, context="zone") for name, finding in findings.items()
        ]
        count = sum(bool(finding.listings) for finding in findings.values())
        return [
            *metrics,
            nagiosplugin.Metric("listed", count, "", 0, len(self.zones), context="listed"),
            nagiosplugin.Metric("time", elapsed, "s", 0, context="time"),
        ]

    @staticmethod
    def _judge_test_point(finding: Finding, point: str, listed: bool) -> None:
        if point == _blocklists.TEST_LISTED and not listed:
            finding.problems.append(
                "fails the RFC 5782 self-test: 127.0.0.2 is not listed (a dead or renamed list)"
            )
        elif point == _blocklists.TEST_NOT_LISTED and listed:
            finding.problems.append(
                "fails the RFC 5782 self-test: 127.0.0.1 is listed (the list lists everything)"
            )

    def _ask(self, names: dict[tuple[str, str], str], kind: str) -> dict[tuple[str, str], object]:
        """One query per name, all at once, until the check's deadline."""
        self.wait = max((remaining() or 10.0) - MARGIN, 0.1)
        calls = [
            (lambda name=name: dns.query(name, kind, self.server, self.port, self.wait))
            for name in names.values()
        ]
        with doing(f"waiting for {len(calls)} {kind} answers from {self.server}"):
            answers = answer_within(calls, self.wait)
        return dict(zip(names, answers, strict=True))


def addresses_of(hosts: list[str]) -> list[str]:
    """The addresses of ``-H``: literal ones as given, names resolved to all theirs."""
    found: list[str] = []
    for host in hosts:
        try:
            candidates = [str(ipaddress.ip_address(host))]
        except ValueError:
            candidates = [str(sockaddr[0]) for _, sockaddr in resolve(host, 0)]
        found += [address.split("%")[0] for address in candidates if address not in found]
    return found


class ZoneVerdict(nagiosplugin.Context):
    """A zone: UNKNOWN when its answer is no answer, else its weight when it lists."""

    def __init__(self, counting: bool, unanswered: int) -> None:
        super().__init__("zone", result_cls=Verdict)
        self.counting, self.unanswered = counting, STATES[unanswered]

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """UNKNOWN, WARNING/CRITICAL per weight, or OK."""
        finding: Finding = metric.value
        if finding.problems:
            return Verdict(self.unanswered, None, metric)
        if not finding.listings:
            return Verdict(Ok, None, metric)
        weight = finding.zone.weight
        if weight is None:
            return Verdict(Ok if self.counting else Critical, None, metric)
        return Verdict(Warn if weight == "warning" else Critical, None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``192.0.2.99 listed in bl.example (reason)`` or ``bl.example: not answering``."""
        finding: Finding = metric.value
        zone = screen(finding.zone.name)
        parts = [f"{zone}: {screen(problem)}" for problem in finding.problems]
        for address, codes, reason in finding.listings:
            why = screen(reason) if reason else f"return code {', '.join(codes)}"
            parts.append(f"{address} listed in {zone} ({why})")
        return "; ".join(parts) or f"{zone}: not listed"


def describe_count(metric: nagiosplugin.Metric) -> str:
    """``listed in 2 zones``."""
    return f"listed in {metric.value} zone{'s' if metric.value != 1 else ''}"


class DnsblSummary(Summary):
    """``192.0.2.1 not listed in 13 zones (asked 127.0.0.1)``; else the problems."""

    def __init__(self) -> None:
        super().__init__()

    def ok(self, results: nagiosplugin.Results) -> str:
        """The addresses, how many zones, which resolver."""
        resource: Blocklists = results[0].resource
        listed = [str(result) for result in results if result.metric.context == "zone"]
        listed = [text for text in listed if not text.endswith(": not listed")]
        addresses = ", ".join(resource.addresses)
        head = "; ".join(listed) + " (within limits); " if listed else ""
        return (
            f"{head}{addresses} not listed in {len(resource.zones) - len(listed)} of "
            f"{len(resource.zones)} zones (asked {resource.server})"
        )

    def problem(self, results: nagiosplugin.Results) -> str:
        """The problems, worst first, then the listings judged only by their count."""
        counted = [
            str(result)
            for result in results
            if result.state == Ok
            and result.metric.context == "zone"
            and result.metric.value.listings
        ]
        return "; ".join([super().problem(results), *counted])


def build_parser() -> Parser:
    """check_dnsbl's options: check_rbl's, and the resolver, the zones file, the self-test."""
    parser = Parser(
        "check_dnsbl",
        __doc__.split("\n\n")[0],
        examples=(
            "check_dnsbl -H mail.example.org                 its A and AAAA, default zones",
            "check_dnsbl -H 192.0.2.25 -s zen.spamhaus.org -s bl.spamcop.net:warning",
            "check_dnsbl -H 192.0.2.25 --zones-file /etc/vigie/dnsbl.zones --self-test",
            "check_dnsbl -H 192.0.2.25 -w 1 -c 3            as check_rbl: count of listings",
        ),
    )
    parser.add_argument(
        "-H",
        "--hostname",
        action="append",
        required=True,
        metavar="HOST",
        help="an address, or a name standing for all its addresses; "
        "repeatable (C-compatible, check_rbl)",
    )
    parser.add_argument(
        "-s",
        "--server",
        dest="zones",
        action="append",
        default=[],
        type=_blocklists.zone_option,
        metavar="ZONE[:WEIGHT]",
        help="a blocklist zone, optionally :warning or :critical; repeatable "
        "(check_rbl-compatible; default: a list of IP blocklists)",
    )
    parser.add_argument(
        "--zones-file", metavar="FILE", help="zones to ask, one zone[:weight] a line, # comments"
    )
    for letter, level in (("-w", "warning"), ("-c", "critical")):
        parser.add_argument(letter, f"--{level}", type=listings, metavar="COUNT",
                            help=f"{level.upper()} when COUNT zones or more list an address "
                            "(check_rbl-compatible)")  # fmt: skip
    parser.add_argument(
        "-n",
        "--nameserver",
        metavar="ADDRESS",
        help="ask this resolver (default: the first of /etc/resolv.conf; check_rbl-compatible)",
    )
    parser.add_argument(
        "--nameserver-port",
        type=port,
        default=53,
        metavar="PORT",
        help="its port (default: %(default)s)",
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="also ask each zone for its RFC 5782 test points, to find dead lists",
    )
    parser.add_argument("--unanswered", type=state, default=3, metavar="STATE",
                        help="the state of a zone without a usable answer: an error code, "
                        "no answer, SERVFAIL, REFUSED, a failed self-test (default: "
                        "unknown)")  # fmt: skip
    return parser


def listings(text: str) -> Range:
    """An argparse type for check_rbl's ``-w``/``-c COUNT``: alert at COUNT listings or more,
    as the range ``COUNT-1`` (alert above it)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of zones (1 or more)")
    return parse_range(str(int(text) - 1))


def zones_of(args: argparse.Namespace) -> list[Zone]:
    """``-s`` zones and the zones file's, each once; the default list when there are none."""
    zones = list(args.zones)
    if args.zones_file:
        with doing(f"reading {args.zones_file}"), open(args.zones_file, encoding="utf-8") as file:
            text = file.read()
        try:
            zones += _blocklists.parse_zones_file(text)
        except ParseError as error:
            raise CannotCheck(f"{args.zones_file}: {error}") from None
    if not zones:
        zones = [Zone(name, None) for name in _blocklists.DEFAULT_ZONES]
    return _blocklists.distinct(zones)


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    server = args.nameserver or dns.nameservers()[0]
    counting = args.warning is not None or args.critical is not None
    return nagiosplugin.Check(
        Blocklists(args.hostname, zones_of(args), server, args.nameserver_port, args.self_test),
        ZoneVerdict(counting, args.unanswered),
        Threshold("listed", args.warning, args.critical, describe_count),
        Threshold("time"),
        DnsblSummary(),
    )


PLUGIN = Plugin(
    "dnsbl",
    build_parser,
    make_check,
    address=True,
    services=("vigie-dnsbl",),
    nagios=("dnsbl",),
    bench=(
        Bench("check_dnsbl -H 192.0.2.99 -s 3 zones (loopback DNS)",
              ("-H", "192.0.2.99", "--nameserver", "127.0.0.1", "--nameserver-port",
               "{dns_port}", "-s", "bl.test", "-s", "z01.test", "-s", "z02.test"), kind="tool"),
    ),
)  # fmt: skip
main = PLUGIN.main
