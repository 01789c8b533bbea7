"""check_partitions and check_inodes beside Debian's C check_disk, on filled loop filesystems.

Each test makes real ext4 or XFS filesystems in a private mount namespace
(tests/servers/loopfs.py), fills them with files of known size or with many small files,
and runs check_disk (monitoring-plugins 2.3.3) and vigie's check with the same arguments.
The states must be the same. Thresholds are placed at least 3 points (or 3 units) away
from the measured value, because the two round differently at a boundary: check_disk
rounds the used share up to a whole percent (free 51.6% is "51%" to it, so ``-w 51.5%``
warns there and not in vigie) and truncates free amounts to whole units. Both agree on
what free means: ``f_bavail`` (root's reserve is not free), shares of used + available.

Numbers: the used amount in the perfdata must agree within one unit of check_disk's
``-u`` (it truncates to units before printing bytes); the free percentage printed by
check_disk must be vigie's, rounded down.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import c_plugin, executable
from tests.helpers.compat import same_state
from tests.helpers.contract import assert_conforms
from tests.servers.loopfs import MountNamespace

pytestmark = pytest.mark.integration

MIB = 1024**2
STATVFS = (
    "import os, sys; s = os.statvfs(sys.argv[1]); "
    "print(s.f_frsize, s.f_blocks, s.f_bfree, s.f_bavail, s.f_files, s.f_ffree)"
)


def usage(namespace: MountNamespace, mount_point: Path) -> dict[str, float]:
    frsize, blocks, bfree, bavail, files, ffree = map(
        int, namespace.run(sys.executable, "-I", "-c", STATVFS, str(mount_point)).stdout.split()
    )
    used = (blocks - bfree) * frsize
    size = used + bavail * frsize
    return {
        "used": used,
        "free": bavail * frsize,
        "free_percent": 100 * bavail * frsize / size,
        "inodes_free_percent": 100 * ffree / files,
    }


def both(
    namespace: MountNamespace, name: str, c_args: list[str], vigie_args: list[str] | None = None
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """Run check_disk and vigie's ``name`` in the namespace: (C result, vigie result)."""
    c_result = namespace.run(c_plugin("check_disk"), *c_args, check=False)
    vigie_result = namespace.run(executable(name), *(vigie_args or c_args), check=False)
    assert_conforms(name[len("check_") :], vigie_result.returncode, vigie_result.stdout)
    return c_result, vigie_result


def perf_used(output: str, label: str) -> int:
    match = re.search(rf"(?:\| |\s){re.escape(label)}=(\d+)B;", output)
    assert match, f"no {label}= in {output!r}"
    return int(match[1])


@pytest.fixture
def filled(mount_namespace, request):
    """An ext4 (100 MiB, 5% reserved) or XFS (320 MiB) filesystem about 60% full."""
    kind = request.param
    if kind == "xfs":
        if not Path("/usr/sbin/mkfs.xfs").exists():
            pytest.skip("mkfs.xfs is not installed (apt install xfsprogs)")
        mount_point = mount_namespace.make_filesystem("xfs", "xfs", size_mib=320)
        mount_namespace.fill(mount_point / "data", 190 * MIB)
    else:
        mount_point = mount_namespace.make_filesystem("ext4", "ext4", size_mib=100,
                                                      mkfs_options=["-m", "5"])  # fmt: skip
        mount_namespace.fill(mount_point / "data", 50 * MIB)
    return mount_namespace, mount_point


@pytest.mark.parametrize("filled", ["ext4", "xfs"], indirect=True)
def test_free_space_thresholds_give_the_same_state(filled):
    namespace, mount_point = filled
    measured = usage(namespace, mount_point)
    free = measured["free_percent"]
    free_mib = measured["free"] / MIB
    path = ["-p", str(mount_point)]
    cases = [
        (0, ["-w", f"{free - 5:.1f}%", "-c", f"{free - 10:.1f}%"]),
        (1, ["-w", f"{free + 3:.1f}%", "-c", f"{free - 5:.1f}%"]),
        (2, ["-w", f"{free + 10:.1f}%", "-c", f"{free + 3:.1f}%"]),
        (0, ["-w", str(int(free_mib - 3)), "-c", str(int(free_mib - 6))]),
        (1, ["-w", str(int(free_mib + 3)), "-c", str(int(free_mib - 3))]),
        (2, ["-w", str(int(free_mib + 6)), "-c", str(int(free_mib + 3))]),
        (1, ["-u", "kB", "-w", str(int(free_mib * 1024 + 3000)), "-c", "1"]),
        (2, ["-u", "GB", "-w", "2", "-c", "1"]),
        (2, ["-m", "-w", "10%", "-c", str(int(free_mib + 3))]),
        (1, ["-w", "100%", "-c", "0%", "-k"]),
    ]
    for state, thresholds in cases:
        c_result, vigie_result = both(namespace, "check_partitions", [*thresholds, *path])
        same_state(c_result, vigie_result, state)
        label = str(mount_point)
        unit = 1024**3 if "GB" in thresholds else 1024 if "kB" in thresholds else MIB
        assert perf_used(vigie_result.stdout, label) == pytest.approx(
            perf_used(c_result.stdout, label), abs=unit
        )
    c_free = re.search(rf"{re.escape(str(mount_point))} \d+\w+ \((\d+)%", c_result.stdout)
    assert c_free, c_result.stdout
    assert int(c_free[1]) == math.floor(free)


