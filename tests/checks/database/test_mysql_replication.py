"""check_mysql_replication: status rows parsed (real MariaDB captures, written MySQL 8
rows, damaged rows), then a real GTID primary and replica put in each state."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks.core.errors import CannotCheck, ParseError
from checks.core.runtime import Outcome
from checks.database._mysql_replication import parse_channels, status_query
from checks.database.mysql_replication import PLUGIN
from tests.helpers.mutations import answers_cleanly, parses_or_refuses
from tests.servers.mariadb import Replication
from tests.servers.ports import free_port

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mysql"


def rows(name: str) -> list[dict[str, object]]:
    loaded: list[dict[str, object]] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


# --- the status rows ----------------------------------------------------------------------


def test_a_healthy_mariadb_replica_is_read_with_its_gtid_position():
    (channel,) = parse_channels(rows("mariadb-healthy"))
    assert (channel.name, channel.io, channel.sql, channel.lag) == ("", "Yes", "Yes", 0)
    assert channel.gtid == "received 0-1-6, applied 0-1-6"
    assert channel.source.startswith("127.0.0.1:")
    assert not channel.io_error
    assert not channel.sql_error


def test_a_replicated_ddl_error_keeps_its_number_and_text_and_lag_is_null():
    (channel,) = parse_channels(rows("mariadb-sql-error-table-exists"))
    assert (channel.sql, channel.lag) == ("No", None)
    assert channel.sql_error.startswith("error 1050: Error 'Table 'clash' already exists'")


def test_mysql_8_replica_columns_are_read_as_the_mariadb_ones():
    (channel,) = parse_channels(rows("mysql8-replica-healthy"))
    assert (channel.io, channel.sql, channel.lag) == ("Yes", "Yes", 0)
    assert channel.source == "db1.example.net:3306"
    assert channel.gtid.startswith("retrieved 3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5")


def test_every_channel_of_a_multi_source_replica_and_one_by_name():
    channels = parse_channels(rows("mysql8-replica-two-channels-sql-error-and-lag"))
    assert [(c.name, c.sql, c.lag) for c in channels] == [("us", "Yes", 742), ("eu", "No", None)]
    (eu,) = parse_channels(rows("mysql8-replica-two-channels-sql-error-and-lag"), "eu")
    assert eu.sql_error.startswith("error 1062: Coordinator stopped")
    with pytest.raises(
        CannotCheck, match=r"no replication channel 'asia' \(channels: 'us', 'eu'\)"
    ):
        parse_channels(rows("mysql8-replica-two-channels-sql-error-and-lag"), "asia")


@pytest.mark.parametrize(
    ("version", "statement"),
    [("5.5.5-10.11.19-MariaDB-0+deb12u1", "SHOW ALL SLAVES STATUS"),
     ("10.11.19-MariaDB-0+deb12u1", "SHOW ALL SLAVES STATUS"),
     ("8.4.3", "SHOW REPLICA STATUS"), ("8.0.22", "SHOW REPLICA STATUS"),
     ("8.0.21-log", "SHOW SLAVE STATUS"), ("5.7.44-log", "SHOW SLAVE STATUS"),
     ("9.1.0-commercial", "SHOW REPLICA STATUS"), ("garbage", "SHOW REPLICA STATUS")],
)  # fmt: skip
def test_the_status_statement_follows_the_server_version(version, statement):
    assert status_query(version) == statement


def test_the_captured_mariadb_version_asks_for_every_connection():
    version = str(rows("mariadb-version")[0]["version"])
    assert status_query(version) == "SHOW ALL SLAVES STATUS"


ALL_FIXTURES = sorted(path.stem for path in FIXTURES.glob("m*-*.json")
                      if "status" not in path.stem and "version" not in path.stem)  # fmt: skip
#: The columns the parser reads, damaged more often than the others.
JUDGED = [
    "Slave_IO_Running",
    "Slave_SQL_Running",
    "Seconds_Behind_Master",
    "Master_Port",
    "Replica_IO_Running",
    "Seconds_Behind_Source",
    "Last_IO_Errno",
    "Last_SQL_Errno",
    "Last_SQL_Error",
    "SQL_Delay",
    "Connection_name",
    "Channel_Name",
    "Gtid_IO_Pos",
]
JUNK = st.one_of(st.none(), st.text(max_size=8), st.integers(-5, 10**12), st.floats(),
                 st.lists(st.none(), max_size=2))  # fmt: skip


@pytest.mark.parametrize("name", ALL_FIXTURES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_rows_parse_or_fail_with_one_clear_line(name, data):
    damaged = [dict(row) for row in rows(name)]
    for row in damaged:
        columns = st.sampled_from(sorted(row)) | st.sampled_from(JUDGED)
        for column in data.draw(st.lists(columns, max_size=4, unique=True)):
            if data.draw(st.booleans()):
                row.pop(column, None)
            else:
                row[column] = data.draw(JUNK)
    parses_or_refuses(lambda _: parse_channels(damaged), "")


@pytest.mark.parametrize("junk", [None, {}, "rows", [None], [[1, 2]], [{"Slave_IO_Running": 1}]])
def test_rows_that_are_no_status_rows_are_refused(junk):
    with pytest.raises(ParseError):
        parse_channels(junk)


# --- against a real primary and replica ---------------------------------------------------


@pytest.fixture
def replication(mariadb_replication: Replication) -> Iterator[Replication]:
    """The session's replica, healed after each scenario."""
    yield mariadb_replication
    mariadb_replication.heal()


