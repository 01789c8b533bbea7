"""Reading the ceph CLI's JSON (``status``, ``health detail``, ``df``, ``osd tree``) from
jewel to reef, into what check_ceph judges. Pure functions: text in, model out.

Layouts, told apart by content:

- health, luminous and later: ``{"status": "HEALTH_WARN", "checks": {"OSD_DOWN":
  {"severity", "summary": {"message"}, "detail": [{"message"}], "muted"}}}``; up to kraken:
  ``{"overall_status", "summary": [{"severity", "summary"}], "detail": ["…"]}``, whose
  findings have no code. Luminous prints both; the named checks win.
- the OSD map of ``ceph status``: nested (``osdmap.osdmap``) up to luminous, flat after.
- ``ceph df`` pools: nautilus and later give ``stored`` and ``percent_used`` as a ratio of
  the raw space; earlier releases only ``bytes_used`` and ``max_avail``.
"""

from __future__ import annotations

import json

from checks.core.errors import ParseError

SEVERITIES = {"HEALTH_OK": 0, "HEALTH_WARN": 1, "HEALTH_ERR": 2}


class HealthCheck:
    """One health finding: its code (None before luminous), severity, words, details."""

    __slots__ = ("code", "details", "muted", "severity", "summary")

    def __init__(
        self, code: str | None, severity: str, summary: str, details: list[str], muted: bool
    ) -> None:
        self.code, self.severity, self.summary = code, severity, summary
        self.details, self.muted = details, muted

    @property
    def words(self) -> str:
        """``OSD_DOWN: 1 osds down`` (or the summary alone, before luminous)."""
        return f"{self.code}: {self.summary}" if self.code else self.summary


class Health:
    """The cluster's overall status as Ceph words it, and its findings."""

    __slots__ = ("checks", "status")

    def __init__(self, status: str, checks: list[HealthCheck]) -> None:
        self.status, self.checks = status, checks


class Cluster:
    """What ``ceph status`` says: health, OSDs, placement groups, raw space."""

    __slots__ = ("health", "osds", "osds_in", "osds_up", "pg_states", "pgs", "raw_total",
                 "raw_used")  # fmt: skip

    def __init__(self, health: Health) -> None:
        self.health = health
        self.osds = self.osds_up = self.osds_in = 0
        self.pgs = 0
        self.pg_states: dict[str, int] = {}
        self.raw_used: float | None = None
        self.raw_total: float | None = None


class Pool:
    """A pool's usage from ``ceph df``: percent of what it may hold, bytes stored."""

    __slots__ = ("name", "percent", "stored")

    def __init__(self, name: str, percent: float, stored: float) -> None:
        self.name, self.percent, self.stored = name, percent, stored


def _document(text: str, command: str) -> dict[str, object]:
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ParseError(f"ceph {command} printed no JSON ({error})") from None
    if not isinstance(document, dict):
        raise ParseError(f"ceph {command} printed JSON that is not an object")
    return document


