"""check_backup: are the backups the site's policy promises there, complete and fresh?

The policy: every environment is backed up daily, alternating between two servers (A on
even days, B on odd days), and every database every 2 hours (at most 2 hours of data
lost). So, per environment of ``drp.toml``:

- the newest complete file snapshot on either target (``-w``/``-c``, default critical
  above 26 h: a day was missed);
- the newest complete snapshot on each target (``--target-*``, default critical above
  50 h: the alternation broke and one server only gets every other backup, or none);
- the newest complete dump of each database on any of its targets, against the RPO
  (``--db-*``, default warning above 2 h 15 min, critical above 3 h);
- the latest run of each backup failed, died, or still runs past its ``[limits]``
  maximum, hung (``--failed-run``, default warning: the ages above turn critical soon
  enough when no backup happens);
- leftovers of interrupted runs and snapshots without ``COMPLETE`` (``--incomplete``);
- on local targets, that the newest complete snapshot's ``COMPLETE`` names it and seals
  its ``MANIFEST`` (sha256 and size; the digest is cached by the manifest's inode, size,
  mtime and ctime, so it is computed once per snapshot) and that its ``data/`` exists: a
  snapshot that fails is damaged (``--damaged``, default critical) and does not count;
- the last verification of each target's files (``drp verify files --rolling DAYS``, run
  daily by a timer): one that found problems is damaged, one older than
  ``--*-verified`` (default warning above 8 days) or none at all (``--unverified``,
  default warning) is reported, because nothing else reads the files' contents again.

Ages are those of the data: from the backup's start (its stamp), not its end. The check
reads what ``drp`` writes and is cheap: the status records in the state directory, and,
for local targets, the target directories themselves (so a snapshot deleted or never
completed counts whatever the record says). Remote (ssh) targets are judged from the
status records alone: the check opens no ssh connection, which would need the backup
account's key on the monitoring side and could hang; ``drp snapshots`` and ``drp verify``
look at the remote side.

Why one module of over 450 lines: it is one judgement, the policy above, whose rules share
one walk over the targets and status records; reading what drp wrote is drptools' own
(:mod:`drptools.layout`, :mod:`drptools.manifest`, :mod:`drptools.status`).
"""

from __future__ import annotations

import argparse
import os

import nagiosplugin

from checks.backup._findings import Finding, finding, locked
from checks.core.cli import Parser, add_thresholds, state
from checks.core.errors import CannotCheck
from checks.core.evaluate import Summary, Threshold, show
from checks.core.output import STATE_NAMES
from checks.core.runtime import Bench, Plugin, doing
from checks.core.units import SECONDS
from drptools import layout, manifest, status
from drptools.config import DEFAULT_PATH, ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from drptools.config import Config, Environment


