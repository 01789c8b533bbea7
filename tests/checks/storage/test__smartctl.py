"""check_smart's readers of smartctl: exit bits, device scan, ``--all`` text through pySMART.

Every ``text_*`` capture of ../shared/fixtures/smartctl and every file of
tests/fixtures/smartctl (README there) is read here, whole and damaged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.core.errors import ParseError
from checks.storage._smartctl import (
    Disk,
    SelfTest,
    critical_warnings,
    disk_label,
    explain_status,
    failed_selftests,
    parse_scan,
    read_disk,
)
from tests.conftest import shared_fixtures, shared_fixtures_dir
from tests.helpers.mutations import every_damage_parses_or_refuses
from tests.helpers.smart import OWN, exit_status, read_fixture


def text_fixtures() -> list[Path]:
    """Every smartctl text capture: shared ones (if present) and the repo's own."""
    return sorted(shared_fixtures_dir().glob("smartctl/text_*")) + sorted(OWN.glob("text_*"))


def test_the_shared_smartctl_captures_are_there():
    assert sorted(shared_fixtures().glob("smartctl/text_*")), "no text_* capture to judge"


def disk_of(path: Path, device_type: str = "") -> Disk:
    return read_disk(read_fixture(path), exit_status(path), "/dev/sdx", device_type)


def shared(name: str) -> Path:
    return shared_fixtures() / "smartctl" / name


def test_exit_status_bits_are_named():
    assert explain_status(0) == "0"
    assert explain_status(216) == (
        "216 (SMART status: disk failing, prefail attributes at or below threshold, "
        "error log has errors, self-test log has errors)"
    )
    assert explain_status(6) == (
        "6 (device open failed, a SMART or other command to the disk failed)"
    )


def test_nvme_critical_warning_bits_become_words():
    assert critical_warnings(0) == []
    assert critical_warnings(0x10) == ["volatile memory backup device has failed"]
    assert critical_warnings(0x05) == [
        "available spare has fallen below threshold",
        "NVM subsystem reliability has been degraded",
    ]
    assert critical_warnings(0xC2)[-1] == "unknown critical warning bits 0xc0"


@pytest.mark.parametrize(
    ("device", "device_type", "label"),
    [
        ("/dev/sda", "", "sda"),
        ("/dev/nvme0", "nvme", "nvme0"),
        ("/dev/bus/0", "megaraid,4", "bus_0_megaraid_4"),
        ("/dev/sda", "sat+megaraid,3", "sda_megaraid_3"),
        ("/dev/disk/by-id/ata-ST2000NM000A_WS10SM2A", "sat", "ata-ST2000NM000A_WS10SM2A"),
        ("/dev/sg2", "aacraid,0,0,1", "sg2_aacraid_0_0_1"),
    ],
)
def test_disk_labels_are_stable_and_unique_per_controller_slot(device, device_type, label):
    assert disk_label(device, device_type) == label


def test_scan_lists_devices_and_those_that_did_not_open():
    entries = parse_scan((OWN / "scan_open_mixed.txt").read_text())
    assert [(e.device, e.device_type, e.error) for e in entries] == [
        ("/dev/sda", "sat", ""),
        ("/dev/sdb", "scsi", ""),
        ("/dev/nvme0", "nvme", ""),
        ("/dev/bus/0", "megaraid,4", ""),
        ("/dev/sdc", "scsi", "INQUIRY failed"),
    ]
    assert parse_scan("") == []


def test_scan_failure_and_foreign_lines_are_refused():
    with pytest.raises(ParseError, match="--scan-open failed: no devices"):
        parse_scan("# scan_smart_devices: no devices\n")
    with pytest.raises(ParseError, match="cannot read"):
        parse_scan("this is not a scan\n")


def test_sata_failing_now_with_read_failures():
    disk = disk_of(OWN / "text_sata_hdd_failed_read_failure_failing_now_exit216.txt")
    assert (disk.kind, disk.model, disk.serial) == (
        "ata",
        "Hitachi HDS721050DLE630",
        "MSK423Y20S3HBC",
    )
    assert disk.health is False
    assert disk.status == 216
    assert disk.counters == {
        "reallocated": 1975,
        "pending": 8,
        "offline_uncorrectable": 0,
        "errors_logged": 56,
    }
    assert disk.temperature == 25
    failing = [a.name for a in disk.attributes if a.when_failed == "FAILING_NOW"]
    assert failing == ["Reallocated_Sector_Ct"]
    failures = failed_selftests(disk.selftests)
    assert [(t.test, t.status, t.lba, t.hours) for t in failures] == [
        ("Extended offline", "Completed: read failure", "104870168", "4"),
        ("Extended offline", "Completed: read failure", "104874784", "65375"),
        ("Extended offline", "Completed: read failure", "104874792", "65231"),
    ]


