"""check_smart: the health of every disk by SMART, SATA, SAS, SSD and NVMe alike.

Disks announce most of their failures before data is lost: sectors they had to move,
sectors they cannot read, media errors, worn-out flash, a failed self-test. smartctl reads
that; pySMART parses its text (:mod:`checks.storage._smartctl`); this module judges, one
smartctl run per disk, every disk smartctl finds (``--scan-open``) or those named with -d.

Per disk:

- CRITICAL: SMART health FAILED (for NVMe with its critical warnings in words), an
  attribute failing now, a device that cannot be opened or whose SMART data cannot be read
  (an NVMe that fails outright), and what smartctl's exit status says when its text does
  not (bit 3: disk failing, bit 4: prefail attributes at or below threshold).
- WARNING: reallocated, pending, offline-uncorrectable or reported-uncorrectable sectors
  (ATA), grown defects (SAS), media errors (NVMe) above 0; more than 80% of the rated
  endurance used (90% critical; NVMe, SAS SSD); a failed self-test that no later passed
  extended test outdates (bit 7).
- temperature, and the NVMe available spare: against the limits the drive itself reports
  (NVMe warning and critical composite temperature and spare threshold, SAS trip
  temperature) unless -w/-c give others.
- noted, not judged: attributes below threshold in the past (bit 5), error log entries (bit
  6), a self-test in progress.

-w/-c take ``NAME=RANGE`` lists: NAME is one of the metrics above (``temperature``,
``reallocated``, ``pending``, ``offline_uncorrectable``, ``reported_uncorrect``,
``grown_defects``, ``media_errors``, ``percentage_used``, ``available_spare``,
``errors_logged``) for every disk, or an ATA attribute by name or ID, whose raw value is
judged (``-w Temperature_Celsius=50 -c 194=60``, as check_smart.pl takes them). RANGE is a
guidelines range: ``50`` alerts above 50, ``10:`` below 10.

A disk in standby is not woken (smartctl ``-n standby``): it is OK with a note
(``--standby-state``). Found devices without SMART (RAID volumes, virtual disks) are listed
and not judged; named with -d, they are UNKNOWN.

smartctl needs root; Icinga runs checks as nagios. With --sudo, check_smart runs smartctl
through ``sudo -n`` when it is not root, given this sudoers line (visudo -f
/etc/sudoers.d/vigie-smart)::

    nagios ALL=(root) NOPASSWD: /usr/sbin/smartctl

Why one module of over 450 lines: it is the judging of a disk alone, the table of rules
above (health, sectors, wear, temperature, self-tests, exit bits) and the thresholds and
wording of each; reading smartctl's output is :mod:`checks.storage._smartctl` (with
:mod:`checks.storage._pysmart`), running it :class:`checks.core.external.Tool`.
"""

from __future__ import annotations

import argparse
import math

import nagiosplugin

from checks.core import external
from checks.core.cli import Parser, UsageError, state
from checks.core.errors import CannotCheck
from checks.core.evaluate import STATES, Perf, Summary, Threshold, Verdict
from checks.core.output import STATE_NAMES
from checks.core.ranges import Range, RangeError, parse_range
from checks.core.runtime import Bench, Plugin
from checks.storage._smartctl import (
    COMMAND_FAILED,
    COMMAND_LINE,
    ERROR_LOG,
    FAILING,
    OPEN_FAILED,
    PAST,
    PREFAIL_NOW,
    SELFTEST_LOG,
    Attribute,
    Disk,
    ScanEntry,
    critical_warnings,
    explain_status,
    failed_selftests,
    parse_scan,
    read_disk,
)

#: Metrics of every disk kind: words, perfdata unit, maximum, default warning, critical.
KINDS: dict[str, tuple[str, str, float | None, str | None, str | None]] = {
    "temperature": ("temperature", "", None, None, None),
    "reallocated": ("reallocated sectors", "", None, "0", None),
    "pending": ("pending sectors", "", None, "0", None),
    "offline_uncorrectable": ("offline uncorrectable sectors", "", None, "0", None),
    "reported_uncorrect": ("reported uncorrectable errors", "", None, "0", None),
    "grown_defects": ("grown defects", "", None, "0", None),
    "media_errors": ("media errors", "", None, "0", None),
    "percentage_used": ("endurance used", "%", None, "80", "90"),
    "available_spare": ("available spare", "%", 100, None, None),
    "errors_logged": ("error log entries", "c", None, None, None),
}
NOCHECK_MODES = ("never", "sleep", "standby", "idle")
OK, WARNING, CRITICAL, UNKNOWN = range(4)


