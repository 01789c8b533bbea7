"""check_quota: user and group disk quotas, blocks and files, against soft and hard limits.

A user over the soft limit can still write until the grace time runs out; a user at the
hard limit, or past the grace time, cannot write at all: their mail bounces, their
uploads fail. So an entry over a soft limit is WARNING (``--over-soft``), and one at a
hard limit (usage equal to it: the next block is refused) or over a soft limit whose
grace time has expired is CRITICAL. Optional ranges on the share of the limit used (the
hard limit, else the soft one) warn before users reach it.

Reads ``repquota -a -u -g -p`` (quota-tools, the C locale): ``-p`` prints grace times as
the epoch second they run out, so expiry is judged here rather than read from a rounded
"6days". No filesystem with quotas turned on (or a ``-F`` filesystem without them) is
UNKNOWN by default (``--no-quotas``): quotas that did not come back after a reboot are
not "within limits". XFS reports the same way; project quotas are not judged.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

import nagiosplugin
from nagiosplugin.state import Ok

from checks.core import external
from checks.core.cli import Parser, regex, state, threshold
from checks.core.errors import ParseError
from checks.core.evaluate import STATES, Perf, Summary, Verdict, show
from checks.core.output import STATE_NAMES
from checks.core.ranges import Range
from checks.core.runtime import Bench, Plugin
from checks.core.units import human_duration, human_number
from checks.storage._mounts import find_mount, read_mounts

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

KINDS = ("user", "group")
REPORT = "*** Report for "
#: repquota counts space in quota blocks of 1 KiB.
QUOTA_BLOCK = 1024
#: Problems named on the status line; the long output lists them all.
SHOWN_PROBLEMS = 5


class Entry:
    """One line of a repquota report: usage, limits and grace ends of blocks and files."""

    __slots__ = ("blocks", "device", "files", "kind", "name")

    def __init__(self, kind: str, device: str, name: str, blocks: Limits, files: Limits) -> None:
        self.kind, self.device, self.name, self.blocks, self.files = (
            kind,
            device,
            name,
            blocks,
            files,
        )

    @property
    def limited(self) -> bool:
        """Whether any limit is set (entries without limits are never judged)."""
        return self.blocks.limited or self.files.limited

    def __repr__(self) -> str:
        return f"Entry({self.kind} {self.name!r} on {self.device}: {self.blocks}, {self.files})"


class Limits:
    """Usage of blocks or files against soft and hard limits (0: none), and the grace end."""

    __slots__ = ("grace", "hard", "soft", "used")

    def __init__(self, used: int, soft: int, hard: int, grace: int) -> None:
        self.used, self.soft, self.hard, self.grace = used, soft, hard, grace

    @property
    def limited(self) -> bool:
        """A soft or a hard limit is set."""
        return bool(self.soft or self.hard)

    @property
    def at_hard(self) -> bool:
        """Usage has reached the hard limit: the kernel refuses the next block or file."""
        return bool(self.hard) and self.used >= self.hard

    @property
    def over_soft(self) -> bool:
        """Usage is above the soft limit, where the kernel starts the grace time."""
        return bool(self.soft) and self.used > self.soft

    def expired(self, now: float) -> bool:
        """Over the soft limit with the grace time run out."""
        return self.over_soft and 0 < self.grace <= now

    def share(self) -> float | None:
        """Percent of the hard limit used (of the soft one when there is no hard one)."""
        limit = self.hard or self.soft
        return 100.0 * self.used / limit if limit else None

    def __repr__(self) -> str:
        return f"{self.used}/{self.soft}/{self.hard}@{self.grace}"


def parse_repquota(text: str) -> list[Entry]:
    """Every entry of ``repquota -p`` output in the default format (quota-tools 4.x).

    A report is ``*** Report for user quotas on device /dev/sdb1``, the grace times, two
    heading lines and a rule of dashes, then one line per entry until a blank line:
    ``name flags used soft hard grace used soft hard grace`` (blocks then files, blocks in
    KiB, grace as an epoch second or 0 with ``-p``). The name may hold spaces, so the
    nine fixed fields are taken from the right. Empty output means no quotas are on.
    """
    entries: list[Entry] = []
    kind = device = ""
    in_table = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(REPORT):
            kind, found, device = line[len(REPORT) :].partition(" quotas on device ")
            if not found or kind not in (*KINDS, "project") or not device.strip():
                raise ParseError(f"repquota line {number}: not a report heading: {line[:80]!r}")
            in_table = False
        elif not kind:
            if line.strip():
                raise ParseError(f"repquota line {number}: text before any report: {line[:80]!r}")
        elif line.startswith("---"):
            in_table = True
        elif in_table and line.strip():
            if kind in KINDS:
                entries.append(_entry(kind, device.strip(), line, number))
        elif in_table:
            in_table = False
    return entries


def _entry(kind: str, device: str, line: str, number: int) -> Entry:
    fields = line.split()
    if len(fields) < 10 or len(fields[-9]) != 2 or fields[-9].strip("+-"):
        raise ParseError(
            f"repquota line {number}: not a quota entry of repquota -p (name, flags, 8 "
            f"numbers): {line[:80]!r}"
        )
    try:
        values = [int(field) for field in fields[-8:]]
    except ValueError:
        raise ParseError(
            f"repquota line {number}: a field is not a whole number (grace times need "
            f"repquota -p): {line[:80]!r}"
        ) from None
    if any(value < 0 for value in values):
        raise ParseError(f"repquota line {number}: a negative number: {line[:80]!r}")
    name = " ".join(fields[:-9])
    return Entry(kind, device, name, Limits(*values[:4]), Limits(*values[4:]))


class Judgement:
    """What one entry's usage means: the worst state and the reasons for it."""

    __slots__ = ("reasons", "state")

    def __init__(self, state: int, reasons: list[str]) -> None:
        self.state, self.reasons = state, reasons


