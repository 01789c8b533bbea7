"""check_smart end to end: a stub smartctl on PATH answers with real captured outputs.

The stub (a shell script in a temp dir) prints the fixture of the disk named last on its
command line and exits with that fixture's exit status, prints the scan for
``--scan-open``, and logs every command line, so the tests see what check_smart asked.
The check runs in-process (``PLUGIN.run``) and as the installed executable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from checks.core import external
from checks.core.runtime import Outcome
from checks.storage.smart import PLUGIN
from tests.conftest import shared_fixtures
from tests.helpers.captures import own_or_shared
from tests.helpers.contract import assert_conforms, assert_one_line, run_installed
from tests.helpers.mutations import every_damage_answers_cleanly
from tests.helpers.smart import OWN, exit_status, read_fixture
from tests.helpers.stub_tools import StubTools, first_on_path

STUB = """#!/bin/sh
# smartctl stand-in: logs its command line, answers from files next to it.
here=$(dirname "$0")
echo "$*" >> "$here/calls"
case " $* " in *" --scan-open "*) cat "$here/scan"; exit 0;; esac
for device; do :; done
name=$(basename "$device")
cat "$here/$name.out"
exit "$(cat "$here/$name.status")"
"""

SUDO = """#!/bin/sh
# sudo stand-in: -n and -- as the real one, then runs the command.
here=$(dirname "$0")
echo "sudo $*" >> "$here/calls"
[ "$1" = -n ] || exit 1
shift
[ "$1" = -- ] && shift
exec "$@"
"""

SUDO_REFUSES = """#!/bin/sh
echo "sudo: a password is required" >&2
exit 1
"""

#: fixture -> (state, words the status line holds), with ``-d /dev/sdx``
EXPECTED = {
    "text_device_in_standby_exit2.txt": (0, "sdx in STANDBY mode, not checked"),
    "text_nvme_d_test_device_type.txt": (3, "sdx: smartctl printed no SMART data for it"),
    "text_nvme_passed_28pct_used.txt": (0, "1 disk healthy: sdx (42 °C, 28% used)"),
    "text_nvme_passed_33pct_used_smartctl74.txt": (0, "sdx (48 °C, 33% used)"),
    "text_nvme_passed_smartctl66.txt": (0, "sdx (34 °C, 0% used)"),
    "text_sas_hdd_health_ok.txt": (0, "sdx (32 °C)"),
    "text_sas_hdd_hgst_health_ok_info_only.txt": (0, "sdx (34 °C)"),
    "text_sas_hdd_megaraid_jbod_health_ok.txt": (0, "sdx (42 °C, 0% used)"),
    "text_sas_ssd_x_health_ok.txt": (0, "sdx (25 °C, 0% used)"),
    "text_sat_hdd_passed_smartctl64.txt": (0, "sdx (31 °C)"),
    "text_sata_hdd_seagate_passed_smartctl71.txt": (0, "sdx (38 °C)"),
    "text_sata_ssd_passed_windows_smartctl73.txt": (0, "sdx (47 °C)"),
    "text_scsi_unsupported_virtual_disk.txt": (3, "has no SMART: the device lacks SMART"),
    # tests/fixtures/smartctl
    "text_invalid_device_type_exit1.txt": (3, "Unknown device type 'foo' (see --device-type)"),
    "text_unable_to_detect_device_type_exit1.txt": (3, "Unable to detect device type"),
    "text_open_device_no_such_device_exit2.txt": (2, "cannot be opened: No such device"),
    "text_open_device_cciss_not_permitted_exit2.txt": (2, "Operation not permitted"),
    "text_open_device_failed_windows_exit2.txt": (2, "Open failed, Error=5"),
    "text_open_device_permission_denied_exit2.txt": (3, "Permission denied (run as root"),
    "text_sata_hdd_failed_read_failure_failing_now_exit216.txt": (
        2,
        "sdx: SMART health FAILED, Reallocated_Sector_Ct failing now (value 1 <= threshold 5), "
        "self-test failed: Extended offline: Completed: read failure at LBA 104870168, "
        "power-on hour 4 (and 2 older), reallocated sectors 1975 > 0, pending sectors 8 > 0",
    ),
    "text_sata_hdd_megaraid_reallocated_387_exit4.txt": (1, "sdx: reallocated sectors 387 > 0"),
    "text_sata_hdd_reallocated_304.txt": (1, "sdx: reallocated sectors 304 > 0"),
    "text_sata_ssd_reallocated_4.txt": (1, "sdx: reallocated sectors 4 > 0"),
    "text_sata_hdd_error_log_12_exit64.txt": (0, "sdx (26 °C)"),
    "text_nvme_failed_critical_warning_volatile_backup_exit8.txt": (
        2,
        "sdx: SMART health FAILED: volatile memory backup device has failed",
    ),
    "text_nvme_media_errors_7.txt": (1, "sdx: media errors 7 > 0"),
    "text_nvme_passed_75pct_used.txt": (0, "sdx (19 °C, 75% used)"),
    "text_scsi_grown_defects_260.txt": (1, "sdx: grown defects 260 > 0"),
}


def fixture_path(name: str) -> Path:
    return own_or_shared("smartctl", name)


class Stub(StubTools):
    """A directory with the stub smartctl (and sudo) and the answers it gives."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.install("smartctl", STUB)
        self.write("scan", "")

    def write(self, name: str, text: str) -> None:
        (self.directory / name).write_text(text)

    def disk(self, device: str, fixture: str, status: int | None = None) -> Stub:
        """``device`` answers with ``fixture`` (and its exit status unless given)."""
        source = fixture_path(fixture)
        name = os.path.basename(device)
        shutil.copyfile(source, self.directory / f"{name}.out")
        code = exit_status(source) if status is None else status
        self.write(f"{name}.status", str(code))
        return self

    def scan(self, fixture: str) -> Stub:
        shutil.copyfile(OWN / fixture, self.directory / "scan")
        return self