def assess(disk: Disk, standby_state: int = OK) -> list[tuple[int, str]]:
    """What is wrong with a disk, and what is worth a note: (state, words) pairs.

    Numbers against ranges (sectors, temperature …) are judged by the contexts; this is
    everything else: whether the disk could be read at all, its health verdict, its
    failing attributes and self-tests, and the exit bits the text does not explain.
    """
    unread = _unread(disk, standby_state)
    if unread is not None:
        return [unread]
    return _health(disk) + _attributes(disk) + _selftests(disk) + _exit_notes(disk)


def _unread(disk: Disk, standby_state: int) -> tuple[int, str] | None:
    """Why there is no SMART data to judge, and what state that is; None if there is."""
    said = "; ".join(disk.messages) or explain_status(disk.status)
    if disk.standby:
        return standby_state, f"in {disk.standby} mode, not woken up (not checked)"
    if disk.open_error:
        return CRITICAL, f"cannot be opened: {disk.open_error}"
    if disk.status & COMMAND_LINE:
        hint = " (see --device-type)" if "device type" in said.lower() else ""
        return UNKNOWN, f"smartctl refused the command: {said}{hint}"
    return None if disk.has_data else _no_data(disk, said)


def _no_data(disk: Disk, said: str) -> tuple[int, str]:
    """A disk smartctl printed no SMART data for: without SMART, unreadable, or unexplained."""
    if disk.no_smart:
        return UNKNOWN, f"has no SMART: {disk.no_smart}"
    if disk.status & (OPEN_FAILED | COMMAND_FAILED):
        return CRITICAL, f"SMART data cannot be read: {said}"
    return UNKNOWN, "smartctl printed no SMART data for it"


def _health(disk: Disk) -> list[tuple[int, str]]:
    detail = list(disk.health_detail)
    if disk.critical_warning:
        detail += [word for word in critical_warnings(disk.critical_warning) if word not in detail]
    if disk.health is False:
        return [(CRITICAL, "SMART health FAILED" + (f": {', '.join(detail)}" if detail else ""))]
    if detail:  # a critical warning the health line did not reflect
        return [(CRITICAL, f"NVMe critical warning: {', '.join(detail)}")]
    if disk.status & FAILING:
        return [(CRITICAL, "smartctl says the disk is failing (exit bit 3)")]
    return []


def _attributes(disk: Disk) -> list[tuple[int, str]]:
    findings = []
    for attribute in disk.attributes:
        if attribute.when_failed == "FAILING_NOW":
            findings.append((CRITICAL, f"{attribute.name} failing now ({_below(attribute)})"))
        elif attribute.when_failed.lower() == "in_the_past":
            findings.append((OK, f"{attribute.name} was at or below its threshold in the past"))
    if disk.status & PREFAIL_NOW and not any(state == CRITICAL for state, _ in findings):
        findings.append((CRITICAL, "prefail attributes at or below threshold (exit bit 4)"))
    if disk.status & PAST and not findings:
        findings.append((OK, "attributes were at or below threshold in the past (exit bit 5)"))
    return findings


def _below(attribute: Attribute) -> str:
    if attribute.threshold is None:
        return f"value {attribute.value}"
    return f"value {attribute.value} <= threshold {attribute.threshold}"


def _selftests(disk: Disk) -> list[tuple[int, str]]:
    failures = failed_selftests(disk.selftests)
    findings = []
    if failures:
        older = f" (and {len(failures) - 1} older)" if len(failures) > 1 else ""
        findings.append((WARNING, f"self-test failed: {failures[0]}{older}"))
    elif disk.status & SELFTEST_LOG:
        findings.append((WARNING, "self-test log has errors (exit bit 7)"))
    if disk.selftests and disk.selftests[0].running:
        findings.append((OK, f"self-test in progress: {disk.selftests[0].test}"))
    return findings


def _exit_notes(disk: Disk) -> list[tuple[int, str]]:
    notes = []
    if disk.status & COMMAND_FAILED:
        notes.append((OK, "some SMART commands failed (exit bit 2)"))
    if disk.status & ERROR_LOG:
        logged = disk.counters.get("errors_logged")
        notes.append((OK, f"error log has {logged if logged else 'some'} entries (exit bit 6)"))
    return notes


