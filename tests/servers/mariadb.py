"""A real MariaDB server on loopback, in a temporary data directory, with a password user.

``mariadb-install-db`` creates the system tables, ``mariadbd`` serves them on a free TCP
port of 127.0.0.1 and a socket in the temporary directory. The fixture creates the user
``vigie`` with a password full of characters that break naive quoting (quote, backslash,
``#``, ``;``, space), kept in a mode-0600 file, so that tests exercise real credential
handling; root reaches the server through the socket (unix_socket authentication) to set
up and inspect data.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers.ports import free_port, wait_for_tcp

PASSWORD = 'p"ss\\w0rd #1; x'


class MariaDB:
    """What a test needs to reach the server."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.host = "127.0.0.1"
        self.port = port
        self.socket = root / "mysqld.sock"
        self.user = "vigie"
        self.password = PASSWORD
        self.password_file = root / "vigie.password"
        self.log = root / "error.log"

    def sql(self, statements: str, database: str | None = None) -> str:
        """Run SQL as root through the socket; its tab-separated output."""
        argv = ["mariadb", "--no-defaults", f"--socket={self.socket}", "-u", "root", "-N", "-B"]
        result = subprocess.run(
            [*argv, *([database] if database else [])],
            input=statements,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _start(root: Path) -> tuple[MariaDB, subprocess.Popen[bytes]]:
    server = MariaDB(root, free_port())
    data = root / "data"
    subprocess.run(
        ["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
         "--auth-root-authentication-method=socket", "--skip-test-db"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    process = subprocess.Popen(
        ["mariadbd", "--no-defaults", f"--datadir={data}", f"--socket={server.socket}",
         f"--port={server.port}", f"--bind-address={server.host}", "--user=root",
         f"--pid-file={root / 'mariadbd.pid'}", f"--log-error={server.log}",
         "--innodb-buffer-pool-size=64M", "--skip-log-bin"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for_tcp(server.host, server.port, timeout=60)
    deadline = time.monotonic() + 30
    while not server.socket.exists():
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.05)
    server.sql(
        f"CREATE USER 'vigie'@'%' IDENTIFIED BY {_quoted(PASSWORD)};\n"
        "GRANT ALL PRIVILEGES ON *.* TO 'vigie'@'%';\n"
    )
    server.password_file.write_text(PASSWORD + "\n")
    server.password_file.chmod(0o600)
    return server, process


@pytest.fixture
def mariadb_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], MariaDB]]:
    """Start as many MariaDB servers as the test asks for; stop them all after it."""
    if shutil.which("mariadbd", path="/usr/sbin:/usr/bin") is None:
        pytest.skip("mariadbd is not installed (apt install mariadb-server)")
    running: list[subprocess.Popen[bytes]] = []

    def start() -> MariaDB:
        server, process = _start(tmp_path_factory.mktemp("mariadb"))
        running.append(process)
        return server

    try:
        yield start
    finally:
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def mariadb(mariadb_factory: Callable[[], MariaDB]) -> MariaDB:
    """One MariaDB server on 127.0.0.1:<free port>."""
    return mariadb_factory()
