"""Run a check from argv to exit code: parse, time-limit, guard, print.

A check module declares a :class:`Plugin` (its parser and how to build its nagiosplugin
Check) and exposes ``main = PLUGIN.main``. :meth:`Plugin.run` does everything except
printing and exiting and returns an :class:`Outcome`, so tests and ``vigie run`` call
checks in-process; nagiosplugin's Runtime is not used because it is a singleton that keeps
output between runs and prints tracebacks as plugin output.

Every way out is one status line: usage errors, ``--help``/``--version`` (exit 3), the
check's own :mod:`~checks.core.errors`, unreadable files, a timeout saying what it was
waiting for, and any other exception as ``internal error`` (its traceback only with -vvv).
"""

from __future__ import annotations

import _thread
import io
import logging
import os
import signal
import sys
import time
from collections.abc import Callable

from checks.core.cli import EarlyExit, Parser, UsageError
from checks.core.errors import CannotCheck, ServiceDown, TimedOut
from checks.core.output import render

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from types import TracebackType
    from typing import NoReturn

    import nagiosplugin

# What the check is waiting for, innermost last; the timeout message names the last one.
_activity: list[str] = []
_deadline: list[float] = []
# Loggers whose records become long output: the checks' own and nagiosplugin's.
_LOGGERS = ("checks", "nagiosplugin")
# Seconds between the graceful SIGALRM and the watchdog's hard stop of the process.
WATCHDOG_GRACE = 0.5


class doing:  # noqa: N801 - reads as a sentence: ``with doing("reading /proc/stat"):``
    """Name what the check waits for, so that a timeout says ``… while reading /proc/stat``."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        _activity.append(self.what)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _activity.pop()


def remaining() -> float | None:
    """Seconds left before the check's timeout (None outside a run), for socket/process waits."""
    if not _deadline:
        return None
    return max(_deadline[-1] - time.monotonic(), 0.001)


class Outcome:
    """What a check run produced: its state (0-3), its summary, and the whole output text."""

    __slots__ = ("state", "summary", "text")

    def __init__(self, state: int, summary: str, text: str) -> None:
        self.state, self.summary, self.text = state, summary, text

    @property
    def status_line(self) -> str:
        """The first line of the output."""
        return self.text.split("\n", 1)[0]

    def __repr__(self) -> str:
        return f"Outcome({self.state}, {self.status_line!r})"


