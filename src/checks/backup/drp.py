"""check_drp: would the DRP work now, and how long would an activation take?

A backup never restored and a DRP server never tried are hopes. This check reads what
``drp drill`` and ``drp prestage`` leave in the state directory, the snapshots' MANIFESTs,
the runbook journals and, when configured, the DNS, and judges per environment of
``drp.toml``:

- the last drill (``drill.<env>.<target>`` records): a target whose latest drill failed
  (``--failed-drill``, default critical: a backup that does not restore), and the age of
  the newest successful one (``--*-drill``, default critical above 8 days; never drilled
  is critical);
- the last pre-staging (``prestage.<env>``): its age (``--*-prestage``, default warning
  above 26 h: the nightly timer missed a night), or never pre-staged (``--unstaged``);
- what an activation would still have to copy: the bytes of the files of the newest
  complete snapshot that are new or changed (path, size, mtime, sha256) against the
  snapshot the pre-staging restored, from the two MANIFESTs (everything when never
  pre-staged), and the predicted RTO (``--*-rto``, default warning above 10 min,
  critical above 30 min): those bytes at the files' restore throughput the last drill
  measured (else that of the pre-staging's copy), or the database imports the drill
  timed (an activation redoes them in full whatever was pre-staged, while it copies),
  whichever is longer;
- the DRP server: its root reachable (locally, or by ssh as drp reaches it) and with room
  for what is still to copy (critical otherwise);
- with ``[dns]``: the TTL of each record on the zone's primary, against the warning RTO
  (a resolver keeps the old address that long after the switch: warning);
- whether an activation or a failback is running now (a runbook holds drp's lock), or
  the site runs on the DRP server (an activation in force with no failback since, or the
  records answering the DRP's addresses): first in the status line, warning by default
  (``--on-drp``: during a disaster the service is known and the check must not page
  about it for hours, so ``--on-drp ok`` keeps it as information).

Snapshots and MANIFESTs are read on the targets as the DRP server reaches them
(``[drp.targets.X]``): local directories always, ssh targets only with
``--remote-targets`` (one listing per target and run; the monitoring user then needs
drp's ssh access, which a site may not want to give it). A complete snapshot never
changes, so the delta of two of them is computed once and remembered in the state.

Why one module of about 700 lines: it is one judgement, "would an activation work, and
how fast", whose parts feed one another (the delta feeds the RTO and the space needed,
the RTO goal bounds the TTLs); the pure parts (:func:`to_move`, the rates,
:func:`parse_statfs`) come first, then the reading, then the wording. What drp writes is
read with drptools' own modules (:mod:`drptools.status`, :mod:`drptools.manifest`,
:mod:`drptools.journal`, :mod:`drptools.targets`).
"""

from __future__ import annotations

import argparse
import contextlib
import os

import nagiosplugin
from nagiosplugin.state import Ok

from checks.backup._findings import Finding, finding, locked
from checks.core.cli import Parser, add_thresholds, state
from checks.core.errors import CannotCheck
from checks.core.evaluate import Summary, Threshold, show
from checks.core.runtime import Bench, Plugin, doing, remaining
from checks.core.units import SECONDS
from drptools import layout, manifest, status
from drptools.config import DEFAULT_PATH

TYPE_CHECKING = False
if TYPE_CHECKING:
    from checks.clients.dns import Reply
    from drptools.config import Config, Environment
    from drptools.config.model import Dns
    from drptools.targets import Place

#: Fewer bytes than this moved by a pre-staging say more about rsync's scan than about
#: the link: no throughput is taken from such a copy.
MIN_MEASURED_BYTES = 64 * 1024 * 1024
#: State file (checks.core.statefile) of the deltas already computed.
DELTAS = "drp-deltas"
#: Seconds one DNS query may take at most (less when -t leaves less).
DNS_TIMEOUT = 3.0
#: Seconds kept from -t after the DRP server was asked, to judge and print.
REPORT_MARGIN = 0.5
#: ssh's exit status when it failed itself (could not connect, log in …).
SSH_FAILED = 255
#: The lock every drp runbook holds (drptools.runbook.LOCK; that module is not imported
#: for it: it pulls in statistics and secrets).
RUNBOOK_LOCK = "runbook"