class Policy:
    """How entries are judged: the state over a soft limit, ranges on the share used."""

    def __init__(
        self, over_soft: int, warning: Range | None, critical: Range | None, now: float
    ) -> None:
        self.over_soft, self.warning, self.critical, self.now = over_soft, warning, critical, now

    def judge(self, entry: Entry) -> Judgement:
        """The worst state of the entry's blocks and files, with every reason at it."""
        found: list[tuple[int, str]] = []
        for what, limits in (("blocks", entry.blocks), ("files", entry.files)):
            amount = _amount(what)
            if limits.at_hard:
                found.append((2, f"{what} at hard limit ({amount(limits.used)} of "
                                 f"{amount(limits.hard)})"))  # fmt: skip
            elif limits.expired(self.now):
                ago = human_duration(self.now - limits.grace)
                found.append((2, f"{what} over soft limit ({amount(limits.used)} > "
                                 f"{amount(limits.soft)}), grace expired {ago} ago"))  # fmt: skip
            elif limits.over_soft:
                left = (
                    f"grace ends in {human_duration(limits.grace - self.now)}"
                    if limits.grace
                    else "grace not started"
                )
                found.append((self.over_soft, f"{what} over soft limit ({amount(limits.used)} > "
                                              f"{amount(limits.soft)}), {left}"))  # fmt: skip
            share = limits.share()
            for code, limit in ((2, self.critical), (1, self.warning)):
                if share is not None and limit is not None and limit.alerts(share):
                    which = "hard" if limits.hard else "soft"
                    why = limit.violation(share, lambda value: show(value, "%"))
                    found.append((code, f"{what} {show(share, '%')} of {which} limit {why}"))
                    break
        worst = max((code for code, _ in found), default=0)
        return Judgement(worst, [reason for code, reason in found if code == worst])


def _amount(what: str) -> Callable[[float], str]:
    if what == "blocks":
        return lambda kib: show(kib * QUOTA_BLOCK, "B")
    return lambda count: human_number(count, 0)


