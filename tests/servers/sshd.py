"""A real OpenSSH server on loopback, with its own host key and one authorised client key.

The server runs as root (as sshd must, to switch users) from a temporary directory, on a
free port, with password logins off. The client side gets an ``ssh_config`` that names
the port, key and known_hosts, so ``ssh -F <config> vigie-test`` (and rsync over it) work
without touching the user's own ssh setup.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.ports import free_port, wait_for_tcp

SSHD = "/usr/sbin/sshd"


class Sshd:
    """What a test needs to reach the server."""

    def __init__(self, root: Path, port: int, user: str) -> None:
        self.root = root
        self.host = "127.0.0.1"
        self.port = port
        self.user = user
        self.identity = root / "client_key"
        self.known_hosts = root / "known_hosts"
        self.ssh_config = root / "ssh_config"
        self.log = root / "sshd.log"
        #: Host alias defined in ``ssh_config``.
        self.alias = "vigie-test"

    def ssh(self, *command: str) -> list[str]:
        """An ``ssh`` argument list running ``command`` on the server."""
        return ["ssh", "-F", str(self.ssh_config), self.alias, *command]


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
    )


@pytest.fixture
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """Start sshd on 127.0.0.1:<free port>; stop it after the test."""
    if not os.path.exists(SSHD):
        pytest.skip("sshd is not installed (apt install openssh-server)")
    if os.geteuid() != 0:
        pytest.skip("sshd must run as root to log users in")
    root = tmp_path_factory.mktemp("sshd")
    root.chmod(0o755)
    server = Sshd(root, free_port(), getpass.getuser())
    _keygen(root / "host_key", "vigie-test-host")
    _keygen(server.identity, "vigie-test-client")
    authorized = root / "authorized_keys"
    shutil.copy(server.identity.with_suffix(".pub"), authorized)
    authorized.chmod(0o600)
    host_public = (root / "host_key.pub").read_text().split()
    server.known_hosts.write_text(
        f"[{server.host}]:{server.port} {host_public[0]} {host_public[1]}\n"
    )
    (root / "sshd_config").write_text(
        f"Port {server.port}\nListenAddress {server.host}\nHostKey {root / 'host_key'}\n"
        f"AuthorizedKeysFile {authorized}\nPidFile {root / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPermitRootLogin prohibit-password\n"
        "Subsystem sftp internal-sftp\n"
    )
    server.ssh_config.write_text(
        f"Host {server.alias}\n  HostName {server.host}\n  Port {server.port}\n"
        f"  User {server.user}\n  IdentityFile {server.identity}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {server.known_hosts}\n  StrictHostKeyChecking yes\n"
        "  BatchMode yes\n  LogLevel ERROR\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    process = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(root / "sshd_config")],
        stdout=subprocess.DEVNULL,
        stderr=server.log.open("w"),
    )
    try:
        wait_for_tcp(server.host, server.port)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)