def snapshot_states(directory: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(name, state) of the snapshots in a local files directory, oldest first."""
    directory = os.fspath(directory)
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    entries = set(names)
    for name in names:
        if not name.endswith(layout.PARTIAL) and os.path.exists(
            os.path.join(directory, name, layout.MARKER)
        ):
            entries.add(f"{name}/{layout.MARKER}")
    running = locked(os.path.join(directory, layout.LOCK))
    return [(s.name, s.state) for s in layout.classify_snapshots(entries, running)]


#: State file (checks.core.statefile) of the manifest digests already computed.
DIGESTS = "backup-manifest-digests"


class Digests:
    """sha256 of manifests, remembered by inode, size, mtime and ctime across runs.

    A manifest of 100 000 files is 10 MB: hashing it at every run of a check scheduled
    every few minutes would be the check's main cost. Any write to the file, or a
    replacement of it, changes one of the key's fields (ctime cannot be set back), so a
    remembered digest is the file's digest.
    """

    def __init__(self) -> None:
        from checks.core import statefile

        self.known = statefile.load(DIGESTS) or {}
        self.used: dict[str, object] = {}

    def of(self, path: str) -> tuple[str | None, int | None]:
        """The digest and size of the file at ``path``; (None, None) when it is missing."""
        import hashlib

        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None, None
        with os.fdopen(descriptor, "rb") as file:
            info = os.fstat(file.fileno())
            key = [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]
            remembered = self.known.get(path)
            if isinstance(remembered, list) and remembered[:5] == key:
                digest = str(remembered[5])
            else:
                digest = hashlib.sha256(file.read()).hexdigest()
        self.used[path] = [*key, digest]
        return digest, info.st_size

    def save(self) -> None:
        """Remember this run's digests (only when they changed)."""
        from checks.core import statefile

        if self.used != self.known:
            statefile.save(DIGESTS, self.used)


def sealed_problem(directory: str, stamp: str, digests: Digests) -> str | None:
    """Why the complete snapshot ``directory`` cannot be trusted, or None (a cheap check)."""
    try:
        with open(os.path.join(directory, layout.MARKER), "rb") as file:
            marker = file.read(65536)
    except OSError as error:
        return f"cannot read COMPLETE: {error.strerror}"
    try:
        digest, size = digests.of(os.path.join(directory, layout.MANIFEST))
    except OSError as error:
        return f"cannot read MANIFEST: {error.strerror}"
    problem = manifest.marker_problem(marker, stamp, digest, size)
    if problem is None and not os.path.isdir(os.path.join(directory, layout.DATA)):
        problem = "data/ is missing"
    return problem


def dump_states(directory: str) -> list[tuple[str, str]]:
    """(stamp, state) of the dump sets in a local database directory, oldest first."""
    try:
        names = set(os.listdir(directory))
    except FileNotFoundError:
        return []
    running = locked(os.path.join(directory, layout.LOCK))
    return [(s.stamp, s.state) for s in layout.classify_dumps(names, running)]


def newest(states: list[tuple[str, str]]) -> float | None:
    """The data time of the newest complete one."""
    times = [layout.parse_stamp(name) for name, state in states if state == layout.COMPLETE]
    return max((t for t in times if t is not None), default=None)


class Backups(nagiosplugin.Resource):
    """Ages of the newest complete backups, and findings about runs and leftovers."""

    def __init__(
        self, config: Config, environments: list[Environment], now: float,
        drills: Drills | None = None,
    ) -> None:  # fmt: skip
        self.config = config
        self.environments = environments
        self.now = now
        self.digests = Digests()
        self.drills = drills or Drills()

    def probe(self) -> list[nagiosplugin.Metric]:
        """Per environment: file ages (overall, per target), database ages, findings."""
        metrics: list[nagiosplugin.Metric] = []
        for environment in self.environments:
            metrics += self._files(environment)
            for database in environment.databases:
                metrics += self._database(environment.name, database.key, database.targets)
        self.digests.save()
        return metrics

    def _intact_newest(
        self, what: str, directory: str, states: list[tuple[str, str]]
    ) -> tuple[float | None, list[nagiosplugin.Metric]]:
        """The newest complete snapshot whose marker seals it, and findings on damaged ones."""
        findings: list[nagiosplugin.Metric] = []
        for name, condition in reversed(states):
            if condition != layout.COMPLETE:
                continue
            problem = sealed_problem(os.path.join(directory, name), name, self.digests)
            if problem is None:
                return layout.parse_stamp(name), findings
            findings.append(finding(f"{what}: {name} is damaged: {problem}", "damaged"))
        return None, findings

    def _verification(self, environment: str, target: str) -> list[nagiosplugin.Metric]:
        """The last verification of a target's files: its age, or what it found."""
        what = f"{environment} files on {target}"
        record = status.read(status.record_name("verify", environment, target))
        if record is None:
            return [finding(f"{what}: never verified (drp verify files --rolling)",
                            "unverified")]  # fmt: skip
        findings: list[nagiosplugin.Metric] = []
        if record.get("result") == status.FAILED:
            kind = "damaged" if record.get("problems") else "failed_run"
            findings.append(finding(f"{what}: verification failed: {record.get('error')}", kind))
        last = record.get("last_ok")
        if isinstance(last, dict) and isinstance(last.get("started"), int | float):
            age = round(self.now - float(last["started"]))
            label = f"{environment}/verified/{target}"
            findings.append(nagiosplugin.Metric(label, age, "s", context="verified"))
        elif not findings:
            findings.append(finding(f"{what}: never verified successfully", "unverified"))
        return findings

    def _target_newest(
        self, kind: str, environment: str, target: str, database: str | None
    ) -> tuple[float | None, list[nagiosplugin.Metric]]:
        """Newest complete backup on one target, and findings about it."""
        findings = []
        place = self.config.targets[target]
        try:
            record = status.read(status.record_name(kind, environment, target, database))
        except status.Unreadable as error:  # a failed run must never pass for "no record"
            raise CannotCheck(str(error)) from None
        what = f"{environment} {'files' if database is None else 'db ' + database} on {target}"
        if record is not None:
            findings += self._run_findings(what, kind, record)
        if place.location.is_remote:
            return status.newest_ok([record] if record else []), findings
        root = place.location.path
        if database is None:
            directory = layout.files_dir(root, environment)
            states = snapshot_states(directory)
            latest, damaged = self._intact_newest(what, directory, states)
            findings += damaged
        else:
            directory = layout.dumps_dir(root, environment, database)
            states = dump_states(directory)
            latest = newest(states)
        findings += _incomplete(what, "snapshots" if database is None else "dump sets", states)
        return latest, findings

    def _run_findings(
        self, what: str, kind: str, record: dict[str, object]
    ) -> list[nagiosplugin.Metric]:
        started = record.get("started")
        ago = f" {show(self.now - started, 's')} ago" if isinstance(started, int | float) else ""
        limit = self.config.limits[kind] * 60
        result = status.judged(record, self.now, limit)
        if result == status.FAILED:
            text = f"{what}: last run failed{ago}: {record.get('error')}"
        elif result == status.DIED:
            text = f"{what}: the run started{ago} died unfinished"
        elif result == status.HUNG:
            text = (
                f"{what}: the run started{ago} (pid {record.get('pid')}) still runs, longer "
                f"than limits.{kind}_minutes ({show(limit, 's')}): hung?"
            )
        else:
            return self._ok_run_findings(what, record)
        return [finding(text, "failed_run")]

    @staticmethod
    def _ok_run_findings(what: str, record: dict[str, object]) -> list[nagiosplugin.Metric]:
        """What a run that succeeded still went without: unreadable files, retention."""
        findings = []
        count = record.get("unreadable_files")
        shown = record.get("unreadable")
        if isinstance(count, int) and count > 0 and isinstance(shown, list):
            more = f" and {count - len(shown)} more" if count > len(shown) else ""
            findings.append(finding(
                f"{what}: {count} source file(s) could not be read and are not in "
                f"{record.get('snapshot')}: {', '.join(map(str, shown))}{more}", "failed_run"
            ))  # fmt: skip
        if record.get("prune_error"):
            findings.append(
                finding(f"{what}: retention failed: {record['prune_error']}", "failed_run")
            )
        return findings

    def _files(self, environment: Environment) -> list[nagiosplugin.Metric]:
        metrics, times = [], []
        latest_by_target: dict[str, float] = {}
        for target in self.config.targets:
            with doing(f"reading the file backups of {environment.name} on {target}"):
                latest, findings = self._target_newest("files", environment.name, target, None)
            metrics += findings
            metrics += self._verification(environment.name, target)
            label = f"{environment.name}/files/{target}"
            if latest is None:
                metrics.append(finding(f"{environment.name}: no complete file backup on {target}",
                                       "missing"))  # fmt: skip
            else:
                times.append(latest)
                metrics.append(nagiosplugin.Metric(label, round(self.now - latest), "s",
                                                   context="target"))  # fmt: skip
                latest_by_target[target] = latest
        metrics += self.drills.findings(self.config, environment.name, latest_by_target)
        if times:
            age = round(self.now - max(times))
            metrics.append(
                nagiosplugin.Metric(f"{environment.name}/files", age, "s", context="files")
            )
        return metrics

    def _database(
        self, environment: str, database: str, targets: tuple[str, ...]
    ) -> list[nagiosplugin.Metric]:
        metrics, times = [], []
        for target in targets:
            with doing(f"reading the dumps of {environment}/{database} on {target}"):
                latest, findings = self._target_newest("db", environment, target, database)
            metrics += findings
            if latest is not None:
                times.append(latest)
        label = f"{environment}/db/{database}"
        if times:
            age = round(self.now - max(times))
            metrics.append(nagiosplugin.Metric(label, age, "s", context="db"))
        else:
            metrics.append(finding(f"{environment}: no complete dump of {database}", "missing"))
        return metrics


#: More incomplete backups than this on one target are summed up in one finding: a loop of
#: interrupted runs must not make a status line of thousands of characters.
MAX_LISTED = 3


class Drills:
    """Whether each target's newest complete snapshot was proven by a restore drill.

    ``drp drill`` restores the newest backups weekly, so on each target (the targets
    alternate by day) a snapshot is drilled about every two weeks. A target is reported
    when its last drill failed, when none is on record, or when the snapshot its last
    successful drill restored is more than ``grace`` older than its newest complete one.
    Drills are judged where they are in use: with a ``[drp]`` section, once a drill record
    of the environment exists, or when ``always`` (``--undrilled`` set to a state above OK).
    """

    def __init__(self, grace: float = 15 * 86400, always: bool = False) -> None:
        self.grace, self.always = grace, always

    def findings(
        self, config: Config, environment: str, latest: dict[str, float]
    ) -> list[nagiosplugin.Metric]:
        """One ``undrilled`` finding per target whose newest snapshot lacks a drill."""
        records = {}
        for target in latest:
            try:
                records[target] = status.read(status.record_name("drill", environment, target))
            except status.Unreadable as error:
                raise CannotCheck(str(error)) from None
        in_use = self.always or config.drp is not None or any(records.values())
        if not in_use:
            return []
        found = []
        for target, newest_time in latest.items():
            what = f"{environment} files on {target}"
            record = records[target]
            drilled = record.get("snapshot") if record else None
            drilled_time = layout.parse_stamp(drilled) if isinstance(drilled, str) else None
            if record is None:
                text = f"{what}: never restored by a drill (drp drill)"
            elif record.get("result") != status.OK or drilled_time is None:
                text = f"{what}: the last drill failed, no snapshot is proven restorable"
            elif newest_time - drilled_time > self.grace:
                lag = show(newest_time - drilled_time, "s")
                text = f"{what}: the last drill restored {drilled}, {lag} older than the newest"
            else:
                continue
            found.append(finding(text, "undrilled"))
        return found


def _incomplete(what: str, noun: str, states: list[tuple[str, str]]) -> list[nagiosplugin.Metric]:
    """Findings about partial and unmarked backups: one each, or one for them all."""
    found = [(name, c) for name, c in states if c in (layout.INTERRUPTED, layout.UNMARKED)]
    if len(found) > MAX_LISTED:
        text = (
            f"{what}: {len(found)} incomplete {noun} ({found[0][0]} to {found[-1][0]}; "
            "drp snapshots lists them)"
        )
        return [finding(text, "incomplete")]
    findings = []
    for name, condition in found:
        why = "left by an interrupted run" if condition == layout.INTERRUPTED else "no COMPLETE"
        findings.append(finding(f"{what}: {name} is {condition} ({why})", "incomplete"))
    return findings


def describe(metric: nagiosplugin.Metric) -> str:
    """``www files 5 h 2 min old``, ``www files on B 29 h old``, ``www db shop 1 h old``."""
    parts = str(metric.name).split("/")
    age = show(metric.value, "s") + " old"
    if metric.value < 0:  # the clock went back, or a stamp from elsewhere
        age = f"dated {show(-metric.value, 's')} in the future"
    if parts[1] == "files" and len(parts) == 3:
        return f"{parts[0]} files on {parts[2]} {age}"
    if parts[1] == "verified":
        return f"{parts[0]} files on {parts[2]} last verified {show(metric.value, 's')} ago"
    if parts[1] == "db":
        return f"{parts[0]} db {parts[2]} {age}"
    return f"{parts[0]} files {age}"


class BackupSummary(Summary):
    """``www: files 5 h old (A 5 h, B 1 d 5 h), db shop 1 h 10 min`` per environment."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """Each environment's ages."""
        by_environment: dict[str, dict[str, str]] = {}
        for result in results:
            metric = result.metric
            if metric is None or metric.context not in ("files", "target", "db"):
                continue
            parts = str(metric.name).split("/")
            key = "/".join(parts[1:])
            by_environment.setdefault(parts[0], {})[key] = show(metric.value, "s")
        lines = []
        for environment, ages in by_environment.items():
            targets = ", ".join(
                f"{key[-1]} {age}" for key, age in ages.items() if key.startswith("files/")
            )
            text = f"{environment}: files {ages.get('files', '?')} old ({targets})"
            databases = [
                f"db {key[3:]} {age}" for key, age in ages.items() if key.startswith("db/")
            ]
            lines.append(", ".join([text, *databases]))
        notes = [str(result) for result in results
                 if result.metric is not None and result.metric.context == "undrilled"]  # fmt: skip
        return "; ".join(lines + notes)

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        """One line per result with its state."""
        return [f"{STATE_NAMES[result.state.code]}: {result}" for result in results.results]


def build_parser() -> Parser:
    """check_backup's options: age ranges with duration units, states for findings."""
    parser = Parser(
        "check_backup",
        __doc__.split("\n\n")[0],
        examples=(
            "check_backup                          the policy's defaults, every environment",
            "check_backup -e shop --critical-db 150m   one environment, a stricter RPO",
            "check_backup -w 25h -c 30h            warn after 25 h without a file backup",
            "check_backup --failed-run critical    a failed run is critical at once",
        ),
    )
    parser.add_argument(
        "--config",
        default=DEFAULT_PATH,
        metavar="FILE",
        help="drp configuration: environments, targets, databases (default: %(default)s)",
    )
    parser.add_argument(
        "-e",
        "--environment",
        action="append",
        metavar="NAME",
        help="judge only this environment (repeatable; default: all)",
    )
    for metric, what, defaults in (
        ("files", "newest complete file snapshot on either target", (None, "26h")),
        ("target", "newest complete file snapshot on each target", (None, "50h")),
        ("db", "newest complete dump of each database (the RPO)", ("135m", "3h")),
        ("verified", "last successful verification of each target's files", ("8d", None)),
    ):
        add_thresholds(
            parser,
            f"the age of the {what}, units s m h d w",
            metric=metric,
            short=metric == "files",
            scale=SECONDS,
            defaults=defaults,
        )
    parser.add_argument(
        "--failed-run",
        type=state,
        default="warning",
        metavar="STATE",
        help="state when the latest run of a backup failed or died (default: warning)",
    )
    parser.add_argument(
        "--incomplete",
        type=state,
        default="warning",
        metavar="STATE",
        help="state for a partial left by an interrupted run or a snapshot without "
        "COMPLETE, on local targets (default: warning)",
    )
    parser.add_argument(
        "--damaged",
        type=state,
        default="critical",
        metavar="STATE",
        help="state for a complete snapshot whose COMPLETE does not seal its MANIFEST, "
        "or a verification that found problems (default: critical)",
    )
    parser.add_argument(
        "--undrilled",
        type=state,
        default="ok",
        metavar="STATE",
        help="state for a target whose newest snapshot no restore drill proved (drp drill; "
        "default: ok, named in the status line where drills are in use: with [drp] or "
        "once a drill record exists; another state judges it everywhere)",
    )
    parser.add_argument(
        "--drill-grace",
        type=duration,
        default="15d",
        metavar="DURATION",
        help="how much older than a target's newest snapshot the one its last drill "
        "restored may be, units s m h d w (default: %(default)s: weekly drills reach each "
        "target every other week)",
    )
    parser.add_argument(
        "--unverified",
        type=state,
        default="warning",
        metavar="STATE",
        help="state for a target whose files were never verified (default: warning)",
    )
    return parser


def duration(text: str) -> float:
    """A duration with units (``15d``, ``36h``) for an option that is not a range."""
    from checks.core.ranges import RangeError, parse_number

    try:
        value = parse_number(text, SECONDS)
    except (RangeError, ValueError) as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def load(path: str, names: list[str] | None) -> tuple[Config, list[Environment]]:
    """The configuration and the environments to judge; UNKNOWN when unusable."""
    from drptools import config

    try:
        loaded = config.load(path)
    except ConfigError as error:
        raise CannotCheck(error.one_line()) from None
    chosen = []
    for name in names or loaded.environments:
        if name not in loaded.environments:
            known = ", ".join(loaded.environments)
            raise CannotCheck(f"no environment {name!r} in {path} (configured: {known})")
        chosen.append(loaded.environments[name])
    return loaded, chosen


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    with doing(f"reading {args.config}"):
        loaded, environments = load(args.config, args.environment)
    drills = Drills(args.drill_grace, always=args.undrilled != 0)
    return nagiosplugin.Check(
        Backups(loaded, environments, layout.now(), drills),
        Threshold("files", args.warning_files, args.critical_files, describe),
        Threshold("target", args.warning_target, args.critical_target, describe),
        Threshold("db", args.warning_db, args.critical_db, describe),
        Threshold("verified", args.warning_verified, args.critical_verified, describe),
        Finding("missing", 2),
        Finding("failed_run", args.failed_run),
        Finding("incomplete", args.incomplete),
        Finding("damaged", args.damaged),
        Finding("unverified", args.unverified),
        Finding("undrilled", args.undrilled),
        BackupSummary(),
    )


PLUGIN = Plugin(
    "backup",
    build_parser,
    make_check,
    services=("vigie-backup",),
    nagios=("backup",),
    bench=(Bench("check_backup (two empty local targets)", ("--config", "{backup_config}")),),
)
main = PLUGIN.main
