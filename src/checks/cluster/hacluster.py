"""check_hacluster: whether a Pacemaker cluster has quorum, its nodes and its resources.

Reads ``crm_mon --output-as=xml`` on a cluster node (falling back to ``crm_mon
--as-xml`` where the first option does not exist, Pacemaker before 2.0.3; the layout is
told by content, :mod:`checks.cluster._crm`); with ``--cib-constraints`` also
``cibadmin -Q -o constraints``, since crm_mon lists the bans a move or ban leaves
(``cli-ban-*``) but not the preferences (``cli-prefer-*``). That second tool run costs
about as much as crm_mon itself (measured: ~1.8× the bare interpreter), which would put
the check over its budget of 6× on every run: it is the admin's choice.

- CRITICAL: pacemaker not running on this node (crm_mon cannot connect); no DC, or a
  partition without quorum; a node (cluster or remote) OFFLINE or unclean; a resource
  FAILED, blocked, or active on several nodes; every failed resource action, named with
  its node, exit status and reason (they stay until ``crm_resource --cleanup``).
- WARNING: a node in standby or in maintenance (``--allow-standby``,
  ``--allow-maintenance`` make them OK), pending or shutting down, or in standby after a
  failure; the cluster in maintenance mode (``--allow-maintenance``) or with
  stop-all-resources; a resource unmanaged, orphaned, or stopped although it should run
  (not disabled with target-role Stopped); a bundle replica stopped; a clone with no
  instance running, a promotable clone with none promoted; a location constraint left by
  a move or ban (``cli-ban-*``, ``cli-prefer-*``: ``crm_resource --clear -r RSC``);
  a fail count in ``-w/--fail-count RANGE`` (``0`` warns at any failure; ``-c`` for
  CRITICAL).
- Stopped instances of a clone (clone-max counts every node) and guest nodes (bundle
  replicas, VMs: their resource is judged) do not alert on their own. Pacemaker < 2.1's
  role names Master/Slave are read as Promoted/Unpromoted.

Perfdata: ``nodes_online`` (of the cluster and remote nodes), ``resources_active`` (of
the instances crm_mon lists), ``failed_actions``, and ``failcount_RSC:NODE`` per fail
count. crm_mon and cibadmin need root or the haclient group; as nagios, give --sudo and
this sudoers line (visudo -f /etc/sudoers.d/vigie-hacluster)::

    nagios ALL=(root) NOPASSWD: /usr/sbin/crm_mon, /usr/sbin/cibadmin

Heartbeat v1 (``cl_status``) is not read: no capture of it exists to test against.
"""

from __future__ import annotations

import argparse

import nagiosplugin

from checks.cluster._crm import (
    Cluster,
    Constraint,
    Node,
    NotRunning,
    parse_constraints,
    parse_crm_mon,
)
from checks.core import external
from checks.core.cli import Parser, threshold
from checks.core.errors import CannotCheck, ServiceDown
from checks.core.evaluate import STATES, Summary, Threshold, Verdict
from checks.core.output import STATE_NAMES, screen
from checks.core.runtime import Bench, Plugin

OK, WARNING, CRITICAL, UNKNOWN = range(4)
#: crm_mon's arguments for each layout, the new one first.
CRM_MON_LAYOUTS = (("-1", "-r", "-f", "--output-as=xml"), ("-1", "-r", "-f", "--as-xml"))


class Allowed:
    """What the admin says is fine: nodes in standby, maintenance anywhere."""

    __slots__ = ("maintenance", "standby")

    def __init__(self, standby: bool, maintenance: bool) -> None:
        self.standby, self.maintenance = standby, maintenance


def cluster_findings(cluster: Cluster, allowed: Allowed) -> list[tuple[int, str]]:
    """What is wrong with the cluster as a whole and with its nodes: (state, words)."""
    found = []
    if not cluster.dc_present:
        found.append((CRITICAL, "no DC: no partition elected a leader"))
    elif not cluster.quorum:
        found.append((CRITICAL, "partition WITHOUT quorum"))
    if cluster.maintenance_mode and not allowed.maintenance:
        found.append((WARNING, "cluster in maintenance mode (resources not managed)"))
    if cluster.stop_all:
        found.append((WARNING, "stop-all-resources is set"))
    return found + node_findings(cluster, allowed)