@pytest.fixture
def stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stub:
    """The stub smartctl, first on PATH."""
    return first_on_path(Stub(tmp_path / "bin"), monkeypatch)


def test_every_text_fixture_has_an_expected_state():
    shared = {path.name for path in (shared_fixtures() / "smartctl").glob("text_*")}
    own = {path.name for path in OWN.glob("text_*")}
    assert shared | own == set(EXPECTED)


@pytest.mark.parametrize(("fixture", "expected"), EXPECTED.items(), ids=list(EXPECTED))
def test_each_capture_in_process(stub, fixture, expected):
    stub.disk("/dev/sdx", fixture)
    outcome = PLUGIN.run(["-d", "/dev/sdx"])
    assert_conforms("smart", outcome.state, outcome.text)
    assert (outcome.state, expected[1] in outcome.status_line) == (expected[0], True), outcome.text
    assert stub.calls == ["--all -n standby /dev/sdx"]


@pytest.mark.parametrize(("fixture", "expected"), EXPECTED.items(), ids=list(EXPECTED))
def test_each_capture_as_a_process(stub, fixture, expected):
    stub.disk("/dev/sdx", fixture)
    result = run_installed("smart", "-d", "/dev/sdx", "-i", "auto")
    assert result.stderr == ""
    assert result.returncode == expected[0], result.stdout
    assert expected[1] in result.stdout.splitlines()[0]
    assert stub.calls == ["--all -n standby -d auto /dev/sdx"]


def test_failing_disk_long_output_explains_the_exit_status(stub):
    stub.disk("/dev/sdc", "text_sata_hdd_failed_read_failure_failing_now_exit216.txt")
    outcome = PLUGIN.run(["-d", "/dev/sdc"])
    status_line, disk_line = outcome.text.splitlines()
    assert status_line.endswith(
        "| sdc_temperature=25 sdc_reallocated=1975;0;;0 sdc_pending=8;0;;0 "
        "sdc_offline_uncorrectable=0;0;;0 sdc_errors_logged=56c;;;0"
    )
    assert disk_line.startswith(
        "CRITICAL: sdc (/dev/sdc, Hitachi HDS721050DLE630, s/n MSK423Y20S3HBC): "
        "SMART health FAILED; Reallocated_Sector_Ct failing now"
    )
    assert "error log has 56 entries (exit bit 6)" in disk_line
    assert disk_line.endswith(
        "smartctl exit 216 (SMART status: disk failing, prefail attributes at or below "
        "threshold, error log has errors, self-test log has errors)"
    )


