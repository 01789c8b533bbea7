"""check_routes: whether the host has its default routes and routes prefixes the expected way.

Reads the kernel's tables from /proc/net/route (IPv4 main table) and /proc/net/ipv6_route
(see :mod:`checks.network._routes`). CRITICAL when a default route is missing: IPv4 by
default, ``-4``/``-6`` name the families that must have one (both: ``-4 -6``),
``--no-default`` requires none. An ``unreachable default`` (a reject route) is no default.

``--route PREFIX[,via=GW][,dev=IF]`` (repeatable): the route the table gives for all of
PREFIX (the most specific route covering it, lowest metric first; the default route if
nothing else) must exist and, when given, go via GW and out of IF: CRITICAL otherwise,
naming the route found. ``--get DEST[,via=GW][,dev=IF]`` (repeatable) asks the kernel
itself (``ip -j route get DEST``: policy rules, every table), which costs one run of
``ip``; an unreachable, prohibited or blackholed destination is CRITICAL.

Perfdata: ``ipv4_routes`` and ``ipv6_routes``, the number of routes in the tables read;
``-w``/``-c`` judge the IPv4 count (``-c 900000:``: a router lost its full BGP table),
``--warning-ipv6-routes``/``--critical-ipv6-routes`` the IPv6 one.
Run inside a network namespace with ``ip netns exec NS check_routes``. No C plugin twin.
"""

from __future__ import annotations

import argparse
import ipaddress

import nagiosplugin
from nagiosplugin.state import Critical, Ok

from checks.core.cli import Parser, UsageError, add_thresholds
from checks.core.errors import CannotCheck
from checks.core.evaluate import Summary, Threshold, Verdict
from checks.core.output import screen
from checks.core.runtime import Bench, Local, Plugin
from checks.network import _routes
from checks.network._routes import Answer, Route

#: ``ip route get``'s errors for a destination the kernel will not route, and why.
UNROUTABLE = {
    "Network is unreachable": "no route",
    "No route to host": "an unreachable route",
    "Permission denied": "a prohibit route",
    "Invalid argument": "a blackhole route",
}


class Expectation:
    """``PREFIX[,via=GW][,dev=IF]``: where traffic to PREFIX must go."""

    __slots__ = ("device", "gateway", "network", "text")

    def __init__(
        self, network: _routes.IPNetwork, gateway: str | None, device: str | None, text: str
    ) -> None:
        self.network, self.gateway, self.device, self.text = network, gateway, device, text

    def mismatch(self, gateway: str | None, device: str | None) -> str | None:
        """What differs from the expected gateway and device, or None."""
        problems = []
        if self.gateway is not None and gateway != self.gateway:
            problems.append(f"expected via {self.gateway}")
        if self.device is not None and device != self.device:
            problems.append(f"expected dev {self.device}")
        return ", ".join(problems) or None


