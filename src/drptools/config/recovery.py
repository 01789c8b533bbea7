"""The rules of the DRP sections: ``[drp]``, ``[production]``, ``[dns]``, ``[authorization]``,
``[sites]``, ``[drill]`` and ``[automation]`` (:mod:`drptools.config.automation`).

Imported by :func:`drptools.config.parse` only when one of them is present, so that
check_backup, which reads the same file on every run, does not pay for them. Every
message names the key, the value found and what was expected, like the backup sections.
"""

from __future__ import annotations

from drptools.config.model import (
    ENGINES,
    TARGET_NAMES,
    Dns,
    DrpServer,
    Environment,
    Location,
    Production,
    Recovery,
    Server,
    Side,
    Site,
    Target,
)
from drptools.config.rules import located
from drptools.config.schema import names, spec
from drptools.config.validate import Problems

#: TSIG algorithms dnspython signs with (RFC 8945 names; HMAC-MD5 left out: broken).
TSIG_ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1")


def parse_recovery(
    problems: Problems,
    data: dict[str, object],
    datacenter: str,
    targets: dict[str, Target],
    environments: dict[str, Environment],
) -> Recovery:
    """The DRP sections of decoded ``data``, every problem recorded in ``problems``."""
    drp = production = dns = None
    if "drp" in data:
        drp = _drp(problems, problems.table(data, "drp", "drp"), datacenter, targets)
    if "production" in data:
        production = _production(
            problems, problems.table(data, "production", "production"), datacenter
        )
    if "dns" in data:
        dns = _dns(problems, problems.table(data, "dns", "dns"), environments)
        for side in (drp, production):
            if side is not None and not side.addresses:
                problems.append(
                    f"{side.name}.addresses: missing (expected the public addresses the DNS "
                    "records point to when it serves)"
                )
    table = problems.table(data, "authorization", "authorization")
    problems.unknown(table, names("authorization"), "authorization")
    hours = problems.field(table, "authorization", spec("authorization", "valid_hours"))
    table = problems.table(data, "drill", "drill")
    problems.unknown(table, names("drill"), "drill")
    scratch = problems.field(table, "drill", spec("drill", "scratch"))
    on = problems.field(table, "drill", spec("drill", "on"))
    if on not in ("local", "drp"):
        problems.append(f"drill.on: {on!r} is not a place (expected local or drp)")
    elif on == "drp" and drp is None:
        problems.append("drill.on: drp, but there is no [drp] section")
    automation = None
    if "automation" in data:
        from drptools.config.automation import parse_automation

        automation = parse_automation(
            problems, problems.table(data, "automation", "automation"), drp is not None
        )
    sites = _sites(problems, problems.table(data, "sites", "sites"), environments)
    return Recovery(drp, production, dns, hours, automation, sites, scratch, on == "drp")


def _address(text: str) -> str | None:
    import ipaddress  # here: check_backup reads the same file and needs no address

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return f"{text!r} is not an IPv4 or IPv6 address"
    return None


def _side(
    problems: Problems, entry: dict[str, object], name: str, datacenter: str | None
) -> Side | None:
    location, ssh_config = located(problems, entry, name, name)
    place = problems.field(entry, name, spec(name, "datacenter")) or datacenter
    addresses = problems.field(entry, name, spec(name, "addresses"), _address)
    servers = _servers(problems, problems.table(entry, "databases", name), name)
    site_address = problems.field(entry, name, spec(name, "site_address"))
    if site_address is not None and _address(site_address):
        problems.append(f"{name}.site_address: {_address(site_address)}")
    if location is None or not place:
        return None
    return Side(name, location, place, ssh_config, addresses, servers, site_address)


def _servers(problems: Problems, table: dict[str, object], parent: str) -> dict[str, Server]:
    servers = {}
    for engine in table:
        where = f"{parent}.databases.{engine}"
        if engine not in ENGINES:
            problems.append(f"{where}: {engine!r} is not one of {', '.join(ENGINES)}")
            continue
        entry = problems.table(table, engine, where)
        problems.unknown(entry, names("server"), where)
        fields = {key: problems.field(entry, where, spec("server", key)) for key in names("server")}
        if fields["host"] is not None and fields["socket"] is not None:
            problems.append(f"{where}: give host (and port) or socket, not both")
        servers[engine] = Server(engine, **fields)
    return servers