def test_nvme_health_log_and_drive_temperature_limits():
    disk = disk_of(shared("text_nvme_passed_28pct_used.txt"))
    assert (disk.kind, disk.health, disk.critical_warning) == ("nvme", True, 0)
    assert disk.counters == {
        "media_errors": 0,
        "percentage_used": 28,
        "available_spare": 100,
        "errors_logged": 1356,
    }
    assert (disk.temperature, disk.temperature_warning, disk.temperature_critical) == (42, 82, 85)
    assert disk.spare_threshold == 10


def test_nvme_critical_warning_is_read_with_smartctl_words():
    disk = disk_of(OWN / "text_nvme_failed_critical_warning_volatile_backup_exit8.txt")
    assert (disk.health, disk.critical_warning) == (False, 0x10)
    assert disk.health_detail == ["volatile memory backup device has failed"]


def test_sas_grown_defects_and_trip_temperature():
    disk = disk_of(OWN / "text_scsi_grown_defects_260.txt")
    assert (disk.kind, disk.model, disk.health) == ("scsi", "SEAGATE ST373453LC", True)
    assert disk.counters == {"grown_defects": 260}
    assert (disk.temperature, disk.temperature_critical) == (33, 68)


def test_sas_ssd_endurance_used():
    disk = disk_of(shared("text_sas_hdd_megaraid_jbod_health_ok.txt"))
    assert disk.counters == {"grown_defects": 0, "percentage_used": 0}
    assert disk.temperature_critical == 65


def test_device_without_smart_says_so():
    disk = disk_of(shared("text_scsi_unsupported_virtual_disk.txt"))
    assert disk.no_smart == "the device lacks SMART capability"
    assert not disk.has_data


def test_standby_disk_is_left_alone():
    disk = disk_of(shared("text_device_in_standby_exit2.txt"))
    assert (disk.standby, disk.has_data) == ("STANDBY", False)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("text_open_device_no_such_device_exit2.txt", "No such device"),
        ("text_open_device_permission_denied_exit2.txt", "Permission denied"),
        ("text_open_device_cciss_not_permitted_exit2.txt", "Operation not permitted"),
        ("text_open_device_failed_windows_exit2.txt", r"\\.\PhysicalDrive0: Open failed, Error=5"),
    ],
)
def test_open_failures_keep_smartctl_reason(name, reason):
    assert disk_of(OWN / name).open_error == reason


def test_refused_command_line_keeps_smartctl_words():
    disk = disk_of(OWN / "text_unable_to_detect_device_type_exit1.txt")
    assert disk.messages == [
        "/dev/vda: Unable to detect device type",
        "Please specify device type with the -d option.",
    ]


def test_self_test_in_progress_and_superseded_failures():
    running = disk_of(shared("text_sata_hdd_seagate_passed_smartctl71.txt")).selftests[0]
    assert running.running
    assert not running.failed
    tests = [
        SelfTest("Extended offline", "Completed without error", "20", "-"),
        SelfTest("Short offline", "Completed: read failure", "10", "4711"),
    ]
    assert failed_selftests(tests) == []  # a later passed extended test outdates it
    scsi = SelfTest("Background long", "Failed in segment -->", "3", "0x1f")
    assert scsi.failed
    assert failed_selftests([SelfTest("Short", "Completed without error", "9", "-"), scsi]) == [
        scsi
    ]


def test_not_smartctl_output_is_refused():
    with pytest.raises(ParseError, match="not smartctl output"):
        read_disk("sudo: a password is required\n", 1, "/dev/sda")


@pytest.mark.parametrize("path", text_fixtures(), ids=lambda path: path.name)
def test_every_fixture_reads_whole(path):
    disk = read_disk(read_fixture(path), exit_status(path), "/dev/sdx")
    assert disk.status == exit_status(path)


@pytest.mark.parametrize("path", text_fixtures(), ids=lambda path: path.name)
def test_damaged_fixtures_read_or_are_refused(path):
    text, status = read_fixture(path), exit_status(path)
    every_damage_parses_or_refuses(
        lambda t: read_disk(t, status, "/dev/sdx"), text, examples=40, slow=True
    )


@pytest.mark.parametrize("name", ["scan_open_mixed.txt", "scan_open_permission_denied.txt"])
def test_damaged_scans_parse_or_are_refused(name):
    every_damage_parses_or_refuses(parse_scan, (OWN / name).read_text(), examples=150)
