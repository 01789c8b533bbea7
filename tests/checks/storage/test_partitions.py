"""check_partitions: thresholds, wording and selection in-process; a hung mount for real.

The numbers and the C comparison on filled loop filesystems are in
tests/compat/test_disk.py; here the check runs in-process on mount tables
written for the test (``VIGIE_PROC_ROOT``) whose mount points are directories of this
machine, and once in a mount namespace with a FUSE mount whose server never answers.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import time

import pytest

from checks.core.cli import threshold
from checks.core.runtime import Outcome
from checks.storage import _disk_options, _freespace, partitions
from checks.storage._freespace import INODES, SPACE, Condition, Usage
from tests.conftest import executable
from tests.helpers.contract import assert_conforms
from tests.helpers.mounts import fake_proc, mountinfo_line

MIB = 1024**2
# A real statvfs of a 100 MiB ext4 (4 KiB blocks, 5% reserved) holding a 40 MiB file.
EXT4 = os.statvfs_result((4096, 4096, 22960, 12714, 10922, 25600, 25588, 25588, 4096, 255))


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A mount table of / (ext4), a tmpfs, a directory with a space, and a vanished mount."""
    (tmp_path / "scratch").mkdir()
    (tmp_path / "with space").mkdir()
    fake_proc(tmp_path, monkeypatch, [
        mountinfo_line(1, "/", source="/dev/vda"),
        mountinfo_line(2, tmp_path / "scratch", "tmpfs", "tmpfs"),
        mountinfo_line(3, tmp_path / "with space", "xfs", "/dev/sdb1"),
        mountinfo_line(4, tmp_path / "gone", "ext4", "/dev/sdc1"),
    ])  # fmt: skip
    return tmp_path


# --- quantities, conditions, threshold arguments -------------------------------------------


def test_space_is_what_df_counts():
    usage = _freespace._space(EXT4)
    assert usage is not None
    assert (usage.used, usage.free, usage.size) == (10246 * 4096, 10922 * 4096, 21168 * 4096)
    assert usage.percent(usage.free) == pytest.approx(51.5967, abs=1e-4)  # df: 49% used


def test_inodes_are_files_and_free_files():
    usage = _freespace._inodes(EXT4)
    assert usage is not None
    assert (usage.used, usage.size) == (12, 25600)
    empty = os.statvfs_result((4096, 4096, 100, 50, 50, 0, 0, 0, 0, 255))
    assert _freespace._inodes(empty) is None  # btrfs and vfat report no inode count


@pytest.mark.parametrize(
    ("text", "percent", "number", "unit"),
    [("10%", True, 10, None), ("12.5%", True, 12.5, None), ("500", False, 500, None),
     ("2G", False, 2 * 1024**3, 1.0), ("512MiB", False, 512 * MIB, 1.0), ("0", False, 0, None),
     (" 7% ", True, 7, None)],
)  # fmt: skip
def test_free_limit_reads_check_disks_forms(text, percent, number, unit):
    limit = _disk_options.free_limit(sizes=True)(text)
    assert (limit.percent, limit.number, limit.unit) == (percent, number, unit)


@pytest.mark.parametrize("text", ["abc", "-5%", "101%", "10:20", "@10%", "2X", "", "%", "1e3"])
def test_free_limit_refuses_anything_else(text):
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(repr(text))):
        _disk_options.free_limit(sizes=True)(text)


def test_inode_counts_take_no_size_unit():
    assert _disk_options.free_limit(sizes=False)("5000").number == 5000
    with pytest.raises(argparse.ArgumentTypeError):
        _disk_options.free_limit(sizes=False)("5k")


@pytest.mark.parametrize(
    ("text", "factor"),
    [("MB", MIB), ("kB", 1024), ("KiB", 1024), ("GB", 1024**3), ("TiB", 1024**4), ("bytes", 1)],
)
def test_units_are_powers_of_1024_as_in_check_disk_2_3(text, factor):
    assert partitions.unit(text) == factor


def test_a_free_share_alerts_at_the_bound_included():
    usage = Usage(used=90, size=100)
    at_bound = _disk_options.free_limit(sizes=True)("10%").condition(SPACE)
    assert at_bound.violation(usage) == "free 10% <= 10%"
    assert _disk_options.free_limit(sizes=True)("9.9%").condition(SPACE).violation(usage) is None


def test_a_free_amount_is_in_units_unless_it_has_its_own():
    usage = Usage(used=0, size=500 * MIB)
    in_units = _disk_options.free_limit(sizes=True)("500").condition(SPACE, default_unit=MIB)
    assert in_units.violation(usage) == "free 500 MiB <= 500 MiB"
    own = _disk_options.free_limit(sizes=True)("499M").condition(SPACE, default_unit=1024**4)
    assert own.violation(usage) is None


