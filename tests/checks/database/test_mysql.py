"""check_mysql: status and option-file parsing (real captures, damaged ones), rates across
runs and restarts, then a real MariaDB (TCP, socket, TLS) and servers that fail."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.clients.mysql import Target, option_value, read_options_file, target
from checks.core import statefile
from checks.core.errors import CannotCheck, ParseError
from checks.core.runtime import Outcome
from checks.database.mysql import PLUGIN, parse_status, product, rates, state_name
from tests.helpers.contract import assert_conforms, run_installed
from tests.helpers.mutations import answers_cleanly, parses_or_refuses
from tests.servers.loopback import silent_server
from tests.servers.mariadb import MariaDB, Replication
from tests.servers.ports import free_port

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mysql"
STATUS = {row["Variable_name"]: row["Value"]
          for row in json.loads((FIXTURES / "mariadb-global-status.json").read_text())}  # fmt: skip
VARIABLES = {"max_connections": "151"}


# --- SHOW GLOBAL STATUS --------------------------------------------------------------------


def test_the_captured_status_gives_uptime_threads_and_counters():
    status = parse_status(STATUS, VARIABLES)
    assert status.uptime == float(STATUS["Uptime"])
    assert (status.threads_connected, status.threads_running) == (2, 2)  # as captured
    assert status.connections_percent == pytest.approx(200 / 151)
    assert set(status.counters) == {"Uptime", "Questions", "Slow_queries", "Aborted_connects"}


@pytest.mark.parametrize(
    ("status", "variables", "message"),
    [({}, VARIABLES, "SHOW GLOBAL STATUS has no Uptime"),
     (STATUS | {"Threads_running": "lots"}, VARIABLES, "Threads_running is 'lots', not a count"),
     (STATUS | {"Questions": "-3"}, VARIABLES, "Questions is '-3'"),
     (STATUS, {}, "SHOW GLOBAL VARIABLES has no max_connections"),
     (STATUS, {"max_connections": "0"}, "max_connections is 0")],
)  # fmt: skip
def test_a_status_missing_or_garbling_a_value_names_it(status, variables, message):
    with pytest.raises(ParseError, match=re.escape(message)):
        parse_status(status, variables)


@settings(max_examples=200, deadline=None)
@given(
    changes=st.dictionaries(
        st.sampled_from(
            [
                "Uptime",
                "Questions",
                "Slow_queries",
                "Aborted_connects",
                "Threads_connected",
                "Threads_running",
                "max_connections",
            ]
        ),
        st.one_of(st.text(max_size=12), st.sampled_from(["nan", "inf", "1e400", "-1", "", "0x10"])),
    )
)
def test_damaged_status_values_parse_or_fail_with_one_clear_line(changes):  # fmt: skip
    parses_or_refuses(lambda _: parse_status(STATUS | changes, VARIABLES | changes), "")


def interval(
    before: dict[str, float], after: dict[str, float], seconds: float
) -> statefile.Interval:
    return statefile.Interval(before, after, seconds, f"over the last {seconds:g} s")


COUNTERS = {"Uptime": 1000.0, "Questions": 5000.0, "Slow_queries": 10.0, "Aborted_connects": 2.0}


def test_rates_cover_the_interval_between_two_runs():
    after = {"Uptime": 1300.0, "Questions": 8000.0, "Slow_queries": 40.0, "Aborted_connects": 2.0}
    per_second, how = rates(interval(COUNTERS, after, 300))
    assert per_second == {"queries": 10.0, "slow_queries": 0.1, "aborted_connects": 0.0}
    assert how == "over the last 300 s"


def test_a_restart_since_the_stored_reading_gives_rates_since_the_restart():
    # Stored at uptime 1000; 1800 s later the server is up 600 s: it restarted in between
    # and its counters, though higher than stored, count from the restart.
    after = {"Uptime": 600.0, "Questions": 6000.0, "Slow_queries": 60.0, "Aborted_connects": 6.0}
    stored = COUNTERS | {"Uptime": 500.0}
    per_second, how = rates(interval(stored, after, 1800))
    assert per_second == {"queries": 10.0, "slow_queries": 0.1, "aborted_connects": 0.01}
    assert how == "since the server's restart 10 min ago"
    zero = dict.fromkeys(COUNTERS, 0.0)
    assert rates(interval(stored, zero, 100))[0] == dict.fromkeys(per_second, 0.0)


@pytest.mark.parametrize(
    ("where", "name"),
    [("127.0.0.1 port 3306", "mysql-127.0.0.1-port-3306"),
     ("socket /run/mysqld/mysqld.sock", "mysql-socket--run-mysqld-mysqld.sock")],
)  # fmt: skip
def test_each_server_keeps_its_own_state(where, name):
    assert state_name(where) == name


@pytest.mark.parametrize(
    ("version", "shown"),
    [("5.5.5-10.11.19-MariaDB-0+deb12u1", "MariaDB 10.11.19"),
     ("11.4.2-MariaDB-log", "MariaDB 11.4.2"), ("8.0.36-0ubuntu0.22.04.1", "MySQL 8.0.36")],
)  # fmt: skip
def test_the_product_and_version_as_people_read_them(version, shown):
    assert product(version) == shown


# --- option files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "read"),
    [('"p\\"ss\\\\w0rd #1; x"', 'p"ss\\w0rd #1; x'),  # quoted, escapes read
     ('p"ss\\w0rd #1; x', 'p"ss\\w0rd #1; x'),  # bare: '#' kept, unknown escape kept
     ("'it''s'", "it''s"), ("a\\sb\\tc", "a b\tc"), ("  spaced  ", "spaced"), ("x\\", "x\\")],
)  # fmt: skip
def test_option_values_are_read_as_the_c_plugins_library_reads_them(written, read):
    assert option_value(written) == read


def test_the_group_overrides_client_and_flags_are_ignored():
    text = ("[client]\nuser = nagios\npassword = one\nport=3307\nskip-ssl\n"
            "[monitoring]\nPassword = two\nDefault_Character_Set = utf8mb4\n"
            "[mysqldump]\nuser = backup\n")  # fmt: skip
    assert read_options_file(text, "f", ("monitoring",)) == {
        "user": "nagios", "password": "two", "port": "3307", "default-character-set": "utf8mb4"
    }  # fmt: skip
    assert read_options_file(text, "f", ())["password"] == "one"


def test_options_set_twice_keep_the_later_line_whatever_its_group():
    text = "[monitoring]\npassword = two\n[client]\npassword = one\n"
    assert read_options_file(text, "f", ("monitoring",)) == {"password": "one"}


def test_includes_and_comments_are_skipped_and_an_option_before_any_group_is_refused():
    text = "# comment\n!includedir /etc/mysql/conf.d/\n; other\n[client]\nuser=u # kept\n"
    assert read_options_file(text, "f", ()) == {"user": "u # kept"}
    with pytest.raises(CannotCheck, match="f line 1: an option before any \\[group\\]"):
        read_options_file("password = secret\n[client]\n", "f", ())
    with pytest.raises(CannotCheck, match="f line 1: a group is \\[name\\]"):
        read_options_file("[client\n", "f", ())


def target_of(*args: str) -> Target:
    return target(PLUGIN.parser().parse_args(list(args)))


def test_where_to_connect_as_the_c_plugin_reads_its_options(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert target_of().kwargs["unix_socket"] == "/run/mysqld/mysqld.sock"
    local = target_of("-H", "localhost", "-s", "/tmp/x.sock", "-l")
    assert (local.kwargs["unix_socket"], local.tls) == ("/tmp/x.sock", False)  # no TLS there
    assert target_of("-H", "/srv/db.sock").where == "socket /srv/db.sock"
    remote = target_of("-H", "db1", "-C", "/ca.pem")
    assert (remote.where, remote.tls, remote.verify) == ("db1 port 3306", True, True)
    unverified = target_of("-H", "db1", "-l", "--ssl-no-verify")
    assert (unverified.tls, unverified.verify) == (True, False)
    path = options_file(tmp_path, "[client]\nhost = db2\nport = 3307\nuser = mon\n")
    from_file = target_of("-f", str(path))
    assert (from_file.where, from_file.kwargs["user"]) == ("db2 port 3307", "mon")
    assert target_of("-f", str(path), "-P", "3308", "-u", "me").kwargs["user"] == "me"
    assert target_of("-f", str(path), "-P", "3308").where == "db2 port 3308"
    bad = options_file(tmp_path, "[client]\nhost = db2\nport = many\n")
    with pytest.raises(CannotCheck, match="port 'many' is not a number"):
        target_of("-f", str(bad))


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet="[]=#;!\n abc\\\"'", max_size=60))
def test_any_options_file_parses_or_fails_with_one_clear_line(text):
    parses_or_refuses(lambda _: read_options_file(text, "my.cnf", ("x",)), "")


# --- the command line ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [(["-p", "secret"], "-p/--password is refused: a password on the command line is visible"),
     (["-w", "60"], "-w/-c judge the seconds behind the source and need -S"),
     (["-P", "99999"], "'99999' is not a port number"),
     (["--warning-connections", "x"], "argument --warning-connections")],
)  # fmt: skip
def test_wrong_use_is_unknown_with_one_line(args, message):
    outcome = PLUGIN.run(["-H", "127.0.0.1", *args])
    assert outcome.state == 3
    assert message in outcome.status_line
    assert_conforms("mysql", outcome.state, outcome.text)


def options_file(directory: Path, text: str, mode: int = 0o600) -> Path:
    path = directory / f"options-{mode:o}.cnf"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_an_options_file_with_a_password_readable_by_others_is_refused(tmp_path):
    path = options_file(tmp_path, "[client]\npassword = x\n", 0o644)
    outcome = PLUGIN.run(["-H", "127.0.0.1", "-P", str(free_port()), "-f", str(path)])
    assert outcome.state == 3
    assert f"options file -f: {path} is accessible by group or others (mode 0644)" in outcome.text


def test_an_options_file_without_password_may_be_readable_and_a_missing_one_is_unknown(tmp_path):
    readable = options_file(tmp_path, "[client]\nuser = nagios\n", 0o644)
    port = str(free_port())
    assert PLUGIN.run(["-H", "127.0.0.1", "-P", port, "-f", str(readable)]).state == 2
    missing = PLUGIN.run(["-H", "127.0.0.1", "-P", port, "-f", str(tmp_path / "none.cnf")])
    assert missing.state == 3
    assert "options file -f: cannot read " in missing.status_line
    assert "No such file or directory" in missing.status_line


def test_the_users_own_options_file_is_read_without_f(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    options_file(tmp_path, "[client]\npassword = x\n", 0o640).rename(tmp_path / ".my.cnf")
    outcome = PLUGIN.run(["-H", "127.0.0.1", "-P", str(free_port())])
    assert outcome.state == 3
    assert f"options file: {tmp_path}/.my.cnf is accessible by group" in outcome.status_line


# --- against a real MariaDB ----------------------------------------------------------------


@pytest.fixture
def server(mariadb_server: MariaDB) -> MariaDB:
    return mariadb_server


def login(server: MariaDB, password: str | None = None) -> Path:
    """An options file with the password quoted and escaped as my.cnf wants it."""
    return server.options_file("check.cnf" if password is None else "wrong.cnf", password)


def check(server: MariaDB, *args: str) -> Outcome:
    outcome = PLUGIN.run(["-H", server.host, "-P", str(server.port), "-f", str(login(server)),
                          "--sample", "0.2", *args])  # fmt: skip
    answers_cleanly("mysql", outcome)
    return outcome


@pytest.mark.integration
def test_a_running_server_is_ok_with_every_value_and_rates_over_the_interval(server):
    first = check(server)
    assert first.state == 0, first.text
    assert re.fullmatch(
        rf"MariaDB 10\.\d+\.\d+ on 127\.0\.0\.1 port {server.port} in [\d.]+ ms: up .+, "
        r"threads connected \d+, threads running \d+, connections [\d.]+% of max_connections, "
        r"[\d.]+ queries/s, slow queries [\d.]+/s, aborted connects [\d.]+/s over 0\.2 s",
        first.summary,
    )
    for label in ("time=", "uptime=", "threads_connected=", "connections=", "queries=",
                  "slow_queries=", "aborted_connects="):  # fmt: skip
        assert f" {label}" in first.text or f"| {label}" in first.text
    assert ";80;90;0;100" in first.text
    time.sleep(0.3)
    second = check(server)
    assert re.search(r"over the last 0 s|over the last 1 s", second.summary), second.summary


@pytest.mark.integration
def test_thresholds_judge_connections_uptime_and_rates(server):
    outcome = check(server, "--warning-connections", "0.5", "--critical-uptime", "1d:")
    assert outcome.state == 2, outcome.text
    assert re.search(r"up .+ < 1 d", outcome.status_line)
    assert re.search(r"connections [\d.]+% of max_connections > 0\.5%", outcome.status_line)
    assert check(server, "--critical-queries", "@0:1000000").state == 2


@pytest.mark.integration
def test_a_restarted_server_discards_the_stored_reading(server, isolated_state):
    name = state_name(f"{server.host} port {server.port}")
    later = dict.fromkeys(("Uptime", "Questions", "Slow_queries", "Aborted_connects"), 1e12)
    isolated_state.mkdir(parents=True, exist_ok=True)
    (isolated_state / f"{name}.json").write_text(json.dumps(
        {"boot": statefile.boot_id(), "time": time.monotonic() - 60, "values": later}))  # fmt: skip
    outcome = check(server)
    assert outcome.state == 0, outcome.text
    assert outcome.summary.endswith("over 0.2 s")


@pytest.mark.integration
def test_the_local_socket_with_unix_socket_authentication(server):
    for args in (["-s", str(server.socket)], ["-H", str(server.socket)]):
        outcome = PLUGIN.run([*args, "-u", "root", "--sample", "0.1"])
        assert outcome.state == 0, outcome.text
        assert f" on socket {server.socket} in " in outcome.summary


@pytest.mark.integration
def test_a_refused_login_is_critical_with_the_servers_words_or_ok_with_n(server):
    wrong = ["-H", server.host, "-P", str(server.port), "-f", str(login(server, "wrong"))]
    outcome = PLUGIN.run(wrong)
    assert outcome.state == 2, outcome.text
    assert outcome.status_line == (
        f"MYSQL CRITICAL - 127.0.0.1 port {server.port}: Access denied for user "
        "'vigie'@'localhost' (using password: YES)"
    )
    ignored = PLUGIN.run([*wrong, "-n"])
    assert ignored.state == 0
    assert "the server answered (login refused, ignored by -n: Access denied" in ignored.text


@pytest.mark.integration
def test_a_missing_database_is_critical(server):
    outcome = check(server, "-d", "nosuch")
    assert outcome.state == 2
    assert outcome.status_line.endswith(": Unknown database 'nosuch'")


@pytest.mark.integration
def test_tls_verified_against_the_ca_or_not_verified_when_asked(server):
    ca = server.root / "ca.pem"
    assert check(server, "-l", "-C", str(ca)).state == 0
    assert check(server, "-C", str(ca)).state == 0  # -C implies -l
    assert check(server, "-l", "--ssl-no-verify").state == 0
    unverified = check(server, "-l")
    assert unverified.state == 2, unverified.text
    assert "certificate verify failed" in unverified.status_line
    bad = check(server, "-l", "-C", str(server.root / "nothing.pem"))
    assert bad.state == 3
    assert bad.status_line.endswith(f"TLS option -C: cannot read {server.root}/nothing.pem")
    ciphers = check(server, "-C", str(ca), "-L", "NO-SUCH-CIPHER")
    assert ciphers.state == 3
    assert "TLS options: " in ciphers.status_line


def test_nothing_listening_is_critical(tmp_path):
    port = free_port()
    outcome = PLUGIN.run(["-H", "127.0.0.1", "-P", str(port), "-u", "x"])
    assert outcome.state == 2
    assert outcome.status_line == f"MYSQL CRITICAL - 127.0.0.1 port {port}: connection refused"


def test_a_server_that_never_greets_is_critical_within_the_timeout():
    with silent_server() as port:
        result = run_installed("mysql", "-H", "127.0.0.1", "-P", str(port), "-u", "x", "-t", "1",
                               timeout=10)  # fmt: skip
    assert result.stdout.startswith(
        f"MYSQL CRITICAL - 127.0.0.1 port {port}: no answer within 1 s"
    ), result.stdout


@pytest.mark.integration
def test_the_executable_keeps_the_contract(server, isolated_state):
    result = run_installed(
        "mysql", "-H", server.host, "-P", str(server.port), "-f", str(login(server)),
        "--sample", "0.1", env={"VIGIE_STATE_DIR": str(isolated_state), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0


# --- -S: the replica, as the C plugin's -S -----------------------------------------------


@pytest.fixture
def replication(mariadb_replication: Replication) -> Iterator[Replication]:
    yield mariadb_replication
    mariadb_replication.heal()


@pytest.mark.integration
def test_s_judges_the_replica_threads_and_lag_and_a_primary_is_a_warning(replication):
    replica = replication.replica
    healthy = check(replica, "-S", "-w", "60", "-c", "300")
    assert healthy.state == 0, healthy.text
    assert re.search(r"replica of 127\.0\.0\.1:\d+ running, replica 0 s behind$", healthy.summary)
    assert "lag=0s;60;300" in healthy.text
    primary = check(replication.primary, "-S")
    assert primary.state == 1
    assert "not a replica (no replication channel)" in primary.status_line
    replica.sql("STOP SLAVE SQL_THREAD;\n")
    stopped = check(replica, "-S")
    assert stopped.state == 2
    assert "replica: SQL thread stopped" in stopped.status_line


@pytest.mark.integration
def test_a_check_without_tls_loads_neither_ssl_nor_configparser(server, isolated_state):
    # What keeps check_mysql within its CPU budget (see checks.clients.mysql), asserted
    # on the modules loaded rather than by timing.
    script = (
        "import sys\n"
        "from checks.database.mysql import PLUGIN\n"
        f"outcome = PLUGIN.run(['-H', '127.0.0.1', '-P', '{server.port}', '-f', "
        f"'{login(server)}', '--sample', '0.05'])\n"
        "print(outcome.state, 'configparser' in sys.modules, '_ssl' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=30, check=False)  # fmt: skip
    assert result.stdout.split() == ["0", "False", "False"], result.stdout + result.stderr


@pytest.fixture(scope="module")
def garbage_server() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback server sending each connection the next queued bytes, then closing."""
    queue: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.sendall(queue.pop(0) if queue else b"")

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1], queue
    listener.close()


