"""Shared test plumbing: isolated check state, recorded /proc samples, installed executables.

With ``CI=true`` a skipped test is a failure: CI installs every component the tests need,
so a skip there means a test silently did not run.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from pathlib import Path

import pytest

from checks.core.runtime import Outcome, Plugin

# Fixtures of real servers (tests/servers/): one module per server.
pytest_plugins = [
    "tests.servers.sshd",
    "tests.servers.loopfs",
    "tests.servers.netns",
    "tests.servers.chrony",
    "tests.servers.ntp_fake",
    "tests.servers.mariadb",
    "tests.servers.postgresql",
    "tests.servers.bind_zone",
    "tests.servers.icinga_api",
    "tests.servers.nginx",
    "tests.servers.vsftpd",
    "tests.servers.postfix",
    "tests.servers.bind",
    "tests.servers.apache",
    "tests.servers.tomcat",
    "tests.servers.elasticsearch_fake",
    "tests.servers.ssh_fake",
    "tests.servers.line_fake",
]

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PROC_SAMPLES = FIXTURES / "proc"
IN_CI = os.environ.get("CI", "").lower() == "true"
C_PLUGINS = Path("/usr/lib/nagios/plugins")

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if IN_CI and _skipped:
        terminalreporter.write_line(
            f"CI=true: {len(_skipped)} skipped test(s) count as failures:", red=True
        )
        for nodeid in _skipped:
            terminalreporter.write_line(f"  {nodeid}", red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if IN_CI and _skipped and session.exitstatus == 0:
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own check state directory and the live /proc."""
    state = tmp_path / "vigie-state"
    monkeypatch.setenv("VIGIE_STATE_DIR", str(state))
    monkeypatch.delenv("VIGIE_PROC_ROOT", raising=False)
    return state


def shared_fixtures_dir() -> Path:
    """Where the captured outputs of ``../shared/fixtures`` (or ``$VIGIE_FIXTURES``) live.

    For collection (parametrising over the files): never skips; the list is just empty
    when the directory is absent, and a test that calls :func:`shared_fixtures` says so.
    """
    return Path(os.environ.get("VIGIE_FIXTURES") or REPO.parent / "shared" / "fixtures")


def shared_fixtures() -> Path:
    """The shared captured outputs; skip (a failure in CI) when they are absent."""
    path = shared_fixtures_dir()
    if not path.is_dir():
        pytest.skip(f"shared fixtures not found at {path} (set VIGIE_FIXTURES)")
    return path


def run_on_sample(
    plugin: Plugin, sample: str, *args: str, monkeypatch: pytest.MonkeyPatch
) -> Outcome:
    """Run ``plugin`` in-process on the recorded /proc sample ``sample``."""
    monkeypatch.setenv("VIGIE_PROC_ROOT", str(PROC_SAMPLES / sample))
    return plugin.run(list(args))


def installed_executables() -> list[str]:
    """Names of the ``check_*`` console scripts this distribution installs."""
    return sorted(
        entry.name
        for entry in importlib.metadata.distribution("vigie").entry_points
        if entry.group == "console_scripts" and entry.name.startswith("check_")
    )


def executable(name: str) -> str:
    """Path of an installed vigie command (next to this interpreter)."""
    path = Path(sys.executable).parent / name
    assert path.exists(), f"{name} is not installed next to {sys.executable}"
    return str(path)


def c_plugin(name: str) -> str:
    """Path of a C monitoring-plugins executable; skip when monitoring-plugins is absent."""
    path = C_PLUGINS / name
    if not path.exists():
        pytest.skip(f"{path} not installed (apt install monitoring-plugins-basic)")
    return str(path)