class Quotas(nagiosplugin.Resource):
    """The entries repquota reports, one metric each, and the counts of the problems."""

    def __init__(
        self,
        filesystems: Sequence[str],
        numeric: bool,
        names: Sequence[re.Pattern[str]],
        skip: Sequence[re.Pattern[str]],
        policy: Policy,
    ) -> None:
        self.filesystems, self.numeric, self.names, self.skip = filesystems, numeric, names, skip
        self.policy = policy
        self.judged: dict[str, tuple[Entry, Judgement]] = {}
        self.places: dict[str, str] = {}
        self.missing: list[str] = []

    def probe(self) -> list[nagiosplugin.Metric]:
        """Run repquota and judge what it reports."""
        argv = ["repquota", "-u", "-g", "-p", *(["-n"] if self.numeric else [])]
        argv += list(self.filesystems) or ["-a"]
        done = external.run(argv)
        entries = parse_repquota(done.stdout)
        if done.returncode != 0 and not entries:
            reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ParseError(f"repquota failed (exit {done.returncode}): {reason}")
        mounts = read_mounts() if self.filesystems or entries else []
        self.places = {mount.source: mount.name for mount in mounts}
        devices = {entry.device for entry in entries}
        for wanted in self.filesystems:
            mount = find_mount(mounts, wanted)
            if mount is None or mount.source not in devices:
                self.missing.append(wanted)
        metrics = []
        for entry in entries:
            if not entry.limited or not self._chosen(entry.name):
                continue
            label = f"{entry.kind} {entry.name} on {self.place(entry.device)}"
            self.judged[label] = (entry, self.policy.judge(entry))
            metrics.append(nagiosplugin.Metric(label, 0, context="entry"))
        if self.missing or not devices:
            where = ", ".join(self.missing) or "any filesystem (repquota -a reports none)"
            metrics.append(nagiosplugin.Metric(f"no quotas on {where}", 0, context="no_quotas"))
        counts = {"quotas": len(self.judged), "over_soft": 0, "hard_reached": 0,
                  "grace_expired": 0}  # fmt: skip
        for entry, _ in self.judged.values():
            for limits in (entry.blocks, entry.files):
                counts["over_soft"] += limits.over_soft
                counts["hard_reached"] += limits.at_hard
                counts["grace_expired"] += limits.expired(self.policy.now)
        metrics += [nagiosplugin.Metric(name, value, min=0, context="count")
                    for name, value in counts.items()]  # fmt: skip
        return metrics

    def place(self, device: str) -> str:
        """The mount point of ``device`` when it is mounted here, else the device."""
        return self.places.get(device, device)

    def _chosen(self, name: str) -> bool:
        if self.names and not any(pattern.search(name) for pattern in self.names):
            return False
        return not any(pattern.search(name) for pattern in self.skip)