def node_findings(cluster: Cluster, allowed: Allowed) -> list[tuple[int, str]]:
    """What is wrong with the nodes (guest nodes: only unclean; their resource is judged)."""
    found = []
    for node in cluster.nodes:
        if node.unclean:
            found.append((CRITICAL, f"node {node.name} unclean (to be fenced)"))
        if node.guest:
            continue
        if not node.online:
            found.append((CRITICAL, f"node {node.name} OFFLINE"))
            continue
        if node.standby_onfail:
            found.append((WARNING, f"node {node.name} in standby after a failure"))
        elif node.standby and not allowed.standby:
            found.append((WARNING, f"node {node.name} in standby"))
        if node.maintenance and not allowed.maintenance:
            found.append((WARNING, f"node {node.name} in maintenance"))
        if node.pending:
            found.append((WARNING, f"node {node.name} pending"))
        if node.shutdown:
            found.append((WARNING, f"node {node.name} shutting down"))
    return found


def resource_findings(cluster: Cluster, allowed: Allowed) -> list[tuple[int, str]]:
    """What is wrong with the resources, the clones and bundles: (state, words)."""
    found = []
    unmanaged_ok = allowed.maintenance or cluster.maintenance_mode
    stopped: dict[str, None] = {}
    for resource in cluster.resources:
        if resource.failed and not resource.failure_ignored:
            found.append((CRITICAL, f"{resource.label} FAILED {resource.where}".rstrip()))
        if resource.blocked:
            found.append((CRITICAL, f"{resource.label} blocked (a stop failed)"))
        if len(resource.nodes) > 1:
            found.append((CRITICAL, f"{resource.label} active on {len(resource.nodes)} nodes"))
        if (not resource.managed or resource.maintenance) and not unmanaged_ok:
            found.append((WARNING, f"{resource.label} unmanaged"))
        if resource.orphaned and resource.active:
            found.append((WARNING, f"{resource.label} orphaned (running, not configured)"))
        should_run = not (resource.disabled or resource.cloned or cluster.stop_all)
        if not resource.active and resource.role == "Stopped" and should_run:
            replica = resource.parents[-1] if resource.parents else ""
            label = f"{resource.parents[0]} {replica}" if replica.startswith("replica ") else (
                resource.label)  # fmt: skip
            stopped[label] = None
    found += [(WARNING, f"{label} stopped") for label in stopped]
    for collection in cluster.collections:
        if collection.kind != "clone" or collection.disabled or cluster.stop_all:
            continue
        running = collection.running
        if collection.instances and not running:
            found.append((WARNING, f"clone {collection.id}: no instance running"))
        elif collection.promotable and not any(i.role == "Promoted" for i in running):
            found.append((WARNING, f"clone {collection.id}: no instance promoted"))
    found += [(CRITICAL, f"failed action {screen(str(failure))}") for failure in cluster.failures]
    return found


def constraint_findings(constraints: list[Constraint]) -> list[tuple[int, str]]:
    """Location constraints a move or ban left behind: WARNING, with how to clear them."""
    return [
        (WARNING, f"constraint {constraint} left by a move (crm_resource --clear -r "
                  f"{constraint.resource})")
        for constraint in constraints
        if constraint.left_by_move
    ]  # fmt: skip


class Tools:
    """Runs crm_mon (and cibadmin), through ``sudo -n`` when asked to: gathering only."""

    def __init__(self, crm_mon: str, cibadmin: str, sudo: bool) -> None:
        self.crm_mon = external.Tool(crm_mon, sudo, "check_hacluster")
        self.cibadmin = external.Tool(cibadmin, sudo, "check_hacluster")

    def status(self) -> Cluster:
        """The cluster, in the newer layout if this crm_mon has it; pacemaker down is CRITICAL."""
        for arguments in CRM_MON_LAYOUTS:
            done = self.crm_mon.run(arguments, "running crm_mon")
            if done.stdout.lstrip().startswith("<"):
                try:
                    return parse_crm_mon(done.stdout)
                except NotRunning as error:
                    raise ServiceDown(f"pacemaker is not running here: {error}") from None
        said = screen(done.stderr or done.stdout)[:200] or "nothing"
        raise CannotCheck(f"crm_mon printed no XML with --output-as=xml nor --as-xml (exit "
                          f"{done.returncode}): {said}")  # fmt: skip

    def constraints(self) -> list[Constraint]:
        """The location constraints of the CIB."""
        done = self.cibadmin.run(["-Q", "-o", "constraints"], "running cibadmin -Q")
        if done.returncode:
            said = screen(done.stderr or done.stdout)[:200] or "nothing"
            raise CannotCheck(f"cibadmin -Q -o constraints exited {done.returncode}: {said}")
        return parse_constraints(done.stdout)