# --- pure parts ------------------------------------------------------------------------


def to_move(newest: dict[bytes, bytes], staged: dict[bytes, bytes]) -> tuple[int, int]:
    """Bytes of the files of ``newest`` that ``staged`` lacks or holds otherwise (path,
    size, mtime or sha256 differ), and the total of ``newest``: MANIFEST entries."""
    held = {(manifest.key_content(key), digest) for key, digest in staged.items()}
    total = moved = 0
    for key, digest in newest.items():
        size = manifest.key_size(key)
        total += size
        if (manifest.key_content(key), digest) not in held:
            moved += size
    return moved, total


def number(value: object) -> float | None:
    """A record's field as a number (None for anything else, booleans included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def drill_rate(record: dict[str, object]) -> float | None:
    """Bytes per second of a drill's file restore (``bytes`` over ``parts.files``)."""
    parts = record.get("parts")
    seconds = number(parts.get("files")) if isinstance(parts, dict) else None
    size = number(record.get("bytes"))
    if seconds and size and seconds > 0 and size > 0:
        return size / seconds
    return None


def database_seconds(record: dict[str, object]) -> float:
    """The seconds a drill spent importing databases (its ``db:<name>`` parts)."""
    parts = record.get("parts")
    if not isinstance(parts, dict):
        return 0.0
    return sum(number(value) or 0.0 for key, value in parts.items() if str(key).startswith("db:"))


def copy_rate(records: list[dict[str, object]]) -> float | None:
    """Bytes per second of the file copies of a runbook's journal (what rsync moved over
    the time the steps took), when they moved enough to measure."""
    moved = seconds = 0.0
    for record in records:
        details = record.get("details")
        if (
            record.get("event") == "end"
            and record.get("kind") == "copy-files"
            and record.get("result") == "ok"
            and isinstance(details, dict)
        ):
            moved += number(details.get("moved")) or 0.0
            seconds += number(record.get("seconds")) or 0.0
    return moved / seconds if moved >= MIN_MEASURED_BYTES and seconds > 0 else None


def parse_statfs(text: str) -> int:
    """Free bytes from ``stat -f -c '%a %S'`` (blocks available, block size)."""
    fields = text.split()
    if len(fields) != 2 or not all(field.isascii() and field.isdigit() for field in fields):
        raise ValueError(f"not 'blocks size': {text.strip()[:80]!r}")
    return int(fields[0]) * int(fields[1])


# --- reading ---------------------------------------------------------------------------


class CannotRead(Exception):  # noqa: N818 - a reason, not an error: it becomes a finding
    """A target whose snapshots this run does not read, and why."""


def _record(name: str) -> dict[str, object] | None:
    try:
        return status.read(name)
    except status.Unreadable as error:
        raise CannotCheck(str(error)) from None


class Snapshot:
    """A complete snapshot on a target: where its MANIFEST is, and how to read it (here,
    or on ``place`` over ssh)."""

    __slots__ = ("directory", "place", "stamp", "target")

    def __init__(self, target: str, stamp: str, directory: str, place: Place | None) -> None:
        self.target, self.stamp, self.directory, self.place = target, stamp, directory, place

    @property
    def manifest_path(self) -> str:
        return f"{self.directory}/{layout.MANIFEST}"

    def identity(self) -> list[int]:
        """Inode, size and mtime of a local MANIFEST (nothing for a remote one: its stamp
        names it, and a complete snapshot never changes)."""
        if self.place is not None:
            return []
        try:
            info = os.stat(self.manifest_path)
        except OSError:
            return [0, 0, 0]
        return [info.st_ino, info.st_size, info.st_mtime_ns]

    def read(self) -> bytes | None:
        """The MANIFEST's bytes; None when it is not there."""
        if self.place is not None:
            return self.place.read(self.manifest_path)
        try:
            with open(self.manifest_path, "rb") as file:
                return file.read()
        except FileNotFoundError:
            return None

    def entries(self) -> dict[bytes, bytes]:
        """The MANIFEST's entries; UNKNOWN when it cannot be used."""
        try:
            data = self.read()
        except OSError as error:
            raise CannotCheck(f"cannot read {self.manifest_path}: {error.strerror}") from None
        if data is None:
            raise CannotCheck(f"{self.manifest_path} on {self.target} is gone")
        try:
            return manifest.parse_manifest(data)
        except manifest.ManifestError as error:
            raise CannotCheck(f"{self.manifest_path} on {self.target}: {error}") from None


