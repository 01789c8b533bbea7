"""check_procs: processes by name, command line, user and state: how many, and each one's size.

Counts the processes that pass every filter given (``-C`` command name, ``-a`` a substring
of the command line, ``--regex``, ``-u`` user, ``-s`` state letters, ``-p`` parent …) and
judges the count (-w/-c), the zombies among them, and each process's RSS, virtual size,
CPU share and age: one process over a limit is enough to alert, and the status line names
the worst ones. Everything is read from /proc/<pid>/stat (plus cmdline and status only
when a filter needs them), with no ``ps`` to run and no psutil to import.

Never counted: this check itself, another run of it (two services checking the same
process at once would otherwise see each other's command line), and the process that
started it (the shell of ``sh -c``, or the monitoring engine), as the C plugin 2.3 does.

Takes the C plugin's options unchanged: ``-w/-c RANGE`` on the count, ``-C NAME`` (the
kernel's command name, at most 15 characters, as ``ps -o comm``), ``-a STRING`` (substring
of the command line as ``ps -o args`` shows it: ``[name]`` for kernel threads, ``<defunct>``
for zombies), ``--ereg-argument-array``, ``-u USER``, ``-s STATES``, ``-p PPID``, ``-k``,
``-r/-z/-P`` (minimum RSS, VSZ in KiB, %CPU), ``-m RSS|VSZ|CPU|ELAPSED`` (then -w/-c judge
that metric of each process, sizes in KiB). Two differences: ``-s`` takes state letters
and matches any of them (``-s DR``: running or in disk wait), where the C plugin looks for
the option inside ps's STAT column (``Ss``, ``R+``…), so that one letter means the same to
both but ``-s DR`` matches nothing there; and ``-k`` leaves out every kernel thread by its
kernel flag, kthreadd too. RSS is ``VmRSS`` as ps shows it; CPU is the share of one CPU
over the process's lifetime, as ps %CPU.

Why one module of over 450 lines: it is one contract, the C plugin's option surface (a
dozen filters, four per-process metrics, their C-compatible forms) and the judging those
options ask for; what a process is (/proc/<pid>) is :mod:`checks.system._process`, shared
with check_load.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
from collections.abc import Callable

import nagiosplugin

from checks.core import procfs
from checks.core.cli import Parser, UsageError, add_thresholds, threshold
from checks.core.errors import CannotCheck
from checks.core.evaluate import Perf, Summary, Threshold, Verdict, show
from checks.core.ranges import Range
from checks.core.runtime import Bench, Local, Plugin
from checks.core.units import BYTES, SECONDS, count_of
from checks.system._process import (
    KERNEL_THREAD,
    KIB,
    STATE_LETTERS,
    ZOMBIE,
    Process,
    command_line,
    cpu_percent,
    parse_stat,
    parse_status,
    read_bytes,
)

log = logging.getLogger(__name__)

#: The metrics judged per process, with their perfdata unit.
PER_PROCESS = {"rss": "B", "vsz": "B", "cpu": "%", "elapsed": "s"}
C_METRICS = ("PROCS", "RSS", "VSZ", "CPU", "ELAPSED")
#: How many of the worst processes a problem names.
NAMED = 3


def measure(process: Process, uptime: float, ticks: int) -> dict[str, float]:
    """The per-process metrics: RSS and VSZ in bytes, CPU in %, elapsed in seconds."""
    return {
        "rss": process.rss,
        "vsz": process.vsize,
        "cpu": cpu_percent(process, uptime, ticks),
        "elapsed": max(uptime - process.start_ticks / ticks, 0.0),
    }


class Selection:
    """The filters of the command line; a process must pass all of them."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.command: str | None = args.command
        self.argument: str | None = args.argument_array
        self.pattern: re.Pattern[str] | None = args.regex
        self.uid: int | None = args.user[0] if args.user else None
        self.user_text = f"{args.user[1]} ({args.user[0]})" if args.user else ""
        self.states: str | None = args.state
        self.ppid: int | None = args.ppid
        self.no_kernel_threads: bool = args.no_kthreads
        self.minimum = {"rss": args.rss, "vsz": args.vsz, "cpu": args.pcpu}

    @property
    def needs_args(self) -> bool:
        """Whether the command line must be read."""
        return self.argument is not None or self.pattern is not None

    def by_stat(self, process: Process) -> bool:
        """The filters /proc/<pid>/stat decides: command name, state, parent, kernel thread."""
        return (
            (self.command is None or process.comm == self.command)
            and (self.states is None or process.state in self.states)
            and (self.ppid is None or process.ppid == self.ppid)
            and not (self.no_kernel_threads and process.flags & KERNEL_THREAD)
        )

    def by_args(self, args: str) -> bool:
        """The command-line filters: substring and regular expression."""
        return (self.argument is None or self.argument in args) and (
            self.pattern is None or self.pattern.search(args) is not None
        )

    def by_size(self, metrics: dict[str, float]) -> bool:
        """The minimum RSS, VSZ and %CPU filters (``metrics`` as :func:`measure`)."""
        return all(
            metrics[name] >= minimum
            for name, minimum in self.minimum.items()
            if minimum is not None
        )

    def __str__(self) -> str:
        """The filters as people read them: ``command name 'sshd', user root (0)``."""
        parts = []
        if self.command is not None:
            parts.append(f"command name {self.command!r}")
        if self.argument is not None:
            parts.append(f"args containing {self.argument!r}")
        if self.pattern is not None:
            parts.append(f"args matching {self.pattern.pattern!r}")
        if self.uid is not None:
            parts.append(f"user {self.user_text}")
        if self.states is not None:
            parts.append(f"state {self.states}")
        if self.ppid is not None:
            parts.append(f"parent {self.ppid}")
        if self.no_kernel_threads:
            parts.append("no kernel threads")
        for name, minimum in self.minimum.items():
            if minimum is not None:
                shown = show(minimum, PER_PROCESS[name])
                parts.append(f"{'%CPU' if name == 'cpu' else name.upper()} >= {shown}")
        return ", ".join(parts)


