"""DNS queries through dnspython: the one home of ``import dns`` in vigie.

A check imports this module, which is light; dnspython itself is loaded by the first
:func:`query`. Its import is most of the cost of a DNS check (about 9-10 times the bare
interpreter's CPU here): ``dns.message`` pulls in dataclasses, inspect, enum, TSIG's
hashes and, through ``dns._features``, ``importlib.metadata`` (with zipfile, email,
pathlib) only to ask whether the optional extras (IDNA 2008, DNS over HTTPS, DNSSEC …)
are installed. A blocklist check needs none of them (its names are ASCII digits and zone
names), so :func:`_dnspython` declares them absent through ``dns._features.force`` (the
documented workaround) and defers ``importlib.metadata``, which saves about two of those
ten. ``dns.resolver`` is not used: only ``dns.message`` and ``dns.query`` (UDP, and TCP
when the answer is truncated).

The system resolver is the first ``nameserver`` of /etc/resolv.conf (:func:`nameservers`),
as glibc uses it; a check may name another with ``--nameserver``.
"""

from __future__ import annotations

from types import ModuleType

#: The resolver glibc falls back to without a nameserver line (resolv.conf(5)).
DEFAULT_NAMESERVER = "127.0.0.1"
#: dnspython's optional extras, looked up in package metadata at import unless forced.
EXTRAS = ("dnssec", "doh", "doq", "idna", "trio", "wmi")


class Reply:
    """An answer: its rcode (``NOERROR``, ``NXDOMAIN``, ``SERVFAIL`` …), its records, and
    their lowest TTL (None without records)."""

    __slots__ = ("rcode", "records", "ttl")

    def __init__(self, rcode: str, records: list[str], ttl: int | None = None) -> None:
        self.rcode, self.records, self.ttl = rcode, records, ttl


def parse_resolv_conf(text: str) -> list[str]:
    """The ``nameserver`` addresses of a resolv.conf, in order (zone ids kept)."""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver" and fields[1] not in found:
            found.append(fields[1])
    return found


def nameservers(path: str = "/etc/resolv.conf") -> list[str]:
    """The system's resolvers, or glibc's fallback when none is configured."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return parse_resolv_conf(file.read()) or [DEFAULT_NAMESERVER]
    except FileNotFoundError:
        return [DEFAULT_NAMESERVER]


_loaded: list[ModuleType] = []


def _dnspython() -> ModuleType:
    """``dns.query``, loaded once, without the metadata lookups of its optional extras."""
    if not _loaded:
        from checks.core.lazy import defer

        defer("importlib.metadata")
        import dns._features

        for extra in EXTRAS:
            dns._features.force(extra, False)
        import dns.message
        import dns.query
        import dns.rcode
        import dns.rdatatype

        _loaded.append(dns.query)
    return _loaded[0]


def load() -> None:
    """Import dnspython now (before threads start querying, so they do not race it)."""
    _dnspython()


def query(name: str, kind: str, server: str, port: int, timeout: float) -> Reply:
    """Ask ``server`` for the ``kind`` records (``A``, ``TXT``) of ``name``.

    UDP first, TCP when the answer is truncated. Raises TimeoutError when no answer came
    within ``timeout``, OSError when the server cannot be reached, ValueError (dnspython's
    FormError, a subclass of DNSException) for a reply that is not DNS.
    """
    dns_query = _dnspython()
    import dns.exception
    import dns.message
    import dns.rcode
    import dns.rdatatype

    request = dns.message.make_query(name, kind)
    try:
        response, _ = dns_query.udp_with_fallback(request, server, timeout=timeout, port=port)
    except dns.exception.Timeout:
        raise TimeoutError(f"no answer from {server} port {port} within {timeout:g} s") from None
    except dns.exception.DNSException as error:
        raise ValueError(f"{server} port {port} sent no usable DNS answer: {error}") from None
    wanted = dns.rdatatype.from_text(kind)
    records, ttls = [], []
    for rrset in response.answer:
        if rrset.rdtype == wanted:
            records += [_text(record, kind) for record in rrset]
            ttls.append(rrset.ttl)
    return Reply(dns.rcode.to_text(response.rcode()), records, min(ttls, default=None))


def _text(record: object, kind: str) -> str:
    """An A record's address, a TXT record's strings joined (RFC 7208 3.3), as text."""
    if kind == "TXT":
        strings: tuple[bytes, ...] = record.strings  # type: ignore[attr-defined]
        return b"".join(strings).decode("utf-8", errors="replace")
    return str(record)
