"""check_ceph: a Ceph cluster's health with each named check, its OSDs, PGs and space used.

Runs the ceph CLI (``ceph status``, then ``ceph health detail`` when the health is not
OK, ``ceph df``, and ``ceph osd tree`` when OSDs are down, to name them; all ``-f json``,
jewel to reef, layouts told apart by content: :mod:`checks.cluster._ceph`) and judges:

- health: HEALTH_WARN is WARNING, HEALTH_ERR CRITICAL, each health check named with its
  summary (``OSD_DOWN: 1 osds down``) and its details in the long output. ``--ignore
  CHECK`` (repeatable) mutes a named check, as do the cluster's own mutes (``ceph health
  mute``): the state is then the worst of the other checks. Before luminous the checks
  have no names and --ignore cannot match them.
- OSDs: down (not up) is CRITICAL above 0 (``--warning-osds-down``, ``--critical-osds-down``
  take ranges on the count), out (not in) has no threshold unless given; the down ones are
  named with their host.
- placement groups: counted by state in the perfdata; inactive ones (a state without
  ``active``: data unavailable) are CRITICAL above 0, active but not clean ones (degraded,
  backfilling …) are judged only with ``--warning-pgs-unclean``/``--critical-pgs-unclean``.
- space: raw used % (``-w/-c``, also ``--warning-raw``/``--critical-raw``) and each
  pool's used % of what it may hold (``--warning-pool``, ``--critical-pool``), from ``ceph
  df``; no threshold by default, Ceph's own nearfull and full ratios already raise health
  checks.

The cluster is reached as ``--id``/``--name`` with ``--keyring`` and ``--conf`` (ceph's
``-c``; ``-c`` is the critical range, as in every vigie check), within ``-t`` (ceph's
``--connect-timeout``). Monitors that do not answer in time are CRITICAL; a refused key or
a missing keyring UNKNOWN. A read-only key is enough::

    ceph auth get-or-create client.nagios mon 'allow r' mgr 'allow r' \\
        > /etc/ceph/ceph.client.nagios.keyring     # readable by nagios; then --id nagios

(``--sudo`` runs ceph through ``sudo -n`` when the keyring is root's.)
"""

from __future__ import annotations

import argparse

import nagiosplugin

from checks.cluster._ceph import (
    SEVERITIES,
    Cluster,
    Health,
    HealthCheck,
    Pool,
    parse_df,
    parse_health_detail,
    parse_osd_tree,
    parse_status,
)
from checks.core import external
from checks.core.cli import Parser, add_thresholds
from checks.core.errors import CannotCheck, ServiceDown
from checks.core.evaluate import STATES, Summary, Threshold, Verdict, show
from checks.core.output import STATE_NAMES
from checks.core.runtime import Bench, Plugin

#: Judged numbers: words, default warning, default critical.
LIMITS: dict[str, tuple[str, str | None, str | None]] = {
    "osds_down": ("OSDs down", None, "0"),
    "osds_out": ("OSDs out", None, None),
    "pgs_inactive": ("PGs inactive", None, "0"),
    "pgs_unclean": ("PGs active but not clean", None, None),
    "raw": ("raw space used %%", None, None),
    "pool": ("each pool's space used %%", None, None),
}
MAX_DETAILS = 5  # detail lines per health check in the long output


def is_inactive(state: str) -> bool:
    """A PG state without ``active``: its data cannot be read or written."""
    return "active" not in state.split("+")


def is_unclean(state: str) -> bool:
    """An active PG state without ``clean`` (degraded, backfilling, recovering …)."""
    flags = state.split("+")
    return "active" in flags and "clean" not in flags


def kept_checks(health: Health, ignored: set[str]) -> list[HealthCheck]:
    """The health checks that count: not muted in the cluster, not ``--ignore``d."""
    return [check for check in health.checks if not check.muted and check.code not in ignored]


def health_state(health: Health, ignored: set[str]) -> int:
    """0-2 from the checks that count; Ceph's own status when it names no check."""
    if not health.checks:
        return SEVERITIES[health.status]
    return max((SEVERITIES[check.severity] for check in kept_checks(health, ignored)), default=0)