class Myself:
    """This run and its parent (never counted), and how to tell another run of this check."""

    def __init__(self) -> None:
        self.pids = {os.getpid(), os.getppid()}
        stat = parse_stat(read_bytes("/proc/self/stat").decode("utf-8", "replace"))
        self.comm = stat.comm
        self.program = self.identity(read_bytes("/proc/self/cmdline"))

    @staticmethod
    def identity(cmdline: bytes) -> tuple[bytes, bytes]:
        """The program a command line runs: interpreter and script name (or binary alone)."""
        words = cmdline.split(b"\0")
        return words[0], os.path.basename(words[1]) if len(words) > 1 else b""

    def runs_the_same_program(self, process: Process, cmdline: bytes) -> bool:
        """Another run of this check: same command name, interpreter and script."""
        return process.comm == self.comm and self.identity(cmdline) == self.program


class ProcessTable(nagiosplugin.Resource):
    """The processes that pass the filters, and their metrics."""

    def __init__(self, selection: Selection, judged: list[str], listing: bool) -> None:
        self.selection = selection
        self.judged = judged
        self.listing = listing
        #: RSS is judged, filtered or shown: read status's exact VmRSS, as ps shows it.
        self.exact_rss = "rss" in judged or selection.minimum["rss"] is not None or listing
        self.matched: list[tuple[Process, dict[str, float]]] = []
        #: How many processes were read, matching or not.
        self.seen = 0

    def probe(self) -> list[nagiosplugin.Metric]:
        """Read every /proc/<pid>, keep the matches, count them and collect their metrics."""
        root = procfs.root()
        myself = Myself() if os.path.realpath(root) == "/proc" else None
        uptime = float(procfs.read("uptime").split()[0])
        ticks = os.sysconf("SC_CLK_TCK")
        for entry in os.listdir(root):
            if not entry.isdigit():
                continue
            try:
                process = self._select(f"{root}/{entry}", myself)
            except (FileNotFoundError, ProcessLookupError):
                continue  # ended meanwhile
            if process is not None:
                metrics = measure(process, uptime, ticks)
                if self.selection.by_size(metrics):
                    self.matched.append((process, metrics))
        if not self.seen:
            raise CannotCheck(f"no process could be read in {root}")
        self.matched.sort(key=lambda match: match[0].pid)
        log.info("%d processes read, %d match", self.seen, len(self.matched))
        zombies = sum(1 for process, _ in self.matched if process.state == ZOMBIE)
        result = [
            nagiosplugin.Metric("procs", len(self.matched), min=0),
            nagiosplugin.Metric("zombies", zombies, min=0),
        ]
        result += [
            nagiosplugin.Metric(
                name,
                [(metrics[name], process) for process, metrics in self.matched],
                PER_PROCESS[name],
            )
            for name in self.judged
        ]
        return result

    def _select(self, directory: str, myself: Myself | None) -> Process | None:
        """The process in ``directory`` if it passes the filters, reading only what they need
        (stat always; cmdline, status when a filter asks); None for this check itself."""
        process = parse_stat(read_bytes(f"{directory}/stat").decode("utf-8", "replace"))
        self.seen += 1
        if myself is not None and process.pid in myself.pids:
            return None
        if not self.selection.by_stat(process):
            return None
        cmdline = b""
        if not process.flags & KERNEL_THREAD and (
            self.selection.needs_args or self.listing or (myself and process.comm == myself.comm)
        ):
            cmdline = read_bytes(f"{directory}/cmdline", 1 << 20)
        if myself is not None and myself.runs_the_same_program(process, cmdline):
            return None
        if self.selection.uid is not None or self.exact_rss:
            process.uid, rss = parse_status(
                read_bytes(f"{directory}/status").decode("utf-8", "replace")
            )
            process.rss = process.rss if rss is None else rss
            if self.selection.uid is not None and process.uid != self.selection.uid:
                return None
        if self.selection.needs_args or self.listing:
            process.args = command_line(cmdline, process.comm, process.state)
        return process if self.selection.by_args(process.args) else None