def expectation(text: str) -> Expectation:
    """An argparse type for ``PREFIX[,via=GW][,dev=IF]``."""
    prefix, *options = text.split(",")
    try:
        network = ipaddress.ip_network(prefix.strip(), strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{prefix!r} is not an address or prefix") from None
    gateway = device = None
    for option in options:
        key, equals, value = option.strip().partition("=")
        if key == "via" and equals:
            try:
                address = ipaddress.ip_address(value)
            except ValueError:
                raise argparse.ArgumentTypeError(f"via={value!r} is not an address") from None
            if address.version != network.version:
                raise argparse.ArgumentTypeError(f"{text!r} mixes IPv4 and IPv6")
            gateway = str(address)
        elif key == "dev" and equals and value:
            device = value
        else:
            raise argparse.ArgumentTypeError(
                f"{option!r} in {text!r} is not via=GATEWAY or dev=INTERFACE"
            )
    return Expectation(network, gateway, device, text)


def destination(text: str) -> Expectation:
    """An argparse type for ``DEST[,via=GW][,dev=IF]``: an address, not a prefix."""
    parsed = expectation(text)
    if parsed.network.num_addresses != 1:
        address = text.partition(",")[0]
        raise argparse.ArgumentTypeError(f"{address!r} is a prefix, not an address")
    return parsed


def ask_kernel(destination: Expectation) -> Answer:
    """``ip -j route get DEST``: the kernel's answer (CRITICAL answers as their type)."""
    from checks.core import external  # only for --get: subprocess costs ~2 ms to import

    address = str(destination.network.network_address)
    family = "-6" if destination.network.version == 6 else "-4"
    result = external.run(["ip", "-j", family, "route", "get", address], f"asking ip for {address}")
    if result.returncode != 0:
        reason = result.stderr.strip().removeprefix("RTNETLINK answers: ")
        if reason in UNROUTABLE:
            return Answer(f"nowhere ({UNROUTABLE[reason]}: {reason})", None, None)
        raise CannotCheck(f"ip route get {address} failed: {screen(reason)[:120]}")
    return _routes.parse_route_get(result.stdout)


class Routes(nagiosplugin.Resource):
    """The tables' default routes and expected routes, and the kernel's answers."""

    def __init__(
        self,
        families: tuple[int, ...],
        routes: list[Expectation],
        gets: list[Expectation],
        counted: set[int],
    ) -> None:
        self.families, self.routes, self.gets, self.counted = families, routes, gets, counted

    def probe(self) -> list[nagiosplugin.Metric]:
        """Read the tables needed, then ask ``ip`` for each --get."""
        needed = set(self.families) | {expected.network.version for expected in self.routes}
        needed |= self.counted
        tables = {version: _routes.read_routes(version == 6) for version in sorted(needed)}
        metrics = []
        for version in self.families:
            default = _routes.best_route(
                [route for route in tables[version] if route.network.prefixlen == 0],
                ipaddress.ip_network("0.0.0.0/0" if version == 4 else "::/0"),
            )
            metrics.append(nagiosplugin.Metric(f"IPv{version} default", default, context="default"))
        for expected in self.routes:
            found = _routes.best_route(tables[expected.network.version], expected.network)
            metrics.append(nagiosplugin.Metric(expected.text, (expected, found), context="route"))
        for expected in self.gets:
            answer = ask_kernel(expected)
            metrics.append(nagiosplugin.Metric(expected.text, (expected, answer), context="get"))
        return metrics + [
            nagiosplugin.Metric(f"ipv{version}_routes", len(table), "", 0)
            for version, table in tables.items()
        ]


class DefaultRoute(nagiosplugin.Context):
    """A default route that is not a reject route."""

    def __init__(self) -> None:
        super().__init__("default", result_cls=Verdict)

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """CRITICAL without one."""
        route: Route | None = metric.value
        return Verdict(Ok if route is not None and not route.reject else Critical, None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``IPv4 default via 192.0.2.1 dev eth0`` or ``no IPv4 default route``."""
        route: Route | None = metric.value
        family = metric.name.split()[0]
        if route is None:
            return f"no {family} default route"
        if route.reject:
            return f"no {family} default route (only an unreachable one)"
        return f"{family} {screen(str(route))}"


class ExpectedRoute(nagiosplugin.Context):
    """The table's route for a prefix, against the expected gateway and device."""

    def __init__(self) -> None:
        super().__init__("route", result_cls=Verdict)

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """CRITICAL without a route, through a reject route, or the wrong way."""
        expected, route = metric.value
        if route is None or route.reject:
            return Verdict(Critical, None, metric)
        problem = expected.mismatch(route.gateway, route.device)
        return Verdict(Critical if problem else Ok, f"({problem})" if problem else None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``203.0.113.0/24 routed by 203.0.113.0/24 via 198.51.100.2 dev eth1``."""
        expected, route = metric.value
        if route is None:
            return f"no route to {expected.network}"
        return f"{expected.network} routed by {screen(str(route))}"


class KernelAnswer(nagiosplugin.Context):
    """``ip route get``'s answer, against the expected gateway and device."""

    def __init__(self) -> None:
        super().__init__("get", result_cls=Verdict)

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """CRITICAL when the kernel will not route there, or routes the wrong way."""
        expected, answer = metric.value
        if answer.kind not in ("unicast", "local"):
            return Verdict(Critical, None, metric)
        problem = expected.mismatch(answer.gateway, answer.device)
        return Verdict(Critical if problem else Ok, f"({problem})" if problem else None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``kernel routes 203.0.113.5 via 198.51.100.2 dev eth1``."""
        expected, answer = metric.value
        return f"kernel routes {expected.network.network_address} {screen(str(answer))}"


def headline(results: nagiosplugin.Results) -> str:
    """Every judged route, without the counts."""
    return ", ".join(
        str(result) for result in results if not result.metric.name.endswith("_routes")
    )


def describe_count(metric: nagiosplugin.Metric) -> str:
    """``1204 IPv4 routes``."""
    return f"{metric.value} IPv{metric.name[3]} routes"


def counted(args: argparse.Namespace) -> set[int]:
    """The families whose route count has thresholds (their table must be read)."""
    limits = {4: (args.warning, args.critical), 6: (args.warning_ipv6_routes,
              args.critical_ipv6_routes)}  # fmt: skip
    return {version for version, pair in limits.items() if pair != (None, None)}


def build_parser() -> Parser:
    """check_routes' options: families needing a default route, prefixes, destinations."""
    parser = Parser(
        "check_routes",
        __doc__.split("\n\n")[0],
        examples=(
            "check_routes                                  an IPv4 default route",
            "check_routes -4 -6                            IPv4 and IPv6 default routes",
            "check_routes --route 10.0.0.0/8,via=192.0.2.254      a prefix via a gateway",
            "check_routes --no-default --get 203.0.113.5,dev=wg0  the kernel's own answer",
        ),
    )
    parser.add_argument(
        "-4",
        "--ipv4",
        action="store_true",
        help="an IPv4 default route is required (the default without -6)",
    )
    parser.add_argument(
        "-6", "--ipv6", action="store_true", help="an IPv6 default route is required"
    )
    parser.add_argument(
        "--no-default",
        action="store_true",
        help="require no default route (judge only --route and --get)",
    )
    parser.add_argument(
        "--route",
        type=expectation,
        action="append",
        default=[],
        metavar="PREFIX[,via=GW][,dev=IF]",
        help="the table's route for PREFIX must exist (and go via GW, out of IF); repeatable",
    )
    parser.add_argument("--get", type=destination, action="append", default=[],
                        metavar="DEST[,via=GW][,dev=IF]",
                        help="the kernel must route DEST (via GW, out of IF), as "
                        "'ip route get' answers; repeatable")  # fmt: skip
    add_thresholds(parser, "the number of IPv4 routes, e.g. 900000: for a full BGP table")
    add_thresholds(parser, "the number of IPv6 routes", metric="ipv6-routes")
    return parser


def families(args: argparse.Namespace) -> tuple[int, ...]:
    """The families that must have a default route."""
    if args.no_default:
        if args.ipv4 or args.ipv6:
            raise UsageError("--no-default contradicts -4/-6")
        return ()
    chosen = tuple(version for version, wanted in ((4, args.ipv4), (6, args.ipv6)) if wanted)
    return chosen or (4,)


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    if args.no_default and not (args.route or args.get or counted(args)):
        raise UsageError("--no-default leaves nothing to check: add --route or --get")
    return nagiosplugin.Check(
        Routes(families(args), args.route, args.get, counted(args)),
        DefaultRoute(),
        ExpectedRoute(),
        KernelAnswer(),
        Threshold("ipv4_routes", args.warning, args.critical, describe_count),
        Threshold(
            "ipv6_routes", args.warning_ipv6_routes, args.critical_ipv6_routes, describe_count
        ),
        Summary(headline, long_output=True),
    )


PLUGIN = Plugin(
    "routes",
    build_parser,
    make_check,
    local=(Local("routes", rank=12),),
    bench=(
        Bench("check_routes"),
        Bench("check_routes -4 -6 --get 127.0.0.1", ("-4", "-6", "--get", "127.0.0.1")),
    ),
)  # fmt: skip
main = PLUGIN.main
