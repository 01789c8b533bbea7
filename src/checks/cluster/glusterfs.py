"""check_glusterfs: whether GlusterFS volumes are started, complete, roomy and in sync.

Asks the gluster CLI on a server of the trusted pool, in XML: ``gluster volume info
--xml`` (every volume, or those named with ``--volume``), then ``volume status all
detail --xml`` (or ``volume status VOL detail --xml`` per named volume) and, for each
started replicated or dispersed volume, ``volume heal VOL info summary --xml`` (one crawl
for both counts; where the CLI lacks it, before GlusterFS 4, ``volume heal VOL info
--xml`` and ``volume heal VOL info split-brain --xml``); :mod:`checks.cluster._gluster`
reads them. glusterd runs one transaction at a time: a command refused with ``Another
transaction is in progress`` is asked once more a second later.

Per volume:

- CRITICAL: the volume is not started; a brick offline, or missing from volume status
  (glusterd lists only the bricks of peers it is connected to: a brick of a peer that is
  down is missing, not offline), each named ``host:/path``; a brick heal info cannot
  reach (``Transport endpoint is not connected``) that status did not already name;
  split-brain entries (``--critical-split-brain``, default above 0).
- WARNING: a volume daemon offline (self-heal daemon, NFS server, quota daemon …) where
  volume status lists them (GlusterFS 3.x; 10.3's ``status … detail`` lists bricks only);
  entries waiting to be healed (``--warning-heal``, default above 0; ``--critical-heal``).
- per brick, free space: ``-w/--warning-free``/``-c/--critical-free`` on the free share in %
  (defaults ``10:`` and ``5:``: alert below 10% and 5%), ``--warning-free-bytes``/
  ``--critical-free-bytes`` on free bytes (``20G:``); perfdata ``HOST:/PATH_free`` (%)
  and ``HOST:/PATH_free_bytes`` (B), ``VOL_heal_pending`` and ``VOL_split_brain``.

-V is the version, as in every plugin, so the volume is ``--volume VOL`` (repeatable),
not the ``-v VOL`` of older check_glusterfs scripts (-v is verbosity). glusterd not
running or not answering is CRITICAL (the CLI prints ``Connection failed``); a refusal of
the CLI itself (``opRet`` -1: no such volume, another transaction in progress) is UNKNOWN
with gluster's own words. The CLI waits 120 s for glusterd by default: it is given what
is left of ``-t`` (``--timeout``) and ``--mode=script``, so it never prompts.

The gluster CLI needs root; as nagios, give --sudo and this sudoers line (visudo -f
/etc/sudoers.d/vigie-glusterfs)::

    nagios ALL=(root) NOPASSWD: /usr/sbin/gluster
"""

from __future__ import annotations

import argparse
import time

import nagiosplugin

from checks.cluster._gluster import (
    BUSY,
    NOT_CONNECTED,
    HealBrick,
    Process,
    Volume,
    parse_heal_info,
    parse_volume_info,
    parse_volume_status,
    unreachable,
)
from checks.core import external
from checks.core.cli import Parser, add_thresholds
from checks.core.errors import CannotCheck, ParseError, ServiceDown
from checks.core.evaluate import STATES, Summary, Threshold, Verdict, show
from checks.core.output import STATE_NAMES, screen
from checks.core.runtime import Bench, Plugin, remaining
from checks.core.units import BYTES

OK, WARNING, CRITICAL, UNKNOWN = range(4)


class Report:
    """What was read about one volume: its info, processes and heal counts."""

    __slots__ = ("heal", "processes", "split_brain", "volume")

    def __init__(self, volume: Volume) -> None:
        self.volume = volume
        self.processes: list[Process] = []
        self.heal: list[HealBrick] | None = None
        self.split_brain: list[HealBrick] | None = None

    @property
    def bricks(self) -> list[Process]:
        """The brick processes volume status listed."""
        return [process for process in self.processes if process.brick]


def findings(report: Report) -> list[tuple[int, str]]:
    """What is wrong with a volume apart from its numbers: (state, words), worst first.

    A brick already named offline or missing is not named again for heal info.
    """
    volume = report.volume
    if not volume.started:
        return [(CRITICAL, f"volume is {volume.status}")]
    found = []
    listed = {process.name: process for process in report.bricks}
    named = set()
    for brick in volume.bricks:
        if brick not in listed:
            found.append((CRITICAL, f"brick {brick} not in volume status (its peer is down?)"))
        elif not listed[brick].online:
            found.append((CRITICAL, f"brick {brick} offline"))
        else:
            continue
        named.add(brick)
    unreached: dict[str, list[str]] = {}  # why -> bricks, so that each reason is said once
    for heal_brick in (report.heal or []) + (report.split_brain or []):
        if not heal_brick.connected and heal_brick.name not in named:
            named.add(heal_brick.name)
            unreached.setdefault(heal_brick.status, []).append(heal_brick.name)
    for why, bricks in unreached.items():
        found.append((CRITICAL, f"heal info cannot reach {', '.join(bricks)}: {why}"))
    for process in report.processes:
        if not process.brick and not process.online:
            found.append((WARNING, f"{process.name} offline"))
    return sorted(found, key=lambda finding: -finding[0])


