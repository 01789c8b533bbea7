"""check_drbd: every DRBD resource, per volume and per peer: connected, up to date, in sync.

Reads DRBD 8's ``/proc/drbd`` or, on DRBD 9 (whose /proc/drbd lists no resources),
``drbdsetup status --json``, falling back to ``drbdadm status`` where drbdsetup is too old
for ``--json`` (:mod:`checks.cluster._drbd`). Every resource is judged, not only the
first; ``--resource NAME`` (repeatable) selects some (a DRBD 8 minor is ``drbdN``), and a
selected resource that is not configured is CRITICAL (it is down).

Per volume and peer:

- CRITICAL: a connection not Connected (StandAlone — after a split brain or a
  ``drbdadm disconnect`` — WFConnection/Connecting: the peer is gone, NetworkFailure …);
  a local or peer disk Diskless (unless a DRBD 9 diskless client), Failed, or Outdated or
  Inconsistent with no resync under way; lost quorum (DRBD 9); I/O suspended.
- WARNING: a resync in progress (SyncSource, SyncTarget, paused, starting): its progress
  and time left are in the output and perfdata; Ahead/Behind (replication falling behind
  under congestion); a connected volume with out-of-sync blocks and no resync (after an
  online verify found differences); transitional disk states (Attaching, Negotiating,
  Consistent, DUnknown while connected).
- OK: everything else; roles are reported, not judged (Primary/Primary may be intended).

``-w/-c`` are ranges on the out-of-sync amount of each volume and peer (``-w 1G -c 10G``),
whatever the connection: how much a resync will have to copy. Perfdata per volume and
peer: out-of-sync bytes, and during a resync its percentage done
and seconds left. drbdsetup and drbdadm need root: ``--sudo`` runs them through ``sudo
-n`` when not root, given (visudo -f /etc/sudoers.d/vigie-drbd)::

    nagios ALL=(root) NOPASSWD: /usr/sbin/drbdsetup status --json, /usr/sbin/drbdadm status

/proc/drbd is readable by everyone. No C monitoring-plugins twin; the states follow the
contrib check_drbd's table (WFConnection, StandAlone CRITICAL, resync WARNING).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import nagiosplugin

from checks.cluster._drbd import (
    CONNECTION_STATES,
    DISK_STATES,
    REPLICATION_STATES,
    ROLES,
    Peer,
    Volume,
    parse_proc_drbd,
    parse_status_json,
    parse_status_text,
    proc_version,
)
from checks.core import external
from checks.core.cli import Parser, add_thresholds
from checks.core.errors import CannotCheck, ServiceDown
from checks.core.evaluate import STATES, Summary, Threshold, Verdict, show
from checks.core.output import STATE_NAMES
from checks.core.runtime import Bench, Plugin, doing
from checks.core.units import BYTES

OK, WARNING, CRITICAL, UNKNOWN = range(4)
SOURCES = ("auto", "proc", "drbdsetup", "drbdadm")
STATEFUL = ("volume", "peer", "missing")  # contexts whose hint is the finding, named by the metric
RESYNCING = frozenset(
    ("SyncSource", "SyncTarget", "PausedSyncS", "PausedSyncT", "StartingSyncS", "StartingSyncT",
     "WFBitMapS", "WFBitMapT", "WFSyncUUID")
)  # fmt: skip
#: What a disk state means, for the local disk or the peer's (when not resyncing).
DISK_WORDS = {
    "Diskless": (CRITICAL, "Diskless (no backing disk: detached or failed)"),
    "Failed": (CRITICAL, "Failed (I/O error, detaching)"),
    "Outdated": (CRITICAL, "Outdated (data not current, no resync)"),
    "Inconsistent": (CRITICAL, "Inconsistent (no resync under way)"),
    "Attaching": (WARNING, "Attaching"),
    "Detaching": (WARNING, "Detaching"),
    "Negotiating": (WARNING, "Negotiating"),
    "Consistent": (WARNING, "Consistent (not known to be up to date)"),
    "DUnknown": (WARNING, "DUnknown"),
}


def assess_volume(volume: Volume) -> list[tuple[int, str]]:
    """What is wrong with a volume on this node: I/O, quorum, role, its disk."""
    findings = []
    if volume.suspended:
        findings.append((CRITICAL, "I/O suspended"))
    if volume.quorum is False:
        findings.append((CRITICAL, "quorum lost"))
    if volume.role not in ROLES:
        findings.append((UNKNOWN, f"unknown role {volume.role!r}"))
    resyncing = any(peer.replication in RESYNCING for peer in volume.peers)
    return findings + _disk(volume.disk, volume.client, resyncing, "disk")


def assess_peer(peer: Peer) -> list[tuple[int, str]]:
    """What is wrong with a volume's replication to one peer: connection, resync, its disk.

    The words name no peer: the metric's label (``r0/0:node2``) does.
    """
    return _connection(peer) + _replication(peer)


def _disk(state: str, client: bool, resyncing: bool, whose: str) -> list[tuple[int, str]]:
    if state == "UpToDate" or (state == "Diskless" and client):
        return []
    if state not in DISK_STATES:
        return [(UNKNOWN, f"unknown {whose} state {state!r}")]
    if state in ("Inconsistent", "Outdated") and resyncing:
        return []  # the resync is the finding
    level, words = DISK_WORDS[state]
    return [(level, f"{whose} {words}")]


def _connection(peer: Peer) -> list[tuple[int, str]]:
    if peer.connection == "Connected":
        return []
    if peer.connection not in CONNECTION_STATES:
        return [(UNKNOWN, f"unknown connection state {peer.connection!r}")]
    if peer.connection == "StandAlone":
        why = "not connecting: split brain, or disconnected by hand"
    else:
        why = "peer not connected"
    return [(CRITICAL, f"{peer.connection} ({why})")]


def _replication(peer: Peer) -> list[tuple[int, str]]:
    if peer.connection != "Connected":
        return []
    if peer.replication not in REPLICATION_STATES:
        return [(UNKNOWN, f"unknown replication state {peer.replication!r}")]
    findings = []
    if peer.replication in RESYNCING:
        findings.append((WARNING, f"{peer.replication} {progress(peer)}"))
    elif peer.replication in ("Ahead", "Behind"):
        findings.append((WARNING, f"{peer.replication} (replication falls behind)"))
    elif peer.out_of_sync:
        findings.append((WARNING, f"{show(peer.out_of_sync, 'B')} out of sync, no resync"))
    resyncing = peer.replication in RESYNCING
    return findings + _disk(peer.disk, peer.client, resyncing, "peer disk")


def progress(peer: Peer) -> str:
    """``resync 34.9% done, 5 s left, 338 MiB out of sync`` with what is known."""
    parts = [f"resync {show(peer.done, '%')} done" if peer.done is not None else "resync"]
    if peer.eta is not None:
        parts.append(f"{show(peer.eta, 's')} left")
    if peer.out_of_sync:
        parts.append(f"{show(peer.out_of_sync, 'B')} out of sync")
    return ", ".join(parts)


class Drbd:
    """Where DRBD's state comes from: /proc/drbd, drbdsetup, drbdadm. Gathering only."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.source = args.source
        self.proc = args.proc_drbd
        self.drbdsetup = external.Tool(args.drbdsetup, args.sudo, "check_drbd")
        self.drbdadm = external.Tool(args.drbdadm, args.sudo, "check_drbd")

    def volumes(self) -> list[Volume]:
        """Every configured volume, from the source asked for or the one that applies."""
        if self.source == "drbdsetup":
            return self._drbdsetup(fallback=False)
        if self.source == "drbdadm":
            return self._drbdadm()
        text = self._read_proc()
        if self.source == "proc" or proc_version(text)[0] < 9:
            return parse_proc_drbd(text)
        return self._drbdsetup(fallback=True)

    def _read_proc(self) -> str:
        with doing(f"reading {self.proc}"):
            try:
                with open(self.proc, "rb") as file:
                    return file.read().decode("utf-8", "replace")
            except FileNotFoundError:
                raise ServiceDown(
                    f"DRBD is not loaded: no {self.proc} (modprobe drbd, or start drbd)"
                ) from None

    def _drbdsetup(self, fallback: bool) -> list[Volume]:
        done = self.drbdsetup.run(["status", "--json"], "running drbdsetup status --json")
        if done.returncode == 0:
            return parse_status_json(done.stdout)
        said = done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}"
        if fallback and "json" in said.lower():  # drbd-utils before 9.5: no --json
            return self._drbdadm()
        raise CannotCheck(f"drbdsetup status --json failed: {said.splitlines()[0]}")

    def _drbdadm(self) -> list[Volume]:
        done = self.drbdadm.run(["status"], "running drbdadm status")
        if done.returncode != 0:
            said = done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}"
            raise CannotCheck(f"drbdadm status failed: {said.splitlines()[0]}")
        return parse_status_text(done.stdout)