class Pacemaker(nagiosplugin.Resource):
    """The cluster as crm_mon sees it from here, and the constraints of its CIB."""

    def __init__(self, tools: Tools, read_constraints: bool) -> None:
        self.tools, self.read_constraints = tools, read_constraints
        self.cluster: Cluster | None = None
        self.constraints: list[Constraint] = []

    def probe(self) -> list[nagiosplugin.Metric]:
        """The ``cluster`` metric (its findings), counts for perfdata, fail counts."""
        cluster = self.cluster = self.tools.status()
        seen = {ban.id: ban for ban in cluster.bans}
        if self.read_constraints:
            seen.update({found.id: found for found in self.tools.constraints()})
        self.constraints = list(seen.values())
        judged = [node for node in cluster.nodes if not node.guest]
        online = sum(1 for node in judged if node.online)
        active = sum(1 for resource in cluster.resources if resource.active)
        metrics = [
            nagiosplugin.Metric("cluster", cluster, context="cluster"),
            nagiosplugin.Metric("nodes_online", online, None, 0, len(judged), "count"),
            nagiosplugin.Metric("resources_active", active, None, 0, len(cluster.resources),
                                "count"),
            nagiosplugin.Metric("failed_actions", len(cluster.failures), None, 0, None, "count"),
        ]  # fmt: skip
        for (resource, node), count in sorted(cluster.fail_counts.items()):
            name = f"failcount_{resource}:{node}"
            metrics.append(nagiosplugin.Metric(name, count, None, 0, None, "fail_count"))
        return metrics


class ClusterState(nagiosplugin.Context):
    """Everything about the cluster that is a state, not a number."""

    def __init__(self, allowed: Allowed) -> None:
        super().__init__("cluster", result_cls=Verdict)
        self.allowed = allowed

    def findings(self, resource: Pacemaker) -> list[tuple[int, str]]:
        """Every finding, worst first, in reading order within one state."""
        cluster = resource.cluster
        assert cluster is not None
        found = (
            cluster_findings(cluster, self.allowed)
            + resource_findings(cluster, self.allowed)
            + constraint_findings(resource.constraints)
        )
        return sorted(found, key=lambda finding: -finding[0])

    def evaluate(self, metric: nagiosplugin.Metric, resource: Pacemaker) -> Verdict:
        """The worst finding's state; the findings as the hint."""
        found = self.findings(resource)
        worst = max((level for level, _ in found), default=OK)
        return Verdict(STATES[worst], ", ".join(text for _, text in found) or None, metric)

    def performance(self, metric: nagiosplugin.Metric, resource: object) -> None:
        """No perfdata of its own."""

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """Nothing: the findings say it."""
        return ""


def describe_fail_count(metric: nagiosplugin.Metric) -> str:
    """``fail count of web on node1 1000000 (INFINITY)``."""
    resource, _, node = metric.name.removeprefix("failcount_").rpartition(":")
    infinity = " (INFINITY)" if metric.value >= 1000000 else ""
    return f"fail count of {resource} on {node} {metric.value}{infinity}"