def describe_count(metric: nagiosplugin.Metric) -> str:
    """``3 processes``, ``1 zombie``."""
    noun = "process" if metric.name == "procs" else "zombie"
    plural = "es" if noun == "process" else "s"
    return f"{metric.value} {noun}{'' if metric.value == 1 else plural}"


class WorstProcesses(Verdict):
    """``RSS > 512 MiB: 2 of 5 processes (…)``: the hint says it all when there is one."""

    def __str__(self) -> str:
        return str(self.hint) if self.hint else super().__str__()


class EachProcess(nagiosplugin.Context):
    """One metric of every matched process against -w and -c: the worst one decides."""

    def __init__(self, name: str, warning: Range | None, critical: Range | None) -> None:
        super().__init__(name, result_cls=WorstProcesses)
        self.warning = warning
        self.critical = critical
        self.label = {"rss": "RSS", "vsz": "VSZ", "cpu": "CPU", "elapsed": "age"}[name]

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> WorstProcesses:
        """The state of the worst process; the hint names the processes beyond that range."""
        uom = PER_PROCESS[self.name]
        for state, limit in (
            (nagiosplugin.Critical, self.critical),
            (nagiosplugin.Warn, self.warning),
        ):
            if limit is None:
                continue
            beyond = sorted(
                ((value, process) for value, process in metric.value if limit.alerts(value)),
                key=lambda item: (-item[0], item[1].pid),
            )
            if beyond:
                named = ", ".join(
                    f"{process.comm} pid {process.pid} {show(value, uom)}"
                    for value, process in beyond[:NAMED]
                )
                more = ", …" if len(beyond) > NAMED else ""
                why = limit.violation(beyond[0][0], lambda value: show(value, uom))
                count = f"{len(beyond)} of {len(metric.value)} processes"
                hint = f"{self.label} {why}: {count} ({named}{more})"
                return WorstProcesses(state, hint, metric)
        return WorstProcesses(nagiosplugin.Ok, None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``RSS`` (the hint says the rest), or the largest value when all are fine."""
        largest = self.largest(metric)
        if largest is None:
            return f"{self.label}: no process"
        value, process = largest
        shown = show(value, PER_PROCESS[self.name])
        return f"largest {self.label} {shown} ({process.comm} pid {process.pid})"

    @staticmethod
    def largest(metric: nagiosplugin.Metric) -> tuple[float, Process] | None:
        """The process with the highest value, if any matched."""
        return max(metric.value, key=lambda item: item[0], default=None)

    def performance(self, metric: nagiosplugin.Metric, resource: object) -> Perf:
        """``rss_max``: the highest value among the matched processes (0 when none)."""
        largest = self.largest(metric)
        value = largest[0] if largest else 0
        return Perf(
            f"{self.name}_max", value, PER_PROCESS[self.name], self.warning, self.critical, 0
        )


class ProcsSummary(Summary):
    """``3 processes (command name 'sleep')``; problems with the filters in parentheses."""

    @staticmethod
    def _filters(results: nagiosplugin.Results) -> str:
        text = str(results[0].resource.selection) if results.results else ""
        return f" ({text})" if text else ""

    def ok(self, results: nagiosplugin.Results) -> str:
        """The count, zombies if any, and the largest of each judged metric."""
        text = str(results["procs"])
        if results["zombies"].metric.value:
            text += f", {results['zombies']}"
        text += self._filters(results)
        for result in results.results:
            if isinstance(result.metric.contextobj, EachProcess) and result.metric.value:
                text += f", {result}"
        return text

    def problem(self, results: nagiosplugin.Results) -> str:
        """The problems, worst first, then the filters."""
        return super().problem(results) + self._filters(results)

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        """Each result, then each matched process (pid, state, sizes, command line)."""
        lines = super().verbose(results)
        for process, metrics in results[0].resource.matched:
            lines.append(
                f"pid {process.pid} {process.state} {process.comm}: RSS "
                f"{show(metrics['rss'], 'B')}, CPU {show(metrics['cpu'], '%')}, age "
                f"{show(metrics['elapsed'], 's')}: {process.args}"
            )
        return lines


def _user(text: str) -> tuple[int, str]:
    """A user name or numeric ID (an ID needs no passwd entry, unlike the C plugin)."""
    import pwd

    try:
        if text.isdigit():
            uid = int(text)
            try:
                return uid, pwd.getpwuid(uid).pw_name
            except KeyError:
                return uid, text
        return pwd.getpwnam(text).pw_uid, text
    except KeyError:
        raise argparse.ArgumentTypeError(f"no user named {text!r}") from None


def _states(text: str) -> str:
    unknown = sorted(set(text) - set(STATE_LETTERS))
    if not text or unknown:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give process state letters among {' '.join(STATE_LETTERS)} "
            "(R running, S sleeping, D disk wait, Z zombie, T stopped, I idle …)"
        )
    return text


def _regex(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular expression: {error}") from None


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(text)


def _minimum(unit: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = count_of(text)
        if value is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
        return value * unit

    return parse


def build_parser() -> Parser:
    """check_procs's options: the C plugin's, plus per-metric ranges and zombies."""
    parser = Parser(
        "check_procs",
        __doc__.split("\n\n")[0],
        examples=(
            "check_procs -C sshd -c 1:                         CRITICAL unless sshd runs",
            "check_procs -w 2:2 -c 1:1024 -C portsentry        as the C plugin",
            "check_procs -a /usr/bin/backup.sh --warning-elapsed 2h    a job that hangs",
            "check_procs -u www-data --warning-rss 1G --critical-rss 2G",
            "check_procs --warning-zombies 5 --critical-zombies 50",
            "check_procs -m CPU -w 80 -c 95 -C java            lifetime CPU of each java",
        ),
    )
    selection = parser.add_argument_group("which processes (all given filters must match)")
    selection.add_argument(
        "-C", "--command", metavar="NAME", help="command name, exactly (C-compatible)"
    )
    selection.add_argument(
        "-a",
        "--argument-array",
        metavar="STRING",
        help="command line contains STRING (C-compatible)",
    )
    selection.add_argument(
        "--regex",
        "--ereg-argument-array",
        type=_regex,
        metavar="REGEX",
        help="command line matches REGEX, a Python regular expression (C-compatible)",
    )
    selection.add_argument(
        "-u", "--user", type=_user, metavar="USER", help="effective user name or ID (C-compatible)"
    )
    selection.add_argument(
        "-s",
        "--state",
        type=_states,
        metavar="STATES",
        help=f"state letter is one of STATES, e.g. Z, or DR for either ({STATE_LETTERS}; "
        "C-compatible for one letter)",
    )
    selection.add_argument(
        "-p", "--ppid", type=_count, metavar="PPID", help="parent process ID (C-compatible)"
    )
    selection.add_argument(
        "-k",
        "--no-kthreads",
        action="store_true",
        help="leave out kernel threads (C-compatible)",
    )
    for short, name, what, unit in (
        ("-r", "rss", "RSS of at least N KiB", KIB),
        ("-z", "vsz", "virtual size of at least N KiB", KIB),
        ("-P", "pcpu", "lifetime CPU of at least N percent", 1),
    ):
        selection.add_argument(
            short,
            f"--{name}",
            type=_minimum(unit),
            metavar="N",
            help=f"{what} (C-compatible)",
        )
    judging = parser.add_argument_group("thresholds")
    judging.add_argument(
        "-w",
        "--warning",
        type=threshold(),
        metavar="RANGE",
        help="warning range for the number of processes, or with -m for each process's "
        "metric (C-compatible)",
    )
    judging.add_argument(
        "-c",
        "--critical",
        type=threshold(),
        metavar="RANGE",
        help="critical range, as -w (C-compatible)",
    )
    judging.add_argument(
        "-m",
        "--metric",
        choices=C_METRICS,
        default="PROCS",
        help="what -w and -c judge: the number of processes (PROCS, default), or each "
        "process's RSS or VSZ in KiB, CPU in percent, ELAPSED in seconds (C-compatible)",
    )
    add_thresholds(judging, "the number of zombies among the processes", metric="zombies")
    for name, what, scale in (
        ("rss", "resident memory, e.g. 512M", BYTES),
        ("vsz", "virtual memory, e.g. 4G", BYTES),
        ("cpu", "lifetime CPU in percent", None),
        ("elapsed", "age, e.g. 2h", SECONDS),
    ):
        add_thresholds(judging, f"each process's {what}", metric=name, scale=scale)
    return parser


def _in_kib(limit: Range | None) -> Range | None:
    """A C plugin range in KiB, in bytes."""
    if limit is None:
        return None
    return Range(limit.start * KIB, limit.end * KIB, inside=limit.inside, text=limit.text)


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``: -w/-c go to the count or to the ``-m`` metric."""
    ranges = {name: [getattr(args, f"{level}_{name}") for level in ("warning", "critical")]
              for name in PER_PROCESS}  # fmt: skip
    count = [args.warning, args.critical]
    if args.metric != "PROCS":
        name = args.metric.lower()
        if any(ranges[name]):
            raise UsageError(f"give either -m {args.metric} with -w/-c or --warning-{name}")
        convert = _in_kib if name in ("rss", "vsz") else (lambda limit: limit)
        ranges[name] = [convert(limit) for limit in count]
        count = [None, None]
    judged = [name for name in PER_PROCESS if any(ranges[name])]
    return nagiosplugin.Check(
        ProcessTable(Selection(args), judged, listing=args.verbose > 0),
        Threshold("procs", count[0], count[1], describe_count),
        Threshold("zombies", args.warning_zombies, args.critical_zombies, describe_count),
        *(EachProcess(name, *ranges[name]) for name in PER_PROCESS),
        ProcsSummary(),
    )


PLUGIN = Plugin(
    "procs",
    build_parser,
    make_check,
    local=(Local("zombies", ("--warning-zombies", "5", "--critical-zombies", "50"), rank=9),),
    services=("vigie-process ",),
    bench=(
        Bench("check_procs -w 500 -c 1000", ("-w", "500", "-c", "1000"),
              twin="C check_procs -w 500 -c 1000"),
        Bench("check_procs -u root --warning-rss 1G", ("-u", "root", "--warning-rss", "1G")),
    ),
)  # fmt: skip
main = PLUGIN.main
