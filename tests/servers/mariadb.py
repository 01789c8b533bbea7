"""A real MariaDB server on loopback, in a temporary data directory, with a password user.

``mariadb-install-db`` creates the system tables, ``mariadbd`` serves them on a free TCP
port of 127.0.0.1 and a socket in the temporary directory. The fixture creates the user
``vigie`` with a password full of characters that break naive quoting (quote, backslash,
``#``, ``;``, space), kept in a mode-0600 file, so that tests exercise real credential
handling; root reaches the server through the socket (unix_socket authentication) to set
up and inspect data.

For the checks, session-scoped servers: ``mariadb_server`` (one server for every
check_mysql test) and ``mariadb_replication`` (a GTID primary and its replica, set up with
``CHANGE MASTER TO … MASTER_USE_GTID=slave_pos``, the replica in ``slave_ddl_exec_mode=
STRICT`` so that a replicated DDL conflict stops its SQL thread as it would in
production). Tests that break the replication restore it (:meth:`Replication.heal`).
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

    def options_file(self, name: str, password: str | None = None) -> Path:
        """An options file ``name`` in the server's root, read by vigie's and the C check_mysql:
        user vigie, ``password`` (by default the right one) quoted and escaped for my.cnf."""
        path = self.root / name
        escaped = (password or self.password).replace("\\", "\\\\").replace('"', '\\"')
        path.write_text(f'[client]\nuser = vigie\npassword = "{escaped}"\n')
        path.chmod(0o600)
        return path


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def start_server(root: Path, options: tuple[str, ...] = ("--skip-log-bin",)
                 ) -> tuple[MariaDB, subprocess.Popen[bytes]]:  # fmt: skip
    """A server in the directory ``root``, as root, on a free loopback port (the tests'
    fixtures and the benchmarks); stopped by :func:`stop_servers`."""
    data = root / "data"
    subprocess.run(
        ["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
         "--auth-root-authentication-method=socket", "--skip-test-db"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    for attempt in range(3):  # a free port may be taken by another test run meanwhile
        server = MariaDB(root, free_port())
        process = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={data}", f"--socket={server.socket}",
             f"--port={server.port}", f"--bind-address={server.host}", "--user=root",
             f"--pid-file={root / 'mariadbd.pid'}", f"--log-error={server.log}",
             "--innodb-buffer-pool-size=64M", *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if _came_up(server, process):
            break
        stop_servers([process])
        log = server.log.read_text(errors="replace") if server.log.exists() else ""
        port_taken = "already in use" in log
        assert port_taken, f"mariadbd did not start:\n{log}"
        assert attempt < 2, f"mariadbd found its port taken three times:\n{log}"
    server.sql(
        f"CREATE USER 'vigie'@'%' IDENTIFIED BY {_quoted(PASSWORD)};\n"
        "GRANT ALL PRIVILEGES ON *.* TO 'vigie'@'%';\n"
    )
    server.password_file.write_text(PASSWORD + "\n")
    server.password_file.chmod(0o600)
    return server, process


def _came_up(server: MariaDB, process: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    """Whether this ``mariadbd`` (not another server on its port) listens on both its
    socket and its port within ``timeout``; False as soon as it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if server.socket.exists():
            try:
                wait_for_tcp(server.host, server.port, timeout=0.1)
            except AssertionError:
                pass
            else:
                return process.poll() is None
        time.sleep(0.05)
    return False


def _require_mariadb() -> None:
    if shutil.which("mariadbd", path="/usr/sbin:/usr/bin") is None:
        pytest.skip("mariadbd is not installed (apt install mariadb-server)")


def stop_servers(running: list[subprocess.Popen[bytes]]) -> None:
    for process in running:
        process.terminate()
    for process in running:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def mariadb_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], MariaDB]]:
    """Start as many MariaDB servers as the test asks for; stop them all after it."""
    _require_mariadb()
    running: list[subprocess.Popen[bytes]] = []

    def start() -> MariaDB:
        server, process = start_server(tmp_path_factory.mktemp("mariadb"))
        running.append(process)
        return server

    try:
        yield start
    finally:
        stop_servers(running)


@pytest.fixture
def mariadb(mariadb_factory: Callable[[], MariaDB]) -> MariaDB:
    """One MariaDB server on 127.0.0.1:<free port>."""
    return mariadb_factory()