class Readiness(nagiosplugin.Resource):
    """Drills, pre-staging, the predicted RTO, the DRP server, the DNS, the site's side."""

    def __init__(
        self, config: Config, environments: list[Environment], now: float,
        remote_targets: bool = False,
    ) -> None:  # fmt: skip
        self.config = config
        self.environments = environments
        self.now = now
        #: Whether snapshots on ssh targets are listed and their MANIFESTs fetched.
        self.remote_targets = remote_targets
        self.known_deltas: dict[str, object] | None = None
        self.used_deltas: dict[str, object] = {}

    def probe(self) -> list[nagiosplugin.Metric]:
        """Where the site runs first, then each environment, then the DRP server."""
        metrics = self._side()
        required = 0
        for environment in self.environments:
            with doing(f"reading the drills and pre-staging of {environment.name}"):
                found, moving = self._environment(environment.name)
            metrics += found
            required += moving
        self._save_deltas()
        if self.config.dns is not None:
            metrics += self._dns()
        with doing("asking the DRP server for its free space"):
            metrics += self._drp_server(required)
        return metrics

    # --- where the site runs ----------------------------------------------------------

    def _side(self) -> list[nagiosplugin.Metric]:
        """A runbook running now, or an activation in force."""
        runs = os.path.join(status.state_dir(), "runs")
        try:
            names = sorted(name for name in os.listdir(runs) if name.endswith(".jsonl"))
        except FileNotFoundError:
            return []
        found = []
        if locked(status.LocalLock(RUNBOOK_LOCK).path):
            running = _running_run(names)
            kind = running.split("-", 1)[0] if running else "a runbook"
            text = f"{kind} {running} in progress" if running else "a drp runbook is running"
            found.append(finding(text, "note" if kind in ("prestage", "drill") else "on_drp"))
        if any(name.startswith("activate-") for name in names):
            from drptools.actions.common import activation_in_force

            active = activation_in_force()
            if active is not None:
                found.append(finding(f"the site runs on the DRP server (activation {active[0]}, "
                                     "no failback since)", "on_drp"))  # fmt: skip
        return found

    # --- an environment ---------------------------------------------------------------

    def _environment(self, name: str) -> tuple[list[nagiosplugin.Metric], int]:
        """Its drills, its pre-staging, what is left to move and the predicted RTO."""
        metrics, drill = self._drills(name)
        prestage = _record(f"prestage.{name}")
        if prestage is None:
            metrics.append(finding(f"{name}: never pre-staged (drp prestage): an activation "
                                   "copies everything", "unstaged"))  # fmt: skip
        elif (when := number(prestage.get("time"))) is not None:
            metrics.append(nagiosplugin.Metric(f"{name}/prestage", round(self.now - when), "s",
                                               context="prestage"))  # fmt: skip
        newest, unread = self._newest(name)
        if newest is None:
            why = f" ({'; '.join(unread)})" if unread else ""
            metrics.append(finding(f"{name}: no complete snapshot to predict the activation "
                                   f"from{why}", "unpredictable"))  # fmt: skip
            return metrics, 0
        moving, note = self._delta(name, newest, prestage)
        if note:
            metrics.append(finding(note, "note"))
        metrics.append(nagiosplugin.Metric(f"{name}/to_move", moving, "B", min=0,
                                           context="to_move"))  # fmt: skip
        rate = drill_rate(drill) if drill else None
        if rate is None and prestage is not None and isinstance(prestage.get("run"), str):
            rate = _journal_rate(str(prestage["run"]))
        if rate is None and moving:
            metrics.append(finding(f"{name}: no restore throughput measured yet (drp drill "
                                   "measures it): no RTO predicted", "unpredictable"))  # fmt: skip
            return metrics, moving
        # An activation imports the databases while it copies the files (runbook lanes).
        rto = max(moving / rate if rate else 0.0, database_seconds(drill) if drill else 0.0)
        metrics.append(nagiosplugin.Metric(f"{name}/rto", round(rto), "s", min=0, context="rto"))
        return metrics, moving

    def _drills(self, name: str) -> tuple[list[nagiosplugin.Metric], dict[str, object] | None]:
        """Failed drills per target, the age of the newest good one; and that one."""
        metrics = []
        good: list[tuple[float, dict[str, object]]] = []
        for target in self.config.targets:
            record = _record(status.record_name("drill", name, target))
            if record is None:
                continue
            finished = number(record.get("finished")) or number(record.get("started"))
            if record.get("result") == status.OK and finished is not None:
                good.append((finished, record))
            elif record.get("result") == status.FAILED:
                listed = record.get("problems")
                problems = [str(p) for p in listed] if isinstance(listed, list) else []
                why = problems[0] if problems else "no reason recorded"
                more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
                ago = f" {show(self.now - finished, 's')} ago" if finished is not None else ""
                metrics.append(finding(f"{name}: the drill on {target}{ago} failed: {why}{more}",
                                       "failed_drill"))  # fmt: skip
        if not good:
            if not metrics:
                metrics.append(finding(f"{name}: never drilled (drp drill)", "undrilled"))
            return metrics, None
        finished, record = max(good, key=lambda pair: pair[0])
        metrics.append(nagiosplugin.Metric(f"{name}/drill", round(self.now - finished), "s",
                                           context="drill"))  # fmt: skip
        return metrics, record

    def _place(self, target: str) -> tuple[str, Place | None]:
        """The root of ``target`` as the DRP server reaches it, and the place to run
        commands on when that is over ssh; CannotRead when it is and that is not asked."""
        if self.config.drp is not None:
            location, ssh_config = self.config.drp.targets[target]
        else:
            location = self.config.targets[target].location
            ssh_config = self.config.targets[target].ssh_config
        if not location.is_remote:
            return location.path, None
        if not self.remote_targets:
            raise CannotRead(f"{target} is reached by ssh ({location}; --remote-targets reads it)")
        from drptools.config import Target
        from drptools.targets import Place

        datacenter = self.config.targets[target].datacenter
        return location.path, Place(Target(target, location, datacenter, ssh_config))

    def _newest(self, name: str) -> tuple[Snapshot | None, list[str]]:
        """The newest complete snapshot of ``name`` (on a tie, B's, as drp chooses), and
        why targets could not be read."""
        from checks.backup.backup import snapshot_states
        from drptools.errors import Failure

        found, unread = [], []
        for target in self.config.targets:
            try:
                root, place = self._place(target)
                directory = layout.files_dir(root, name)
                if place is None:
                    states = snapshot_states(directory)
                else:
                    with doing(f"listing the snapshots of {name} on {place}"):
                        names = place.listing(directory, 2) or set()
                    states = [(s.name, s.state) for s in layout.classify_snapshots(names)]
            except (CannotRead, Failure) as error:
                unread.append(str(error))
                continue
            complete = [stamp for stamp, state in states if state == layout.COMPLETE]
            if complete:
                found.append((complete[-1], target, directory, place))
        if not found:
            return None, unread
        stamp, target, directory, place = max(found, key=lambda item: item[:2])
        return Snapshot(target, stamp, f"{directory}/{stamp}", place), unread

    def _delta(
        self, name: str, newest: Snapshot, prestage: dict[str, object] | None
    ) -> tuple[int, str | None]:
        """Bytes the activation would copy, and a note when the pre-staged snapshot cannot
        be read (all of the newest one is then counted)."""
        from drptools.errors import Failure

        staged = None
        if prestage is not None:
            target, stamp = str(prestage.get("target")), str(prestage.get("snapshot"))
            if (target, stamp) == (newest.target, newest.stamp):
                return 0, None
            if target in self.config.targets:
                with contextlib.suppress(CannotRead):
                    root, place = self._place(target)
                    staged = Snapshot(target, stamp, f"{layout.files_dir(root, name)}/{stamp}",
                                      place)  # fmt: skip
        unread = (
            f"{name}: the pre-staged snapshot {prestage.get('snapshot')} of "
            f"{prestage.get('target')} cannot be read here: all of the newest one is counted"
            if prestage is not None
            else None
        )
        note = unread if staged is None else None
        against = f"{staged.target}/{staged.stamp}" if staged else "-"
        key = f"{name} {newest.target}/{newest.stamp} {against}"
        identity = [newest.identity(), staged.identity() if staged else []]
        cached = self._known_deltas().get(key)
        if isinstance(cached, list) and cached[:-1] == identity:
            self.used_deltas[key] = cached
            return int(cached[-1]), note
        staged_entries: dict[bytes, bytes] = {}
        if staged is not None:
            try:
                staged_entries = staged.entries()
            except (CannotCheck, Failure):  # pruned since, or damaged: count it all
                return self._delta(name, newest, None)[0], unread
        moving, _ = to_move(newest.entries(), staged_entries)
        self.used_deltas[key] = [*identity, moving]
        return moving, note

    def _known_deltas(self) -> dict[str, object]:
        """The deltas earlier runs computed, read once."""
        if self.known_deltas is None:
            from checks.core import statefile

            known = statefile.load(DELTAS)
            self.known_deltas = known if isinstance(known, dict) else {}
        return self.known_deltas

    def _save_deltas(self) -> None:
        """Remember the deltas of this run's snapshots, and forget the others (only when
        that changes anything)."""
        if self.used_deltas and self.used_deltas != self.known_deltas:
            from checks.core import statefile

            statefile.save(DELTAS, self.used_deltas)

    # --- DNS ----------------------------------------------------------------------------

    def _dns(self) -> list[nagiosplugin.Metric]:
        """Each record's TTL on the primary, and whether it answers the DRP's addresses."""
        import ipaddress

        config = self.config.dns
        assert config is not None
        side = self.config.drp
        drp = {str(ipaddress.ip_address(a)) for a in side.addresses} if side else set()
        metrics = []
        for environment in self.environments:
            for name in config.records.get(environment.name, ()):
                try:
                    reply = _ask(config, name)
                except (OSError, ValueError) as error:
                    metrics.append(finding(f"{name}: the primary {config.primary} does not "
                                           f"answer: {error}", "dns"))  # fmt: skip
                    continue
                if reply.ttl is None:
                    metrics.append(finding(f"{name}: no address on the primary {config.primary} "
                                           f"({reply.rcode})", "dns"))  # fmt: skip
                    continue
                metrics.append(nagiosplugin.Metric(f"{name}/ttl", reply.ttl, "s", min=0,
                                                   context="ttl"))  # fmt: skip
                answered = {str(ipaddress.ip_address(a)) for a in reply.records}
                if answered and answered <= drp:
                    metrics.append(finding(f"{name} answers the DRP server's addresses: the site "
                                           "runs on the DRP server", "on_drp"))  # fmt: skip
        return metrics

    # --- the DRP server ---------------------------------------------------------------

    def _drp_server(self, required: int) -> list[nagiosplugin.Metric]:
        """Reachable, and with room for what is still to copy."""
        side = self.config.drp
        assert side is not None
        where = str(side.location)
        if side.location.is_remote:
            free, problem = _remote_free(self.config)
        else:
            try:
                info = os.statvfs(side.location.path)
                free, problem = info.f_bavail * info.f_frsize, None
            except OSError as error:
                free, problem = None, f"the DRP root {where} cannot be used: {error.strerror}"
        if free is None:
            return [finding(problem or f"the DRP server {where} is unreachable", "unreachable")]
        metrics = [nagiosplugin.Metric("drp/free", free, "B", min=0, context="free")]
        if free < required:
            metrics.append(finding(f"the DRP server has {show(free, 'B')} free at {where}, "
                                   f"the activation would copy {show(required, 'B')}",
                                   "unreachable"))  # fmt: skip
        return metrics