def test_exit_bits_judge_what_the_text_does_not_say(stub):
    # The healthy SATA text with exit 8 (disk failing) and 128 (self-test log errors).
    stub.disk("/dev/sda", "text_sat_hdd_passed_smartctl64.txt", status=8 | 128)
    outcome = PLUGIN.run(["-d", "/dev/sda"])
    assert outcome.state == 2
    assert outcome.summary == (
        "sda: smartctl says the disk is failing (exit bit 3), self-test log has errors (exit bit 7)"
    )


def test_past_threshold_crossings_and_error_log_are_notes_not_alerts(stub):
    stub.disk("/dev/sda", "text_sat_hdd_passed_smartctl64.txt", status=32 | 64)
    outcome = PLUGIN.run(["-d", "/dev/sda"])
    assert outcome.state == 0
    assert (
        "attributes were at or below threshold in the past (exit bit 5); "
        "error log has some entries (exit bit 6)"
    ) in outcome.text.splitlines()[1]


def test_nvme_that_fails_outright_is_critical(stub):
    # nvmeprint.cpp: jerr("Read NVMe Identify Controller failed: %s\n"); return FAILID (2).
    stub.write(
        "nvme0.out",
        "smartctl 7.3 2022-02-28 r5338 [x86_64-linux-6.1.0-13-amd64] (local build)\n"
        "Copyright (C) 2002-22, Bruce Allen, Christian Franke, www.smartmontools.org\n\n"
        "Read NVMe Identify Controller failed: NVMe Status 0x4002\n",
    )
    stub.write("nvme0.status", "2")
    outcome = PLUGIN.run(["-d", "/dev/nvme0", "-i", "nvme"])
    assert (outcome.state, outcome.summary) == (
        2,
        "nvme0: SMART data cannot be read: Read NVMe Identify Controller failed: "
        "NVMe Status 0x4002",
    )


def test_all_disks_found_one_smartctl_run_each(stub):
    stub.scan("scan_open_mixed.txt")
    stub.disk("/dev/sda", "text_sat_hdd_passed_smartctl64.txt")
    stub.disk("/dev/sdb", "text_sas_hdd_health_ok.txt")
    stub.disk("/dev/nvme0", "text_nvme_passed_28pct_used.txt")
    stub.disk("/dev/bus/0", "text_sas_hdd_megaraid_jbod_health_ok.txt")
    outcome = PLUGIN.run([])
    assert outcome.state == 0, outcome.text
    assert outcome.summary == (
        "4 disks healthy: sda (31 °C), sdb (32 °C), nvme0 (42 °C, 28% used), "
        "bus_0_megaraid_4 (42 °C, 0% used); not judged: /dev/sdc (open failed: INQUIRY failed)"
    )
    assert stub.calls == [
        "--scan-open",
        "--all -n standby -d sat /dev/sda",
        "--all -n standby -d scsi /dev/sdb",
        "--all -n standby -d nvme /dev/nvme0",
        "--all -n standby -d megaraid,4 /dev/bus/0",
    ]
    lines = outcome.text.splitlines()
    assert len(lines) == 6  # status line, one line per disk, the device not judged
    assert lines[-1] == "not judged: /dev/sdc (open failed: INQUIRY failed)"
    perf = lines[0].split(" | ")[1].split()
    assert "bus_0_megaraid_4_grown_defects=0;0;;0" in perf
    assert "nvme0_percentage_used=28%;80;90;0" in perf


def test_found_device_without_smart_is_listed_not_judged(stub):
    stub.write("scan", "/dev/sda -d scsi # /dev/sda, SCSI device\n")
    stub.disk("/dev/sda", "text_scsi_unsupported_virtual_disk.txt")
    outcome = PLUGIN.run([])
    assert (outcome.state, outcome.summary) == (
        3,
        "no disk with SMART found; not judged: /dev/sda (the device lacks SMART capability)",
    )
    stub.write("scan", "/dev/sda -d scsi # /dev/sda, SCSI device\n/dev/sdb -d sat # x\n")
    stub.disk("/dev/sdb", "text_sat_hdd_passed_smartctl64.txt")
    outcome = PLUGIN.run([])
    assert (outcome.state, outcome.summary) == (
        0,
        "1 disk healthy: sdb (31 °C); not judged: /dev/sda (the device lacks SMART capability)",
    )