def pending(bricks: list[HealBrick]) -> int:
    """Entries to heal over the bricks that could be counted."""
    return sum(brick.entries or 0 for brick in bricks if brick.connected)


class Gluster:
    """Runs the gluster CLI in script mode within what is left of -t: gathering only."""

    def __init__(self, program: str, sudo: bool) -> None:
        self.tool = external.Tool(program, sudo, "check_glusterfs")

    def ask(self, *arguments: str, optional: bool = False) -> str | None:
        """The CLI's XML answer to ``gluster ARGUMENTS --xml``; glusterd down is CRITICAL.

        glusterd runs one transaction at a time across the pool: a command that meets
        another one (an admin's, another check's) fails with ``Another transaction is in
        progress``; it is asked once more after a second rather than reported. An
        ``optional`` command this CLI does not know (it prints its usage, no XML) is None;
        through sudo, whose wrapper reads a failure without output as its own refusal,
        that refusal too (sudo already ran the commands before it).
        """
        try:
            done = self._run(arguments)
        except CannotCheck:
            if optional:
                return None
            raise
        if BUSY in done.stdout and (remaining() or 120) > 3:
            time.sleep(1)
            done = self._run(arguments)
        if unreachable(done.stdout + done.stderr):
            raise ServiceDown(
                f"glusterd is not running or not answering: gluster says '{NOT_CONNECTED}'"
            )
        if done.returncode and not done.stdout.lstrip().startswith("<"):
            if optional:
                return None
            said = screen(done.stderr or done.stdout)[:200] or "nothing"
            raise CannotCheck(f"gluster {' '.join(arguments)} exited {done.returncode}: {said}")
        return done.stdout

    def answer(self, *arguments: str) -> str:
        """:meth:`ask` of a command every CLI knows."""
        text = self.ask(*arguments)
        assert text is not None
        return text

    def _run(self, arguments: tuple[str, ...]) -> external.Completed:
        wait = max(int(remaining() or 120) - 1, 1)
        command = ["--mode=script", f"--timeout={wait}", *arguments, "--xml"]
        return self.tool.run(command, f"running gluster {' '.join(arguments)}")


