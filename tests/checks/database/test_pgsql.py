"""check_pgsql: the query's answer parsed, the psql client's options, then a real server.

The real server is the primary of ``postgresql_replication`` (tests/servers/postgresql.py,
started once for the session); the password reaches psql only through a PGPASSFILE the
test writes. Stub ``psql`` programs stand for what a real one cannot be made to do here:
a query refused, garbage on stdout.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.clients.postgresql import (
    Connection,
    connection_error,
    default_psql,
    parse_document,
    quoted,
)
from checks.core.errors import ParseError
from checks.database.pgsql import PLUGIN, QUERY, parse_status
from tests.conftest import executable
from tests.helpers.contract import assert_conforms, run_installed
from tests.helpers.mutations import every_damage_answers_cleanly, every_damage_parses_or_refuses
from tests.helpers.stub_tools import printing
from tests.servers.loopback import silent_server
from tests.servers.ports import free_port
from tests.servers.postgresql import PostgreSQL, Replication, write_pgpass

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "postgresql"
OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3


def fixture_text(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text()


# --- the answer ---------------------------------------------------------------------------


def test_an_idle_server_is_read():
    status = parse_status(parse_document(fixture_text("pgsql-15-idle")))
    assert status.database == "postgres"
    assert status.numbers["max_connections"] == 100
    assert status.numbers["database_size"] == 7634279
    assert status.connections_percent == 1.0
    assert status.numbers["waiting_locks"] == 0


def test_a_session_idle_in_transaction_holding_a_lock_is_read():
    status = parse_status(parse_document(fixture_text("pgsql-15-idle-in-transaction-and-lock")))
    assert status.numbers["connections"] == 3
    assert status.numbers["longest_transaction"] == pytest.approx(3.15123)
    assert status.numbers["longest_idle_in_transaction"] == pytest.approx(3.150882)
    assert status.numbers["waiting_locks"] == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "printed nothing"),
     ("psql: warning: extra command-line argument", "is not JSON"),
     ("[1, 2]", "not a JSON object"),
     ('{"max_connections": 100}', "no valid server_version_num"),
     (json.dumps(json.loads(fixture_text("pgsql-15-idle")) | {"max_connections": 0}),
      "max_connections 0"),
     (json.dumps(json.loads(fixture_text("pgsql-15-idle")) | {"connections": -1}),
      "no valid connections"),
     (json.dumps(json.loads(fixture_text("pgsql-15-idle")) | {"waiting_locks": True}),
      "no valid waiting_locks"),
     (json.dumps(json.loads(fixture_text("pgsql-15-idle")) | {"database": None}),
      "no database name")],
)  # fmt: skip
def test_what_is_not_the_answer_is_refused(text, message):
    with pytest.raises(ParseError, match=message):
        parse_status(parse_document(text))


def test_a_damaged_answer_parses_or_is_refused_cleanly():
    every_damage_parses_or_refuses(
        lambda damaged_text: parse_status(parse_document(damaged_text)),
        fixture_text("pgsql-15-idle-in-transaction-and-lock"),
        examples=150,
    )


# --- the client's options -----------------------------------------------------------------


def connection(*argv: str) -> Connection:
    return Connection(PLUGIN.parser().parse_args(list(argv)), "vigie test")


def test_the_conninfo_quotes_every_value():
    made = connection("-H", "/run/postgresql", "-P", "5433", "-d", "it's", "-l", "a\\b",
                      "-o", "sslmode=require")  # fmt: skip
    assert made.conninfo == (
        "host='/run/postgresql' port='5433' dbname='it\\'s' user='a\\\\b' "
        "application_name='vigie test' connect_timeout='9' sslmode='require'"
    )
    assert quoted("") == "''"


def test_the_database_defaults_to_template1_as_the_c_plugin_but_not_under_a_service():
    assert connection().database == "template1"
    assert "dbname" not in connection("--service", "monitor").conninfo
    assert connection("--service", "monitor", "-d", "shop").database == "shop"


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["-p", "secret"], "-p/--password is refused: a password on the command line"),
     (["-o", "password=secret"], "would put a secret in the process list"),
     (["-o", "sslpassword=x"], "would put a secret in the process list"),
     (["-o", "nonsense"], "is not KEYWORD=VALUE"),
     (["-P", "99999"], "-P/--port"),
     (["--warning-size", "10X"], "unknown size unit"),
     (["--critical-transaction", "soon"], "--critical-transaction")],
)  # fmt: skip
def test_wrong_options_are_unknown_with_one_line(argv, message):
    outcome = PLUGIN.run(argv)
    assert outcome.state == UNKNOWN
    assert message in outcome.status_line
    assert_conforms("pgsql", outcome.state, outcome.text)


def test_libpq_messages_are_kept_on_one_line_without_psqls_prefix():
    stderr = (
        'psql: error: connection to server at "127.0.0.1", port 1 failed: Connection refused\n'
        "\tIs the server running on that host and accepting TCP/IP connections?\n"
    )
    assert connection_error(stderr) == (
        'connection to server at "127.0.0.1", port 1 failed: Connection refused'
    )
    assert connection_error("") == "psql exited without a message"


def test_debians_own_psql_binary_is_preferred_to_the_perl_wrapper():
    assert default_psql().startswith("/usr/lib/postgresql/")


# --- stub psql programs -------------------------------------------------------------------


def stub_psql(tmp_path: Path, stdout: str, stderr: str = "", status: int = 0) -> str:
    return str(printing(tmp_path / "psql", stdout, stderr=stderr, status=status))


def test_a_refused_query_is_unknown_with_the_servers_message(tmp_path):
    psql = stub_psql(tmp_path, "", "ERROR:  permission denied for function pg_database_size\n", 1)
    outcome = PLUGIN.run(["--psql", psql, "-H", "db1"])
    assert outcome.state == UNKNOWN
    assert outcome.status_line == (
        "PGSQL UNKNOWN - the query failed on database template1 on db1: "
        "ERROR: permission denied for function pg_database_size"
    )


def test_garbage_from_psql_is_unknown(tmp_path):
    outcome = PLUGIN.run(["--psql", stub_psql(tmp_path, "Welcome to psql\n")])
    assert outcome.state == UNKNOWN
    assert "psql's answer is not JSON" in outcome.status_line


def test_a_damaged_answer_from_psql_keeps_the_contract(tmp_path):
    every_damage_answers_cleanly(
        "pgsql", lambda text: PLUGIN.run(["--psql", stub_psql(tmp_path, text)]),
        fixture_text("pgsql-15-idle"), examples=25,
    )  # fmt: skip


def test_a_missing_psql_is_unknown():
    outcome = PLUGIN.run(["--psql", "/nonexistent/psql"])
    assert outcome.state == UNKNOWN
    assert "cannot run /nonexistent/psql" in outcome.status_line


# --- a real server ------------------------------------------------------------------------


@pytest.fixture
def primary(postgresql_replication: Replication, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> PostgreSQL:  # fmt: skip
    """The session's primary, its password in a PGPASSFILE of this test."""
    server = postgresql_replication.primary
    monkeypatch.setenv("PGPASSFILE", str(write_pgpass(tmp_path / "pgpass", server)))
    return server


