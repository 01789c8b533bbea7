"""The DNS switch of a DRP runbook: RFC 2136 compare-and-swap with TSIG, proven everywhere.

Moving a site's names to the DRP address is the last step of an activation and the one
that cannot be half done: a record changed by someone else meanwhile must not be
overwritten, a wrong key must fail loudly, and the step is done only when every
authoritative server answers the new address. So:

- :func:`precheck` sends an update holding only prerequisites (the records hold exactly
  the addresses we expect): the primary evaluates them and changes nothing, which proves
  key, primary and current value before anything is done (``--dry-run`` and pre-flight);
- :func:`swap` sends, in one signed update, the same prerequisites and the replacement:
  a stale value fails with NXRRSET and nothing changes (the step then names what the
  server holds);
- :func:`prove` asks every authoritative server without recursion until each answers
  authoritatively (AA) the new addresses with a SOA serial at least the primary's after
  the update, or the time runs out naming the laggards and what they answered.

dnspython does the protocol; this module only decides what to ask and what it means.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import time

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataset
import dns.rdatatype
import dns.tsig
import dns.update

from drptools.errors import Failure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from drptools.config.model import Dns

#: Seconds one query or update may take before the server counts as not answering.
QUERY_TIMEOUT = 5.0
#: Seconds between two rounds of :func:`prove`.
PROVE_INTERVAL = 0.5
#: The record types of IPv4 and IPv6 addresses.
ADDRESS_TYPES = ("A", "AAAA")


class DnsFailed(Failure):
    """An update or a proof failed: the message names the server and its answer."""


class Addresses:
    """The A and AAAA sets of one name, as a server holds or should hold them."""

    __slots__ = ("by_type", "ttl")

    def __init__(self, by_type: dict[str, frozenset[str]], ttl: int | None = None) -> None:
        self.by_type = {kind: by_type.get(kind, frozenset()) for kind in ADDRESS_TYPES}
        self.ttl = ttl

    @classmethod
    def of(cls, addresses: Iterable[str]) -> Addresses:
        """The sets of ``addresses`` (IPv4 to A, IPv6 to AAAA), normalised."""
        found: dict[str, set[str]] = {"A": set(), "AAAA": set()}
        for text in addresses:
            address = ipaddress.ip_address(text)
            found["A" if address.version == 4 else "AAAA"].add(str(address))
        return cls({kind: frozenset(values) for kind, values in found.items()})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Addresses) and self.by_type == other.by_type

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.by_type.items())))

    def __str__(self) -> str:
        shown = sorted(self.by_type["A"]) + sorted(self.by_type["AAAA"])
        return ", ".join(shown) if shown else "no address"


def key_of(config: Dns) -> dns.tsig.Key:
    """The TSIG key of ``[dns]``: the secret alone, or ``tsig-keygen``'s key clause."""
    try:
        with open(config.key_file, encoding="ascii") as stream:
            text = stream.read()
    except (OSError, UnicodeDecodeError) as error:
        raise Failure(f"dns.key_file: cannot read {config.key_file}: {error}") from None
    clause = re.search(r'secret\s+"([^"]+)"', text)
    secret = (clause.group(1) if clause else text).strip()
    try:
        base64.b64decode(secret, validate=True)
    except ValueError:
        raise Failure(f"dns.key_file: {config.key_file} does not hold a base64 secret") from None
    return dns.tsig.Key(config.key_name, secret, config.key_algorithm)


def _server(config: Dns, address: str) -> str:
    return f"{address} port {config.port}" if config.port != 53 else address


def _absolute(name: str) -> dns.name.Name:
    return dns.name.from_text(name)


def query(config: Dns, server: str, name: str, kind: str) -> dns.message.Message:
    """``name``/``kind`` asked of ``server`` without recursion (TCP when truncated)."""
    request = dns.message.make_query(_absolute(name), kind)
    request.flags &= ~dns.flags.RD
    try:
        response, _ = dns.query.udp_with_fallback(
            request, server, timeout=QUERY_TIMEOUT, port=config.port
        )
    except (dns.exception.DNSException, OSError) as error:
        raise DnsFailed(f"{_server(config, server)} does not answer {name} {kind}: "
                        f"{error or type(error).__name__}") from None  # fmt: skip
    return response


def held(config: Dns, server: str, name: str) -> Addresses:
    """The A and AAAA records ``server`` holds for ``name``, and their lowest TTL."""
    found: dict[str, frozenset[str]] = {}
    ttls = []
    for kind in ADDRESS_TYPES:
        response = query(config, server, name, kind)
        rcode = response.rcode()
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise DnsFailed(
                f"{_server(config, server)} answers {name} {kind} with {dns.rcode.to_text(rcode)}"
            )
        values: set[str] = set()
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.from_text(kind):
                values |= {rdata.to_text() for rdata in rrset}
                ttls.append(rrset.ttl)
        found[kind] = frozenset(values)
    return Addresses(found, min(ttls) if ttls else None)


def serial(config: Dns, server: str) -> tuple[int, bool]:
    """The zone's SOA serial on ``server``, and whether it answered authoritatively (AA)."""
    response = query(config, server, config.zone, "SOA")
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return int(rrset[0].serial), bool(response.flags & dns.flags.AA)
    raise DnsFailed(
        f"{_server(config, server)} gives no SOA for {config.zone} "
        f"({dns.rcode.to_text(response.rcode())})"
    )