class _Alarm:
    """SIGALRM after ``seconds``, raising :class:`TimedOut` in the main thread.

    Restores the previous handler and timer, so in-process runs nest (``vigie run``).
    Without a main thread (tests in threads) no alarm is set and only socket/process
    timeouts from :func:`remaining` apply.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.armed = False

    def _fire(self, signum: int, frame: object) -> None:
        if self.armed:
            self.armed = False
            raise TimedOut(_activity[-1] if _activity else "running the check")

    def __enter__(self) -> _Alarm:
        _deadline.append(time.monotonic() + self.seconds)
        try:
            self._previous = signal.signal(signal.SIGALRM, self._fire)
        except ValueError:  # not the main thread
            self._previous = None
            return self
        self.armed = True
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc: object) -> None:
        self.armed = False
        _deadline.pop()
        if self._previous is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)


def _watchdog(name: str, seconds: float) -> None:
    """Hard stop for a process stuck where SIGALRM cannot reach (inside a C call)."""
    time.sleep(seconds + WATCHDOG_GRACE)
    what = _activity[-1] if _activity else "running the check"
    line = render(name, 3, f"timed out after {seconds:g} s while {what} (stopped hard)")
    os.write(1, line.encode())
    os._exit(3)


class Local:
    """An entry of the local suite (``vigie run``): its name there, its arguments, its rank.

    Each entry is also the Icinga service ``vigie-<name>`` applied to the hosts that set
    ``vars.vigie_local_checks`` and the Nagios service ``<name>`` of the hostgroup
    ``vigie-local`` (a unit test holds ``icinga_conf/`` to that).
    """

    __slots__ = ("arguments", "name", "rank")

    def __init__(self, name: str, arguments: tuple[str, ...] = (), rank: int = 0) -> None:
        self.name, self.arguments, self.rank = name, arguments, rank


class Bench:
    """A case of ``make bench``: its label in RESULTS.md, the arguments, the budget, a twin.

    ``arguments`` may name what the bench sets up for the run: ``{ssh_port}``,
    ``{ntp_port}``, ``{backup_config}``, ``{smartctl:FIXTURE}``. ``kind`` is the budget of
    PERFORMANCE.md (``local``, or ``tool`` for a check that runs a tool or talks to a
    server); ``twin`` the label of the C plugin's case it is compared with.
    """

    __slots__ = ("arguments", "kind", "label", "twin")

    def __init__(
        self, label: str, arguments: tuple[str, ...] = (), kind: str = "local",
        twin: str | None = None,
    ) -> None:  # fmt: skip
        self.label, self.arguments, self.kind, self.twin = label, arguments, kind, twin


class Plugin:
    """A check executable: the one declaration everything else about the check derives from.

    ``name`` (the executable is ``check_<name>``, the CheckCommand ``vigie-<name>``), its
    argument parser and how to build its nagiosplugin Check; then what the rest of vigie
    reads: ``local`` (its entries in ``vigie run``), ``services`` (the other Icinga apply
    rules of ``icinga_conf/services.conf`` that run it) and ``nagios`` (the other Nagios
    services of ``icinga_conf/nagios/services.cfg``), or ``no_service`` saying why it has
    none; ``bench`` (its cases in ``make bench``). ``address``: ``-H`` is the monitored host,
    so its CheckCommand defaults it to the host's address (``$check_address$``).
    """

    def __init__(
        self,
        name: str,
        parser: Callable[[], Parser],
        check: Callable[[argparse.Namespace], nagiosplugin.Check],
        *,
        local: tuple[Local, ...] = (),
        services: tuple[str, ...] = (),
        nagios: tuple[str, ...] = (),
        no_service: str = "",
        bench: tuple[Bench, ...] = (),
        address: bool = False,
    ) -> None:
        self.name = name
        self.parser = parser
        self.check = check
        self.local = local
        self.services = services
        self.nagios = nagios
        self.no_service = no_service
        self.bench = bench
        self.address = address

    @property
    def executable(self) -> str:
        """The command name, ``check_<name>``."""
        return f"check_{self.name}"

    def run(self, argv: list[str] | None = None, *, watchdog: bool = False) -> Outcome:
        """Run the check on ``argv`` in this process and return its outcome; never raises.

        ``watchdog`` (set by :meth:`main` only) also stops the whole process shortly after
        the timeout if SIGALRM could not interrupt it.
        """
        try:
            args = self.parser().parse_args(argv)
        except UsageError as error:
            return self._failure(3, f"{error} (see {self.executable} --help)")
        except EarlyExit as early:
            return Outcome(3, "", early.text)
        log_lines = io.StringIO()
        handler = _log_to(log_lines, args.verbose)
        try:
            if watchdog:
                _thread.start_new_thread(_watchdog, (self.name, args.timeout))
            return self._judge(args, log_lines)
        finally:
            for name in _LOGGERS:
                logging.getLogger(name).removeHandler(handler)

    def _judge(self, args: argparse.Namespace, log_lines: io.StringIO) -> Outcome:
        try:
            with _Alarm(args.timeout):
                check = self.check(args)
                check()
        except TimedOut as timeout:
            return self._failure(3, f"timed out after {args.timeout:g} s while {timeout}")
        except UsageError as error:  # options that contradict each other
            return self._failure(3, f"{error} (see {self.executable} --help)")
        except (CannotCheck, ServiceDown) as error:
            return self._failure(error.state, str(error), log_lines)
        except OSError as error:
            return self._failure(3, _describe_os_error(error), log_lines)
        except Exception as error:  # the last guard: a plugin never prints a traceback
            logging.getLogger("checks").debug("traceback", exc_info=True)
            kind = type(error).__name__
            return self._failure(3, f"internal error: {kind}: {error}", log_lines)
        return self._compose(check, args.verbose, log_lines)

    def _compose(self, check: nagiosplugin.Check, verbose: int, log_lines: io.StringIO) -> Outcome:
        state = check.state.code
        summary = check.summary_str
        perf = [
            str(performance)
            for result in check.results.results
            if result.metric is not None
            and result.metric.contextobj is not None
            and (performance := result.metric.performance()) is not None
        ]
        long_lines: list[str] = []
        if verbose or getattr(check.summary, "long_output", False):
            long_lines = check.summary.verbose(check.results) or []
        long_lines += log_lines.getvalue().splitlines()
        return Outcome(state, summary, render(self.name, state, summary, perf, long_lines))

    def _failure(self, state: int, message: str, log_lines: io.StringIO | None = None) -> Outcome:
        details = log_lines.getvalue().splitlines() if log_lines else []
        return Outcome(state, message, render(self.name, state, message, (), details))

    def main(self, argv: list[str] | None = None) -> NoReturn:
        """Console-script entry point: run, print, exit with the state."""
        outcome = self.run(sys.argv[1:] if argv is None else argv, watchdog=True)
        sys.stdout.write(outcome.text)
        sys.stdout.flush()
        sys.exit(outcome.state)


def _log_to(stream: io.StringIO, verbose: int) -> logging.Handler:
    """Collect the checks' log records for the long output: -vv info, -vvv debug."""
    handler = logging.StreamHandler(stream)
    handler.setLevel((logging.WARNING, logging.WARNING, logging.INFO, logging.DEBUG)[verbose])
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(handler)
    return handler


def _describe_os_error(error: OSError) -> str:
    """``cannot read /proc/x: Permission denied`` rather than ``[Errno 13] …``."""
    reason = error.strerror or str(error)
    if error.filename is not None:
        return f"cannot use {error.filename}: {reason}"
    return reason