class Resources(nagiosplugin.Resource):
    """The volumes of the selected (or all) resources, a metric per volume and peer."""

    def __init__(self, drbd: Drbd, selected: list[str]) -> None:
        self.drbd = drbd
        self.selected = selected
        self.volumes: list[Volume] = []
        self.missing: list[str] = []

    def probe(self) -> list[nagiosplugin.Metric]:
        """A metric per volume, one per volume and peer (their states), then numbers."""
        found = self.drbd.volumes()
        if self.selected:
            wanted = set(self.selected)
            self.missing = [name for name in self.selected if not _chosen(name, found)]
            found = [volume for volume in found if {volume.resource, str(volume.minor)} & wanted]
        self.volumes = found
        if not found and not self.missing:
            raise CannotCheck("no DRBD resource is configured")
        metrics = [nagiosplugin.Metric(name, name, context="missing") for name in self.missing]
        for volume in found:
            metrics.append(nagiosplugin.Metric(volume.label, volume, context="volume"))
            for peer in volume.peers:
                pair = f"{volume.label}:{peer.name}"
                metrics.append(nagiosplugin.Metric(pair, peer, context="peer"))
                metrics += _numbers(volume.label if peer.name == "peer" else pair, peer)
        return metrics


def _chosen(name: str, volumes: list[Volume]) -> bool:
    return any(name in (volume.resource, str(volume.minor)) for volume in volumes)


