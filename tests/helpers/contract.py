"""The plugin output grammar of the Monitoring Plugins Development Guidelines, as regexes,
and the installed executables run against it."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping

from checks.core.runtime import Outcome
from tests.conftest import executable

NUMBER = r"-?(?:\d+(?:\.\d*)?|\.\d+)"
RANGE = rf"@?(?:(?:~|{NUMBER})?:)?(?:{NUMBER})?"
LABEL = r"(?:'[^'=]+'|[^'=\s|]+)"
UOM = r"(?:s|ms|us|%|B|KB|MB|GB|TB|c)?"
PERF_ITEM = (
    rf"{LABEL}={NUMBER}{UOM}(?:;{RANGE}(?:;{RANGE}(?:;(?:{NUMBER})?(?:;(?:{NUMBER})?)?)?)?)?"
)
STATES = "OK|WARNING|CRITICAL|UNKNOWN"


def status_line(name: str) -> re.Pattern[str]:
    """``NAME STATE - summary | perfdata`` for the check called ``name``."""
    return re.compile(
        rf"{re.escape(name.upper())} (?P<state>{STATES})(?: - (?P<summary>[^|]*?))?"
        rf"(?: \| (?P<perfdata>{PERF_ITEM}(?: {PERF_ITEM})*))?"
    )


def assert_conforms(name: str, code: int, stdout: str, stderr: str = "") -> None:
    """The process output keeps the contract: exit code, first line, no traceback."""
    assert code in (0, 1, 2, 3), f"{name} exited {code}"
    assert stdout.endswith("\n"), f"{name} output does not end with a newline: {stdout!r}"
    first = stdout.split("\n", 1)[0]
    match = status_line(name).fullmatch(first)
    assert match, f"{name} first line breaks the grammar: {first!r}"
    assert match["state"] == ("OK", "WARNING", "CRITICAL", "UNKNOWN")[code], (code, first)
    assert "Traceback" not in stdout + stderr, f"{name} printed a traceback:\n{stdout}{stderr}"


def assert_one_line(outcome: Outcome, state: int, words: str) -> None:
    """``outcome`` is ``state`` with ``words`` in its one line (no long output): what an
    admin reads first for wrong use, a broken answer, a server that is not the service."""
    assert outcome.state == state, outcome.text
    assert words in outcome.text, outcome.text
    assert outcome.text.count("\n") == 1, outcome.text


def run_installed(
    name: str, *args: str, timeout: float = 30, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed ``check_<name>`` run on ``args`` as Icinga runs it; its output keeps the
    contract (asserted), the result is the caller's to judge."""
    result = subprocess.run([executable(f"check_{name}"), *args], capture_output=True, text=True,
                            timeout=timeout, env=env, check=False)  # fmt: skip
    assert_conforms(name, result.returncode, result.stdout, result.stderr)
    return result
