"""check_pgsql beside Debian's C check_pgsql: the same real server, arguments and state.

The server is the primary of tests/servers/postgresql.py; both plugins get the password
from the same PGPASSFILE (libpq reads it for each), never from the command line. Each case
runs the C plugin first, then vigie's, with the same arguments.

Documented differences, asserted here: the C plugin's ``-p PASSWORD`` is refused by vigie
(UNKNOWN, naming PGPASSFILE; the C plugin breaks on a password with quotes or blanks
anyway), and vigie's summary line names its other metrics besides
the database and the time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.compat import both, perf_value, same_state
from tests.servers.loopback import silent_server
from tests.servers.ports import free_port
from tests.servers.postgresql import PostgreSQL, Replication, write_pgpass

pytestmark = pytest.mark.integration
OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3


@pytest.fixture
def server(
    postgresql_replication: Replication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> PostgreSQL:
    """The session's primary; its password in a PGPASSFILE both plugins read."""
    primary = postgresql_replication.primary
    monkeypatch.setenv("PGPASSFILE", str(write_pgpass(tmp_path / "pgpass", primary)))
    return primary


def same(state: int, *args: str) -> None:
    """The C plugin and vigie's, run with ``args``, both end in ``state``."""
    c_result, vigie_result = both("check_pgsql", *args)
    same_state(c_result, vigie_result, state)


def tcp(server: PostgreSQL, *argv: str) -> tuple[str, ...]:
    return ("-H", server.host, "-P", str(server.port), "-l", server.user, *argv)


def test_a_login_over_tcp_is_ok_for_both(server):
    c_result, vigie_result = both("check_pgsql", *tcp(server))
    same_state(c_result, vigie_result, OK)
    assert c_result.stdout.startswith(" OK - database template1 (")
    assert vigie_result.stdout.startswith(
        f"PGSQL OK - database template1 on 127.0.0.1 port {server.port} in "
    )
    # Both time the login (vigie's includes psql's start): well under a second here.
    assert perf_value(c_result.stdout, "time") < 1
    assert perf_value(vigie_result.stdout, "time") < 1


def test_a_unix_socket_directory_and_a_database_for_both(server):
    same(OK, "-H", str(server.root), "-P", str(server.port), "-l", server.user, "-d", "postgres")


@pytest.mark.parametrize(("warning", "critical", "state"),
                         [("0.000001", "10", WARNING), ("0", "0.000001", CRITICAL)])  # fmt: skip
def test_time_thresholds_mean_the_same(server, warning, critical, state):
    same(state, *tcp(server, "-w", warning, "-c", critical))


def test_a_wrong_password_is_critical_for_both(server, tmp_path, monkeypatch):
    wrong = write_pgpass(tmp_path / "wrong", server, password="not the password")
    monkeypatch.setenv("PGPASSFILE", str(wrong))
    c_result, vigie_result = both("check_pgsql", *tcp(server))
    same_state(c_result, vigie_result, CRITICAL)
    for output in (c_result.stdout, vigie_result.stdout):
        assert 'password authentication failed for user "postgres"' in output


def test_a_missing_database_is_critical_for_both(server):
    c_result, vigie_result = both("check_pgsql", *tcp(server, "-d", "nosuch"))
    same_state(c_result, vigie_result, CRITICAL)
    assert 'database "nosuch" does not exist' in vigie_result.stdout


def test_a_closed_port_is_critical_for_both():
    same(CRITICAL, "-H", "127.0.0.1", "-P", str(free_port()))


def test_a_name_that_does_not_resolve_is_unknown_for_both():
    same(UNKNOWN, "-H", "no-such-host.invalid")


def test_a_server_that_never_answers_is_critical_for_both():
    with silent_server() as port:
        same(CRITICAL, "-H", "127.0.0.1", "-P", str(port), "-t", "3")


def test_a_password_on_the_command_line_is_refused_by_vigie(server, monkeypatch):
    monkeypatch.setenv("PGPASSFILE", "/dev/null")
    c_result, vigie_result = both("check_pgsql", *tcp(server, "-p", server.password))
    # The C plugin pastes -p into its conninfo string unquoted: this password (quotes,
    # a backslash, a blank) breaks it, and it reports that as no connection.
    assert (c_result.returncode, vigie_result.returncode) == (CRITICAL, UNKNOWN)
    assert 'missing "=" after' in c_result.stdout
    assert "put it in PGPASSFILE" in vigie_result.stdout