def _numbers(label: str, peer: Peer) -> list[nagiosplugin.Metric]:
    numbers = []
    if peer.out_of_sync is not None:
        numbers.append(
            nagiosplugin.Metric(
                f"{label}_out_of_sync", peer.out_of_sync, "B", 0, None, "out_of_sync"
            )
        )
    if peer.replication in RESYNCING and peer.done is not None:
        numbers.append(nagiosplugin.Metric(f"{label}_synced", peer.done, "%", 0, 100, "number"))
    if peer.replication in RESYNCING and peer.eta is not None:
        numbers.append(nagiosplugin.Metric(f"{label}_eta", peer.eta, "s", 0, None, "number"))
    return numbers


class Findings(nagiosplugin.Context):
    """A volume (``volume``) or its replication to a peer (``peer``): the worst finding."""

    def __init__(self, name: str, assess: Callable[[Any], list[tuple[int, str]]]) -> None:
        super().__init__(name, result_cls=Verdict)
        self.assess = assess

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """The worst finding's state; the problems, worst first, as the hint."""
        findings = self.assess(metric.value)
        worst = max((level for level, _ in findings), default=OK)
        problems = [text for level, text in sorted(findings, key=lambda f: -f[0]) if level]
        return Verdict(STATES[worst], ", ".join(problems) or None, metric)

    def performance(self, metric: nagiosplugin.Metric, resource: object) -> None:
        """No perfdata: the numbers are metrics of their own."""

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``r0/0``, ``r0/0:node2``."""
        return str(metric.name)


class Missing(nagiosplugin.Context):
    """A resource named with --resource that DRBD does not have configured: it is down."""

    def __init__(self) -> None:
        super().__init__("missing", result_cls=Verdict)

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """CRITICAL."""
        return Verdict(nagiosplugin.Critical, "is not configured (down?)", metric)

    def performance(self, metric: nagiosplugin.Metric, resource: object) -> None:
        """Nothing measured."""

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """The resource name."""
        return str(metric.name)


def describe_out_of_sync(metric: nagiosplugin.Metric) -> str:
    """``drbd4 1 GiB out of sync``."""
    return f"{metric.name.removesuffix('_out_of_sync')} {show(metric.value, 'B')} out of sync"


def describe_volume(volume: Volume) -> str:
    """``r0/0 Primary UpToDate, quorum`` for the long output."""
    local = f"{volume.label} {volume.role} {volume.disk}" + (" (client)" if volume.client else "")
    if volume.quorum is not None:
        local += ", quorum" if volume.quorum else ", NO quorum"
    return local + ("" if volume.peers else ", no peer configured")


def describe_peer(name: str, peer: Peer) -> str:
    """``r0/0:node2 Connected Secondary UpToDate`` (the replication state when syncing)."""
    state = peer.replication if peer.replication not in ("Established", "Off") else peer.connection
    return f"{name} {state} {peer.role} {peer.disk}" + (" (client)" if peer.client else "")


class DrbdSummary(Summary):
    """Status line naming each troubled volume and peer, worst first; one line per pair."""

    def __init__(self) -> None:
        super().__init__(long_output=True)

    def ok(self, results: nagiosplugin.Results) -> str:
        """``2 DRBD resources healthy: r0 Primary (2 volumes, peers node2 node3), …``."""
        resource: Resources = results.results[0].resource
        by_name: dict[str, list[Volume]] = {}
        for volume in resource.volumes:
            by_name.setdefault(volume.resource, []).append(volume)
        parts = []
        for name, volumes in by_name.items():
            peers = sorted({peer.name for volume in volumes for peer in volume.peers})
            facts = [f"{len(volumes)} volumes"] if len(volumes) > 1 else []
            if peers and peers != ["peer"]:
                facts.append(f"peer{'s'[: len(peers) - 1]} {' '.join(peers)}")
            roles = "/".join(dict.fromkeys(volume.role for volume in volumes))
            parts.append(f"{name} {roles}" + (f" ({', '.join(facts)})" if facts else ""))
        count = len(by_name)
        return f"{count} DRBD resource{'s'[: count - 1]} healthy: {', '.join(parts)}"

    def problem(self, results: nagiosplugin.Results) -> str:
        """Every pair not OK and amount out of range, worst first: ``drbd8: StandAlone (…)``."""
        return "; ".join(
            f"{result.metric.name}: {result.hint}" if result.metric.context in STATEFUL else
            str(result)
            for result in sorted(results, key=lambda result: -result.state.code)
            if result.state != nagiosplugin.Ok and result.hint
        )  # fmt: skip

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        """One line per volume and peer: state, description, findings."""
        lines = []
        for result in results.results:
            if result.metric.context == "missing":
                lines.append(f"CRITICAL: {result.metric.name} is not configured")
            elif result.metric.context in ("volume", "peer"):
                metric = result.metric
                text = (
                    describe_volume(metric.value)
                    if metric.context == "volume"
                    else describe_peer(metric.name, metric.value)
                )
                hint = f": {result.hint}" if result.hint else ""
                lines.append(f"{STATE_NAMES[result.state.code]}: {text}{hint}")
        return lines


def build_parser() -> Parser:
    """check_drbd's options: the resources, where to read, the tools."""
    parser = Parser(
        "check_drbd",
        __doc__.split("\n\n")[0],
        examples=(
            "check_drbd                          every resource (DRBD 8 or 9)",
            "check_drbd --resource r0 --resource r1",
            "check_drbd --sudo                   DRBD 9: drbdsetup through sudo -n",
            "check_drbd --source drbdadm --sudo  DRBD 9 with drbd-utils too old for --json",
        ),
    )
    parser.add_argument(
        "-r",
        "--resource",
        action="append",
        default=[],
        metavar="NAME",
        help="a resource to check, repeatable (DRBD 8: drbdN or the minor; default: all; "
        "one not configured is CRITICAL)",
    )
    add_thresholds(
        parser,
        "the out-of-sync data of each volume and peer, whatever its state (e.g. 1G; a "
        "connected volume out of sync with no resync is a WARNING anyway)",
        scale=BYTES,
    )
    parser.add_argument(
        "--source",
        choices=SOURCES,
        default="auto",
        help="where to read the state: auto (/proc/drbd on DRBD 8, else drbdsetup status "
        "--json, else drbdadm status), or one of them (default: %(default)s)",
    )
    parser.add_argument(
        "--proc-drbd",
        default="/proc/drbd",
        metavar="PATH",
        help="DRBD 8's status file (default: %(default)s)",
    )
    external.add_tool_options(
        parser,
        "drbdsetup",
        "nagios ALL=(root) NOPASSWD: /usr/sbin/drbdsetup status --json",
        "drbdadm",
    )
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    return nagiosplugin.Check(
        Resources(Drbd(args), args.resource),
        Findings("volume", assess_volume),
        Findings("peer", assess_peer),
        Missing(),
        Threshold("out_of_sync", args.warning, args.critical, describe_out_of_sync),
        Threshold("number"),
        DrbdSummary(),
    )


PLUGIN = Plugin(
    "drbd",
    build_parser,
    make_check,
    services=("vigie-drbd",),
    nagios=("drbd",),
    bench=(
        Bench("check_drbd (DRBD 8.4 /proc/drbd capture)", ("--proc-drbd",
              "{drbd:proc_drbd_v84_standalone_and_syncsource.txt}"), kind="tool"),
        Bench("check_drbd (DRBD 9, stub drbdsetup status --json)", ("--source", "drbdsetup",
              "--drbdsetup", "{drbdsetup:drbdsetup_status_json_v9_two_resources_connected.json}"),
              kind="tool"),
    ),
)  # fmt: skip
main = PLUGIN.main