def _update(config: Dns, name: str, expected: Addresses) -> dns.update.UpdateMessage:
    """An update of the zone whose prerequisites say ``name`` holds exactly ``expected``."""
    update = dns.update.UpdateMessage(config.zone, keyring=key_of(config))
    owner = _absolute(name)
    for kind in ADDRESS_TYPES:
        values = sorted(expected.by_type[kind])
        if values:
            update.present(owner, dns.rdataset.from_text("IN", kind, 0, *values))
        else:
            update.absent(owner, kind)
    return update


def _send(config: Dns, update: dns.update.UpdateMessage, what: str) -> None:
    """Send ``update`` to the primary over TCP; DnsFailed names its refusal."""
    where = f"primary {_server(config, config.primary)}"
    try:
        response = dns.query.tcp(update, config.primary, timeout=QUERY_TIMEOUT, port=config.port)
    except dns.tsig.PeerError as error:  # BADSIG, BADKEY, BADTIME signed by the server
        raise DnsFailed(f"{where} refused the TSIG key {config.key_name} ({what}): "
                        f"{type(error).__name__}: {error}") from None  # fmt: skip
    except (dns.exception.DNSException, OSError) as error:
        raise DnsFailed(f"{where} did not answer the update ({what}): "
                        f"{error or type(error).__name__}") from None  # fmt: skip
    rcode = response.rcode()
    if rcode != dns.rcode.NOERROR:
        raise DnsFailed(f"{where} answered {dns.rcode.to_text(rcode)} to the update ({what})")


def precheck(config: Dns, name: str, expected: Addresses) -> None:
    """Prove key, primary and current value with a prerequisite-only update (no change).

    A stale value is a DnsFailed naming what the primary holds.
    """
    try:
        _send(config, _update(config, name, expected), f"{name} holds {expected}?")
    except DnsFailed as failure:
        if "NXRRSET" in str(failure) or "YXRRSET" in str(failure):
            raise _stale(config, name, expected) from None
        raise


def _stale(config: Dns, name: str, expected: Addresses) -> DnsFailed:
    now = held(config, config.primary, name)
    return DnsFailed(
        f"{name}: the primary {_server(config, config.primary)} holds {now}, not the "
        f"expected {expected}; someone changed it: nothing was updated"
    )


def swap(config: Dns, name: str, old: Addresses, new: Addresses, ttl: int) -> int:
    """Replace ``old`` by ``new`` for ``name`` in one signed compare-and-swap update.

    Returns the primary's SOA serial after the update (the one :func:`prove` waits for).
    Already ``new``: nothing is sent (idempotent, for a resumed run).
    """
    if held(config, config.primary, name) == new:
        return serial(config, config.primary)[0]
    update = _update(config, name, old)
    owner = _absolute(name)
    for kind in ADDRESS_TYPES:
        values = sorted(new.by_type[kind])
        if values:
            update.replace(owner, dns.rdataset.from_text("IN", kind, ttl, *values))
        else:
            update.delete(owner, kind)
    try:
        _send(config, update, f"{name}: {old} -> {new}")
    except DnsFailed as failure:
        if "NXRRSET" in str(failure) or "YXRRSET" in str(failure):
            raise _stale(config, name, old) from None
        raise
    return serial(config, config.primary)[0]


def authoritative_servers(config: Dns) -> list[str]:
    """``[dns] servers``, else the addresses of the zone's NS set as the primary gives it."""
    if config.servers:
        return list(config.servers)
    response = query(config, config.primary, config.zone, "NS")
    names = [rdata.target.to_text() for rrset in response.answer
             if rrset.rdtype == dns.rdatatype.NS for rdata in rrset]  # fmt: skip
    addresses: list[str] = []
    for name in names:
        glue = held(config, config.primary, name)
        addresses += sorted(glue.by_type["A"]) + sorted(glue.by_type["AAAA"])
    if not addresses:
        raise DnsFailed(
            f"no address for the NS set of {config.zone} ({', '.join(names) or 'none'}) at the "
            f"primary; list them in [dns] servers"
        )
    return addresses


def prove(config: Dns, names: Iterable[str], new: Addresses, at_least: int) -> list[str]:
    """Wait until every authoritative server answers ``new`` for every name, with serial
    ``at_least`` or later, and return them; DnsFailed after ``verify_timeout`` names each
    laggard and what it answered."""
    names = tuple(names)
    servers = authoritative_servers(config)
    deadline = time.monotonic() + config.verify_timeout
    while True:
        lagging = {}
        for server in servers:
            problem = _lag(config, server, names, new, at_least)
            if problem:
                lagging[server] = problem
        if not lagging:
            return servers
        if time.monotonic() >= deadline:
            laggards = "; ".join(f"{_server(config, s)}: {why}" for s, why in lagging.items())
            raise DnsFailed(
                f"after {config.verify_timeout} s, {len(lagging)} of {len(servers)} "
                f"authoritative server(s) do not answer {new}: {laggards}"
            )
        time.sleep(PROVE_INTERVAL)


def _lag(config: Dns, server: str, names: Iterable[str], new: Addresses, at_least: int) -> str:
    """Why ``server`` does not answer ``new`` authoritatively yet ('' when it does)."""
    try:
        found, authoritative = serial(config, server)
        if not authoritative:
            return "not authoritative for the zone"
        if found < at_least:
            return f"serial {found}, waiting for {at_least}"
        for name in names:
            answer = held(config, server, name)
            if answer != new:
                return f"{name} is {answer}"
    except DnsFailed as failure:
        return str(failure)
    return ""