def _certificates(root: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it: (ca, cert, key)."""
    ca, ca_key = root / "ca.pem", root / "ca-key.pem"
    cert, key, request = root / "server.pem", root / "server-key.pem", root / "server.csr"
    extensions = root / "server.ext"
    extensions.write_text("subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n")
    commands = [
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=vigie test CA", "-keyout", ca_key, "-out", ca],
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", key, "-out", request],
        ["openssl", "x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key,
         "-CAcreateserial", "-days", "2", "-extfile", extensions, "-out", cert],
    ]  # fmt: skip
    for command in commands:
        subprocess.run([str(part) for part in command], check=True, capture_output=True)
    return ca, cert, key


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """One MariaDB server for a whole test session, serving TLS with a certificate for
    127.0.0.1 from its own CA (``root / "ca.pem"``); tests must not change its settings."""
    _require_mariadb()
    root = tmp_path_factory.mktemp("mariadb-session")
    ca, cert, key = _certificates(root)
    options = ("--skip-log-bin", f"--ssl-ca={ca}", f"--ssl-cert={cert}", f"--ssl-key={key}")
    server, process = start_server(root, options)
    try:
        yield server
    finally:
        stop_servers([process])


REPLICATION_PASSWORD = "r3pl'ic#a"


class Replication:
    """A primary and its replica; ``heal`` puts the replica back to replicating."""

    def __init__(self, primary: MariaDB, replica: MariaDB) -> None:
        self.primary, self.replica = primary, replica

    def change_master(self, **overrides: object) -> str:
        """The ``CHANGE MASTER TO`` statement for the primary, with ``overrides``."""
        settings: dict[str, object] = {
            "MASTER_HOST": self.primary.host, "MASTER_PORT": self.primary.port,
            "MASTER_USER": "repl", "MASTER_PASSWORD": REPLICATION_PASSWORD,
            "MASTER_CONNECT_RETRY": 1, "MASTER_DELAY": 0,
        } | overrides  # fmt: skip
        values = ", ".join(
            f"{key}={_quoted(value) if isinstance(value, str) else value}"
            for key, value in settings.items()
        )
        return f"CHANGE MASTER TO {values}, MASTER_USE_GTID=slave_pos;\n"

    def status(self) -> dict[str, str]:
        """The replica's ``SHOW SLAVE STATUS`` as column → text (NULL as ``NULL``)."""
        output = subprocess.run(
            ["mariadb", "--no-defaults", f"--socket={self.replica.socket}", "-u", "root",
             "-E", "-e", "SHOW SLAVE STATUS"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout  # fmt: skip
        fields = {}
        for line in output.splitlines():
            key, colon, value = line.partition(":")
            if colon and not key.startswith("*"):
                fields[key.strip()] = value.strip()
        return fields

    def wait(self, predicate: Callable[[dict[str, str]], bool], what: str,
             timeout: float = 60) -> dict[str, str]:  # fmt: skip
        """The replica's status once ``predicate`` holds; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if predicate(status):
                return status
            assert time.monotonic() < deadline, f"replica never {what}: {status}"
            time.sleep(0.1)

    def caught_up(self) -> None:
        """Wait until the replica applied everything the primary wrote."""
        position = self.primary.sql("SELECT @@gtid_binlog_pos;").strip()
        self.replica.sql(f"SELECT MASTER_GTID_WAIT({_quoted(position)}, 60);")

    def heal(self) -> None:
        """Back to healthy: one default channel to the primary, both threads running."""
        self.replica.sql(
            "STOP ALL SLAVES;\n"
            + "".join(f"RESET SLAVE {_quoted(name)} ALL;\n" for name in self.named_channels())
            + self.change_master()
            + "START SLAVE;\n"
        )
        self.wait(lambda s: s.get("Slave_IO_Running") == "Yes"
                  and s.get("Slave_SQL_Running") == "Yes", "ran both threads")  # fmt: skip
        self.caught_up()

    def lag_delayed(self, seconds: int) -> None:
        """Delay the replica by 60 s (MASTER_DELAY), write on the primary, and wait until the
        replica is ``seconds`` behind."""
        self.replica.sql("STOP SLAVE;\n" + self.change_master(MASTER_DELAY=60) + "START SLAVE;\n")
        self.primary.sql(
            "INSERT INTO shop.orders SELECT COALESCE(MAX(id), 0) + 1 FROM shop.orders;\n"
        )
        self.wait(lambda status: int(status.get("Seconds_Behind_Master") or 0) >= seconds,
                  "lagged")  # fmt: skip

    def named_channels(self) -> list[str]:
        """The names of the replica's multi-source connections besides the default one."""
        output = subprocess.run(
            ["mariadb", "--no-defaults", f"--socket={self.replica.socket}", "-u", "root",
             "-E", "-e", "SHOW ALL SLAVES STATUS"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout  # fmt: skip
        names = []
        for line in output.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Connection_name" and value.strip():
                names.append(value.strip())
        return names


def start_replication(
    primary_root: Path, replica_root: Path
) -> tuple[Replication, list[subprocess.Popen[bytes]]]:
    """A GTID primary (log-bin, server id 1) and its replica (server id 2) replicating the
    database ``shop``; the caller stops the processes (:func:`_stop`)."""
    running: list[subprocess.Popen[bytes]] = []
    try:
        primary, process = start_server(primary_root, ("--log-bin=primary-bin", "--server-id=1"))
        running.append(process)
        replica, process = start_server(
            replica_root, ("--skip-log-bin", "--server-id=2", "--slave-ddl-exec-mode=STRICT")
        )
        running.append(process)
        primary.sql(
            f"CREATE USER 'repl'@'%' IDENTIFIED BY {_quoted(REPLICATION_PASSWORD)};\n"
            "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';\n"
        )
        # Start from the primary's current position: its own users are not replayed.
        position = primary.sql("SELECT @@gtid_binlog_pos;").strip()
        replication = Replication(primary, replica)
        replica.sql(f"SET GLOBAL gtid_slave_pos = {_quoted(position)};\n")
        replication.heal()
        primary.sql("CREATE DATABASE shop;\nCREATE TABLE shop.orders (id INT PRIMARY KEY);\n")
        replication.caught_up()
    except BaseException:
        stop_servers(running)
        raise
    return replication, running


@pytest.fixture(scope="session")
def mariadb_replication(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replication]:
    """A GTID primary and its replica, session-wide (see :func:`start_replication`)."""
    _require_mariadb()
    replication, running = start_replication(
        tmp_path_factory.mktemp("mariadb-primary"), tmp_path_factory.mktemp("mariadb-replica")
    )
    try:
        yield replication
    finally:
        stop_servers(running)