def _ask(config: Dns, name: str) -> Reply:
    """The A records of ``name`` on the zone's primary, else its AAAA ones, each query
    bounded by a share of what is left of ``-t``."""
    from checks.clients import dns as client

    reply = None
    for kind in ("A", "AAAA"):
        with doing(f"asking {config.primary} for {name} {kind}"):
            timeout = min(DNS_TIMEOUT, (remaining() or DNS_TIMEOUT) / 3)
            reply = client.query(name, kind, config.primary, config.port, timeout)
        if reply.records:
            break
    assert reply is not None
    return reply


def _running_run(names: list[str]) -> str | None:
    """The run id of the journal, newest first, whose last begin or resume was written by
    the process that holds the runbook lock now (the newest unfinished one when the lock
    does not say who holds it)."""
    from drptools import journal
    from drptools.errors import Failure

    try:
        with open(status.LocalLock(RUNBOOK_LOCK).path, encoding="ascii", errors="replace") as file:
            holder = file.read(64).split()
    except OSError:
        holder = []
    pid = int(holder[0]) if holder and holder[0].isdigit() else None
    for name in sorted(names, key=lambda run: run.split("-", 1)[-1], reverse=True):
        run_id = name[: -len(".jsonl")]
        try:
            records = journal.read(run_id)
        except Failure:  # being written, or damaged: not the running one
            records = []
        started = [r.get("pid") for r in records if r.get("event") in ("begin", "resume")]
        if journal.finish(records) is None and started and pid in (None, started[-1]):
            return run_id
    return None


