"""The plugin output grammar of the Monitoring Plugins Development Guidelines, as regexes."""

from __future__ import annotations

import re

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