def test_scan_without_root_says_how_to_fix_it(stub):
    stub.scan("scan_open_permission_denied.txt")
    outcome = PLUGIN.run([])
    assert (outcome.state, outcome.text) == (
        3,
        "SMART UNKNOWN - smartctl may not open /dev/sda: Permission denied (run as root, or "
        "give --sudo with the sudoers line of check_smart --help)\n",
    )


def test_no_disk_found_is_unknown(stub):
    outcome = PLUGIN.run([])
    assert (outcome.state, outcome.summary) == (3, "no disk with SMART found")


def test_sudo_when_not_root(stub, monkeypatch):
    stub.install("sudo", SUDO)
    stub.disk("/dev/sda", "text_sat_hdd_passed_smartctl64.txt")
    monkeypatch.setattr(external.os, "geteuid", lambda: 112)
    outcome = PLUGIN.run(["-d", "/dev/sda", "--sudo"])
    assert outcome.state == 0, outcome.text
    smartctl = stub.directory / "smartctl"
    assert stub.calls == [
        f"sudo -n -- {smartctl} --all -n standby /dev/sda",
        "--all -n standby /dev/sda",
    ]


def test_sudo_not_needed_as_root(stub, monkeypatch):
    stub.install("sudo", SUDO_REFUSES)
    stub.disk("/dev/sda", "text_sat_hdd_passed_smartctl64.txt")
    monkeypatch.setattr(external.os, "geteuid", lambda: 0)
    assert PLUGIN.run(["-d", "/dev/sda", "--sudo"]).state == 0


def test_sudo_refusal_is_unknown_with_the_reason(stub, monkeypatch):
    stub.install("sudo", SUDO_REFUSES)
    stub.disk("/dev/sda", "text_sat_hdd_passed_smartctl64.txt")
    monkeypatch.setattr(external.os, "geteuid", lambda: 112)
    outcome = PLUGIN.run(["-d", "/dev/sda", "--sudo"])
    assert (outcome.state, outcome.summary) == (
        3,
        "sudo did not run smartctl: sudo: a password is required (see check_smart --help "
        "for the sudoers line)",
    )


def test_thresholds_by_metric_and_by_ata_attribute(stub):
    stub.disk("/dev/sda", "text_sat_hdd_passed_smartctl64.txt")
    stub.disk("/dev/nvme0", "text_nvme_passed_28pct_used.txt")
    outcome = PLUGIN.run(
        ["-d", "/dev/sda", "-d", "/dev/nvme0", "-w", "temperature=40,reallocated=10",
         "-c", "194=30", "-c", "percentage_used=25"]
    )  # fmt: skip
    assert outcome.state == 2
    assert outcome.summary == (
        "sda: Temperature_Celsius 31 > 30; nvme0: endurance used 28% > 25%, temperature 42 °C > 40"
    )
    perf = outcome.status_line.split(" | ")[1].split()
    assert "sda_temperature=31;40" in perf
    assert "sda_reallocated=0;10;;0" in perf
    assert "sda_temperature_celsius=31;;30;0" in perf
    assert "nvme0_temperature=42;40;@85:" in perf  # the admin's warning, the drive's critical
    assert "nvme0_percentage_used=28%;80;25;0" in perf


def test_drive_own_temperature_limits(stub):
    stub.disk("/dev/sdb", "text_scsi_grown_defects_260.txt")
    outcome = PLUGIN.run(["-d", "/dev/sdb", "-c", "temperature=30"])
    assert outcome.summary == "sdb: temperature 33 °C > 30, grown defects 260 > 0"
    assert "sdb_temperature=33;;30" in outcome.status_line


def test_standby_state_is_a_choice(stub):
    stub.disk("/dev/sdb", "text_device_in_standby_exit2.txt")
    outcome = PLUGIN.run(["-d", "/dev/sdb", "--standby-state", "warning", "-n", "idle"])
    assert (outcome.state, outcome.summary) == (
        1,
        "sdb: in STANDBY mode, not woken up (not checked)",
    )
    assert stub.calls == ["--all -n idle /dev/sdb"]


