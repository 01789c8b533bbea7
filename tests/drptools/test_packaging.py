"""The scheduling units: systemd accepts them, and cron runs the same schedule."""

from __future__ import annotations

import configparser
import shutil
import subprocess

import pytest

from checks.backup import backup
from tests.conftest import REPO, executable

UNITS = REPO / "packaging" / "systemd"
CRON = REPO / "packaging" / "cron" / "vigie-drp"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNITS / name)
    return parser


def test_systemd_verifies_the_units(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (apt install systemd)")
    for path in UNITS.iterdir():
        text = path.read_text().replace("/usr/bin/drp", executable("drp"))
        (tmp_path / path.name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stderr.strip()) == (0, "")


@pytest.mark.parametrize(
    ("timer", "calendar", "command"),
    [("vigie-drp-files", "*-*-* 01:30:00", "/usr/bin/drp -v backup files"),
     ("vigie-drp-db", "*-*-* 00/2:15:00", "/usr/bin/drp -v backup db"),
     ("vigie-drp-prestage", "*-*-* 04:45:00", "/usr/bin/drp -v prestage"),
     ("vigie-drp-drill", "Sun *-*-* 06:30:00", "/usr/bin/drp -v drill")],
)  # fmt: skip
def test_timers_are_persistent_and_randomised(timer, calendar, command):
    settings = unit(f"{timer}.timer")["Timer"]
    assert settings["OnCalendar"] == calendar
    assert settings["Persistent"] == "true"
    assert settings["FixedRandomDelay"] == "true"
    assert "RandomizedDelaySec" in settings
    service = unit(f"{timer}.service")["Service"]
    assert (service["Type"], service["ExecStart"]) == ("oneshot", command)
    assert service["SuccessExitStatus"] == "75"


def test_the_db_timer_keeps_the_rpo():
    delay = unit("vigie-drp-db.timer")["Timer"]["RandomizedDelaySec"]
    assert delay.endswith("min")
    assert int(delay[:-3]) < 15


def test_cron_runs_the_same_schedule():
    entries = [
        line.split(None, 6)
        for line in CRON.read_text().splitlines()
        if line.strip() and not line.startswith("#") and "=" not in line.split()[0]
    ]
    assert entries == [
        ["30", "1", "*", "*", "*", "root",
         "timeout --kill-after=2m 1200m /usr/bin/drp backup files"],
        ["15", "*/2", "*", "*", "*", "root",
         "timeout --kill-after=2m 110m /usr/bin/drp backup db"],
        ["30", "5", "*", "*", "*", "root",
         "timeout --kill-after=2m 1200m /usr/bin/drp verify files --rolling 7"],
        ["45", "4", "*", "*", "*", "root", "timeout --kill-after=2m 1200m /usr/bin/drp prestage"],
        ["30", "6", "*", "*", "0", "root", "timeout --kill-after=5m 1200m /usr/bin/drp drill"],
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "unit_name"), [("files", "vigie-drp-files"), ("db", "vigie-drp-db")]
)
def test_runs_are_limited_as_the_configuration_says(kind, unit_name):
    from drptools.config import DEFAULT_LIMITS

    minutes = DEFAULT_LIMITS[kind]
    service = unit(f"{unit_name}.service")["Service"]
    limit = service["TimeoutStartSec"]
    unit_minutes = int(limit[:-1]) * 60 if limit.endswith("h") else int(limit.removesuffix("min"))
    assert unit_minutes == minutes
    assert service["TimeoutStopSec"] == "2min"
    command = f"/usr/bin/drp backup {kind}"
    (line,) = [line for line in CRON.read_text().splitlines() if line.endswith(command)]
    assert f"timeout --kill-after=2m {minutes}m {command}" in line


def test_the_rolling_verification_reads_every_file_within_check_backups_limit():
    assert unit("vigie-drp-verify.timer")["Timer"]["Persistent"] == "true"
    service = unit("vigie-drp-verify.service")["Service"]
    assert service["ExecStart"] == "/usr/bin/drp -v verify files --rolling 7"
    assert (service["TimeoutStartSec"], service["TimeoutStopSec"]) == ("20h", "2min")
    limit = next(
        action.default for action in backup.build_parser()._actions
        if action.dest == "warning_verified"
    )  # fmt: skip
    assert limit == "8d", "7 days of shares, and a day of slack"