class Ceph:
    """Runs the ceph CLI as the given client, JSON out: gathering only."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.tool = external.Tool(args.ceph, args.sudo, "check_ceph")
        self.options = ["--connect-timeout", f"{max(1, int(args.timeout) - 1)}"]
        for option, value in (("--id", args.id), ("--name", args.name),
                              ("--keyring", args.keyring), ("--conf", args.conf)):  # fmt: skip
            if value:
                self.options += [option, value]

    def ask(self, *command: str) -> str:
        """The JSON output of ``ceph COMMAND -f json``."""
        words = " ".join(command)
        done = self.tool.run([*self.options, *command, "-f", "json"], f"running ceph {words}")
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout
        said = done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}"
        first = said.splitlines()[-1] if "Traceback" in said else said.splitlines()[0]
        if "timed out" in said.lower():
            raise ServiceDown(f"the Ceph monitors did not answer ceph {words}: {first}")
        raise CannotCheck(f"ceph {words} failed: {first}")


class CephCluster(nagiosplugin.Resource):
    """The cluster's state from ceph status, health detail, df and osd tree."""

    def __init__(self, ceph: Ceph) -> None:
        self.ceph = ceph
        self.cluster: Cluster | None = None
        self.pools: list[Pool] = []
        self.down: list[tuple[str, str, str]] = []

    def probe(self) -> list[nagiosplugin.Metric]:
        """A ``health`` metric, then the OSD, PG and space numbers."""
        cluster = parse_status(self.ceph.ask("status"))
        if cluster.health.status != "HEALTH_OK":
            cluster.health = parse_health_detail(self.ceph.ask("health", "detail"))
        if cluster.osds_up < cluster.osds:
            self.down = parse_osd_tree(self.ceph.ask("osd", "tree"))
        raw, self.pools = parse_df(self.ceph.ask("df"))
        self.cluster = cluster
        metrics = [nagiosplugin.Metric("health", cluster.health, context="health")]
        total = cluster.osds
        metrics += [
            nagiosplugin.Metric("osds_down", total - cluster.osds_up, None, 0, total, "osds_down"),
            nagiosplugin.Metric("osds_out", total - cluster.osds_in, None, 0, total, "osds_out"),
        ]
        states = cluster.pg_states
        inactive = sum(count for state, count in states.items() if is_inactive(state))
        unclean = sum(count for state, count in states.items() if is_unclean(state))
        metrics += [
            nagiosplugin.Metric("pgs_inactive", inactive, None, 0, cluster.pgs, "pgs_inactive"),
            nagiosplugin.Metric("pgs_unclean", unclean, None, 0, cluster.pgs, "pgs_unclean"),
        ]
        metrics += [
            nagiosplugin.Metric(f"pgs_{state.replace('+', '_')}", count, None, 0, None, "pgs")
            for state, count in sorted(states.items())
        ]
        if raw is not None and raw[1] > 0:
            metrics.append(nagiosplugin.Metric("raw_used", 100 * raw[0] / raw[1], "%", 0, 100,
                                               "raw"))  # fmt: skip
        metrics += [
            nagiosplugin.Metric(f"pool_{pool.name}", pool.percent, "%", 0, 100, "pool")
            for pool in self.pools
        ]
        return metrics


