"""Running tools: argument lists, the C locale, the check's timeout, clear failures."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import nagiosplugin
import pytest

from checks.core import external
from checks.core.cli import Parser
from checks.core.errors import CannotCheck
from checks.core.runtime import Plugin


def tool(directory: Path, name: str, body: str) -> str:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_a_missing_tool_is_unknown_naming_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CannotCheck, match="no-such-tool is not installed"):
        external.run(["no-such-tool", "--version"])


def test_sbin_directories_are_searched_even_when_path_omits_them(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert external.find("sh") in ("/usr/bin/sh", "/bin/sh")


def test_output_exit_code_and_c_locale(tmp_path):
    script = tool(tmp_path, "speak", 'echo "$LC_ALL $LANG $1"; echo oops >&2; exit 4')
    done = external.run([script, "a b"])
    assert (done.returncode, done.stdout, done.stderr) == (4, "C C a b\n", "oops\n")


def test_arguments_are_never_parsed_by_a_shell(tmp_path):
    script = tool(tmp_path, "echo-args", 'printf "%s|" "$@"')
    assert external.run([script, "$(id)", "; rm -rf /", "*"]).stdout == "$(id)|; rm -rf /|*|"


def test_a_tool_that_cannot_start_is_unknown(tmp_path):
    path = tmp_path / "not-executable"
    path.write_text("#!/bin/sh\n")
    with pytest.raises(CannotCheck, match="cannot run"):
        external.run([str(path)])


class Slow(nagiosplugin.Resource):
    def __init__(self, script: str) -> None:
        self.script = script

    def probe(self) -> list[nagiosplugin.Metric]:
        external.run([self.script], what="waiting for the slow tool")
        return []


def test_a_tool_is_killed_when_the_check_times_out(tmp_path):
    script = tool(tmp_path, "slow", f"echo $$ > {tmp_path}/pid; exec sleep 30")
    plugin = Plugin(
        "slow", lambda: Parser("check_slow", "slow"), lambda a: nagiosplugin.Check(Slow(script))
    )
    started = time.monotonic()
    outcome = plugin.run(["-t", "0.5"])
    assert time.monotonic() - started < 2
    assert outcome.text == "SLOW UNKNOWN - timed out after 0.5 s while waiting for the slow tool\n"
    pid = int((tmp_path / "pid").read_text())
    time.sleep(0.1)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
