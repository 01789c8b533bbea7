"""A real PostgreSQL server on loopback, in a temporary directory owned by ``postgres``.

PostgreSQL refuses to run as root, so ``initdb`` and ``pg_ctl`` run as the ``postgres``
user (``runuser``) in a directory of its own under /tmp (pytest's temporary directories
are private to root). The server listens on a free TCP port of 127.0.0.1 with
scram-sha-256 password authentication and on a socket in the temporary directory; the
superuser ``postgres`` has a password full of characters that break naive quoting, kept
in a mode-0600 file.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers.ports import free_port, wait_for_tcp

PASSWORD = "pg'pa\"ss\\ #2"


def bin_dir() -> Path | None:
    """The newest PostgreSQL's bin directory (Debian keeps one per major version)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]) if found else None


class PostgreSQL:
    """What a test needs to reach the server."""

    def __init__(self, root: Path, port: int, binaries: Path) -> None:
        self.root = root
        self.host = "127.0.0.1"
        self.port = port
        self.user = "postgres"
        self.password = PASSWORD
        self.password_file = root / "postgres.password"
        self.data = root / "data"
        self.log = root / "server.log"
        self.binaries = binaries

    def psql(self, sql: str, database: str = "postgres", stop_on_error: bool = True) -> str:
        """Run SQL over TCP with the password (from the environment); unaligned output.

        ``stop_on_error=False`` runs a whole script as ``pg_dumpall`` output is restored:
        ``CREATE ROLE postgres`` fails on a new server, and that is expected.
        """
        result = subprocess.run(
            [str(self.binaries / "psql"), "-X", "-q", "-A", "-t", "-v",
             f"ON_ERROR_STOP={int(stop_on_error)}",
             "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", database],
            input=sql,
            capture_output=True,
            text=True,
            env=dict(os.environ, PGPASSWORD=self.password),
            timeout=120,
            check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    def as_postgres(self, *argv: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, cwd="/"
        )


def _start(binaries: Path) -> PostgreSQL:
    root = Path(tempfile.mkdtemp(prefix="vigie-pg-", dir="/tmp"))
    account = pwd.getpwnam("postgres")
    os.chown(root, account.pw_uid, account.pw_gid)
    root.chmod(0o700)
    server = PostgreSQL(root, free_port(), binaries)
    password_for_initdb = root / "initdb.pw"
    password_for_initdb.write_text(PASSWORD + "\n")
    os.chown(password_for_initdb, account.pw_uid, account.pw_gid)
    server.as_postgres(
        str(binaries / "initdb"), "-D", str(server.data), "-U", "postgres", "-E", "UTF8",
        "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={password_for_initdb}",
    )  # fmt: skip
    password_for_initdb.unlink()
    server.as_postgres(
        str(binaries / "pg_ctl"), "-D", str(server.data), "-l", str(server.log), "-w",
        "-o", f"-p {server.port} -k {root} -c listen_addresses={server.host}", "start",
    )  # fmt: skip
    wait_for_tcp(server.host, server.port)
    server.password_file.write_text(PASSWORD + "\n")
    server.password_file.chmod(0o600)
    return server


@pytest.fixture
def postgresql_factory() -> Iterator[Callable[[], PostgreSQL]]:
    """Start as many PostgreSQL servers as the test asks for; stop them all after it."""
    binaries = bin_dir()
    if binaries is None or shutil.which("runuser") is None:
        pytest.skip("PostgreSQL is not installed (apt install postgresql)")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user (apt install postgresql)")
    running: list[PostgreSQL] = []

    def start() -> PostgreSQL:
        server = _start(binaries)
        running.append(server)
        return server

    try:
        yield start
    finally:
        for server in running:
            subprocess.run(
                ["runuser", "-u", "postgres", "--", str(binaries / "pg_ctl"), "-D",
                 str(server.data), "-m", "fast", "-w", "stop"],
                capture_output=True,
                cwd="/",
                check=False,
            )  # fmt: skip
            shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def postgresql(postgresql_factory: Callable[[], PostgreSQL]) -> PostgreSQL:
    """One PostgreSQL server on 127.0.0.1:<free port>."""
    return postgresql_factory()