def _drp(
    problems: Problems, entry: dict[str, object], datacenter: str, targets: dict[str, Target]
) -> DrpServer | None:
    problems.unknown(entry, names("drp"), "drp")
    side = _side(problems, entry, "drp", None)
    if side is not None and side.datacenter == datacenter:
        problems.append(
            f"drp.datacenter: {datacenter!r} is where the service runs; the policy wants the "
            "DRP server in another datacenter"
        )
    reached: dict[str, tuple[Location, str | None]] = {
        name: (target.location, target.ssh_config) for name, target in targets.items()
    }
    table = problems.table(entry, "targets", "drp.targets")
    for name in table:
        where = f"drp.targets.{name}"
        if name not in TARGET_NAMES:
            problems.append(f"{where}: unknown target (expected A or B)")
            continue
        target_entry = problems.table(table, name, where)
        problems.unknown(target_entry, names("drp_target"), where)
        location, ssh_config = located(problems, target_entry, where, "drp_target")
        if location is not None:
            reached[name] = (location, ssh_config)
    return DrpServer(side, reached) if side is not None else None


def _production(problems: Problems, entry: dict[str, object], datacenter: str) -> Production | None:
    where = "production"
    problems.unknown(entry, names(where), where)
    if "location" not in entry:
        entry = dict(entry, location="/")
    side = _side(problems, entry, where, datacenter)
    on = problems.field(entry, where, spec(where, "maintenance_on"))
    off = problems.field(entry, where, spec(where, "maintenance_off"))
    flag = problems.field(entry, where, spec(where, "maintenance_flag"))
    if bool(on) != bool(off):
        problems.append(f"{where}: give both maintenance_on and maintenance_off, or neither")
    if flag is not None and (on or off):
        problems.append(f"{where}: give maintenance_on/off or maintenance_flag, not both")
    if flag is None and not on:
        problems.append(
            f"{where}: no way to put production in maintenance (expected maintenance_on and "
            "maintenance_off, or maintenance_flag): a failback must stop writes there first"
        )
    if side is None:
        return None
    return Production(side, on, off, flag)


def _dns(problems: Problems, entry: dict[str, object], environments: dict[str, Environment]) -> Dns:
    where = "dns"
    problems.unknown(entry, names(where), where)
    zone = (problems.field(entry, where, spec(where, "zone")) or "").rstrip(".").lower()
    primary = problems.field(entry, where, spec(where, "primary")) or ""
    if primary and _address(primary):
        problems.append(f"dns.primary: {_address(primary)}")
    key_name = problems.field(entry, where, spec(where, "key_name")) or ""
    algorithm = problems.field(entry, where, spec(where, "key_algorithm"))
    if algorithm not in TSIG_ALGORITHMS:
        problems.append(
            f"dns.key_algorithm: {algorithm!r} is not one of {', '.join(TSIG_ALGORITHMS)}"
        )
    key_file = problems.field(entry, where, spec(where, "key_file"))
    if "key_file" not in entry:
        problems.append("dns.key_file: missing (expected the path of the TSIG secret's file)")
    servers = problems.field(entry, where, spec(where, "servers"), _address)
    records: dict[str, tuple[str, ...]] = {}
    table = problems.table(entry, "records", "dns.records")
    if not table:
        problems.append("dns.records: none (expected environment = [names switched for it])")

    def in_zone(text: str) -> str | None:
        name = text.rstrip(".").lower()
        if name != zone and not name.endswith(f".{zone}"):
            return f"{text!r} is not in zone {zone!r}"
        return None

    for environment in table:
        if environment not in environments:
            problems.append(
                f"dns.records.{environment}: no such environment (known: "
                f"{', '.join(environments) or 'none'})"
            )
        found = problems.strings(table, environment, "dns.records", in_zone)
        records[environment] = tuple(name.rstrip(".").lower() for name in found)
    return Dns(
        zone, primary, key_name, key_file or "", records,
        key_algorithm=algorithm, port=problems.field(entry, where, spec(where, "port")),
        servers=servers,
        ttl_warning=problems.field(entry, where, spec(where, "ttl_warning_seconds")),
        verify_timeout=problems.field(entry, where, spec(where, "verify_timeout_seconds")),
    )  # fmt: skip


def _sites(
    problems: Problems, table: dict[str, object], environments: dict[str, Environment]
) -> dict[str, Site]:
    """``[sites.NAME]``: the page each environment must serve before the DNS moves."""
    sites = {}
    for environment in table:
        where = f"sites.{environment}"
        if environment not in environments:
            problems.append(
                f"{where}: no such environment (known: {', '.join(environments) or 'none'})"
            )
        entry = problems.table(table, environment, where)
        problems.unknown(entry, names("site"), where)
        fields = {key: problems.field(entry, where, spec("site", key)) for key in names("site")}
        url = fields.pop("url")
        if url is None:
            continue
        if _not_a_site_url(url):
            problems.append(f"{where}.url: {url!r} is not an http:// or https:// URL with a host")
            continue
        sites[environment] = Site(environment, url, **fields)
    return sites


def _not_a_site_url(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        return True
    return parts.scheme not in ("http", "https") or not parts.hostname or bool(parts.username)