def _journal_rate(run_id: str) -> float | None:
    """The copy throughput of a pre-staging run, from its journal (None: unreadable)."""
    from drptools import journal
    from drptools.errors import Failure

    try:
        return copy_rate(journal.read(run_id))
    except Failure:
        return None


def _remote_free(config: Config) -> tuple[int | None, str | None]:
    """Free bytes at the DRP root over ssh, as drp reaches it; or why it cannot be told."""
    from checks.core import external
    from drptools.config import Target
    from drptools.targets import Place

    side = config.drp
    assert side is not None
    place = Place(Target("drp", side.location, side.datacenter, side.ssh_config))
    argv = place.command(["stat", "-f", "-c", "%a %S", "--", side.location.path])
    what = f"asking the DRP server {side.location} for its free space"
    try:  # ends before -t does, so that an ssh that hangs is judged, not timed out
        done = external.run(argv, what, timeout=max((remaining() or 10) - REPORT_MARGIN, 0.1))
    except CannotCheck as error:
        return None, f"the DRP server {side.location} is unreachable: {error}"
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        if done.returncode == SSH_FAILED:
            return None, f"the DRP server {side.location} is unreachable: {said}"
        return None, f"the DRP root {side.location} cannot be used: {said}"
    try:
        return parse_statfs(done.stdout), None
    except ValueError as error:
        return None, f"the DRP server {side.location} answered garbage: {error}"


