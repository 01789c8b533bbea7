"""check_mysql beside Debian's C check_mysql (monitoring-plugins-standard 2.3.3): the same
real MariaDB servers, the same arguments (the login in an options file, ``-f``), the same
state; check_mysql_replication beside the C ``check_mysql -S`` on a real replica.

Deliberate differences, asserted: ``-p PASSWORD`` works in C and is UNKNOWN in vigie (a
password in ``ps``); ``-l`` without a CA verifies the server's certificate in vigie
(CRITICAL against a private CA) while C encrypts without verifying, which vigie does with
``--ssl-no-verify``; check_mysql_replication calls a server that is not a replica UNKNOWN
where C ``-S`` says WARNING (vigie's check_mysql ``-S`` keeps WARNING); the C plugin has
no ``-t`` and waits forever for a server that accepts and never greets, vigie is CRITICAL
within ``-t``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import c_plugin, executable
from tests.helpers.compat import same_state
from tests.servers.loopback import silent_server
from tests.servers.mariadb import MariaDB, Replication
from tests.servers.ports import free_port

pytestmark = pytest.mark.integration
OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3


def run(path: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip


Result = subprocess.CompletedProcess[str]


def both(*args: str, vigie: str = "check_mysql") -> tuple[Result, Result]:
    """The C check_mysql, then vigie's ``vigie`` check, with the same ``args``."""
    return run(c_plugin("check_mysql"), *args), run(executable(vigie), *args)


def options(server: MariaDB, password: str | None = None) -> Path:
    """An options file both plugins read: user vigie, its password quoted and escaped."""
    return server.options_file("compat.cnf" if password is None else "compat-wrong.cnf", password)


def tcp(server: MariaDB, password: str | None = None) -> tuple[str, ...]:
    return ("-H", server.host, "-P", str(server.port), "-f", str(options(server, password)))


def test_a_running_server(mariadb_server):
    c_result, vigie_result = both(*tcp(mariadb_server))
    same_state(c_result, vigie_result, OK)
    assert c_result.stdout.startswith("Uptime: ")


def test_the_login_in_an_options_file_group(mariadb_server):
    path = mariadb_server.root / "compat-group.cnf"
    escaped = mariadb_server.password.replace("\\", "\\\\").replace('"', '\\"')
    path.write_text(f'[client]\nuser = vigie\n[monitoring]\npassword = "{escaped}"\n')
    path.chmod(0o600)
    args = ("-H", mariadb_server.host, "-P", str(mariadb_server.port), "-f", str(path))
    same_state(*both(*args, "-g", "monitoring"), OK)
    same_state(*both(*args), CRITICAL)  # without -g the password is not read


def test_the_local_socket_as_root(mariadb_server):
    same_state(*both("-s", str(mariadb_server.socket), "-u", "root"), OK)


def test_a_refused_login_and_n_ignoring_it(mariadb_server):
    same_state(*both(*tcp(mariadb_server, "wrong")), CRITICAL)
    same_state(*both(*tcp(mariadb_server, "wrong"), "-n"), OK)


def test_a_missing_database(mariadb_server):
    c_result, vigie_result = both(*tcp(mariadb_server), "-d", "nosuch")
    same_state(c_result, vigie_result, CRITICAL)
    assert "Unknown database 'nosuch'" in c_result.stdout
    assert "Unknown database 'nosuch'" in vigie_result.stdout


def test_nothing_listening(tmp_path):
    same_state(*both("-H", "127.0.0.1", "-P", str(free_port()), "-u", "x"), CRITICAL)


@pytest.fixture
def silent_port() -> Iterator[int]:
    with silent_server() as port:
        yield port


def test_a_server_that_never_greets(silent_port):
    # The C check_mysql has no -t (it answers usage) and waits for the greeting forever.
    args = ("-H", "127.0.0.1", "-P", str(silent_port), "-u", "x")
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run(
            [c_plugin("check_mysql"), *args], capture_output=True, timeout=3, check=False
        )
    assert run(c_plugin("check_mysql"), *args, "-t", "2").returncode == UNKNOWN
    vigie_result = run(executable("check_mysql"), *args, "-t", "2")
    assert vigie_result.returncode == CRITICAL, vigie_result.stdout
    assert "no answer within 2 s" in vigie_result.stdout


