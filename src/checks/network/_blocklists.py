"""DNS blocklists: which zones, how to ask them, and what their answers mean (RFC 5782).

An address is looked up as its reversed octets (IPv4) or nibbles (IPv6) under the zone;
an A record in 127.0.0.0/8 means listed, NXDOMAIN (or no A record) means not listed.
Some answers in 127/8 are not listings but the list's error codes, and must never be
read as "listed": Spamhaus answers 127.255.255.254 to queries that reach it through a
public or open resolver, 127.255.255.255 to a resolver over its query limit,
127.255.255.252 for a zone name it does not serve (a typing error), and its domain list
(DBL) 127.0.1.255 to a query for an IP address. An answer outside 127.0.0.0/8 is no return
code at all (an expired list's domain parked on a wildcard).
"""

from __future__ import annotations

import argparse
import ipaddress

from checks.core.errors import ParseError

#: Error codes answered instead of a listing, and what they mean.
ERROR_CODES = {
    "127.255.255.252": "the zone name is wrong (Spamhaus: typing error in the DNSBL name)",
    "127.255.255.254": "queries through a public or open resolver are refused (Spamhaus: "
    "use your own resolver, or a Data Query Service key)",
    "127.255.255.255": "too many queries from this resolver (Spamhaus: excessive number "
    "of queries)",
    "127.0.1.255": "IP addresses cannot be looked up in this domain list (Spamhaus DBL: "
    "IP queries prohibited)",
}
LOOPBACK_NET = ipaddress.IPv4Network("127.0.0.0/8")

#: The default zones: lists of IP addresses only (no whitelists, no domain lists), each
#: once (zen.spamhaus.org already holds SBL, XBL, CSS and PBL; cbl.abuseat.org is XBL).
DEFAULT_ZONES = (
    "zen.spamhaus.org",
    "b.barracudacentral.org",
    "bl.spamcop.net",
    "psbl.surriel.com",
    "bl.mailspike.net",
    "dnsbl-1.uceprotect.net",
    "dnsbl.dronebl.org",
    "all.s5h.net",
    "truncate.gbudb.net",
    "db.wpbl.info",
    "bl.blocklist.de",
    "dnsbl.spfbl.net",
    "ips.backscatterer.org",
)
WEIGHTS = ("warning", "critical")
#: RFC 5782 5: the test points every IPv4 list must answer.
TEST_LISTED, TEST_NOT_LISTED = "127.0.0.2", "127.0.0.1"


class Zone:
    """A blocklist zone and the state a listing in it means (None: count only)."""

    __slots__ = ("name", "weight")

    def __init__(self, name: str, weight: str | None) -> None:
        self.name, self.weight = name, weight

    def __repr__(self) -> str:
        return f"Zone({self.name!r}, {self.weight!r})"


def parse_zone(text: str) -> Zone:
    """``zone`` or ``zone:warning`` / ``zone:critical``; ParseError when it is neither."""
    name, _, weight = text.strip().partition(":")
    name = name.strip().rstrip(".").lower()
    labels = name.split(".")
    if (
        len(labels) < 2
        or not name.isascii()
        or not all(
            label and len(label) <= 63 and label.replace("-", "").replace("_", "").isalnum()
            for label in labels
        )
    ):
        raise ParseError(f"{text.strip()[:60]!r} is not a DNS zone name")
    weight = weight.strip().lower()
    if weight and weight not in WEIGHTS:
        raise ParseError(f"{text.strip()[:60]!r}: the weight after ':' is warning or critical")
    return Zone(name, weight or None)


def zone_option(text: str) -> Zone:
    """An argparse type for ``-s ZONE[:WEIGHT]``."""
    try:
        return parse_zone(text)
    except ParseError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_zones_file(text: str) -> list[Zone]:
    """A zones file: one ``zone[:weight]`` a line, ``#`` comments and blank lines ignored."""
    zones = []
    for number, line in enumerate(text.splitlines(), 1):
        content = line.split("#", 1)[0].strip()
        if content:
            try:
                zones.append(parse_zone(content))
            except ParseError as error:
                raise ParseError(f"line {number}: {error}") from None
    if not zones:
        raise ParseError("the zones file names no zone")
    return zones


def distinct(zones: list[Zone]) -> list[Zone]:
    """Each zone once: the first mention with a weight wins, order kept."""
    chosen: dict[str, Zone] = {}
    for zone in zones:
        known = chosen.get(zone.name)
        if known is None or (known.weight is None and zone.weight is not None):
            chosen[zone.name] = zone
    return list(chosen.values())


def query_name(address: str, zone: str) -> str:
    """``99.2.0.192.zone`` for 192.0.2.99; 32 reversed nibbles for an IPv6 address."""
    parsed = ipaddress.ip_address(address)
    if parsed.version == 4:
        return ".".join(reversed(str(parsed).split("."))) + f".{zone}."
    return ".".join(reversed(parsed.exploded.replace(":", ""))) + f".{zone}."


class Meaning:
    """What an A answer says: the listing return codes, and the problems (error codes)."""

    __slots__ = ("codes", "problems")

    def __init__(self, codes: list[str], problems: list[str]) -> None:
        self.codes, self.problems = codes, problems


def meaning(records: list[str]) -> Meaning:
    """Sort an A answer's addresses into listing codes and errors."""
    codes, problems = [], []
    for record in records:
        if record in ERROR_CODES:
            problems.append(f"answered {record}: {ERROR_CODES[record]}")
            continue
        try:
            address = ipaddress.IPv4Address(record)
        except ValueError:
            problems.append(f"answered {record[:40]!r}, not an IPv4 address")
            continue
        if address in LOOPBACK_NET:
            codes.append(record)
        else:
            problems.append(f"answered {record}: not a blocklist return code (outside 127/8)")
    return Meaning(codes, problems)