def test_types_pair_with_devices(stub):
    stub.disk("/dev/bus/0", "text_sas_hdd_megaraid_jbod_health_ok.txt")
    stub.disk("/dev/nvme0", "text_nvme_passed_28pct_used.txt")
    outcome = PLUGIN.run(["-d", "/dev/bus/0", "-i", "megaraid,4", "-d", "/dev/nvme0", "-i", "nvme"])
    assert outcome.state == 0
    assert stub.calls == [
        "--all -n standby -d megaraid,4 /dev/bus/0",
        "--all -n standby -d nvme /dev/nvme0",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-i", "sat"], "--device-type needs -d"),
        (["-d", "/dev/sda", "-d", "/dev/sdb", "-d", "/dev/sdc", "-i", "sat", "-i", "scsi"],
         "3 -d devices and 2 --device-type"),
        (["-d", "sda"], "'sda' is not a device path"),
        (["-d", "/dev/sda", "-i", "-x"], "argument -i/--device-type/--interface: expected one"),
        (["-w", "not-a-range"], "'not-a-range' is not NAME=RANGE"),
        (["-w", "temprature=50"], "'temprature' is neither a metric"),
        (["-c", "194=abc"], "194: 'abc' is not a range"),
        (["-c", "256=1"], "'256' is neither a metric"),
        (["-n", "always"], "invalid choice: 'always'"),
    ],
)  # fmt: skip
def test_wrong_use_is_one_unknown_line(stub, argv, message):
    assert_one_line(PLUGIN.run(argv), 3, message)
    assert stub.calls == []


def test_missing_smartctl_is_unknown(stub):
    outcome = PLUGIN.run(["-d", "/dev/sda", "--smartctl", "/nonexistent/smartctl"])
    assert (outcome.state, outcome.summary) == (
        3,
        "cannot run /nonexistent/smartctl: No such file or directory",
    )


def test_hung_smartctl_times_out(stub):
    stub.install("smartctl", "#!/bin/sh\nexec sleep 30\n")
    outcome = PLUGIN.run(["-d", "/dev/sda", "-t", "1"])
    assert outcome.state == 3
    assert "while reading SMART data of /dev/sda" in outcome.summary or "did not finish" in (
        outcome.summary
    )


@pytest.mark.parametrize(
    "fixture",
    [
        "text_sata_hdd_failed_read_failure_failing_now_exit216.txt",
        "text_nvme_passed_33pct_used_smartctl74.txt",
        "text_sas_ssd_x_health_ok.txt",
        "text_device_in_standby_exit2.txt",
    ],
)
def test_damaged_output_answers_cleanly(stub, fixture):
    path = fixture_path(fixture)
    status = exit_status(path)
    stub.write("sdx.status", str(status))

    def run_on(damaged_text: str) -> Outcome:
        stub.write("sdx.out", damaged_text)
        return PLUGIN.run(["-d", "/dev/sdx", "-c", "194=50"])

    every_damage_answers_cleanly("smart", run_on, read_fixture(path), examples=25, slow=True)


@pytest.mark.parametrize(
    ("fixture", "device", "loaded"),
    [
        ("text_nvme_passed_75pct_used.txt", "/dev/nvme0", {"humanfriendly"}),
        ("text_sata_hdd_reallocated_304.txt", "/dev/sda", set()),
        ("text_scsi_grown_defects_260.txt", "/dev/sdb", set()),
    ],
)
def test_a_run_loads_only_the_deferred_modules_pysmart_really_calls(
    tmp_path, fixture, device, loaded
):
    """What pySMART and its dependencies import eagerly but never call here stays unloaded."""
    stub = tmp_path / "smartctl"
    stub.write_text(f"#!/bin/sh\ncat '{OWN / fixture}'\n")
    stub.chmod(0o755)
    script = (
        "import sys\n"
        "from checks.storage import _pysmart, smart\n"
        f"outcome = smart.PLUGIN.run(['--smartctl', {str(stub)!r}, '-d', {device!r}])\n"
        "assert outcome.state in (0, 1, 2), outcome.text\n"
        # Its docstring tells a placeholder (any other attribute would load the module).
        "real = [name for name in _pysmart.DEFERRED\n"
        "        if not (sys.modules[name].__doc__ or '').endswith('on first use by vigie')]\n"
        "print(' '.join(real))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert set(result.stdout.split()) == loaded, result.stdout
