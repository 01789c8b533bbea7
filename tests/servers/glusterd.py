"""A real glusterd with real bricks, in private network and mount namespaces.

glusterd refuses bricks on a loopback address, so the pool's one server gets a
documentation-range address (198.51.100.10) on a veth in a network namespace made for
the tests; its ports (24007, the bricks' 49152 and up) exist only there. glusterd and
the tools it runs (glusterfsd bricks, the self-heal daemon, glfsheal behind ``heal
info``) keep sockets in /run/gluster and /var/run/glusterd.socket and logs in
/var/log/glusterfs whatever they are told: a private mount namespace binds a temp dir
over each, so nothing of the machine's is touched. A holder process keeps both
namespaces; glusterd and every gluster command enter them with nsenter.

:class:`Pool` makes volumes (bricks are temp directories, ``force`` since they sit on
the root filesystem), stops bricks by their pid and glusterd itself; the session fixture
``glusterd_pool`` (a test module imports :func:`glusterd_pool_fixture`) stops every
process of the namespace and deletes it at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.netns import namespaces
from tests.servers.require import require_installed, require_root

ADDRESS = "198.51.100.10"
GLUSTERD_VOL = """volume management
    type mgmt/glusterd
    option working-directory {lib}
    option transport-type socket
    option transport.socket.listen-port 24007
    option transport.socket.read-fail-log off
    option ping-timeout 0
    option event-threads 1
    option base-port 49152
    option max-port 49300
end-volume
"""


class Pool:
    """A one-server trusted pool; ``cli`` is a gluster that runs inside its namespaces."""

    def __init__(self, root: Path, holder: subprocess.Popen[bytes], netns: str) -> None:
        self.root, self.holder, self.netns = root, holder, netns
        self.cli = root / "gluster"
        self.cli.write_text(
            f"#!/bin/sh\nexec nsenter -t {holder.pid} -m -n -- /usr/sbin/gluster "
            f'--log-file={root / "log" / "cli.log"} "$@"\n'
        )
        self.cli.chmod(0o755)

    def enter(self, *argv: str) -> list[str]:
        """``argv`` run inside the pool's namespaces."""
        return ["nsenter", "-t", str(self.holder.pid), "-m", "-n", "--", *argv]

    def gluster(self, *argv: str) -> str:
        """Run a gluster command (script mode); its output, which must be a success."""
        done = subprocess.run(
            [str(self.cli), "--mode=script", *argv], capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
        return done.stdout

    def start_glusterd(self) -> None:
        subprocess.run(
            self.enter("/usr/sbin/glusterd", "-f", str(self.root / "glusterd.vol"),
                       "-p", str(self.root / "glusterd.pid"),
                       "-l", str(self.root / "log" / "glusterd.log")),
            check=True, timeout=60,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = subprocess.run(
                [str(self.cli), "--mode=script", "volume", "list"],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            if done.returncode == 0:
                return
            time.sleep(0.2)
        raise AssertionError("glusterd did not answer within 30 s")

    def stop_glusterd(self) -> None:
        """Stop glusterd alone (its bricks go on serving, as when glusterd crashes)."""
        pid = int((self.root / "glusterd.pid").read_text())
        os.kill(pid, 15)
        _wait_gone(pid)

    def volume(self, name: str, bricks: int, *, replica: bool, start: bool = True) -> list[str]:
        """Create (and start) a volume of ``bricks`` new brick directories; their names."""
        names = []
        for index in range(bricks):
            path = self.root / "bricks" / f"{name}-{index}"
            path.mkdir(parents=True)
            names.append(f"{ADDRESS}:{path}")
        layout = ["replica", str(bricks)] if replica else []
        self.gluster("volume", "create", name, *layout, *names, "force")
        if start:
            self.gluster("volume", "start", name)
        return names

    def stop_brick(self, volume: str, brick: str) -> None:
        """Kill one brick process, as when its disk or server fails."""
        host, path = brick.split(":", 1)
        pid_file = self.root / "run" / "gluster" / "vols" / volume / (
            f"{host}-{path.strip('/').replace('/', '-')}.pid")  # fmt: skip
        pid = int(pid_file.read_text())
        os.kill(pid, 9)
        _wait_gone(pid)

    def pids(self) -> list[int]:
        """Every process in the pool's network namespace."""
        done = subprocess.run(["ip", "netns", "pids", self.netns], capture_output=True,
                              text=True, check=False)  # fmt: skip
        return [int(pid) for pid in done.stdout.split()]


def _wait_gone(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z"):
            return
        time.sleep(0.05)


@contextlib.contextmanager
def pool() -> Iterator[Pool]:
    """A running glusterd in its namespaces; every process of them stopped on the way out."""
    root = Path(tempfile.mkdtemp(prefix="vigie-glusterd-"))
    for directory in ("lib", "log", "run/gluster", "bricks"):
        (root / directory).mkdir(parents=True)
    (root / "glusterd.vol").write_text(GLUSTERD_VOL.format(lib=root / "lib"))
    with namespaces() as make:
        namespace, far_end = make(), make()
        namespace.ip("link", "add", "vigie0", "type", "veth", "peer", "name", "vigie1",
                     "netns", far_end.name)  # fmt: skip
        namespace.ip("addr", "add", f"{ADDRESS}/24", "dev", "vigie0")
        namespace.ip("link", "set", "vigie0", "up")
        far_end.ip("link", "set", "vigie1", "up")
        binds = (
            f"mount --make-rprivate / && mount --bind {root / 'run'} /run && "
            f"mkdir -p /var/log/glusterfs && mount --bind {root / 'log'} /var/log/glusterfs && "
            "echo ready && exec sleep 86400"
        )
        holder = subprocess.Popen(
            namespace.command("unshare", "--mount", "sh", "-c", binds), stdout=subprocess.PIPE
        )
        server = Pool(root, holder, namespace.name)
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == b"ready", "the mount namespace failed"
            server.start_glusterd()
            yield server
        finally:
            for pid in server.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
            for pid in server.pids():
                _wait_gone(pid)
            holder.wait(timeout=10)
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session", name="glusterd_pool")
def glusterd_pool_fixture() -> Iterator[Pool]:
    """The real glusterd of the tests (root, glusterfs-server, iproute2 and util-linux)."""
    require_root("glusterd and network namespaces need root")
    require_installed("glusterd", "glusterfs-server", "/usr/sbin/glusterd")
    with pool() as server:
        yield server
