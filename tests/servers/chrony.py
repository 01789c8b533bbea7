"""A real chronyd on loopback: an NTP server for check_clock, and a daemon for chronyc.

chronyd runs from a temporary directory, in the foreground, with ``-x`` (it never touches
the system clock) and as root without dropping privileges (``-u root``: its command socket
directory must belong to the user it runs as). It serves NTP on 127.0.0.1 and ::1 on a free
port; with ``local stratum 8`` and no source it answers as a synchronised stratum 8
server, and chronyc reports it synchronised. The ``unsynchronised`` variant has a single
source that never answers, so chronyc reports "Not synchronised". Its command socket lives
in the temporary directory (``--chrony-address``), never in /run/chrony.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.ports import free_port
from tests.servers.require import require_installed, require_root
from tests.servers.running import answering

CHRONYD = "/usr/sbin/chronyd"
CHRONYC = "/usr/bin/chronyc"


class Chronyd:
    """What a test needs to reach the server: NTP address and port, chronyc's socket."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.host = "127.0.0.1"
        self.host6 = "::1"
        self.port = port
        self.socket = root / "run" / "chronyd.sock"
        self.log = root / "chronyd.log"

    def chronyc(self, *command: str) -> str:
        """chronyc's output for ``command`` against this daemon."""
        return subprocess.run(
            [CHRONYC, "-h", str(self.socket), "-n", *command],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout


def _answers_ntp(host: str, port: int) -> bool:
    """Whether an NTP server answers a client request on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.2)
        try:
            probe.sendto(b"\x23" + bytes(47), (host, port))
            return len(probe.recv(512)) >= 48
        except OSError:
            return False


def _start(root: Path, synchronised: bool) -> Iterator[Chronyd]:
    require_installed("chronyd", "chrony", CHRONYD, CHRONYC)
    require_root("chronyd must run as root")
    server = Chronyd(root, free_port(kind=socket.SOCK_DGRAM))
    server.socket.parent.mkdir(mode=0o700)
    source = (
        "local stratum 8\n"
        if synchronised
        else f"server 127.0.0.1 port {free_port(kind=socket.SOCK_DGRAM)} iburst\n"
    )
    (root / "chrony.conf").write_text(
        f"{source}port {server.port}\nbindaddress 127.0.0.1\nbindaddress ::1\n"
        "allow 127.0.0.1\nallow ::1\ncmdport 0\n"
        f"bindcmdaddress {server.socket}\npidfile {root / 'chronyd.pid'}\n"
        f"driftfile {root / 'drift'}\n"
    )
    process = subprocess.Popen(
        [CHRONYD, "-x", "-d", "-u", "root", "-f", str(root / "chrony.conf")],
        stdout=subprocess.DEVNULL,
        stderr=server.log.open("w"),
    )

    def ready() -> bool:
        return server.socket.exists() and _answers_ntp(server.host, server.port)

    with answering("chronyd", process, server.log, ready, within=15):
        yield server


@pytest.fixture(scope="module")
def chronyd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chronyd]:
    """chronyd serving NTP as a synchronised stratum 8 server on loopback."""
    root = tmp_path_factory.mktemp("chronyd")
    yield from _start(root, synchronised=True)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def chronyd_unsynchronised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chronyd]:
    """chronyd whose only source never answers: it serves nothing and is not synchronised."""
    root = tmp_path_factory.mktemp("chronyd-unsync")
    yield from _start(root, synchronised=False)
    shutil.rmtree(root, ignore_errors=True)