@pytest.mark.parametrize(
    ("payload", "words"),
    [(b"SSH-2.0-OpenSSH_9.2p1\r\n", "does not speak the MySQL protocol (Packet sequence"),
     (b"HTTP/1.1 400 Bad Request\r\n\r\n", "does not speak the MySQL protocol"),
     (b"\x01\x00\x00\x00\xff", "does not speak the MySQL protocol"),
     (b"", "Lost connection to MySQL server")],
)  # fmt: skip
def test_a_server_answering_garbage_is_critical_with_one_line(garbage_server, payload, words):
    port, queue = garbage_server
    queue.append(payload)
    outcome = PLUGIN.run(["-H", "127.0.0.1", "-P", str(port), "-u", "x", "-t", "2"])
    answers_cleanly("mysql", outcome)
    assert outcome.state == 2, outcome.text
    assert words in outcome.status_line


@settings(max_examples=60, deadline=None)
@given(payload=st.binary(max_size=80) | st.builds(
    lambda body, sequence: len(body).to_bytes(3, "little") + bytes([sequence]) + body,
    st.binary(max_size=60), st.integers(0, 1)))  # fmt: skip
def test_any_bytes_instead_of_a_handshake_end_in_one_line(garbage_server, payload):
    port, queue = garbage_server
    queue.append(payload)
    outcome = PLUGIN.run(["-H", "127.0.0.1", "-P", str(port), "-u", "x", "-t", "2"])
    answers_cleanly("mysql", outcome)
    assert outcome.state in (2, 3), outcome.text