class EntryContext(nagiosplugin.Context):
    """An entry's judgement; no perfdata (thousands of users would flood the graphs)."""

    def __init__(self) -> None:
        super().__init__("entry", result_cls=Verdict)

    def evaluate(self, metric: nagiosplugin.Metric, resource: Quotas) -> Verdict:
        """The state and reasons the policy found."""
        _, judgement = resource.judged[metric.name]
        words = ", ".join(judgement.reasons) or "within limits"
        return Verdict(STATES[judgement.state], words, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``user alice on /home``."""
        return str(metric.name)

    def performance(self, metric: nagiosplugin.Metric, resource: Quotas) -> None:
        """None: the counts carry the perfdata."""


class NoQuotas(nagiosplugin.Context):
    """Quotas are off where they were expected: the ``--no-quotas`` state."""

    def __init__(self, policy: int) -> None:
        super().__init__("no_quotas", result_cls=Verdict)
        self.policy = policy

    def evaluate(self, metric: nagiosplugin.Metric, resource: Quotas) -> Verdict:
        """Always the policy's state."""
        return Verdict(STATES[self.policy], None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``no quotas on /home``."""
        return str(metric.name)

    def performance(self, metric: nagiosplugin.Metric, resource: Quotas) -> None:
        """Nothing measured."""


class Count(nagiosplugin.Context):
    """A count for the graphs, never judged by itself."""

    def __init__(self) -> None:
        super().__init__("count", result_cls=Verdict)

    def evaluate(self, metric: nagiosplugin.Metric, resource: Quotas) -> Verdict:
        """Always OK: the entries carry the states."""
        return Verdict(Ok, None, metric)

    def performance(self, metric: nagiosplugin.Metric, resource: Quotas) -> Perf:
        """``over_soft=2;;;0``."""
        return Perf(metric.name, metric.value, minimum=0)


class QuotaSummary(Summary):
    """``42 user and group quotas within limits on /home, /srv``, or the problems.

    The long output lists the entries with a problem, or every judged entry with ``-v``.
    """

    def __init__(self, everything: bool) -> None:
        super().__init__(long_output=True)
        self.everything = everything

    def ok(self, results: nagiosplugin.Results) -> str:
        """How many quotas were judged, and where."""
        off = [str(result) for result in results.results if result.metric.context == "no_quotas"]
        if off:
            return ", ".join(off)
        resource: Quotas = results[0].resource
        if not resource.judged:
            return "no user or group has a quota limit"
        places = sorted({resource.place(entry.device) for entry, _ in resource.judged.values()})
        return f"{len(resource.judged)} user and group quotas within limits on {', '.join(places)}"

    def problem(self, results: nagiosplugin.Results) -> str:
        """The first problems, worst first, and how many more."""
        problems = [str(result) for result in results if result.state != Ok]
        text = ", ".join(problems[:SHOWN_PROBLEMS])
        if len(problems) > SHOWN_PROBLEMS:
            text += f" and {len(problems) - SHOWN_PROBLEMS} more"
        return text

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        """Every entry with a problem; with -v every judged entry."""
        return [
            f"{STATE_NAMES[result.state.code]}: {result}"
            for result in results
            if result.metric is not None
            and result.metric.context != "count"
            and (result.state != Ok or self.everything)
        ]


def build_parser() -> Parser:
    """check_quota's options."""
    parser = Parser(
        "check_quota",
        __doc__.split("\n\n")[0],
        examples=(
            "check_quota                         every filesystem with quotas on",
            "check_quota -F /home -F /srv        these filesystems; no quotas there is UNKNOWN",
            "check_quota -w 90 -c 98             also warn above 90% of a hard limit",
            "check_quota --exclude-name '^#'     users and groups with a name only",
        ),
    )
    parser.add_argument(
        "-F", "--filesystem", action="append", default=[], metavar="PATH",
        help="report this mount point or device (repeatable; default: all with quotas on)",
    )  # fmt: skip
    parser.add_argument(
        "-w", "--warning", type=threshold(), metavar="RANGE",
        help="warning range on the percentage of the limit used (hard, else soft), e.g. 90",
    )  # fmt: skip
    parser.add_argument(
        "-c", "--critical", type=threshold(), metavar="RANGE",
        help="critical range on the percentage of the limit used, e.g. 98",
    )  # fmt: skip
    parser.add_argument(
        "--over-soft", type=state, default="warning", metavar="STATE",
        help="state of an entry over a soft limit within its grace time (default: warning)",
    )  # fmt: skip
    parser.add_argument(
        "--no-quotas", type=state, default="unknown", metavar="STATE",
        help="state when no filesystem (or a -F one) has quotas on (default: unknown)",
    )  # fmt: skip
    parser.add_argument(
        "--name", action="append", default=[], type=regex(), metavar="REGEX",
        help="judge only users and groups whose name (#UID without one) matches; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--exclude-name", action="append", default=[], type=regex(), metavar="REGEX",
        help="leave out users and groups whose name matches; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "-n", "--numeric", action="store_true",
        help="report #UID/#GID without looking names up (repquota -n: fast with LDAP)",
    )  # fmt: skip
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    policy = Policy(args.over_soft, args.warning, args.critical, time.time())
    return nagiosplugin.Check(
        Quotas(args.filesystem, args.numeric, args.name, args.exclude_name, policy),
        EntryContext(),
        NoQuotas(args.no_quotas),
        Count(),
        QuotaSummary(everything=args.verbose > 0),
    )


PLUGIN = Plugin(
    "quota",
    build_parser,
    make_check,
    services=("vigie-quota",),
    nagios=("quota",),
    bench=(Bench("check_quota (runs repquota -a)", kind="tool"),),
)  # fmt: skip
main = PLUGIN.main