def test_used_ranges_and_inode_wording():
    usage = Usage(used=96, size=100)
    assert Condition(SPACE, "used_percent", threshold()("90")).violation(usage) == (
        "used 96% > 90%"
    )
    condition = _disk_options.free_limit(sizes=False)("5%").condition(INODES)
    assert condition.violation(usage) == "inodes free 4% <= 5%"
    count = _disk_options.free_limit(sizes=False)("10").condition(INODES)
    assert count.violation(usage) == "inodes free 4 <= 10"


@pytest.mark.parametrize(
    ("condition", "perf"),
    [(_disk_options.free_limit(sizes=True)("10%").condition(SPACE), "@900:"),
     (_disk_options.free_limit(sizes=True)("300").condition(SPACE, default_unit=1), "@700:"),
     (Condition(SPACE, "used_percent", threshold()("90")), "900"),
     (Condition(SPACE, "used_percent", threshold()("@80:90")), "@800:900")],
)  # fmt: skip
def test_thresholds_become_ranges_on_used_for_perfdata(condition, perf):
    range_ = condition.on_used(Usage(used=0, size=1000))
    assert str(range_) == perf
    # The translated range alerts exactly where the condition does.
    for used in range(0, 1001, 7):
        usage = Usage(used=used, size=1000)
        assert range_.alerts(used) == (condition.violation(usage) is not None), used


def test_perfdata_bounds_round_inwards_to_whole_units():
    range_ = _disk_options.free_limit(sizes=True)("10%").condition(SPACE).on_used(Usage(0, 1234))
    assert (range_.start, range_.end, range_.inside) == (1111, math.inf, True)


# --- the plugin, in-process on a written mount table -------------------------------------


def run(*argv: str) -> Outcome:
    return partitions.PLUGIN.run(list(argv))


def test_default_judges_real_filesystems_only(machine):
    outcome = run("-w", "0%", "-c", "0%")
    assert outcome.state == 0, outcome.text
    assert re.fullmatch(
        r"2 filesystems OK, least free: .+ [\d.]+% free \(.+ of .+\)", outcome.summary
    ), outcome.summary
    lines = outcome.text.splitlines()[1:]
    assert [line.split(" ", 2)[1] for line in lines] == ["/", str(machine / "with")]
    assert outcome.status_line.count("=") == 2  # one perfdata item per mount


@pytest.mark.parametrize(
    ("argv", "state", "summary"),
    [(["-w", "100%", "-c", "0%", "-p", "/"], 1, r"/ free [\d.]+% <= 100% \(.+ free of .+\)"),
     (["-w", "100%", "-c", "100%", "-p", "/"], 2, r"/ free [\d.]+% <= 100% \(.+\)"),
     (["-w", "1000T", "-p", "/"], 1, r"/ free .+ <= 1000 TiB \(.+\)"),
     (["-w", "2000000", "-u", "GB", "-p", "/"], 1, r"/ free .+ <= 1.9 PiB \(.+\)"),
     (["--warning-used", "0", "-p", "/"], 1, r"/ used [\d.]+% > 0% \(.+\)"),
     (["--critical-used", "100", "-p", "/"], 0, r"/ [\d.]+% free \(.+ of .+\)"),
     (["-W", "100%", "-p", "/"], 1, r"/ inodes free [\d.]+% <= 100% \(.+ free of .+\)"),
     (["-w", "0%", "-c", "0%"], 0, r"2 filesystems OK.*")],
)  # fmt: skip
def test_states_and_wording(machine, argv, state, summary):
    outcome = run(*argv)
    assert outcome.state == state, outcome.text
    assert re.fullmatch(summary, outcome.summary), outcome.summary


def test_defaults_are_the_itls_20_and_10_percent(machine):
    outcome = run("-p", "/")
    assert ";@" in outcome.status_line
    total = os.statvfs("/")
    size = (total.f_blocks - total.f_bfree + total.f_bavail) * total.f_frsize
    warning = re.search(r"=\d+B;@(\d+):;@(\d+):;0;(\d+)", outcome.status_line)
    assert warning, outcome.status_line
    assert int(warning[3]) == pytest.approx(size, rel=0.001)
    assert int(warning[1]) == pytest.approx(0.8 * size, rel=0.001)
    assert int(warning[2]) == pytest.approx(0.9 * size, rel=0.001)


def test_tmpfs_can_be_asked_for(machine):
    outcome = run("--also-type", "tmpfs", "-w", "0%", "-c", "0%")
    assert "3 filesystems OK" in outcome.summary
    assert str(machine / "scratch") in outcome.text


def test_a_named_mount_that_vanished_is_unknown_and_an_unnamed_one_is_left_out(machine):
    outcome = run("-p", str(machine / "gone"), "-p", "/", "-w", "0%", "-c", "0%")
    assert outcome.state == 3
    assert outcome.summary == f"{machine / 'gone'} No such file or directory"
    assert "left out: No such file or directory" in run("-vv").text