def check(replication: Replication, *args: str, server: str = "replica") -> Outcome:
    target = getattr(replication, server)
    options = target.root / "check.cnf"
    if not options.exists():
        options.write_text(f"[client]\nuser = vigie\npassword = {target.password}\n")
        options.chmod(0o600)
    outcome = PLUGIN.run(["-H", target.host, "-P", str(target.port), "-f", str(options), *args])
    answers_cleanly("mysql_replication", outcome)
    return outcome


@pytest.mark.integration
def test_a_healthy_replica_is_ok_with_its_lag_and_gtid(replication):
    outcome = check(replication, "-v")
    assert outcome.state == 0, outcome.text
    assert re.search(r"replica of 127\.0\.0\.1:\d+ running, replica 0 s behind", outcome.text)
    assert "lag=0s;300;1800" in outcome.text
    assert re.search(r"GTID received 0-1-\d+, applied 0-1-\d+", outcome.text)


@pytest.mark.integration
def test_a_primary_is_not_a_replica_unknown_unless_told(replication):
    outcome = check(replication, server="primary")
    assert outcome.state == 3, outcome.text
    assert "not a replica (no replication channel)" in outcome.status_line
    assert check(replication, "--not-replica", "ok", server="primary").state == 0


@pytest.mark.integration
def test_a_stopped_sql_thread_is_critical_and_its_null_lag_is_not_zero(replication):
    replication.replica.sql("STOP SLAVE SQL_THREAD;\n")
    outcome = check(replication)
    assert outcome.state == 2, outcome.text
    assert "replica: SQL thread stopped" in outcome.status_line
    assert "lag=" not in outcome.text


@pytest.mark.integration
@pytest.mark.parametrize(
    ("change", "errno", "words"),
    [({"MASTER_PORT": 0}, "2003", "Can't connect"),
     ({"MASTER_PASSWORD": "wrong"}, "1045", "Access denied for user 'repl'")],
)  # fmt: skip
def test_an_io_thread_that_cannot_reach_the_source_is_critical_with_its_error(
    replication, change, errno, words
):
    change = {key: value or free_port() for key, value in change.items()}
    replication.replica.sql(
        "STOP SLAVE;\n" + replication.change_master(**change) + "START SLAVE;\n"
    )
    replication.wait(lambda status: status.get("Last_IO_Errno") == errno, f"had error {errno}")
    outcome = check(replication)
    assert outcome.state == 2, outcome.text
    assert "replica: IO thread connecting to 127.0.0.1:" in outcome.status_line
    assert f"(error {errno}: " in outcome.status_line
    assert words in outcome.status_line


@pytest.mark.integration
def test_a_replicated_ddl_conflict_stops_the_sql_thread_critical_with_the_error(replication):
    replication.replica.sql("CREATE TABLE shop.clash (id INT);\n")
    replication.primary.sql("CREATE TABLE shop.clash (id INT);\n")
    replication.wait(lambda status: status.get("Slave_SQL_Running") == "No", "stopped")
    outcome = check(replication)
    assert outcome.state == 2, outcome.text
    assert "SQL thread stopped (error 1050: Error 'Table 'clash' already exists'" in outcome.text
    replication.replica.sql("DROP TABLE shop.clash;\n")  # heal() replays the primary's CREATE


@pytest.mark.integration
def test_a_delayed_replica_lagging_past_the_thresholds(replication):
    replication.lag_delayed(2)
    outcome = check(replication, "-w", "1", "-c", "3600", "-v")
    assert outcome.state == 1, outcome.text
    assert re.search(r"replica \d+ s behind > 1 s", outcome.status_line)
    assert "delayed by 60 s (MASTER_DELAY)" in outcome.text
    assert check(replication, "-w", "0.5m", "-c", "1h").state == 0


@pytest.mark.integration
def test_every_channel_is_judged_and_one_may_be_chosen(replication):
    replication.replica.sql(
        "CHANGE MASTER 'eu' TO MASTER_HOST='127.0.0.1', "
        f"MASTER_PORT={free_port()}, MASTER_USER='repl', MASTER_PASSWORD='x';\n"
    )
    outcome = check(replication)
    assert outcome.state == 2, outcome.text
    assert "channel 'eu': IO thread stopped" in outcome.status_line
    assert "threads_eu" not in outcome.text or "lag_eu" not in outcome.text
    assert check(replication, "--connection", "").state == 0
    assert check(replication, "--connection", "eu").state == 2
    unknown = check(replication, "--connection", "asia")
    assert unknown.state == 3
    assert "no replication channel 'asia' (channels: '', 'eu')" in unknown.status_line


@pytest.mark.integration
def test_a_user_without_replication_client_privilege_is_unknown_with_the_server_words(
    replication,
):
    replica = replication.replica
    replica.sql("CREATE USER IF NOT EXISTS 'plain'@'%' IDENTIFIED BY 'plain-pass';\n")
    options = replica.root / "plain.cnf"
    options.write_text("[client]\nuser = plain\npassword = plain-pass\n")
    options.chmod(0o600)
    outcome = PLUGIN.run(["-H", replica.host, "-P", str(replica.port), "-f", str(options)])
    answers_cleanly("mysql_replication", outcome)
    assert outcome.state == 3, outcome.text
    assert "Access denied; you need (at least one of) the" in outcome.status_line
