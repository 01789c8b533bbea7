"""The kernel's routing tables as /proc/net/route and /proc/net/ipv6_route show them,
and its answer for one destination as ``ip -j route get`` prints it.

Reading the two /proc files costs a check a fraction of a millisecond; ``ip -j route get``
costs a fork and exec of ``ip`` (about 1 ms of CPU), and is run only for ``--get``, the one
question the tables cannot answer alone (policy rules, the local table, source routing).
/proc/net/route holds the IPv4 main table only (multipath routes show their first next
hop); /proc/net/ipv6_route every IPv6 table, whose local routes (the host's own
addresses) and the kernel's null route are left out here. Reject routes (unreachable,
prohibit) are kept, marked, so that an ``unreachable default`` is not taken for a
default route.
"""

from __future__ import annotations

import ipaddress

from checks.core import procfs
from checks.core.errors import ParseError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
RTF_GATEWAY = 0x0002
RTF_REJECT = 0x0200
#: ipv6_route's flag of the local table's routes (the host's own addresses).
RTF_LOCAL = 0x80000000
#: The metric of the kernel's IPv6 null route (``ip6_null_entry``, an unreachable ::/0 on
#: lo that every table shows): not a route anyone configured.
NULL_ROUTE_METRIC = 0xFFFFFFFF


class Route:
    """A route: its prefix, gateway (None when on-link), device, metric, reject flag."""

    __slots__ = ("device", "gateway", "metric", "network", "reject")

    def __init__(
        self, network: IPNetwork, gateway: str | None, device: str, metric: int, reject: bool
    ) -> None:
        self.network, self.gateway, self.device = network, gateway, device
        self.metric, self.reject = metric, reject

    def __str__(self) -> str:
        target = "default" if self.network.prefixlen == 0 else str(self.network)
        if self.reject:
            return f"{target} unreachable"
        via = f" via {self.gateway}" if self.gateway else ""
        return f"{target}{via} dev {self.device}"


def _hex(field: str, what: str) -> int:
    try:
        return int(field, 16)
    except ValueError:
        raise ParseError(f"{what} {field[:40]!r} is not hexadecimal") from None


def parse_route(text: str) -> list[Route]:
    """The routes of /proc/net/route (addresses in hexadecimal, host byte order)."""
    lines = text.splitlines()
    if not lines or lines[0].split()[:3] != ["Iface", "Destination", "Gateway"]:
        raise ParseError("/proc/net/route does not start with its 'Iface Destination' header")
    routes = []
    for line in lines[1:]:
        fields = line.split()
        if (
            len(fields) < 8
            or any(len(fields[index]) != 8 for index in (1, 2, 7))
            or not fields[6].isdigit()
        ):
            raise ParseError(f"/proc/net/route line {line.strip()[:60]!r} is not a route")
        destination = _hex(fields[1], "destination").to_bytes(4, "little")
        gateway = _hex(fields[2], "gateway").to_bytes(4, "little")
        flags = _hex(fields[3], "flags")
        mask = int.from_bytes(_hex(fields[7], "mask").to_bytes(4, "little"), "big")
        prefix = bin(mask).count("1")
        if mask != (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF:
            raise ParseError(f"/proc/net/route: mask {fields[7]} is not a prefix")
        try:
            network = ipaddress.IPv4Network((destination, prefix))
        except ValueError as error:
            raise ParseError(f"/proc/net/route: {error}") from None
        via = str(ipaddress.IPv4Address(gateway)) if flags & RTF_GATEWAY else None
        routes.append(Route(network, via, fields[0], int(fields[6]), bool(flags & RTF_REJECT)))
    return routes


def parse_ipv6_route(text: str) -> list[Route]:
    """The routes of /proc/net/ipv6_route, without the local table's."""
    routes = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 10 or len(fields[0]) != 32 or len(fields[4]) != 32:
            raise ParseError(f"/proc/net/ipv6_route line {line.strip()[:60]!r} is not a route")
        flags, metric = _hex(fields[8], "flags"), _hex(fields[5], "metric")
        if flags & RTF_LOCAL or metric == NULL_ROUTE_METRIC:
            continue
        try:
            network = ipaddress.IPv6Network(
                (bytes.fromhex(fields[0]), _hex(fields[1], "prefix length"))
            )
            hop = ipaddress.IPv6Address(bytes.fromhex(fields[4]))
        except ValueError as error:
            raise ParseError(f"/proc/net/ipv6_route: {error}") from None
        via = str(hop) if flags & RTF_GATEWAY else None
        routes.append(Route(network, via, fields[9], metric, bool(flags & RTF_REJECT)))
    return routes


def read_routes(ipv6: bool) -> list[Route]:
    """The IPv4 main table, or every IPv6 table but the local one, of this namespace."""
    if ipv6:
        return parse_ipv6_route(procfs.read("net/ipv6_route"))
    return parse_route(procfs.read("net/route"))


def best_route(routes: list[Route], network: IPNetwork) -> Route | None:
    """The route the table gives for all of ``network``: most specific, then lowest metric."""
    covering = [
        route
        for route in routes
        if route.network.version == network.version and network.subnet_of(route.network)  # type: ignore[arg-type]
    ]
    if not covering:
        return None
    return min(covering, key=lambda route: (-route.network.prefixlen, route.metric))


class Answer:
    """The kernel's route for one destination: type, gateway, device (``ip route get``)."""

    __slots__ = ("device", "gateway", "kind")

    def __init__(self, kind: str, gateway: str | None, device: str | None) -> None:
        self.kind, self.gateway, self.device = kind, gateway, device

    def __str__(self) -> str:
        if self.kind not in ("unicast", "local"):
            return self.kind
        via = f" via {self.gateway}" if self.gateway else ""
        return f"{'local' if self.kind == 'local' else ''}{via} dev {self.device}".strip()


def parse_route_get(text: str) -> Answer:
    """The first route of ``ip -j route get``'s JSON (iproute2 4.x to 6.x)."""
    import json  # only for --get: the tables alone need no JSON

    try:
        data = json.loads(text)
    except ValueError:
        raise ParseError(f"ip -j route get printed no JSON: {text.strip()[:60]!r}") from None
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise ParseError("ip -j route get printed no route object")
    route = data[0]
    kind, gateway, device = (route.get(key) for key in ("type", "gateway", "dev"))
    for key, value in (("type", kind), ("gateway", gateway), ("dev", device)):
        if value is not None and not isinstance(value, str):
            raise ParseError(f"ip -j route get: {key} is not a string")
    if (kind or "unicast") in ("unicast", "local") and not device:
        raise ParseError("ip -j route get printed a route without a device")
    return Answer(kind or "unicast", gateway, device)