class Volumes(nagiosplugin.Resource):
    """The volumes named, or all: one report each, then metrics a context judges."""

    def __init__(self, gluster: Gluster, names: list[str], heal: bool) -> None:
        self.gluster, self.names, self.heal = gluster, names, heal
        self.reports: dict[str, Report] = {}
        #: metric name -> the volume it belongs to
        self.owners: dict[str, str] = {}

    def probe(self) -> list[nagiosplugin.Metric]:
        """A ``volume`` metric per volume (its findings), then its bricks' and heal numbers.

        Every volume: one ``volume status all detail`` (glusterd skips stopped volumes);
        named ones: one status each, so that a volume's absence is an error of its own.
        """
        volumes = self._selected(parse_volume_info(self.gluster.answer("volume", "info")))
        started = [volume.name for volume in volumes if volume.started]
        statuses = {}
        if started and not self.names:
            statuses = parse_volume_status(self.gluster.answer("volume", "status", "all", "detail"))
        for volume in volumes:
            report = self.reports[volume.name] = Report(volume)
            if volume.started:
                self._read(report, statuses)
        metrics = []
        for name, report in self.reports.items():
            metrics.append(self._metric(name, f"volume {name}", report, "volume"))
            metrics += self._numbers(report)
        return metrics

    def _selected(self, volumes: list[Volume]) -> list[Volume]:
        if not volumes:
            raise CannotCheck("gluster volume info lists no volume")
        if not self.names:
            return volumes
        known = {volume.name: volume for volume in volumes}
        missing = [name for name in self.names if name not in known]
        if missing:
            raise CannotCheck(
                f"no volume {', '.join(missing)} (gluster has {', '.join(known) or 'none'})"
            )
        return [known[name] for name in dict.fromkeys(self.names)]

    def _read(self, report: Report, statuses: dict[str, list[Process]]) -> None:
        name = report.volume.name
        asked = "all" if statuses else name
        if not statuses:
            statuses = parse_volume_status(self.gluster.answer("volume", "status", name, "detail"))
        if name not in statuses:
            raise ParseError(f"gluster volume status {asked} detail did not list volume {name}")
        report.processes = statuses[name]
        if self.heal and report.volume.heals:
            self._heal(report)

    def _heal(self, report: Report) -> None:
        """Entries to heal and in split-brain: one ``heal info summary`` (one crawl of the
        bricks' indices, GlusterFS 4 and later), else ``heal info`` and ``info split-brain``."""
        name = report.volume.name
        summary = self.gluster.ask("volume", "heal", name, "info", "summary", optional=True)
        if summary is not None:
            report.heal = parse_heal_info(summary, "gluster volume heal info summary")
            report.split_brain = [
                HealBrick(brick.name, brick.status, brick.split_brain) for brick in report.heal
            ]
            return
        report.heal = parse_heal_info(
            self.gluster.answer("volume", "heal", name, "info"), "gluster volume heal info"
        )
        report.split_brain = parse_heal_info(
            self.gluster.answer("volume", "heal", name, "info", "split-brain"),
            "gluster volume heal info split-brain",
        )

    def _numbers(self, report: Report) -> list[nagiosplugin.Metric]:
        name = report.volume.name
        metrics = []
        for brick in report.bricks:
            if brick.size_total and brick.size_free is not None:
                share = 100.0 * brick.size_free / brick.size_total
                metrics.append(self._metric(name, f"{brick.name}_free", share, "free", "%", 0, 100))
                metrics.append(
                    self._metric(name, f"{brick.name}_free_bytes", brick.size_free, "free_bytes",
                                 "B", 0, brick.size_total)
                )  # fmt: skip
        if report.heal is not None:
            metrics.append(
                self._metric(name, f"{name}_heal_pending", pending(report.heal), "heal", "", 0)
            )
        if report.split_brain is not None:
            count = pending(report.split_brain)
            metrics.append(self._metric(name, f"{name}_split_brain", count, "split_brain", "", 0))
        return metrics

    def _metric(
        self, volume: str, label: str, value: object, context: str, uom: str = "",
        minimum: float | None = None, maximum: float | None = None,
    ) -> nagiosplugin.Metric:  # fmt: skip
        self.owners[label] = volume
        return nagiosplugin.Metric(label, value, uom or None, minimum, maximum, context)


class VolumeState(nagiosplugin.Context):
    """A volume's state apart from its numbers: started, bricks online, daemons, reach."""

    def __init__(self) -> None:
        super().__init__("volume", result_cls=Verdict)

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """The worst finding's state; the findings as the hint."""
        found = findings(metric.value)
        worst = max((level for level, _ in found), default=OK)
        return Verdict(STATES[worst], ", ".join(text for _, text in found) or None, metric)

    def performance(self, metric: nagiosplugin.Metric, resource: object) -> None:
        """No perfdata: the numbers are metrics of their own."""

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """The volume is named by the summary's grouping."""
        return ""


def describe(metric: nagiosplugin.Metric) -> str:
    """``node1:/data free 4.2%``, ``node1:/data free 1.5 GiB``, ``heal pending 5``."""
    if metric.context == "free":
        return f"{metric.name.removesuffix('_free')} free {show(metric.value, '%')}"
    if metric.context == "free_bytes":
        return f"{metric.name.removesuffix('_free_bytes')} free {show(metric.value, 'B')}"
    words = "heal pending" if metric.context == "heal" else "split-brain entries"
    return f"{words} {metric.value}"


class GlusterSummary(Summary):
    """Status line naming each troubled volume, worst first; one line per volume below."""

    def __init__(self) -> None:
        super().__init__(long_output=True)

    def ok(self, results: nagiosplugin.Results) -> str:
        """``2 volumes fine: gv0 (3/3 bricks online, 0 to heal), gv1 (2/2 bricks online)``."""
        parts = [_facts(report) for report in _resource(results).reports.values()]
        count = len(parts)
        return f"{count} volume{'s'[: count - 1]} fine: {', '.join(parts)}"

    def problem(self, results: nagiosplugin.Results) -> str:
        """``gv0: brick node2:/data offline, heal pending 5 > 0; gv1: …``."""
        troubled = []
        for volume, volume_results in _by_volume(results):
            worst = max(result.state for result in volume_results)
            if worst != nagiosplugin.Ok:
                problems = [str(r) for r in sorted(volume_results, key=lambda r: -r.state.code)
                            if r.state != nagiosplugin.Ok]  # fmt: skip
                troubled.append((worst.code, f"{volume}: {', '.join(problems)}"))
        return "; ".join(text for _, text in sorted(troubled, key=lambda item: -item[0]))

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        """Per volume a line with its state, facts and problems, then one line per brick."""
        reports = _resource(results).reports
        lines = []
        for volume, volume_results in _by_volume(results):
            worst = max(result.state for result in volume_results)
            problems = [str(r) for r in volume_results if r.state != nagiosplugin.Ok]
            facts = _facts(reports[volume])
            lines.append(
                f"{STATE_NAMES[worst.code]}: {facts}"
                + (f": {', '.join(problems)}" if problems else "")
            )
            lines += [f"brick {_brick_line(brick)}" for brick in reports[volume].bricks]
        return lines