def test_a_missing_path_below_a_mount_is_critical_as_in_check_disk(machine):
    outcome = run("-p", "/no/such/dir", "-w", "0%", "-c", "0%")
    assert (outcome.state, outcome.summary) == (
        2, "/ (-p /no/such/dir): No such file or directory")  # fmt: skip


def test_errors_only_lists_the_problem_mounts(machine):
    outcome = run("-e", "-p", "/", "-p", str(machine / "with space"), "--critical-used", "0:0.0001")
    assert outcome.text.count("\n") == 1 + outcome.text.count("CRITICAL: ")


def test_nothing_left_to_judge_is_unknown(machine):
    outcome = run("-X", "ext4", "-X", "xfs")
    assert (outcome.state, outcome.summary) == (
        3,
        "no mount to judge: all 4 are excluded or pseudo",
    )


@pytest.mark.parametrize(
    "argv", [["-w", "10:"], ["-u", "parsecs"], ["-r", "("], ["--stale", "maybe"], ["-W", "120%"]]
)
def test_bad_arguments_are_unknown(argv):
    outcome = run(*argv)
    assert outcome.state == 3
    assert repr(argv[1]) in outcome.summary
    assert "(see check_partitions --help)" in outcome.summary


# --- a mount whose server never answers (real FUSE, private mount namespace) --------------


@pytest.mark.integration
def test_a_hung_mount_is_critical_and_the_others_are_still_judged(mount_namespace):
    data = mount_namespace.make_filesystem("data")
    hung = mount_namespace.root / "hung"
    server = mount_namespace.hang(hung)
    command = [executable("check_partitions"), "-w", "1%", "-c", "0%", "--mount-timeout", "1"]
    started = time.monotonic()
    result = mount_namespace.run(*command, "-p", str(data), "-p", str(hung), check=False)
    took = time.monotonic() - started
    assert_conforms("partitions", result.returncode, result.stdout, result.stderr)
    assert result.returncode == 2, result.stdout
    assert result.stdout.startswith(f"PARTITIONS CRITICAL - {hung} did not answer within 1 s |")
    assert f"OK: {data} " in result.stdout
    assert took < 4, f"the check took {took:.1f} s"
    # Found without -p too (fuse.* is not a pseudo type); excluded, it is not touched at all.
    result = mount_namespace.run(*command[:-2], "--mount-timeout", "1", check=False)
    assert result.returncode == 2
    assert f"CRITICAL: {hung} did not answer" in result.stdout
    result = mount_namespace.run(*command, "-x", str(hung), check=False)
    assert result.returncode == 0, result.stdout
    # Once the server is gone, the kernel answers at once: transport endpoint not connected.
    server.kill()
    server.wait()
    result = mount_namespace.run(*command, "-p", str(hung), check=False)
    assert result.stdout.startswith(
        f"PARTITIONS CRITICAL - {hung} Transport endpoint is not connected"
    ), result.stdout
    result = mount_namespace.run(*command, "-p", str(hung), "--stale", "warning", check=False)
    assert result.returncode == 1


@pytest.mark.integration
def test_a_hung_mount_never_outlives_the_timeout(mount_namespace):
    hung = mount_namespace.root / "hung"
    mount_namespace.hang(hung)
    started = time.monotonic()
    result = mount_namespace.run(
        executable("check_partitions"), "-t", "2", "--mount-timeout", "30", "-p", str(hung),
        check=False,
    )  # fmt: skip
    assert time.monotonic() - started < 4
    assert result.returncode == 2, result.stdout
    assert re.search(rf"{hung} did not answer within 1\.\d s", result.stdout), result.stdout


@pytest.mark.integration
def test_hung_mounts_among_many_leave_every_other_one_judged(mount_namespace):
    """The statvfs calls share a few workers: each hung mount holds one, the rest go on."""
    healthy = []
    for index in range(40):
        point = mount_namespace.root / f"t{index:02}"
        point.mkdir()
        mount_namespace.run("mount", "-t", "tmpfs", "-o", "size=1m", f"t{index}", str(point))
        healthy.append(point)
        if index in (3, 4, 5, 20):  # a run of hung mounts, and one further on
            mount_namespace.hang(mount_namespace.root / f"t{index:02}-hung")
    command = [executable("check_inodes"), "-w", "1%", "-c", "0%", "--also-type", "tmpfs",
               "-r", f"^{mount_namespace.root}/", "--mount-timeout", "1"]  # fmt: skip
    started = time.monotonic()
    result = mount_namespace.run(*command, check=False)
    assert time.monotonic() - started < 4
    assert_conforms("inodes", result.returncode, result.stdout, result.stderr)
    assert result.returncode == 2, result.stdout
    lines = result.stdout.splitlines()
    for index in (3, 4, 5, 20):
        assert (
            f"CRITICAL: {mount_namespace.root}/t{index:02}-hung did not answer within 1 s" in lines
        )
    for point in healthy:
        assert any(line.startswith(f"OK: {point} ") for line in lines), point
