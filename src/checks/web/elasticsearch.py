"""check_elasticsearch: the health of an Elasticsearch (or OpenSearch) cluster.

Reads ``/_cluster/health`` (port 9200 by default) and judges what it says: the colour
(green OK, yellow WARNING: replicas unassigned; red CRITICAL: a primary shard is not
allocated, some data cannot be searched or written), the shards unassigned and
initializing (``-w``/``-c`` or ``--warning-unassigned``/``--critical-unassigned``,
``--warning-initializing``/``--critical-initializing``), the pending cluster tasks
(``--warning-pending``/``--critical-pending``: a master that cannot keep up), and the
nodes: with ``--nodes N`` fewer than N nodes in the cluster is CRITICAL (a node left;
the colour may still be green when its shards were reallocated), and ``--data-nodes N``
the same for data nodes. Relocating shards and the active shards percentage are
reported. ``timed_out: true`` (the cluster did not answer the health request in time,
HTTP 408) is CRITICAL.

Layouts of Elasticsearch 1.x to 8.x are read (``active_shards_percent_as_number`` and
``task_max_waiting_in_queue_millis`` appeared in 2.x and are optional). The page comes
through check_url's options: ``-S`` and ``--ca-file`` for a cluster with TLS (on by default
since 8.0), ``--credentials FILE`` for its basic auth (a rejected login is UNKNOWN,
"authentication failed"). There is no C monitoring-plugin for Elasticsearch.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Warn

from checks.core.cli import Parser, add_thresholds
from checks.core.errors import ParseError
from checks.core.evaluate import Summary, Threshold, Verdict
from checks.core.output import screen
from checks.core.ranges import Range
from checks.core.runtime import Bench, Plugin
from checks.core.web import add_http_options
from checks.web._status import number_of, read_page

DEFAULT_PORT = 9200
DEFAULT_PATH = "/_cluster/health"
#: The colours of cluster health and the state each stands for.
COLOURS = {"green": Ok, "yellow": Warn, "red": Critical}
#: The counts every version's health has, and their names in perfdata and wording.
COUNTS = {
    "number_of_nodes": "nodes",
    "number_of_data_nodes": "data_nodes",
    "active_primary_shards": "active_primary_shards",
    "active_shards": "active_shards",
    "relocating_shards": "relocating_shards",
    "initializing_shards": "initializing_shards",
    "unassigned_shards": "unassigned_shards",
    "number_of_pending_tasks": "pending_tasks",
}
#: What 2.x and later add.
OPTIONAL = {
    "active_shards_percent_as_number": "active_shards_percent",
    "task_max_waiting_in_queue_millis": "task_max_waiting",
}


def counted(value: float, noun: str) -> str:
    """``1 node``, ``3 nodes``, ``0 pending tasks``: the noun's plural ends in ``s``."""
    return f"{value:g} {noun}" if value == 1 else f"{value:g} {noun}s"


class Health:
    """The cluster's name, colour, whether the request timed out, and its counts."""

    __slots__ = ("cluster", "colour", "counts", "timed_out")

    def __init__(self, cluster: str, colour: str, timed_out: bool, counts: dict[str, float]):
        self.cluster, self.colour, self.timed_out, self.counts = cluster, colour, timed_out, counts


def parse_health(text: str) -> Health:
    """The ``_cluster/health`` JSON; anything else is refused, saying what came."""
    try:
        data = json.loads(text)
    except ValueError:
        start = text.lstrip()[:200].lower()
        what = "an HTML page" if start.startswith("<") else "not JSON"
        raise ParseError(
            f"{what}, not Elasticsearch cluster health: {screen(text)[:60]!r}"
        ) from None
    if not isinstance(data, dict) or "status" not in data or "number_of_nodes" not in data:
        keys = ", ".join(list(data)[:5]) if isinstance(data, dict) else type(data).__name__
        raise ParseError(f"JSON that is not cluster health (no status and number_of_nodes): {keys}")
    colour = data["status"]
    if colour not in COLOURS:
        raise ParseError(
            f"cluster health status {screen(str(colour))[:20]!r} is not green, yellow or red"
        )
    counts: dict[str, float] = {}
    for key, name in (*COUNTS.items(), *OPTIONAL.items()):
        if key not in data and key in OPTIONAL:
            continue
        value = data.get(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (math.isfinite(value) and value >= 0)
        ):
            raise ParseError(f"cluster health {key} is not a count: {screen(repr(value))[:30]}")
        counts[name] = float(value)
    timed_out = data.get("timed_out", False)
    if not isinstance(timed_out, bool):
        raise ParseError(
            f"cluster health timed_out is not true or false: {screen(repr(timed_out))[:30]}"
        )
    return Health(screen(str(data.get("cluster_name", "cluster"))), colour, timed_out, counts)


