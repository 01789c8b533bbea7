"""A real OpenSSH server on loopback, with its own host key and one authorised client key.

The server runs as root (as sshd must, to switch users) from a temporary directory, on a
free port, with password logins off. The client side gets an ``ssh_config`` that names
the port, key and known_hosts, so ``ssh -F <config> vigie-test`` (and rsync over it) work
without touching the user's own ssh setup.

``sshd`` logs the client in as the user running the tests (root, normally); ``sshd_user``
logs it in as the unprivileged system account ``vigie-drp-test``, as a backup server's
dedicated account is, so that tests meet what root never does: modes that forbid reading
or writing (0000 files, 0555 directories). That account's sshd reads the authorised keys
with the account's own rights, so its server directory is a world-traversable one in /tmp
(pytest's are 0700 root), holding ``Sshd.directory``, owned by the account, for targets.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.ports import free_port, wait_for_tcp
from tests.servers.require import require_installed, require_root

SSHD = "/usr/sbin/sshd"
#: The unprivileged account of ``sshd_user`` (a system account, created when missing).
UNPRIVILEGED = "vigie-drp-test"


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
        #: A directory the logged-in user owns, for targets (``sshd_user`` only).
        self.directory = root / "home"

    def ssh(self, *command: str) -> list[str]:
        """An ``ssh`` argument list running ``command`` on the server."""
        return ["ssh", "-F", str(self.ssh_config), self.alias, *command]


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
    )


def _skip_unless_possible() -> None:
    require_installed("sshd", "openssh-server", SSHD)
    require_root("sshd must run as root to log users in")


@contextlib.contextmanager
def _running(root: Path, user: str) -> Iterator[Sshd]:
    """sshd serving ``root`` on 127.0.0.1:<free port>, logging clients in as ``user``."""
    server = Sshd(root, free_port(), user)
    _keygen(root / "host_key", "vigie-test-host")
    _keygen(server.identity, "vigie-test-client")
    authorized = root / "authorized_keys"
    shutil.copy(server.identity.with_suffix(".pub"), authorized)
    authorized.chmod(0o644)  # read by sshd with the rights of the user logging in
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


@pytest.fixture
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """Start sshd on 127.0.0.1:<free port>, logging in as the tests' user; stop it after."""
    _skip_unless_possible()
    root = tmp_path_factory.mktemp("sshd")
    root.chmod(0o755)
    with _running(root, getpass.getuser()) as server:
        yield server


def unprivileged_account() -> pwd.struct_passwd:
    """The account ``vigie-drp-test``, created (system account, /bin/sh) when missing.

    Its password field is ``*`` (no password) rather than useradd's ``!`` (locked):
    without PAM, sshd refuses a locked account even a key login.
    """
    try:
        return pwd.getpwnam(UNPRIVILEGED)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--create-home", "--shell", "/bin/sh", "--password", "*",
             UNPRIVILEGED],
            check=True,
        )  # fmt: skip
        return pwd.getpwnam(UNPRIVILEGED)


@pytest.fixture
def sshd_user() -> Iterator[Sshd]:
    """sshd logging in as the unprivileged ``vigie-drp-test``, with ``directory`` its own."""
    _skip_unless_possible()
    account = unprivileged_account()
    root = Path(tempfile.mkdtemp(prefix="vigie-sshd-", dir="/tmp"))
    try:
        root.chmod(0o755)
        with _running(root, account.pw_name) as server:
            server.directory.mkdir()
            os.chown(server.directory, account.pw_uid, account.pw_gid)
            yield server
    finally:
        # What the account wrote may be read-only to it; root removes it regardless.
        shutil.rmtree(root)