class HealthContext(nagiosplugin.Context):
    """Ceph's health from the checks that count, each named in the hint."""

    def __init__(self, ignored: set[str]) -> None:
        super().__init__("health", result_cls=Verdict)
        self.ignored = ignored

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """WARNING for HEALTH_WARN, CRITICAL for HEALTH_ERR; the checks worst first."""
        health: Health = metric.value
        state = health_state(health, self.ignored)
        kept = sorted(kept_checks(health, self.ignored), key=lambda c: -SEVERITIES[c.severity])
        hint = ", ".join(check.words for check in kept if SEVERITIES[check.severity])
        return Verdict(STATES[state], hint or None, metric)

    def performance(self, metric: nagiosplugin.Metric, resource: object) -> None:
        """No perfdata: a status word."""

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``HEALTH_WARN`` (counting only the checks that count)."""
        state = health_state(metric.value, self.ignored)
        return ("HEALTH_OK", "HEALTH_WARN", "HEALTH_ERR")[state] + ":"


def describe(metric: nagiosplugin.Metric) -> str:
    """``1 of 3 OSDs down (osd.4 on node2)``, ``raw space used 81.2%``, ``pool rbd 91%``."""
    resource: CephCluster = metric.resource
    if metric.name == "osds_down":
        named = ", ".join(f"{name} on {host}" if host else name for name, _, host in resource.down)
        return f"{metric.value} of {metric.max} OSDs down" + (f" ({named})" if named else "")
    if metric.name == "osds_out":
        return f"{metric.value} of {metric.max} OSDs out"
    if metric.name.startswith("pgs_"):
        return f"{metric.value} PGs {LIMITS[metric.name][0].split(' ', 1)[1]}"
    if metric.name == "raw_used":
        return f"raw space {show(metric.value, '%')} used"
    return f"pool {metric.name.removeprefix('pool_')} {show(metric.value, '%')} used"


class CephSummary(Summary):
    """``HEALTH_OK, 3/3 OSDs up and in, 33 PGs active+clean, raw space 26.9% used``."""

    def __init__(self) -> None:
        super().__init__(long_output=True)

    def ok(self, results: nagiosplugin.Results) -> str:
        """The health word, OSDs, PG states, raw space; the checks that were ignored."""
        resource: CephCluster = results[0].resource
        cluster = resource.cluster
        assert cluster is not None  # probed
        parts = [str(results["health"]).rstrip(":")]
        parts.append(f"{cluster.osds_up}/{cluster.osds} OSDs up, {cluster.osds_in} in")
        states = ", ".join(f"{count} {state}" for state, count in sorted(
            cluster.pg_states.items(), key=lambda item: -item[1]))  # fmt: skip
        parts.append(f"{cluster.pgs} PGs" + (f" ({states})" if states else ""))
        if "raw_used" in results:
            parts.append(str(results["raw_used"]))
        return ", ".join(parts) + _ignored(cluster.health, results["health"].context.ignored)

    def problem(self, results: nagiosplugin.Results) -> str:
        """The health and its checks first, then the numbers out of range."""
        failing = [result for result in results if result.state != nagiosplugin.Ok]
        words = [str(result) for result in sorted(failing, key=lambda r: r.metric.name != "health")]
        resource: CephCluster = results[0].resource
        assert resource.cluster is not None
        return "; ".join(words) + _ignored(resource.cluster.health,
                                           results["health"].context.ignored)  # fmt: skip

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        """Each health check with its details, then every number judged."""
        health: Health = results["health"].metric.value
        ignored = results["health"].context.ignored
        lines = []
        for check in health.checks:
            muted = check.muted or check.code in ignored
            level = "ignored" if muted else STATE_NAMES[SEVERITIES[check.severity]]
            lines.append(f"{level}: {check.words}")
            where = check.code or "detail"
            lines += [f"{where}: {detail}" for detail in check.details[:MAX_DETAILS]]
            if len(check.details) > MAX_DETAILS:
                lines.append(f"{where}: … and {len(check.details) - MAX_DETAILS} more")
        lines += [
            f"{STATE_NAMES[result.state.code]}: {result}"
            for result in results.results
            if result.metric.name != "health" and result.metric.context != "pgs"
        ]
        return lines


def _ignored(health: Health, ignored: set[str]) -> str:
    names = sorted(check.code for check in health.checks if check.code and check.code in ignored)
    return f" (ignored: {', '.join(names)})" if names else ""


def check_code(text: str) -> str:
    """An argparse type for --ignore: a health check code (OSD_DOWN, POOL_NO_REDUNDANCY)."""
    if not text or not all(char.isupper() or char.isdigit() or char == "_" for char in text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a health check code (e.g. OSD_DOWN, AUTH_INSECURE_GLOBAL_ID_RECLAIM)"
        )
    return text


def build_parser() -> Parser:
    """check_ceph's options: who to be, what to ignore, the limits."""
    parser = Parser(
        "check_ceph",
        __doc__.split("\n\n")[0],
        examples=(
            "check_ceph --id nagios                  as client.nagios, default limits",
            "check_ceph --id nagios --ignore AUTH_INSECURE_GLOBAL_ID_RECLAIM_ALLOWED",
            "check_ceph --warning-osds-down 0 --critical-osds-down 2   WARNING for one down",
            "check_ceph -w 75 -c 85 --warning-pool 80   raw space used, pools' use",
        ),
        timeout=20,
    )
    parser.add_argument("--id", metavar="ID", help="the client id to connect as (ceph --id)")
    parser.add_argument(
        "--name", metavar="TYPE.ID", help="the client name to connect as (ceph --name)"
    )
    parser.add_argument(
        "--keyring", metavar="PATH", help="the keyring of that client (ceph --keyring)"
    )
    parser.add_argument(
        "--conf",
        metavar="PATH",
        help="the cluster configuration file (ceph -c; -c here is the critical range of raw "
        "space used, as in every vigie check)",
    )
    parser.add_argument(
        "--ignore",
        action="append",
        type=check_code,
        default=[],
        metavar="CHECK",
        help="a health check code that does not count, repeatable (e.g. OSD_NEARFULL)",
    )
    for name, (words, warning, critical) in LIMITS.items():
        add_thresholds(
            parser,
            words,
            metric=name.replace("_", "-"),
            short=name == "raw",
            defaults=(warning, critical),
        )
    external.add_tool_options(parser, "ceph", "nagios ALL=(root) NOPASSWD: /usr/bin/ceph")
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    contexts = [
        Threshold(name, getattr(args, f"warning_{name}"), getattr(args, f"critical_{name}"),
                  describe)
        for name in LIMITS
    ]  # fmt: skip
    return nagiosplugin.Check(
        CephCluster(Ceph(args)),
        HealthContext(set(args.ignore)),
        *contexts,
        Threshold("pgs"),
        CephSummary(),
    )


PLUGIN = Plugin(
    "ceph",
    build_parser,
    make_check,
    services=("vigie-ceph",),
    nagios=("ceph",),
    bench=(
        Bench("check_ceph (reef HEALTH_WARN captures, stub ceph)", ("--ceph",
              "{ceph:status=status_reef_health_warn_osd_down_pg_inactive.json,"
              "detail=health_detail_reef_derived_from_status_osd_down.json,"
              "tree=osd_tree_jewel_one_osd_down.json,df=df_json_nvme_two_pools_28pct_raw.json}"),
              kind="tool"),
    ),
)  # fmt: skip
main = PLUGIN.main