# --- judging and wording ---------------------------------------------------------------

#: How each metric reads, after its environment (or record name).
WORDS = {"drill": "drilled {} ago", "prestage": "pre-staged {} ago", "to_move": "{} to move",
         "rto": "predicted RTO {}", "free": "{} free", "ttl": "TTL {}"}  # fmt: skip
#: Findings that are shown in an OK status line too.
NOTES = ("on_drp", "note", "unstaged")


def owner(metric: nagiosplugin.Metric) -> str:
    """What a metric is about: its environment, its DNS name, or the DRP server."""
    name = str(metric.name).rsplit("/", 1)[0]
    return "DRP server" if name == "drp" else name


def figure(metric: nagiosplugin.Metric) -> str:
    """``drilled 2 d ago``, ``1 GiB to move``, ``TTL 5 min`` …"""
    return WORDS[str(metric.context)].format(show(metric.value, metric.uom or ""))


def describe(metric: nagiosplugin.Metric) -> str:
    """``www drilled 2 d ago``, ``www 1 GiB to move``, ``DRP server 50 GiB free`` …"""
    return f"{owner(metric)} {figure(metric)}"


class DrpSummary(Summary):
    """Where the site runs first, then ``www: drilled 2 d ago, pre-staged 5 h ago, …``."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """The notes first, then each owner's figures."""
        notes = []
        grouped: dict[str, list[str]] = {}
        for result in results:
            metric = result.metric
            if metric is None:
                continue
            if str(metric.context) in NOTES:
                notes.append(str(result))
            elif str(metric.context) in WORDS:
                grouped.setdefault(owner(metric), []).append(figure(metric))
        figures = [f"{name}: {', '.join(texts)}" for name, texts in grouped.items()]
        return "; ".join(notes + figures)

    def problem(self, results: nagiosplugin.Results) -> str:
        """Every problem, worst first, but those about where the site runs before all."""
        problems = [result for result in results if result.state != Ok]
        side = [r for r in problems if r.metric is not None and r.metric.context == "on_drp"]
        return ", ".join(str(result) for result in side + [r for r in problems if r not in side])