def _brick_line(brick: Process) -> str:
    """``node1:/data online, free 95.2% (18.2 GiB of 19.1 GiB)``."""
    line = f"{brick.name} {'online' if brick.online else 'OFFLINE'}"
    if brick.size_total and brick.size_free is not None:
        share = show(100.0 * brick.size_free / brick.size_total, "%")
        line += f", free {share} ({show(brick.size_free, 'B')} of {show(brick.size_total, 'B')})"
    return line


def _facts(report: Report) -> str:
    volume = report.volume
    if not volume.started:
        return f"{volume.name} ({volume.status})"
    online = sum(1 for brick in report.bricks if brick.online)
    facts = [f"{online}/{len(volume.bricks)} bricks online"]
    if report.heal is not None:
        facts.append(f"{pending(report.heal)} to heal")
    return f"{volume.name} ({', '.join(facts)})"


def _resource(results: nagiosplugin.Results) -> Volumes:
    resource: Volumes = results.results[0].resource
    return resource


def _by_volume(results: nagiosplugin.Results) -> list[tuple[str, list[nagiosplugin.Result]]]:
    owners = _resource(results).owners
    grouped: dict[str, list[nagiosplugin.Result]] = {}
    for result in results.results:
        grouped.setdefault(owners[result.metric.name], []).append(result)
    return list(grouped.items())


def build_parser() -> Parser:
    """check_glusterfs's options."""
    parser = Parser(
        "check_glusterfs",
        __doc__.split("\n\n")[0],
        examples=(
            "check_glusterfs                               every volume of the pool",
            "check_glusterfs --volume gv0 --volume gv1     these volumes",
            "check_glusterfs --warning-free 20: --critical-free-bytes 50G:",
            "check_glusterfs --warning-heal 100 --critical-heal 1000",
            "check_glusterfs --sudo                        as nagios, gluster through sudo -n",
        ),
        timeout=30,
    )
    parser.add_argument(
        "--volume",
        action="append",
        default=[],
        metavar="VOL",
        help="a volume to check, repeatable (default: every volume gluster volume info lists)",
    )
    parser.add_argument(
        "--no-heal",
        action="store_true",
        help="skip heal info and split-brain (on huge volumes heal info crawls long)",
    )
    add_thresholds(
        parser, "each brick's free space in %%", metric="free", short=True, defaults=("10:", "5:")
    )
    add_thresholds(parser, "each brick's free bytes (20G:)", metric="free-bytes", scale=BYTES)
    add_thresholds(parser, "a volume's entries to heal", metric="heal", defaults=("0", None))
    add_thresholds(
        parser, "a volume's split-brain entries", metric="split-brain", defaults=(None, "0")
    )
    external.add_tool_options(parser, "gluster", "nagios ALL=(root) NOPASSWD: /usr/sbin/gluster")
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    return nagiosplugin.Check(
        Volumes(Gluster(args.gluster, args.sudo), args.volume, not args.no_heal),
        VolumeState(),
        Threshold("free", args.warning_free, args.critical_free, describe),
        Threshold("free_bytes", args.warning_free_bytes, args.critical_free_bytes, describe),
        Threshold("heal", args.warning_heal, args.critical_heal, describe),
        Threshold("split_brain", args.warning_split_brain, args.critical_split_brain, describe),
        GlusterSummary(),
    )


PLUGIN = Plugin(
    "glusterfs",
    build_parser,
    make_check,
    services=("vigie-glusterfs",),
    nagios=("glusterfs",),
    bench=(
        Bench("check_glusterfs (4 bricks, heal info, stub gluster)",
              ("--gluster", "{gluster:healthy}"), kind="tool"),
    ),
)  # fmt: skip
main = PLUGIN.main