def _object(value: object, what: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ParseError(f"ceph: {what} is not an object")
    return value


def _list(value: object, what: str) -> list[object]:
    """A list member, absent or null meaning empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ParseError(f"ceph: {what} is not a list")
    return value


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ParseError(f"ceph: {what} is not a count ({value!r:.40})")
    return value


def _amount(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ParseError(f"ceph: {what} is not a number ({value!r:.40})")
    return float(value)


def _status_word(value: object, what: str) -> str:
    if value not in SEVERITIES:
        raise ParseError(f"ceph: {what} is {value!r:.40}, not HEALTH_OK, _WARN or _ERR")
    return str(value)


def parse_health(health: dict[str, object]) -> Health:
    """The health object of ``ceph status`` or the document of ``ceph health detail``."""
    if "checks" in health:
        checks = _object(health["checks"], "health.checks")
        found = [_named_check(code, _object(check, code)) for code, check in checks.items()]
        return Health(_status_word(health.get("status"), "health.status"), found)
    if "overall_status" in health:
        status = _status_word(health["overall_status"], "health.overall_status")
        summary = _list(health.get("summary"), "health.summary")
        details = [str(line) for line in _list(health.get("detail"), "health.detail")]
        found = [
            HealthCheck(
                None,
                _status_word(item.get("severity"), "health.summary severity"),
                str(item.get("summary", "")),
                details,
                False,
            )
            for item in (_object(entry, "health.summary item") for entry in summary)
        ]
        return Health(status, found)
    raise ParseError("ceph: the health has neither 'checks' (luminous+) nor 'overall_status'")


def _named_check(code: str, check: dict[str, object]) -> HealthCheck:
    summary = check.get("summary")
    message = _object(summary, f"{code}.summary").get("message", "") if summary else ""
    details = []
    for item in _list(check.get("detail"), f"{code}.detail"):
        details.append(str(_object(item, f"{code}.detail").get("message", "")))
    severity = _status_word(check.get("severity"), f"{code}.severity")
    return HealthCheck(code, severity, str(message), details, check.get("muted") is True)


def parse_health_detail(text: str) -> Health:
    """``ceph health detail -f json``."""
    return parse_health(_document(text, "health detail"))


def parse_status(text: str) -> Cluster:
    """``ceph status -f json``: health, OSD counts, PG states, raw space."""
    document = _document(text, "status")
    cluster = Cluster(parse_health(_object(document.get("health"), "status.health")))
    osdmap = _object(document.get("osdmap"), "status.osdmap")
    if "osdmap" in osdmap:  # up to luminous
        osdmap = _object(osdmap["osdmap"], "status.osdmap.osdmap")
    cluster.osds = _count(osdmap.get("num_osds"), "num_osds")
    cluster.osds_up = _count(osdmap.get("num_up_osds"), "num_up_osds")
    cluster.osds_in = _count(osdmap.get("num_in_osds"), "num_in_osds")
    pgmap = _object(document.get("pgmap"), "status.pgmap")
    cluster.pgs = _count(pgmap.get("num_pgs"), "num_pgs")
    for entry in _list(pgmap.get("pgs_by_state"), "pgmap.pgs_by_state"):
        item = _object(entry, "a pgs_by_state entry")
        name = item.get("state_name")
        if not isinstance(name, str) or not name:
            raise ParseError("ceph: a pgs_by_state entry has no state_name")
        cluster.pg_states[name] = cluster.pg_states.get(name, 0) + _count(item.get("count"), name)
    if "bytes_total" in pgmap:
        cluster.raw_total = _amount(pgmap["bytes_total"], "bytes_total")
        cluster.raw_used = _amount(pgmap.get("bytes_used"), "bytes_used")
    return cluster


def parse_df(text: str) -> tuple[tuple[float, float] | None, list[Pool]]:
    """``ceph df -f json``: raw (used, total) bytes, and every pool's usage."""
    document = _document(text, "df")
    stats = _object(document.get("stats"), "df.stats")
    raw = None
    if "total_bytes" in stats:
        used_key = "total_used_raw_bytes" if "total_used_raw_bytes" in stats else "total_used_bytes"
        raw = (_amount(stats.get(used_key), used_key), _amount(stats["total_bytes"], "total_bytes"))
    pools = _list(document.get("pools"), "df.pools")
    return raw, [_pool(_object(pool, "a df pool")) for pool in pools]


def _pool(pool: dict[str, object]) -> Pool:
    name = pool.get("name")
    if not isinstance(name, str) or not name:
        raise ParseError("ceph: a df pool has no name")
    stats = _object(pool.get("stats"), f"pool {name} stats")
    if "stored" in stats:  # nautilus and later: percent_used is a ratio of the raw space
        percent = 100 * _amount(stats.get("percent_used"), f"pool {name} percent_used")
        return Pool(name, min(percent, 100.0), _amount(stats["stored"], f"pool {name} stored"))
    used = _amount(stats.get("bytes_used"), f"pool {name} bytes_used")
    available = _amount(stats.get("max_avail"), f"pool {name} max_avail")
    percent = 100 * used / (used + available) if used + available else 0.0
    return Pool(name, percent, used)


def parse_osd_tree(text: str) -> list[tuple[str, str, str]]:
    """``ceph osd tree -f json``: the OSDs that are not up, as (name, status, host)."""
    document = _document(text, "osd tree")
    nodes = document.get("nodes")
    if not isinstance(nodes, list):
        raise ParseError("ceph osd tree: no list of nodes")
    parents: dict[object, str] = {}
    for node in (_object(item, "an osd tree node") for item in nodes):
        if node.get("type") == "host":
            for child in _list(node.get("children"), "a host's children"):
                parents[child] = str(node.get("name", "?"))
    down = []
    for node in (_object(item, "an osd tree node") for item in nodes):
        if node.get("type") == "osd" and node.get("status", "up") != "up":  # crush tree: none
            name = str(node.get("name", f"osd.{node.get('id')}"))
            down.append((name, str(node.get("status", "down")), parents.get(node.get("id"), "")))
    return down
