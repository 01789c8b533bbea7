"""Real filesystems on loop devices, in a mount namespace of their own.

check_partitions, check_inodes and check_quota are tested on real ext4 and XFS filesystems
filled to known levels, side by side with Debian's C check_disk. Every mount lives in the
private mount namespace of a holder process (``unshare --mount``) and commands run in it
through ``nsenter``: the rest of the machine never sees the mounts (a hung FUSE mount in
the host's namespace would stall every ``df``), and when the holder is killed the kernel
unmounts them all and releases their loop devices, even after a failed test.

The kernel here has no quota support (CONFIG_QUOTA is off), so :meth:`MountNamespace.
quota_files` gives quota-tools a /proc/mounts that says ``usrquota,grpquota``: quotacheck
then scans the filesystem and writes real ``aquota.user``/``aquota.group`` files, setquota
sets limits and grace times in them, and repquota reads them back; only the kernel's
enforcement is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.servers.require import require_root

TOOLS = ("unshare", "nsenter", "mount", "losetup", "mkfs.ext4")

# A FUSE "server" that mounts and never answers, not even the kernel's INIT request:
# every request on the mount (statfs too) waits until the server dies.
HUNG_FUSE = r"""
import ctypes, os, sys, time
fd = os.open("/dev/fuse", os.O_RDWR)
options = f"fd={fd},rootmode=40000,user_id=0,group_id=0".encode()
libc = ctypes.CDLL(None, use_errno=True)
if libc.mount(b"vigie-hung", sys.argv[1].encode(), b"fuse.vigie-hung", 0, options) != 0:
    sys.exit(f"mount failed: {os.strerror(ctypes.get_errno())}")
print("mounted", flush=True)
time.sleep(3600)
"""


class MountNamespace:
    """A private mount namespace kept alive by a sleeping holder process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.holder: subprocess.Popen[str] = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sleep", "infinity"], text=True
        )
        ours = os.readlink("/proc/self/ns/mnt")
        deadline = time.monotonic() + 10
        while os.readlink(f"/proc/{self.holder.pid}/ns/mnt") == ours:
            assert time.monotonic() < deadline, "unshare did not make a mount namespace"
            time.sleep(0.01)
        self.servers: list[subprocess.Popen[str]] = []

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside the namespace."""
        return ["nsenter", "--target", str(self.holder.pid), "--mount", "--", *argv]

    def run(self, *argv: str, check: bool = True, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """Run ``argv`` in the namespace and return what it printed."""
        return subprocess.run(
            self.command(*argv), capture_output=True, text=True, errors="surrogateescape",
            check=check, env=env, timeout=timeout,
        )  # fmt: skip

    def make_filesystem(self, name: str, kind: str = "ext4", size_mib: int = 64,
                        mkfs_options: Sequence[str] = ()) -> Path:  # fmt: skip
        """A new ``kind`` filesystem of ``size_mib`` on a loop device, mounted at root/name."""
        image = self.root / f"{name}.img"
        with image.open("wb") as file:
            file.truncate(size_mib * 1024 * 1024)
        quiet = ["-q", "-F"] if kind.startswith("ext") else ["-q", "-f"]
        subprocess.run([f"mkfs.{kind}", *quiet, *mkfs_options, str(image)], check=True)
        mount_point = self.root / name
        mount_point.mkdir()
        self.run("mount", "-o", "loop", str(image), str(mount_point))
        return mount_point

    def fill(self, path: Path, size: int, owner: str | None = None) -> None:
        """Write a file of ``size`` bytes (flushed to disk), owned by ``owner`` (uid:gid)."""
        self.run("dd", "if=/dev/zero", f"of={path}", "bs=64K", f"count={size // 65536}",
                 "conv=fsync", "status=none")  # fmt: skip
        if size % 65536:
            self.run("sh", "-c", f"head -c {size % 65536} /dev/zero >> '{path}'")
        if owner:
            self.run("chown", owner, str(path))

    def touch_many(self, directory: Path, count: int, owner: str | None = None) -> None:
        """Create ``count`` empty files in ``directory`` (using ``count`` inodes)."""
        script = (
            "import os, sys\n"
            "d, n = sys.argv[1], int(sys.argv[2])\n"
            "os.makedirs(d, exist_ok=True)\n"
            "for i in range(n):\n"
            "    open(os.path.join(d, f'f{i}'), 'w').close()\n"
        )
        self.run(sys.executable, "-I", "-c", script, str(directory), str(count))
        if owner:
            self.run("chown", "-R", owner, str(directory))
        self.run("sync")

    def hang(self, mount_point: Path) -> subprocess.Popen[str]:
        """Mount a FUSE filesystem whose server never answers at ``mount_point``."""
        mount_point.mkdir(exist_ok=True)
        server = subprocess.Popen(
            self.command(sys.executable, "-I", "-c", HUNG_FUSE, str(mount_point)),
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.servers.append(server)
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "mounted", "the hung FUSE mount failed"
        return server

    def quota_files(self, mount_points: Sequence[Path]) -> None:
        """Turn quotas on for ``mount_points`` as far as quota-tools can see (module doc)."""
        fake = self.root / "proc"
        (fake / "sys" / "fs" / "quota").mkdir(parents=True)
        (fake / "self").mkdir()
        mounts = self.run("cat", "/proc/mounts").stdout.splitlines()
        wanted = {str(path) for path in mount_points}
        lines = []
        for line in mounts:
            fields = line.split(" ")
            if fields[1] in wanted:
                fields[3] += ",usrquota,grpquota"
            lines.append(" ".join(fields))
        (fake / "mounts").write_text("\n".join(lines) + "\n")
        (fake / "self" / "mountinfo").write_text(self.run("cat", "/proc/self/mountinfo").stdout)
        shutil.copy("/proc/partitions", fake / "partitions")
        self.run("mount", "--bind", str(fake), "/proc")
        for path in mount_points:
            self.run("quotacheck", "-cugm", "-F", "vfsv0", str(path))

    def close(self) -> None:
        """Stop the FUSE servers and the holder: the kernel unmounts everything."""
        processes: list[subprocess.Popen[str]] = [*self.servers, self.holder]
        for process in processes:
            process.kill()
            process.wait()


@pytest.fixture
def mount_namespace(tmp_path: Path) -> Iterator[MountNamespace]:
    """A private mount namespace for loop filesystems; torn down after the test."""
    require_root("loop mounts and mount namespaces need root")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"missing {', '.join(missing)} (apt install util-linux mount e2fsprogs)")
    root = tmp_path / "ns"
    root.mkdir()
    namespace = MountNamespace(root)
    try:
        yield namespace
    finally:
        namespace.close()