def drive_limits(disk: Disk, kind: str) -> tuple[Range | None, Range | None]:
    """The warning and critical ranges a drive reports for itself, if any."""
    if kind == "temperature":
        return _at_least(disk.temperature_warning), _at_least(disk.temperature_critical)
    if kind == "available_spare" and disk.spare_threshold:
        return None, Range(disk.spare_threshold, math.inf, text=f"{disk.spare_threshold}:")
    return None, None


def _at_least(limit: int | None) -> Range | None:
    return Range(limit, math.inf, inside=True, text=f"@{limit}:") if limit else None


def named_ranges(text: str) -> list[tuple[str, Range]]:
    """An argparse type for ``NAME=RANGE[,NAME=RANGE…]`` (see the module docstring)."""
    pairs = []
    for part in text.split(","):
        name, equals, spec = (item.strip() for item in part.partition("="))
        if not equals or not name:
            raise argparse.ArgumentTypeError(
                f"{part.strip()!r} is not NAME=RANGE (e.g. temperature=50, "
                "Reallocated_Sector_Ct=10 or 194=60)"
            )
        if not _is_metric_or_attribute(name):
            raise argparse.ArgumentTypeError(
                f"{name!r} is neither a metric ({', '.join(KINDS)}) nor an ATA attribute "
                "name (Temperature_Celsius) or ID (194)"
            )
        try:
            pairs.append((name, parse_range(spec)))
        except RangeError as error:
            raise argparse.ArgumentTypeError(f"{name}: {error}") from None
    return pairs


def _is_metric_or_attribute(name: str) -> bool:
    if name in KINDS:
        return True
    if name.isascii() and name.isdigit():
        return 1 <= int(name) <= 255
    return name[:1].isupper() and all(char.isalnum() or char in "_-" for char in name)