def tcp(server: PostgreSQL, *argv: str) -> list[str]:
    return ["-H", server.host, "-P", str(server.port), "-l", server.user, *argv]


@pytest.mark.integration
def test_a_healthy_server_is_ok_with_every_metric_in_perfdata(primary):
    outcome = PLUGIN.run(tcp(primary))
    assert outcome.state == OK, outcome.text
    assert outcome.status_line.startswith(
        f"PGSQL OK - database template1 on 127.0.0.1 port {primary.port} in "
    )
    for label in (
        "time=",
        "connections_used=",
        "connections=",
        "database_size=",
        "longest_transaction=",
        "longest_idle_in_transaction=",
        "waiting_locks=",
    ):
        assert f" {label}" in outcome.status_line  # fmt: skip
    assert ";2;8;0 " in outcome.status_line  # the C plugin's time thresholds
    assert_conforms("pgsql", outcome.state, outcome.text)


@pytest.mark.integration
def test_a_unix_socket_directory_as_host(primary):
    outcome = PLUGIN.run(
        ["-H", str(primary.root), "-P", str(primary.port), "-d", "postgres", "-l", primary.user]
    )
    assert outcome.state == OK, outcome.text
    assert f"database postgres on {primary.root} port {primary.port}" in outcome.status_line


@pytest.mark.integration
def test_the_installed_executable_reads_the_password_file(primary, tmp_path):
    environment = {"PATH": "/usr/bin:/bin", "PGPASSFILE": str(tmp_path / "pgpass")}
    done = run_installed("pgsql", *tcp(primary), env=environment)
    assert done.returncode == OK, done.stdout


@pytest.mark.integration
def test_a_wrong_password_is_critical_with_the_servers_message(primary, tmp_path, monkeypatch):
    wrong = write_pgpass(tmp_path / "wrong", primary, password="not the password")
    monkeypatch.setenv("PGPASSFILE", str(wrong))
    outcome = PLUGIN.run(tcp(primary))
    assert outcome.state == CRITICAL
    assert outcome.status_line.endswith(
        f'port {primary.port} failed: FATAL: password authentication failed for user "postgres"; '
        f'password retrieved from file "{wrong}"'
    )