def build_parser() -> Parser:
    """check_drp's options: ages and the RTO with duration units, states for findings."""
    parser = Parser(
        "check_drp",
        __doc__.split("\n\n")[0],
        examples=(
            "check_drp                             the defaults, every environment",
            "check_drp --critical-rto 15m          a stricter RTO goal",
            "check_drp --on-drp ok                 during an outage: no alert for it",
        ),
    )
    parser.add_argument(
        "--config", default=DEFAULT_PATH, metavar="FILE",
        help="drp configuration: environments, targets, [drp], [dns] (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "-e", "--environment", action="append", metavar="NAME",
        help="judge only this environment (repeatable; default: all)",
    )  # fmt: skip
    for metric, what, defaults in (
        ("drill", "the age of the last successful drill", (None, "8d")),
        ("prestage", "the age of the last pre-staging", ("26h", None)),
        ("rto", "the predicted RTO of an activation (the warning range also bounds DNS TTLs)",
         ("10m", "30m")),
    ):  # fmt: skip
        add_thresholds(
            parser,
            f"{what}, units s m h d w",
            metric=metric,
            short=metric == "rto",
            scale=SECONDS,
            defaults=defaults,
        )
    parser.add_argument(
        "--remote-targets", action="store_true",
        help="also read the snapshots on backup targets the DRP server reaches by ssh (one "
        "listing per target and run, a MANIFEST fetched once per new snapshot; the "
        "monitoring user needs drp's ssh access)",
    )  # fmt: skip
    for option, default, what in (
        ("--failed-drill", "critical", "a target whose latest drill failed"),
        ("--unstaged", "warning", "an environment never pre-staged"),
        ("--on-drp", "warning", "an activation or failback running, or the site running on "
         "the DRP server"),
    ):  # fmt: skip
        parser.add_argument(
            option, type=state, default=default, metavar="STATE",
            help=f"state for {what} (default: {default})",
        )  # fmt: skip
    return parser


def load(path: str, names: list[str] | None) -> tuple[Config, list[Environment]]:
    """The configuration (with ``[drp]``) and the environments to judge; else UNKNOWN."""
    from checks.backup.backup import load as load_backup

    config, environments = load_backup(path, names)
    if config.drp is None:
        raise CannotCheck(f"{path} has no [drp] section: no DRP server to judge")
    return config, environments


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    with doing(f"reading {args.config}"):
        config, environments = load(args.config, args.environment)
    return nagiosplugin.Check(
        Readiness(config, environments, layout.now(), args.remote_targets),
        Threshold("drill", args.warning_drill, args.critical_drill, describe),
        Threshold("prestage", args.warning_prestage, args.critical_prestage, describe),
        Threshold("rto", args.warning_rto, args.critical_rto, describe),
        Threshold("ttl", args.warning_rto, None, describe),
        Threshold("to_move", None, None, describe),
        Threshold("free", None, None, describe),
        Finding("undrilled", 2),
        Finding("failed_drill", args.failed_drill),
        Finding("unstaged", args.unstaged),
        Finding("on_drp", args.on_drp),
        Finding("unreachable", 2),
        Finding("unpredictable", 1),
        Finding("dns", 1),
        Finding("note", 0),
        DrpSummary(),
    )


PLUGIN = Plugin(
    "drp",
    build_parser,
    make_check,
    services=("vigie-drp-readiness",),
    nagios=("drp-readiness",),
    bench=(Bench("check_drp (1 000 files on A, local DRP root)", ("--config", "{drp_config}")),),
)
main = PLUGIN.main