def test_free_inodes_give_the_same_state(mount_namespace):
    mount_point = mount_namespace.make_filesystem("inodes", size_mib=64)  # 16384 inodes
    mount_namespace.touch_many(mount_point / "spool", 14000)
    free = usage(mount_namespace, mount_point)["inodes_free_percent"]
    assert 10 < free < 20
    path = ["-p", str(mount_point)]
    for state, low, high in ((0, free - 8, free - 5), (1, free + 3, free - 5),
                             (2, free + 6, free + 3)):  # fmt: skip
        c_args = ["-W", f"{low:.1f}%", "-K", f"{high:.1f}%", *path]
        c_result, vigie_result = both(mount_namespace, "check_inodes", c_args)
        same_state(c_result, vigie_result, state)
        vigie_result = mount_namespace.run(
            executable("check_inodes"), "-w", f"{low:.1f}%", "-c", f"{high:.1f}%", *path,
            check=False,
        )  # fmt: skip
        assert vigie_result.returncode == state, vigie_result.stdout
        # A whole check_disk command line, space and inodes, works with check_partitions.
        full = ["-w", "1%", "-c", "0%", *c_args]
        c_result, vigie_result = both(mount_namespace, "check_partitions", full)
        same_state(c_result, vigie_result, state)
    inode_share = re.search(r"inode=(\d+)%", c_result.stdout)
    assert inode_share
    assert int(inode_share[1]) == math.floor(free)


def listed(output: str, root: Path) -> set[str]:
    """Mount points under ``root`` that a check_disk or vigie output names."""
    return set(re.findall(rf"({re.escape(str(root))}/[\w.-]+)", output))


def test_selection_options_choose_the_same_mounts(mount_namespace):
    root = mount_namespace.root
    first = mount_namespace.make_filesystem("first", size_mib=32)
    mount_namespace.make_filesystem("second", size_mib=32)
    if Path("/usr/sbin/mkfs.xfs").exists():
        mount_namespace.make_filesystem("third", "xfs", size_mib=320)
    thresholds = ["-w", "0%", "-c", "0%"]
    selections = [
        ["-N", "ext4"], ["-N", "xfs"], ["-X", "ext4"], ["-x", str(first)],
        ["-r", f"^{root}/(first|third)"], ["-R", f"^{str(root).upper()}/SECOND"],
        ["-A", "-i", f"^{root}/fir"], ["-A", "-I", "/THIRD$"], ["-p", str(first / "sub")],
    ]  # fmt: skip
    mount_namespace.run("mkdir", str(first / "sub"))
    for selection in selections:
        c_result, vigie_result = both(mount_namespace, "check_partitions",
                                      [*thresholds, *selection])  # fmt: skip
        same_state(c_result, vigie_result, 0)
        assert listed(vigie_result.stdout, root) == listed(c_result.stdout, root), selection


@pytest.mark.parametrize(
    ("args", "state"),
    [(["-w", "10%", "-c", "5%", "-p", "{root}/absent/dir"], 2),
     (["-w", "10%", "-c", "5%", "-E", "-p", "{root}"], 2),
     (["-w", "10%", "-c", "5%", "-u", "parsecs", "-p", "/"], 3),
     (["-w", "10%", "-c", "5%", "-r", "^/no-such-mount-anywhere$"], 3)],
)  # fmt: skip
def test_failures_give_the_same_state(mount_namespace, args, state):
    argv = [arg.format(root=mount_namespace.root) for arg in args]
    c_result, vigie_result = both(mount_namespace, "check_partitions", argv)
    same_state(c_result, vigie_result, state)
