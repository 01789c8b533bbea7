"""A real PostgreSQL server on loopback, in a temporary directory owned by ``postgres``.

PostgreSQL refuses to run as root, so ``initdb`` and ``pg_ctl`` run as the ``postgres``
user (``runuser``) in a directory of its own under /tmp (pytest's temporary directories
are private to root). The server listens on a free TCP port of 127.0.0.1 with
scram-sha-256 password authentication and on a socket in the temporary directory; the
superuser ``postgres`` has a password full of characters that break naive quoting, kept
in a mode-0600 file.

``postgresql_replication`` is a primary and a streaming standby made from it with
``pg_basebackup -R`` on a physical replication slot, started once for the session.
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

    def start(self) -> None:
        """Start the server on its port, its socket in its directory; wait for TCP."""
        self.as_postgres(
            str(self.binaries / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
            "-o", f"-p {self.port} -k {self.root} -c listen_addresses={self.host}", "start",
        )  # fmt: skip
        wait_for_tcp(self.host, self.port)

    def stop(self) -> None:
        """Stop the server (fast: open sessions are ended); no error if it is not running."""
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.binaries / "pg_ctl"), "-D",
             str(self.data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            cwd="/",
            check=False,
        )  # fmt: skip

    def pgpass_line(self, password: str | None = None) -> str:
        """This server's line for a password file (``:`` and ``\\`` escaped), with
        ``password`` instead of the real one if given."""
        secret = self.password if password is None else password
        secret = secret.replace("\\", "\\\\").replace(":", "\\:")
        return f"{self.host}:{self.port}:*:{self.user}:{secret}\n"


def _private_root(prefix: str) -> tuple[Path, pwd.struct_passwd]:
    """A mode-0700 directory under /tmp owned by ``postgres``."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    account = pwd.getpwnam("postgres")
    os.chown(root, account.pw_uid, account.pw_gid)
    root.chmod(0o700)
    return root, account


def start_server(binaries: Path) -> PostgreSQL:
    root, account = _private_root("vigie-pg-")
    server = PostgreSQL(root, free_port(), binaries)
    password_for_initdb = root / "initdb.pw"
    password_for_initdb.write_text(PASSWORD + "\n")
    os.chown(password_for_initdb, account.pw_uid, account.pw_gid)
    server.as_postgres(
        str(binaries / "initdb"), "-D", str(server.data), "-U", "postgres", "-E", "UTF8",
        "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={password_for_initdb}",
    )  # fmt: skip
    password_for_initdb.unlink()
    server.start()
    server.password_file.write_text(PASSWORD + "\n")
    server.password_file.chmod(0o600)
    return server


def start_standby(primary: PostgreSQL, slot: str) -> PostgreSQL:
    """A streaming standby of ``primary``: ``pg_basebackup -R`` on a new physical ``slot``."""
    root, account = _private_root("vigie-pg-standby-")
    standby = PostgreSQL(root, free_port(), primary.binaries)
    passfile = root / "pgpass"
    passfile.write_text(primary.pgpass_line())
    passfile.chmod(0o600)
    os.chown(passfile, account.pw_uid, account.pw_gid)
    standby.as_postgres(
        "env", f"PGPASSFILE={passfile}", str(primary.binaries / "pg_basebackup"),
        "-h", primary.host, "-p", str(primary.port), "-U", primary.user, "-D", str(standby.data),
        "-R", "-C", "-S", slot, "-X", "stream", "-c", "fast",
    )  # fmt: skip
    standby.start()
    standby.password_file.write_text(PASSWORD + "\n")
    standby.password_file.chmod(0o600)
    return standby


def _binaries_or_skip() -> Path:
    binaries = bin_dir()
    if binaries is None or shutil.which("runuser") is None:
        pytest.skip("PostgreSQL is not installed (apt install postgresql)")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user (apt install postgresql)")
    return binaries


def remove_server(server: PostgreSQL) -> None:
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def postgresql_factory() -> Iterator[Callable[[], PostgreSQL]]:
    """Start as many PostgreSQL servers as the test asks for; stop them all after it."""
    binaries = _binaries_or_skip()
    running: list[PostgreSQL] = []

    def start() -> PostgreSQL:
        server = start_server(binaries)
        running.append(server)
        return server

    try:
        yield start
    finally:
        for server in running:
            remove_server(server)


@pytest.fixture
def postgresql(postgresql_factory: Callable[[], PostgreSQL]) -> PostgreSQL:
    """One PostgreSQL server on 127.0.0.1:<free port>."""
    return postgresql_factory()


class Replication:
    """A primary and its streaming standby, the standby on the physical slot ``slot``."""

    def __init__(self, primary: PostgreSQL, standby: PostgreSQL, slot: str) -> None:
        self.primary, self.standby, self.slot = primary, standby, slot


@pytest.fixture(scope="session")
def postgresql_replication() -> Iterator[Replication]:
    """A primary and a standby streaming from it, for the whole session."""
    binaries = _binaries_or_skip()
    primary = start_server(binaries)
    try:
        standby = start_standby(primary, "standby1")
        try:
            yield Replication(primary, standby, "standby1")
        finally:
            remove_server(standby)
    finally:
        remove_server(primary)


def write_pgpass(path: Path, *servers: PostgreSQL, password: str | None = None) -> Path:
    """A mode-0600 password file for libpq with a line per server (``password`` instead of
    theirs, to be refused), for ``PGPASSFILE``."""
    path.write_text("".join(server.pgpass_line(password) for server in servers))
    path.chmod(0o600)
    return path