class ClusterSummary(Summary):
    """``2/2 nodes online, 5/6 resources active, quorum (DC node1)``; problems worst first."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """The cluster in one line."""
        resource: Pacemaker = results.results[0].resource
        cluster = resource.cluster
        assert cluster is not None
        counts = {result.metric.name: result.metric for result in results.results}
        nodes, active = counts["nodes_online"], counts["resources_active"]
        return (
            f"{nodes.value}/{nodes.max} nodes online, {active.value}/{active.max} resources "
            f"active, partition with quorum (DC {cluster.dc})"
        )

    def problem(self, results: nagiosplugin.Results) -> str:
        """Every finding and number out of range, worst first."""
        troubled = sorted(
            (result for result in results if result.state != nagiosplugin.Ok),
            key=lambda result: -result.state.code,
        )
        return ", ".join(str(result) for result in troubled)

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        """One line per finding, then the nodes, resources and constraints seen."""
        resource: Pacemaker = results.results[0].resource
        cluster = resource.cluster
        assert cluster is not None
        lines = [f"{STATE_NAMES[level]}: {text}"
                 for level, text in results.results[0].context.findings(resource)]  # fmt: skip
        lines += [f"{STATE_NAMES[r.state.code]}: {r}" for r in results.results
                  if r.metric.context == "fail_count"]  # fmt: skip
        lines.append(f"crm_mon layout <{cluster.layout}> {cluster.version}, stack {cluster.stack}")
        nodes = [f"{node.name} {_node_state(node)}" for node in cluster.nodes]
        lines.append("nodes: " + ", ".join(nodes))
        instances = [f"{rsc.label} {rsc.role} {rsc.where}".rstrip() for rsc in cluster.resources]
        lines.append("resources: " + ", ".join(instances))
        if resource.constraints:
            lines.append("location constraints: " + ", ".join(map(str, resource.constraints)))
        return lines


def _node_state(node: Node) -> str:
    """``(online standby DC)``."""
    flags = [flag for flag in ("standby", "maintenance", "pending", "unclean", "shutdown")
             if getattr(node, flag)]  # fmt: skip
    words = ["online" if node.online else "OFFLINE", *flags, *(["DC"] if node.is_dc else [])]
    return "(" + " ".join(words) + ")"


def build_parser() -> Parser:
    """check_hacluster's options."""
    parser = Parser(
        "check_hacluster",
        __doc__.split("\n\n")[0],
        examples=(
            "check_hacluster                               quorum, nodes, resources, failures",
            "check_hacluster --allow-standby               a node in standby is fine",
            "check_hacluster --fail-count 0                warn at any fail count",
            "check_hacluster --cib-constraints             also find cli-prefer-* (cibadmin)",
            "check_hacluster --sudo                        as nagios, through sudo -n",
        ),
    )
    parser.add_argument(
        "--allow-standby", action="store_true", help="nodes in standby are OK, not WARNING"
    )
    parser.add_argument(
        "--allow-maintenance",
        action="store_true",
        help="maintenance mode (of the cluster, a node, a resource) is OK, not WARNING",
    )
    for letter, level, names, note in (
        ("-w", "warning", ("--warning-fail-count", "--fail-count"), "; 0: any failure"),
        ("-c", "critical", ("--critical-fail-count",), ""),
    ):
        parser.add_argument(
            letter,
            *names,
            dest=f"{level}_fail_count",
            type=threshold(),
            metavar="RANGE",
            help=f"{level} range for each resource's fail count on a node (default: not "
            f"judged, failed actions are CRITICAL anyway{note})",
        )
    parser.add_argument(
        "--cib-constraints",
        action="store_true",
        help="also read cibadmin -Q -o constraints, to find the cli-prefer-* constraints a "
        "move leaves (crm_mon lists only bans, cli-ban-*); costs one more tool run",
    )
    external.add_tool_options(
        parser,
        "crm_mon",
        "nagios ALL=(root) NOPASSWD: /usr/sbin/crm_mon, /usr/sbin/cibadmin",
        "cibadmin",
    )
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    return nagiosplugin.Check(
        Pacemaker(Tools(args.crm_mon, args.cibadmin, args.sudo), args.cib_constraints),
        ClusterState(Allowed(args.allow_standby, args.allow_maintenance)),
        Threshold("count"),
        Threshold(
            "fail_count", args.warning_fail_count, args.critical_fail_count, describe_fail_count
        ),
        ClusterSummary(),
    )


PLUGIN = Plugin(
    "hacluster",
    build_parser,
    make_check,
    services=("vigie-hacluster",),
    nagios=("hacluster",),
    bench=(
        Bench("check_hacluster (stub crm_mon: 5 nodes, 32 resources)", ("--crm_mon",
              "{crm_mon:crm_mon_xml_v2_basic_cluster_online_some_stopped.xml}"), kind="tool"),
    ),
)  # fmt: skip
main = PLUGIN.main