class Elasticsearch(nagiosplugin.Resource):
    """One reading of ``_cluster/health``."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.health: Health | None = None

    def probe(self) -> list[nagiosplugin.Metric]:
        """The colour, then every count."""
        # 408: the cluster timed out on a wait_for_* in -u; the body is still the health.
        health, _ = read_page(self.args, "cluster health", parse_health, accept=(200, 408))
        self.health = health
        metrics = [nagiosplugin.Metric("status", health, context="status")]
        for name, value in health.counts.items():
            if name == "active_shards_percent":
                metrics.append(nagiosplugin.Metric(name, value, "%", 0, 100))
            elif name == "task_max_waiting":
                metrics.append(nagiosplugin.Metric(name, value / 1000, "s", 0))
            else:
                metrics.append(nagiosplugin.Metric(name, value, "", 0))
        return metrics


class Colour(nagiosplugin.Context):
    """The colour's state, and CRITICAL when the health request timed out."""

    def __init__(self) -> None:
        super().__init__("status", result_cls=Verdict)

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """green OK, yellow WARNING, red CRITICAL; timed out CRITICAL."""
        health: Health = metric.value
        if health.timed_out:
            return Verdict(Critical, "and the health request timed out on the cluster", metric)
        return Verdict(COLOURS[health.colour], None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``cluster prod is yellow``."""
        health: Health = metric.value
        return f"cluster {health.cluster} is {health.colour}"


def count_of(noun: str) -> Callable[[nagiosplugin.Metric], str]:
    """A describer: ``30 unassigned shards`` (``noun`` singular)."""
    return lambda metric: counted(metric.value, noun)


class HealthSummary(Summary):
    """``cluster prod is green: 3 nodes (3 data), 15 active shards (100%), 0 unassigned``."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """Colour, nodes, shards and tasks."""
        return f"{results['status']}: {self._counts(results)}"

    def problem(self, results: nagiosplugin.Results) -> str:
        """The problems, then the counts."""
        return f"{super().problem(results)}; {self._counts(results)}"

    @staticmethod
    def _counts(results: nagiosplugin.Results) -> str:
        health: Health = results["status"].metric.value
        counts = health.counts
        text = (
            f"{counted(counts['nodes'], 'node')} ({counts['data_nodes']:g} data), "
            f"{counted(counts['active_shards'], 'active shard')}"
        )
        if "active_shards_percent" in counts:
            text += f" ({counts['active_shards_percent']:g}%)"
        return (
            f"{text}, {counts['unassigned_shards']:g} unassigned, "
            f"{counts['initializing_shards']:g} initializing, "
            f"{counts['relocating_shards']:g} relocating, "
            f"{counted(counts['pending_tasks'], 'pending task')}"
        )


def at_least(count: int | None) -> Range | None:
    """The critical range of ``--nodes N``: fewer than N alerts."""
    return None if count is None else Range(count, math.inf, text=f"{count}:")


def build_parser() -> Parser:
    """check_elasticsearch's options: check_url's HTTP options, nodes, shards and tasks."""
    parser = Parser(
        "check_elasticsearch",
        __doc__.split("\n\n")[0],
        examples=(
            "check_elasticsearch -H es1                     colour only",
            "check_elasticsearch -H es1 --nodes 3 --critical-unassigned 0",
            "check_elasticsearch -H es1 -S --ca-file /etc/ssl/es-ca.pem --credentials F",
        ),
    )
    add_http_options(parser, default_port=DEFAULT_PORT, default_path=DEFAULT_PATH)
    parser.add_argument("--nodes", type=number_of("nodes"), metavar="N",
                        help="CRITICAL when the cluster has fewer than N nodes")  # fmt: skip
    parser.add_argument("--data-nodes", type=number_of("nodes"), metavar="N",
                        help="CRITICAL when the cluster has fewer than N data nodes")  # fmt: skip
    add_thresholds(parser, "unassigned shards", metric="unassigned", short=True)
    add_thresholds(parser, "initializing shards", metric="initializing")
    add_thresholds(parser, "pending cluster tasks", metric="pending")
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    return nagiosplugin.Check(
        Elasticsearch(args),
        Colour(),
        Threshold("nodes", None, at_least(args.nodes), count_of("node")),
        Threshold("data_nodes", None, at_least(args.data_nodes), count_of("data node")),
        Threshold("unassigned_shards", args.warning_unassigned, args.critical_unassigned,
                  count_of("unassigned shard")),
        Threshold("initializing_shards", args.warning_initializing, args.critical_initializing,
                  count_of("initializing shard")),
        Threshold("pending_tasks", args.warning_pending, args.critical_pending,
                  count_of("pending task")),
        Threshold("relocating_shards"),
        Threshold("active_primary_shards"),
        Threshold("active_shards"),
        Threshold("active_shards_percent"),
        Threshold("task_max_waiting"),
        HealthSummary(),
    )  # fmt: skip


PLUGIN = Plugin(
    "elasticsearch",
    build_parser,
    make_check,
    address=True,
    services=("vigie-elasticsearch",),
    nagios=("elasticsearch",),
    bench=(
        Bench("check_elasticsearch -H 127.0.0.1 -p PORT (a capture served on loopback)",
              ("-H", "127.0.0.1", "-p", "{elasticsearch_port}", "-u",
               "/cluster_health_green_3_nodes/_cluster/health"), kind="tool"),
    ),
)  # fmt: skip
main = PLUGIN.main