@pytest.mark.integration
def test_no_password_at_all_is_critical_at_once_not_a_prompt(primary, monkeypatch, tmp_path):
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "absent"))
    outcome = PLUGIN.run(tcp(primary))
    assert outcome.state == CRITICAL
    assert "fe_sendauth: no password supplied" in outcome.status_line


@pytest.mark.integration
def test_a_missing_database_is_critical(primary):
    outcome = PLUGIN.run(tcp(primary, "-d", "nosuch"))
    assert outcome.state == CRITICAL
    assert 'database "nosuch" does not exist' in outcome.status_line


@pytest.mark.integration
def test_a_closed_port_is_critical():
    outcome = PLUGIN.run(["-H", "127.0.0.1", "-P", str(free_port())])
    assert outcome.state == CRITICAL
    assert "Connection refused" in outcome.status_line


@pytest.mark.integration
def test_a_server_that_never_answers_is_critical_before_the_timeout():
    with silent_server() as port:
        started = time.monotonic()
        outcome = PLUGIN.run(["-H", "127.0.0.1", "-P", str(port), "-t", "3.5"])
        assert time.monotonic() - started < 3.5
    assert outcome.state == CRITICAL
    assert outcome.status_line.endswith(
        f'connection to server at "127.0.0.1", port {port} failed: timeout expired'
    )


@pytest.mark.integration
def test_a_server_that_never_answers_is_unknown_at_a_timeout_below_libpqs():
    with silent_server() as port:
        started = time.monotonic()
        done = subprocess.run(
            [executable("check_pgsql"), "-H", "127.0.0.1", "-P", str(port), "-t", "1.5"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert time.monotonic() - started < 5
    assert done.returncode == UNKNOWN
    assert done.stdout.startswith("PGSQL UNKNOWN - timed out after 1.5 s while querying PostgreSQL")


def wait_for_sql(server: PostgreSQL, count_query: str) -> None:
    """Wait until ``count_query`` counts something (at most 10 s)."""
    for _ in range(200):
        if server.psql(count_query).strip() != "0":
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing counted by {count_query}")


@pytest.fixture
def blocked_session(primary: PostgreSQL) -> Iterator[None]:
    """A session idle in transaction holding a lock, and a second session waiting for it."""
    primary.psql("CREATE TABLE IF NOT EXISTS vigie_locked (id int)")
    command = [str(primary.binaries / "psql"), "-X", "-q", "-h", primary.host, "-p",
               str(primary.port), "-U", primary.user, "-d", "postgres"]  # fmt: skip
    holder = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert holder.stdin is not None
    holder.stdin.write("BEGIN; LOCK TABLE vigie_locked IN ACCESS EXCLUSIVE MODE;\n")
    holder.stdin.flush()
    locked = "SELECT count(*) FROM pg_locks WHERE relation = 'vigie_locked'::regclass AND {}"
    wait_for_sql(primary, locked.format("mode = 'AccessExclusiveLock' AND granted"))
    waiter = subprocess.Popen([*command, "-c", "SELECT count(*) FROM vigie_locked"],
                              stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for_sql(primary, locked.format("NOT granted"))
        time.sleep(1.1)
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
        waiter.wait(timeout=30)


@pytest.mark.integration
@pytest.mark.usefixtures("blocked_session")
def test_idle_in_transaction_long_transactions_and_waiting_locks_alarm(primary):
    thresholds = ("--warning-locks", "0", "--critical-idle-transaction", "1",
                  "--warning-transaction", "1s", "--critical-transaction", "1h")  # fmt: skip
    outcome = PLUGIN.run(tcp(primary, *thresholds))
    assert outcome.state == CRITICAL, outcome.text
    problems = outcome.status_line.split(": ", 1)[1].split(" | ")[0]
    assert problems.startswith("idle in transaction ")
    assert " > 1 s, longest transaction " in problems
    assert problems.endswith(" > 1 s, 1 waiting lock > 0")
    assert_conforms("pgsql", outcome.state, outcome.text)


@pytest.mark.integration
def test_connections_percent_and_size_thresholds(primary):
    outcome = PLUGIN.run(tcp(primary, "--warning-connections", "0.5", "--warning-size", "1K"))
    assert outcome.state == WARNING, outcome.text
    assert " > 0.5%, size " in outcome.status_line
    assert outcome.status_line.split(" | ")[0].endswith(" > 1 KiB")


def test_the_query_is_one_select():
    assert QUERY.startswith("SELECT json_build_object(")
    assert ";" not in QUERY


def test_a_name_that_does_not_resolve_is_unknown_as_in_the_c_plugin():
    outcome = PLUGIN.run(["-H", "no-such-host.invalid"])
    assert outcome.state == UNKNOWN
    assert outcome.status_line == (
        'PGSQL UNKNOWN - could not translate host name "no-such-host.invalid" to address: '
        "Name or service not known"
    )
