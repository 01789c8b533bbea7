"""Every installed check_* executable, run as a process, keeps the plugin contract."""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks import __version__
from checks.core.runtime import Plugin
from checks.registry import plugins
from tests.conftest import executable, installed_executables
from tests.helpers.contract import assert_conforms

EXECUTABLES = installed_executables()
# Arguments each check needs to reach its target on this machine (loopback only).
LIVE_ARGUMENTS: dict[str, list[str]] = {}


def run(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [executable(name), *args], capture_output=True, text=True, timeout=30, check=False
    )


def plugin_of(name: str) -> Plugin:
    (entry,) = [
        entry
        for entry in importlib.metadata.distribution("vigie").entry_points
        if entry.group == "console_scripts" and entry.name == name
    ]
    plugin: Plugin = importlib.import_module(entry.value.split(":")[0]).PLUGIN
    return plugin


def test_every_check_module_is_installed_as_an_executable():
    assert EXECUTABLES, "no check_* console script is installed"
    assert set(EXECUTABLES) == {plugin.executable for plugin in plugins()}, (
        "installed check_* scripts differ from the checks: pip install -e . again?"
    )


@pytest.mark.parametrize("name", EXECUTABLES)
def test_live_run_keeps_the_contract(name):
    result = run(name, *LIVE_ARGUMENTS.get(name, []))
    assert_conforms(name[len("check_") :], result.returncode, result.stdout, result.stderr)
    assert result.stderr == ""


@pytest.mark.parametrize("name", EXECUTABLES)
def test_help_exits_unknown_with_usage_options_and_examples(name):
    result = run(name, "--help")
    assert result.returncode == 3
    assert result.stdout.startswith(f"usage: {name} ")
    for option in ("-h, --help", "-V, --version", "-v, --verbose", "-t SECONDS, --timeout"):
        assert option in result.stdout
    assert "examples:" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("name", EXECUTABLES)
def test_version_exits_unknown(name):
    result = run(name, "-V")
    assert (result.returncode, result.stdout) == (
        3,
        f"{name} v{__version__} (vigie {__version__})\n",
    )


@pytest.mark.parametrize(
    "args",
    [["--no-such-option-xyz"], ["-w", "not-a-range", "-c", "5"], ["-t", "0"], ["-t", "-3"],
     ["-w"], ["positional-garbage"]],
    ids=["unknown-option", "malformed-threshold", "zero-timeout", "negative-timeout",
         "missing-value", "positional"],
)  # fmt: skip
@pytest.mark.parametrize("name", EXECUTABLES)
def test_bad_use_is_one_unknown_line(name, args):
    result = run(name, *args)
    assert_conforms(name[len("check_") :], result.returncode, result.stdout, result.stderr)
    assert result.returncode == 3
    assert result.stdout.count("\n") == 1, result.stdout
    assert result.stderr == ""
    if "not-a-range" in args:
        assert "'not-a-range'" in result.stdout


ODD_VALUES = ["", "-", "--", "0", "-1", "10", "1:2:3", "@", "~:", "10%", "1e9", "abc", "é|x", "\n"]


@pytest.mark.parametrize("name", EXECUTABLES)
def test_any_argument_list_keeps_the_contract_in_process(name):
    plugin = plugin_of(name)
    options = [
        option
        for action in plugin.parser()._actions
        for option in action.option_strings
        if option not in ("-h", "--help", "-V", "--version", "-t", "--timeout")
    ]
    tokens = st.lists(st.sampled_from(options) | st.sampled_from(ODD_VALUES), max_size=6)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(tokens)
    def keeps_contract(argv: list[str]) -> None:
        outcome = plugin.run([*argv, "-t", "1"])  # -t last: a fuzzed --sample 10 cannot stall
        assert_conforms(plugin.name, outcome.state, outcome.text)

    keeps_contract()