def device_path(text: str) -> str:
    """An argparse type for -d: a device node path."""
    if not text.startswith("/") or any(char.isspace() for char in text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device path (e.g. /dev/sda)")
    return text


def device_type(text: str) -> str:
    """An argparse type for --device-type: one smartctl ``-d`` word."""
    if not text or text.startswith("-") or any(char.isspace() for char in text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a smartctl device type (sat, scsi, nvme, megaraid,N, cciss,N …)"
        )
    return text


class Smartctl:
    """Runs smartctl, through ``sudo -n`` when asked to and not root: gathering only."""

    def __init__(self, program: str, sudo: bool, nocheck: str) -> None:
        self.tool = external.Tool(program, sudo, "check_smart")
        self.nocheck = nocheck

    def scan(self) -> list[ScanEntry]:
        """The devices smartctl finds and opens."""
        return parse_scan(self._run(["--scan-open"], "scanning for disks").stdout)

    def read(self, device: str, device_type: str) -> Disk:
        """One disk, from one ``smartctl --all`` run that leaves a sleeping disk asleep."""
        arguments = ["--all", "-n", self.nocheck]
        if device_type:
            arguments += ["-d", device_type]
        done = self._run([*arguments, device], f"reading SMART data of {device}")
        return read_disk(done.stdout, done.returncode, device, device_type)

    def _run(self, arguments: list[str], what: str) -> external.Completed:
        done = self.tool.run(arguments, what)
        if done.returncode < 0:
            raise CannotCheck(f"smartctl was killed by signal {-done.returncode} while {what}")
        return done


class Disks(nagiosplugin.Resource):
    """The disks named, or all that smartctl finds, read one smartctl run each."""

    def __init__(
        self, smartctl: Smartctl, targets: list[tuple[str, str]], attribute_keys: set[str]
    ) -> None:
        self.smartctl = smartctl
        self.targets = targets
        self.attribute_keys = attribute_keys
        self.disks: list[Disk] = []
        self.skipped: list[str] = []
        #: metric name -> the disk it measures, and the ATA attribute if it is one
        self.owners: dict[str, tuple[Disk, Attribute | None]] = {}

    def probe(self) -> list[nagiosplugin.Metric]:
        """A ``disk`` metric per disk (its state), then its numbers."""
        named = bool(self.targets)
        for device, smartctl_type in self.targets or self._discover():
            disk = self.smartctl.read(device, smartctl_type)
            if disk.open_error.endswith("Permission denied"):
                raise CannotCheck(_permission_denied(device))
            if not named and disk.no_smart and not disk.has_data:
                self.skipped.append(f"{device} ({disk.no_smart})")
                continue
            self.disks.append(disk)
        if not self.disks:
            raise CannotCheck(
                "no disk with SMART found"
                + (f"; not judged: {', '.join(self.skipped)}" if self.skipped else "")
            )
        metrics = []
        for disk in self.disks:
            metrics.append(self._metric(disk, disk.label, disk, "disk"))
            if disk.has_data:
                metrics += self._numbers(disk)
        return metrics

    def _discover(self) -> list[tuple[str, str]]:
        targets = []
        for entry in self.smartctl.scan():
            if entry.error.endswith("Permission denied"):
                raise CannotCheck(_permission_denied(entry.device))
            if entry.error:
                self.skipped.append(f"{entry.device} (open failed: {entry.error})")
            else:
                targets.append((entry.device, entry.device_type))
        return targets

    def _numbers(self, disk: Disk) -> list[nagiosplugin.Metric]:
        metrics = []
        values: dict[str, int | None] = {"temperature": disk.temperature, **disk.counters}
        for kind, (_, uom, maximum, _, _) in KINDS.items():
            value = values.get(kind)
            if value is not None:
                minimum = None if kind == "temperature" else 0
                name = f"{disk.label}_{kind}"
                metrics.append(self._metric(disk, name, value, kind, uom, minimum, maximum))
        for attribute in disk.attributes:
            chosen = {str(attribute.number), attribute.name} & self.attribute_keys
            if chosen and attribute.raw is not None:
                name = f"{disk.label}_{attribute.name.lower()}"
                metrics.append(
                    self._metric(disk, name, attribute.raw, "attribute", "", 0, None, attribute)
                )
        return metrics

    def _metric(
        self,
        disk: Disk,
        name: str,
        value: object,
        context: str,
        uom: str = "",
        minimum: float | None = None,
        maximum: float | None = None,
        attribute: Attribute | None = None,
    ) -> nagiosplugin.Metric:
        self.owners[name] = (disk, attribute)
        return nagiosplugin.Metric(name, value, uom or None, minimum, maximum, context)


def _permission_denied(device: str) -> str:
    return (
        f"smartctl may not open {device}: Permission denied (run as root, or give --sudo "
        "with the sudoers line of check_smart --help)"
    )


class DiskState(nagiosplugin.Context):
    """A disk's state apart from its numbers: readable at all, health, failing attributes."""

    def __init__(self, standby_state: int) -> None:
        super().__init__("disk", result_cls=Verdict)
        self.standby_state = standby_state

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """The worst finding's state; the problems, worst first, as the hint."""
        findings = assess(metric.value, self.standby_state)
        worst = max((finding_state for finding_state, _ in findings), default=OK)
        problems = [text for level, text in sorted(findings, key=lambda f: -f[0]) if level]
        return Verdict(STATES[worst], ", ".join(problems) or None, metric)

    def performance(self, metric: nagiosplugin.Metric, resource: object) -> None:
        """No perfdata: the numbers are metrics of their own."""

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """The disk's label."""
        return str(metric.name)


class Limits(nagiosplugin.Context):
    """A disk number judged against the admin's ranges, else the drive's own, else vigie's.

    ``kind`` is a metric of :data:`KINDS`, or ``attribute`` for the ATA attributes named
    in -w/-c; ``warning`` and ``critical`` map metric names, ATA attribute names and IDs
    to the admin's ranges.
    """

    def __init__(
        self,
        kind: str,
        warning: dict[str, Range],
        critical: dict[str, Range],
    ) -> None:
        super().__init__(kind, result_cls=Verdict)
        self.warning, self.critical = warning, critical
        _, _, _, default_warning, default_critical = KINDS.get(kind, ("", "", None, None, None))
        self.defaults = (
            parse_range(default_warning) if default_warning else None,
            parse_range(default_critical) if default_critical else None,
        )

    def threshold(self, metric: nagiosplugin.Metric, resource: Disks) -> Threshold:
        """The ranges that apply to this metric of this disk."""
        disk, attribute = resource.owners[metric.name]
        if attribute is not None:
            keys = (str(attribute.number), attribute.name)
            return Threshold(
                self.name,
                next((self.warning[key] for key in keys if key in self.warning), None),
                next((self.critical[key] for key in keys if key in self.critical), None),
            )
        own = drive_limits(disk, self.name)
        chosen = [
            given.get(self.name) or drive or default
            for given, drive, default in zip(
                (self.warning, self.critical), own, self.defaults, strict=True
            )
        ]
        return Threshold(self.name, chosen[0], chosen[1])

    def evaluate(self, metric: nagiosplugin.Metric, resource: Disks) -> Verdict:
        """As :class:`~checks.core.evaluate.Threshold` with this metric's ranges."""
        return self.threshold(metric, resource).evaluate(metric, resource)

    def performance(self, metric: nagiosplugin.Metric, resource: Disks) -> Perf:
        """Perfdata with this metric's ranges."""
        return self.threshold(metric, resource).performance(metric, resource)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``reallocated sectors 304``, ``temperature 42 °C``, ``Temperature_Celsius 52``."""
        if self.name == "attribute":
            attribute = metric.resource.owners[metric.name][1]
            return f"{attribute.name if attribute else metric.name} {metric.value}"
        words = KINDS[self.name][0]
        unit = " °C" if self.name == "temperature" else metric.uom if metric.uom == "%" else ""
        return f"{words} {metric.value}{unit}"


class DiskSummary(Summary):
    """Status line naming each troubled disk, worst first; long output one line per disk."""

    def __init__(self) -> None:
        super().__init__(long_output=True)

    def ok(self, results: nagiosplugin.Results) -> str:
        """``2 disks healthy: sda (31 °C), nvme0 (42 °C, 28% used)``, then disks left alone."""
        healthy, notes = [], []
        for disk, _ in _by_disk(results):
            if disk.standby:
                notes.append(f"{disk.label} in {disk.standby} mode, not checked")
                continue
            facts = [f"{disk.temperature} °C"] if disk.temperature is not None else []
            if "percentage_used" in disk.counters:
                facts.append(f"{disk.counters['percentage_used']}% used")
            healthy.append(f"{disk.label} ({', '.join(facts)})" if facts else disk.label)
        parts = [f"{len(healthy)} disk{'s'[: len(healthy) - 1]} healthy: {', '.join(healthy)}"]
        skipped = _resource(results).skipped
        if skipped:
            notes.append(f"not judged: {', '.join(skipped)}")
        return "; ".join(parts[: bool(healthy)] + notes)

    def problem(self, results: nagiosplugin.Results) -> str:
        """``sda: SMART health FAILED, reallocated sectors 1975 > 0; nvme0: …``."""
        troubled = [
            (max(result.state for result in disk_results), disk, disk_results)
            for disk, disk_results in _by_disk(results)
        ]
        troubled.sort(key=lambda item: -item[0].code)
        return "; ".join(
            f"{disk.label}: {', '.join(_problems(disk, disk_results))}"
            for worst, disk, disk_results in troubled
            if worst != nagiosplugin.Ok
        )

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        """One line per disk: state, identity, every finding and number, smartctl's exit."""
        lines = []
        for disk, disk_results in _by_disk(results):
            worst = max(result.state for result in disk_results)
            identity = [disk.device, disk.model, f"s/n {disk.serial}" if disk.serial else ""]
            if disk.device_type:
                identity.append(f"-d {disk.device_type}")
            facts = [text for _, text in assess(disk, disk_results[0].context.standby_state)]
            if disk.has_data and disk.health:
                facts.insert(0, "SMART health PASSED")
            facts += [str(result) for result in disk_results[1:]]
            if disk.status and not disk.standby:  # asleep, smartctl exits 2 on purpose
                facts.append(f"smartctl exit {explain_status(disk.status)}")
            lines.append(
                f"{STATE_NAMES[worst.code]}: {disk.label} ({', '.join(filter(None, identity))}): "
                + "; ".join(facts)
            )
        lines += [f"not judged: {skipped}" for skipped in _resource(results).skipped]
        return lines


def _resource(results: nagiosplugin.Results) -> Disks:
    resource: Disks = results.results[0].resource
    return resource


def _by_disk(
    results: nagiosplugin.Results,
) -> list[tuple[Disk, list[nagiosplugin.Result]]]:
    """Results grouped by disk in reading order, the disk's own state first."""
    owners = _resource(results).owners
    grouped: dict[str, tuple[Disk, list[nagiosplugin.Result]]] = {}
    for result in results.results:
        disk = owners[result.metric.name][0]
        grouped.setdefault(disk.label, (disk, []))[1].append(result)
    return list(grouped.values())


def _problems(disk: Disk, disk_results: list[nagiosplugin.Result]) -> list[str]:
    """The disk's problems, worst first: its own findings and its numbers out of range."""
    standby_state = disk_results[0].context.standby_state
    problems = [(level, text) for level, text in assess(disk, standby_state) if level]
    problems += [
        (result.state.code, str(result))
        for result in disk_results[1:]
        if result.state != nagiosplugin.Ok
    ]
    return [text for _, text in sorted(problems, key=lambda problem: -problem[0])]


def build_parser() -> Parser:
    """check_smart's options; -d, -i and -w as check_smart.pl takes them."""
    parser = Parser(
        "check_smart",
        __doc__.split("\n\n")[0],
        examples=(
            "check_smart                                   every disk smartctl finds",
            "check_smart -d /dev/sda -d /dev/nvme0         these disks",
            "check_smart -d /dev/bus/0 -i megaraid,4       a disk behind a MegaRAID",
            "check_smart -w temperature=50 -c temperature=60,reallocated=20",
            "check_smart -w Temperature_Celsius=45 -c 194=55   an ATA attribute's raw value",
            "check_smart --sudo                            as nagios, smartctl through sudo -n",
        ),
        timeout=30,
    )
    parser.add_argument(
        "-d",
        "--device",
        action="append",
        type=device_path,
        default=[],
        metavar="DEV",
        help="a disk to check, repeatable (default: all that smartctl --scan-open finds; "
        "check_smart.pl-compatible)",
    )
    parser.add_argument(
        "-i",
        "--device-type",
        "--interface",
        action="append",
        type=device_type,
        default=[],
        metavar="TYPE",
        help="smartctl -d type of the -d disks: one for all, or one per -d in order (sat, "
        "scsi, nvme, megaraid,N, cciss,N, …; default: smartctl detects it; "
        "check_smart.pl-compatible)",
    )
    for option, level in (("-w", "warning"), ("-c", "critical")):
        parser.add_argument(
            option,
            f"--{level}",
            action="append",
            type=named_ranges,
            default=[],
            metavar="NAME=RANGE[,…]",
            help=f"{level} ranges, repeatable: NAME a metric ({', '.join(KINDS)}) or an ATA "
            "attribute name or ID (its raw value); RANGE 50 alerts above 50, 10: below 10 "
            "(e.g. temperature=50,Reallocated_Sector_Ct=10; check_smart.pl-compatible)",
        )
    parser.add_argument(
        "-n",
        "--nocheck",
        choices=NOCHECK_MODES,
        default="standby",
        help="smartctl -n: leave a disk alone in this power mode or a lower one "
        "(default: %(default)s; never wakes every disk up)",
    )
    parser.add_argument(
        "--standby-state",
        type=state,
        default="ok",
        metavar="STATE",
        help="state of a disk left alone in a low-power mode (default: ok)",
    )
    external.add_tool_options(parser, "smartctl", "nagios ALL=(root) NOPASSWD: /usr/sbin/smartctl")
    return parser


def _targets(devices: list[str], types: list[str]) -> list[tuple[str, str]]:
    """Pair -d devices with --device-type: none, one for all, or one per device."""
    if types and not devices:
        raise UsageError("--device-type needs -d (found disks come with their type)")
    if len(types) not in (0, 1, len(devices)):
        raise UsageError(
            f"{len(devices)} -d devices and {len(types)} --device-type: give one type for "
            "all, or one per device"
        )
    kinds = types * len(devices) if len(types) == 1 else types or [""] * len(devices)
    return list(dict.fromkeys(zip(devices, kinds, strict=True)))


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    warning = {name: limit for given in args.warning for name, limit in given}
    critical = {name: limit for given in args.critical for name, limit in given}
    attribute_keys = {name for name in (*warning, *critical) if name not in KINDS}
    smartctl = Smartctl(args.smartctl, args.sudo, args.nocheck)
    return nagiosplugin.Check(
        Disks(smartctl, _targets(args.device, args.device_type), attribute_keys),
        DiskState(args.standby_state),
        *(Limits(kind, warning, critical) for kind in (*KINDS, "attribute")),
        DiskSummary(),
    )


PLUGIN = Plugin(
    "smart",
    build_parser,
    make_check,
    services=("vigie-smart",),
    nagios=("smart",),
    bench=(
        Bench("check_smart -d /dev/sda (SATA, stub smartctl)", ("--smartctl",
              "{smartctl:text_sata_hdd_reallocated_304.txt}", "-d", "/dev/sda"), kind="tool"),
        Bench("check_smart -d /dev/nvme0 (NVMe, stub smartctl)", ("--smartctl",
              "{smartctl:text_nvme_passed_75pct_used.txt}", "-d", "/dev/nvme0"), kind="tool"),
    ),
)  # fmt: skip
main = PLUGIN.main
