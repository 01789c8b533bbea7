"""The runtime: every way a check can end is one status line with the right exit code."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable

import nagiosplugin
import pytest

from checks.core.cli import Parser, threshold
from checks.core.errors import CannotCheck, ServiceDown
from checks.core.evaluate import Summary, Threshold
from checks.core.runtime import Plugin, doing


class Probe(nagiosplugin.Resource):
    def __init__(self, action: Callable[[], list[nagiosplugin.Metric]]) -> None:
        self.action = action

    def probe(self) -> list[nagiosplugin.Metric]:
        return self.action()


def plugin(action: Callable[[], list[nagiosplugin.Metric]]) -> Plugin:
    """A test check: metrics 'a' and 'b' judged by -w/-c, whatever ``action`` returns."""

    def parser() -> Parser:
        p = Parser("check_test", "a test check", examples=("check_test -w 5",))
        p.add_argument("-w", "--warning", type=threshold())
        p.add_argument("-c", "--critical", type=threshold())
        return p

    def check(args):
        return nagiosplugin.Check(
            Probe(action),
            Threshold("a", args.warning, args.critical),
            Threshold("b", args.warning, args.critical),
            Summary(),
        )

    return Plugin("test", parser, check)


def metrics(a: float, b: float) -> Callable[[], list[nagiosplugin.Metric]]:
    return lambda: [nagiosplugin.Metric("a", a), nagiosplugin.Metric("b", b)]


def raises(error: BaseException) -> Callable[[], list[nagiosplugin.Metric]]:
    def action() -> list[nagiosplugin.Metric]:
        raise error

    return action


def test_ok_line_with_perfdata():
    outcome = plugin(metrics(1, 2)).run(["-w", "5", "-c", "10"])
    assert outcome.state == 0
    assert outcome.text == "TEST OK - a 1, b 2 | a=1;5;10 b=2;5;10\n"


def test_summary_names_every_problem_worst_first():
    outcome = plugin(metrics(7, 12)).run(["-w", "5", "-c", "10"])
    assert outcome.state == 2
    assert outcome.summary == "b 12 > 10, a 7 > 5"


def test_negative_ranges_are_values_even_beside_options_named_like_numbers():
    def parser() -> Parser:
        p = Parser("check_test", "a test check")
        p.add_argument("-4", dest="ipv4", action="store_true")
        p.add_argument("-w", "--warning", type=threshold())
        return p

    args = parser().parse_args(["-4", "-w", "-0.1:0.5"])
    assert (args.ipv4, str(args.warning)) == (True, "-0.1:0.5")


def test_negative_ranges_are_values_not_options():
    outcome = plugin(metrics(-7, 3)).run(["-w", "-5:5", "--critical", "-10:10"])
    assert outcome.state == 1
    assert outcome.summary == "a -7 < -5"
    refused = plugin(metrics(0, 0)).run(["-w", "-1"])  # a value, and not a range: 0 > -1
    assert "'-1': start 0 is greater than end -1" in refused.summary


def test_no_threshold_means_no_alert_even_for_negative_values():
    outcome = plugin(metrics(-5, -1e9)).run([])
    assert outcome.state == 0
    assert outcome.status_line == "TEST OK - a -5, b -1000000000 | a=-5 b=-1000000000"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [(["-w", "not-a-range"], "'not-a-range' is not a range"),
     (["--bogus"], "unrecognized arguments: --bogus"),
     (["-t", "0"], "'0' is not a positive number of seconds"),
     (["-t", "abc"], "'abc' is not a positive number of seconds"),
     (["-w"], "expected one argument"),
     (["extra"], "unrecognized arguments: extra")],
)  # fmt: skip
def test_bad_arguments_are_unknown_with_one_line_naming_them(argv, needle):
    outcome = plugin(metrics(1, 2)).run(argv)
    assert outcome.state == 3
    assert outcome.text.count("\n") == 1
    assert outcome.text.startswith("TEST UNKNOWN - ")
    assert needle in outcome.text
    assert "see check_test --help" in outcome.text


def test_help_and_version_exit_unknown_as_the_guidelines_say():
    help_outcome = plugin(metrics(1, 2)).run(["--help"])
    assert help_outcome.state == 3
    assert "usage: check_test" in help_outcome.text
    assert "check_test -w 5" in help_outcome.text
    version = plugin(metrics(1, 2)).run(["-V"])
    assert version.state == 3
    assert version.text.startswith("check_test v")


def test_verbose_lists_every_result_and_clamps_at_three():
    outcome = plugin(metrics(1, 2)).run(["-vvvvv", "-w", "5"])
    assert outcome.state == 0
    assert outcome.text.splitlines()[1:] == ["OK: a 1", "OK: b 2"]


@pytest.mark.parametrize(
    ("error", "state", "line"),
    [(CannotCheck("smartctl is not installed"), 3, "TEST UNKNOWN - smartctl is not installed"),
     (ServiceDown("connection refused"), 2, "TEST CRITICAL - connection refused"),
     (FileNotFoundError(2, "No such file or directory", "/proc/nope"), 3,
      "TEST UNKNOWN - cannot use /proc/nope: No such file or directory"),
     (PermissionError(13, "Permission denied"), 3, "TEST UNKNOWN - Permission denied")],
)  # fmt: skip
def test_gather_failures_become_one_line_with_their_state(error, state, line):
    outcome = plugin(raises(error)).run([])
    assert outcome.state == state
    assert outcome.text == line + "\n"


def test_unexpected_exception_is_unknown_without_traceback():
    outcome = plugin(raises(ZeroDivisionError("division by zero"))).run([])
    assert outcome.state == 3
    assert outcome.text == "TEST UNKNOWN - internal error: ZeroDivisionError: division by zero\n"


def test_traceback_only_with_vvv_and_never_on_the_status_line():
    outcome = plugin(raises(ZeroDivisionError("division by zero"))).run(["-vvv"])
    first, *rest = outcome.text.splitlines()
    assert first == "TEST UNKNOWN - internal error: ZeroDivisionError: division by zero"
    assert any(line.startswith("Traceback") for line in rest)


def sleeper(seconds: float, swallow: bool = False) -> Callable[[], list[nagiosplugin.Metric]]:
    def action() -> list[nagiosplugin.Metric]:
        with doing("waiting for the test server"):
            try:
                time.sleep(seconds)
            except Exception:  # a careless gather must not swallow the timeout
                if not swallow:
                    raise
        return []

    return action


@pytest.mark.parametrize("swallow", [False, True])
def test_timeout_says_what_it_was_waiting_for(swallow):
    started = time.monotonic()
    outcome = plugin(sleeper(5, swallow)).run(["-t", "0.3"])
    assert time.monotonic() - started < 1.5
    assert outcome.state == 3
    assert outcome.text == (
        "TEST UNKNOWN - timed out after 0.3 s while waiting for the test server\n"
    )


def test_alarm_and_handler_are_restored_after_a_run():
    previous = signal.getsignal(signal.SIGALRM)
    plugin(metrics(1, 2)).run(["-t", "5"])
    assert signal.getsignal(signal.SIGALRM) == previous
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_runs_in_one_process_do_not_leak_into_each_other():
    first = plugin(metrics(1, 2)).run(["-w", "0.5"])
    second = plugin(metrics(0, 0)).run(["-w", "5"])
    assert first.state == 1
    assert second.text == "TEST OK - a 0, b 0 | a=0;5 b=0;5\n"


WATCHDOG_SCRIPT = textwrap.dedent(
    """
    import signal, time
    import nagiosplugin
    from checks.core.cli import Parser
    from checks.core.runtime import Plugin, doing

    class Stuck(nagiosplugin.Resource):
        def probe(self):
            # Like a C call that never returns to Python: SIGALRM cannot be delivered.
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
            with doing("waiting inside a C library"):
                time.sleep(30)
            return []

    check = lambda args: nagiosplugin.Check(Stuck())
    Plugin("stuck", lambda: Parser("check_stuck", "stuck"), check).main()
    """
)


def test_watchdog_stops_a_process_that_sigalrm_cannot_reach(tmp_path):
    script = tmp_path / "check_stuck.py"
    script.write_text(WATCHDOG_SCRIPT)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(script), "-t", "0.5"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert time.monotonic() - started < 3
    assert result.returncode == 3
    assert result.stdout == (
        "STUCK UNKNOWN - timed out after 0.5 s while waiting inside a C library (stopped hard)\n"
    )