def test_tls_with_the_servers_ca_and_without_verification(mariadb_server):
    ca = str(mariadb_server.root / "ca.pem")
    same_state(*both(*tcp(mariadb_server), "-l", "-C", ca), OK)
    c_result, vigie_result = both(*tcp(mariadb_server), "-l")
    assert (c_result.returncode, vigie_result.returncode) == (OK, CRITICAL), vigie_result.stdout
    assert "certificate verify failed" in vigie_result.stdout
    assert run(executable("check_mysql"), *tcp(mariadb_server), "--ssl-no-verify").returncode == OK


def test_a_password_on_the_command_line(mariadb_server):
    args = ("-H", mariadb_server.host, "-P", str(mariadb_server.port), "-u", "vigie",
            "-p", mariadb_server.password)  # fmt: skip
    c_result, vigie_result = both(*args)
    assert (c_result.returncode, vigie_result.returncode) == (OK, UNKNOWN)
    assert "-p/--password is refused" in vigie_result.stdout


# --- the replica: C check_mysql -S --------------------------------------------------------


@pytest.fixture
def replication(mariadb_replication: Replication) -> Iterator[Replication]:
    yield mariadb_replication
    mariadb_replication.heal()


@pytest.mark.parametrize("vigie", ["check_mysql", "check_mysql_replication"])
def test_a_healthy_replica(replication, vigie):
    args = [*tcp(replication.replica), "-w", "60", "-c", "300"]
    c_result, vigie_result = (
        run(c_plugin("check_mysql"), *args, "-S"),
        run(executable(vigie), *args, *(["-S"] if vigie == "check_mysql" else [])),
    )
    same_state(c_result, vigie_result, OK)
    assert "Slave IO: Yes Slave SQL: Yes Seconds Behind Master: 0" in c_result.stdout


@pytest.mark.parametrize("vigie", ["check_mysql", "check_mysql_replication"])
def test_a_stopped_sql_thread(replication, vigie):
    replication.replica.sql("STOP SLAVE SQL_THREAD;\n")
    args = tcp(replication.replica)
    c_result = run(c_plugin("check_mysql"), *args, "-S")
    vigie_result = run(executable(vigie), *args, *(["-S"] if vigie == "check_mysql" else []))
    same_state(c_result, vigie_result, CRITICAL)


def test_an_io_thread_refused_by_the_source(replication):
    replica = replication.replica
    statement = replication.change_master(MASTER_PASSWORD="wrong")
    replica.sql("STOP SLAVE;\n" + statement + "START SLAVE;\n")
    replication.wait(lambda status: status.get("Last_IO_Errno") == "1045", "was refused")
    args = tcp(replica)
    c_result = run(c_plugin("check_mysql"), *args, "-S")
    assert "Slave IO: Connecting" in c_result.stdout
    same_state(c_result, run(executable("check_mysql_replication"), *args), CRITICAL)
    same_state(c_result, run(executable("check_mysql"), *args, "-S"), CRITICAL)


def test_a_lagging_delayed_replica(replication):
    replication.lag_delayed(3)
    args = (*tcp(replication.replica), "-w", "1", "-c", "3600")
    c_result = run(c_plugin("check_mysql"), *args, "-S")
    same_state(c_result, run(executable("check_mysql"), *args, "-S"), WARNING)
    same_state(c_result, run(executable("check_mysql_replication"), *args), WARNING)


def test_a_primary_is_no_replica(replication):
    args = tcp(replication.primary)
    c_result = run(c_plugin("check_mysql"), *args, "-S")
    same_state(c_result, run(executable("check_mysql"), *args, "-S"), WARNING)
    assert "No slaves defined" in c_result.stdout
    vigie_result = run(executable("check_mysql_replication"), *args)
    assert vigie_result.returncode == UNKNOWN, vigie_result.stdout
