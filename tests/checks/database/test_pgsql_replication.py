"""check_pgsql_replication: captured answers judged, damaged ones refused, then a real pair.

The captures (tests/fixtures/postgresql/, see its README) come from the primary and the
standby of tests/servers/postgresql.py in each situation; a stub ``psql`` replays them to
the whole check. The live scenarios run on the session's pair: healthy, an idle primary,
an unused slot, replay held back by ``recovery_min_apply_delay``, the standby stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from checks.clients.postgresql import parse_document
from checks.core.errors import ParseError
from checks.core.runtime import Outcome
from checks.database.pgsql_replication import PLUGIN, parse_replication
from checks.database.pgsql_replication import Replication as ReplicationState
from tests.helpers.contract import assert_conforms
from tests.helpers.mutations import every_damage_answers_cleanly, every_damage_parses_or_refuses
from tests.helpers.stub_tools import printing
from tests.servers.postgresql import PostgreSQL, Replication, write_pgpass

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "postgresql"
OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3


def capture(name: str) -> str:
    return (FIXTURES / f"replication-15-{name}.json").read_text()


def parsed(name: str) -> ReplicationState:
    return parse_replication(parse_document(capture(name)))


# --- the answer ---------------------------------------------------------------------------


def test_a_primary_with_its_standby_streaming():
    replication = parsed("primary-streaming")
    assert replication.role == "primary"
    assert replication.version == 150018
    [standby] = replication.standbys
    assert (standby.name, standby.client, standby.state, standby.sync_state) == (
        "walreceiver", "127.0.0.1", "streaming", "async")  # fmt: skip
    assert standby.bytes == {"write": 0, "flush": 0, "replay": 0}
    assert standby.seconds["replay"] == pytest.approx(0.005219)
    [slot] = replication.slots
    assert (slot.name, slot.kind, slot.active, slot.wal_status, slot.retained) == (
        "standby1", "physical", True, "reserved", 0)  # fmt: skip
    assert slot.safe_wal_size is None


def test_an_unused_slot_retains_wal():
    slots = {slot.name: slot for slot in parsed("primary-unused-slot").slots}
    assert not slots["unused"].active
    assert slots["unused"].retained == 17166016


def test_a_held_back_standby_trails_on_both_sides():
    assert parsed("primary-apply-delay").standbys[0].bytes["replay"] == 96
    standby = parsed("standby-apply-delay")
    assert (standby.role, standby.replay_bytes) == ("standby", 96)
    assert standby.replay_delay == pytest.approx(2.955253)


def test_an_idle_primary_is_no_replay_delay_however_old_the_last_commit():
    standby = parsed("standby-idle-primary")
    assert standby.replay_bytes == 0
    assert standby.replay_delay == 0
    assert standby.receiver is not None
    assert standby.receiver.status == "streaming"


def test_wal_waiting_with_nothing_replayed_since_the_start_is_never_a_zero_delay():
    # Captured in 15.18 after a restart of a standby held back by recovery_min_apply_delay
    # (before the server age was part of the query): no replayed commit to compare with.
    document = with_changes("standby-apply-delay", last_replay_age=None, server_age=42.5)
    assert parse_replication(document).replay_delay == 42.5
    assert parse_replication(with_changes("standby-idle-primary", last_replay_age=None,
                                          server_age=42.5)).replay_delay == 0  # fmt: skip


def test_a_standby_whose_primary_is_down_has_no_receiver():
    assert parsed("standby-primary-down").receiver is None


def test_two_standbys_of_one_name_are_told_apart_by_client():
    document = json.loads(capture("primary-streaming"))
    second = dict(document["standbys"][0], client="10.0.0.2")
    document["standbys"].append(second)
    labels = [standby.label for standby in parse_replication(document).standbys]
    assert labels == ["walreceiver@127.0.0.1", "walreceiver@10.0.0.2"]


def with_changes(name: str, **changes: object) -> dict[str, object]:
    document: dict[str, object] = json.loads(capture(name))
    return document | changes


@pytest.mark.parametrize(
    ("document", "message"),
    [({}, "no in_recovery"),
     (with_changes("primary-streaming", standbys=None), "no list of standbys"),
     (with_changes("primary-streaming", slots=[1]), "no list of slots"),
     (with_changes("primary-streaming", standbys=[{"name": "a"}]), "client is not a text"),
     (with_changes("standby-streaming", receiver=[]), "bad receiver"),
     (with_changes("standby-streaming", receiver={"status": 3}), "status is not a text"),
     (with_changes("standby-streaming", replay_bytes="96"), "replay_bytes is not a number"),
     (with_changes("standby-streaming", server_version_num=None), "server_version_num")],
)  # fmt: skip
def test_what_is_not_the_answer_is_refused(document, message):
    with pytest.raises(ParseError, match=message):
        parse_replication(document)


def test_a_damaged_primary_answer_parses_or_is_refused_cleanly():
    every_damage_parses_or_refuses(
        lambda damaged_text: parse_replication(parse_document(damaged_text)),
        capture("primary-unused-slot"),
        examples=100,
    )


def test_a_damaged_standby_answer_parses_or_is_refused_cleanly():
    every_damage_parses_or_refuses(
        lambda damaged_text: parse_replication(parse_document(damaged_text)),
        capture("standby-apply-delay"),
        examples=100,
    )


# --- the captures judged by the whole check -----------------------------------------------


def replay(tmp_path: Path, text: str, *argv: str) -> Outcome:
    """The check run on ``text`` as psql's answer (a stub psql prints it)."""
    stub = printing(tmp_path / "psql", text)
    return PLUGIN.run(["--psql", str(stub), "-H", "db1", *argv])


@pytest.mark.parametrize(
    ("name", "argv", "state", "summary"),
    [("primary-streaming", (), OK,
      "primary on db1: 1 standby streaming, walreceiver replay 0 B behind, 0 s, "
      "slot standby1 (physical) active, WAL reserved"),
     ("primary-streaming", ("--standbys", "2"), CRITICAL, "db1: 1 standby streaming < 2"),
     ("primary-streaming", ("--role", "standby"), CRITICAL, "db1: is a primary (expected standby)"),
     ("primary-unused-slot", (), WARNING,
      "db1: slot unused (physical) inactive (no standby uses it), WAL reserved"),
     ("primary-unused-slot", ("--inactive-slot", "ok"), OK, None),
     ("primary-unused-slot", ("--inactive-slot", "ok", "--warning-slot-bytes", "10M"), WARNING,
      "db1: slot unused retained 16.4 MiB > 10 MiB"),
     ("primary-apply-delay", ("--critical-lag-bytes", "64"), CRITICAL,
      "db1: walreceiver replay lag 96 B > 64 B, slot unused (physical) inactive "
      "(no standby uses it), WAL reserved"),
     ("primary-standby-stopped", (), CRITICAL,
      "db1: 0 standbys streaming < 1, slot standby1 (physical) inactive (no standby uses it), "
      "WAL reserved, slot unused (physical) inactive (no standby uses it), WAL reserved"),
     ("primary-standby-stopped", ("--standbys", "0", "--inactive-slot", "ok"), OK, None),
     ("standby-streaming", (), OK,
      "standby on db1: WAL receiver streaming from 127.0.0.1, receive lag 0 B, replay lag 0 B, "
      "replay delay 0 s"),
     ("standby-apply-delay", ("--warning-lag", "2", "--critical-lag", "1m"), WARNING,
      "db1: replay delay 3 s > 2 s"),
     ("standby-apply-delay", ("--critical-lag-bytes", "10"), CRITICAL,
      "db1: replay lag 96 B > 10 B"),
     ("standby-idle-primary", ("--warning-lag", "1", "--critical-lag", "2"), OK, None),
     ("standby-primary-down", (), CRITICAL, "db1: no WAL receiver (not streaming from a primary)"),
     ("standby-streaming", ("--role", "primary"), CRITICAL,
      "db1: is a standby (expected primary)")],
)  # fmt: skip
def test_captured_situations_are_judged(tmp_path, name, argv, state, summary):
    outcome = replay(tmp_path, capture(name), *argv)
    assert outcome.state == state, outcome.text
    if summary is not None:
        assert outcome.summary == summary
    assert_conforms("pgsql_replication", outcome.state, outcome.text)


def test_each_standby_lag_is_in_perfdata_with_its_thresholds(tmp_path):
    outcome = replay(tmp_path, capture("primary-apply-delay"), "--warning-lag", "30s")
    perfdata = outcome.status_line.split(" | ")[1].split()
    assert perfdata[0] == "standbys=1;;1:;0"
    assert "'walreceiver replay_lag_bytes'=96B;;;0" in outcome.status_line
    assert "'walreceiver replay_lag'=1.253439s;30;;0" in outcome.status_line
    assert "'slot standby1 retained_bytes'=0B;;;0" in outcome.status_line


def test_a_damaged_answer_keeps_the_contract(tmp_path):
    every_damage_answers_cleanly("pgsql_replication", lambda text: replay(tmp_path, text),
                                 capture("standby-apply-delay"), examples=25)  # fmt: skip


def test_a_negative_standby_count_is_a_usage_error():
    outcome = PLUGIN.run(["--standbys", "-1"])
    assert outcome.state == UNKNOWN
    assert "--standbys -1: give 0 or more" in outcome.status_line


# --- a real primary and standby -----------------------------------------------------------


@pytest.fixture
def pair(postgresql_replication: Replication, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> Replication:  # fmt: skip
    """The session's primary and standby, both passwords in this test's PGPASSFILE."""
    servers = (postgresql_replication.primary, postgresql_replication.standby)
    monkeypatch.setenv("PGPASSFILE", str(write_pgpass(tmp_path / "pgpass", *servers)))
    return postgresql_replication


def check(server: PostgreSQL, *argv: str) -> Outcome:
    return PLUGIN.run(["-H", server.host, "-P", str(server.port), "-l", server.user, *argv])


def wait_until(what: str, condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.1)


def caught_up(pair: Replication) -> bool:
    """The standby streams and has replayed everything the primary wrote."""
    return (
        pair.primary.psql(
            "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' "
            "AND replay_lsn = pg_current_wal_lsn()"
        ).strip()
        == "1"
    )


@pytest.mark.integration
def test_healthy_primary_and_standby_are_ok(pair):
    pair.primary.psql(
        "CREATE TABLE IF NOT EXISTS vigie_rows (id int); INSERT INTO vigie_rows VALUES (1)"
    )
    wait_until("the standby catching up", lambda: caught_up(pair))
    primary = check(pair.primary, "--role", "primary", "--standbys", "1")
    assert primary.state == OK, primary.text
    assert primary.summary.startswith(
        f"primary on 127.0.0.1 port {pair.primary.port}: 1 standby streaming, walreceiver "
    )
    assert primary.summary.endswith("slot standby1 (physical) active, WAL reserved")
    standby = check(pair.standby, "--role", "standby")
    assert standby.state == OK, standby.text
    assert standby.summary.startswith(
        f"standby on 127.0.0.1 port {pair.standby.port}: WAL receiver streaming from 127.0.0.1, "
        "receive lag 0 B"
    )
    assert_conforms("pgsql_replication", primary.state, primary.text)
    assert_conforms("pgsql_replication", standby.state, standby.text)


@pytest.mark.integration
def test_an_idle_primary_keeps_the_standby_ok(pair):
    pair.primary.psql("INSERT INTO vigie_rows VALUES (2)")
    wait_until("the standby catching up", lambda: caught_up(pair))
    time.sleep(1.5)  # no commit since: the last replayed one ages
    standby = check(pair.standby, "--warning-lag", "0.5", "--critical-lag", "1")
    assert standby.state == OK, standby.text
    assert "replay_delay=0s;0.5;1;0" in standby.status_line


@pytest.fixture
def unused_slot(pair: Replication) -> Iterator[str]:
    pair.primary.psql("SELECT pg_create_physical_replication_slot('vigie_unused', true)")
    try:
        yield "vigie_unused"
    finally:
        pair.primary.psql("SELECT pg_drop_replication_slot('vigie_unused')")


@pytest.mark.integration
def test_an_unused_slot_is_a_warning(pair, unused_slot):
    outcome = check(pair.primary)
    assert outcome.state == WARNING, outcome.text
    assert outcome.summary == (
        f"127.0.0.1 port {pair.primary.port}: slot {unused_slot} (physical) inactive "
        "(no standby uses it), WAL reserved"
    )
    assert check(pair.primary, "--inactive-slot", "ok").state == OK


@pytest.fixture
def held_back(pair: Replication) -> Iterator[None]:
    """The standby with ``recovery_min_apply_delay = 1h`` and a commit waiting for it."""
    pair.standby.psql("ALTER SYSTEM SET recovery_min_apply_delay = '1h'; SELECT pg_reload_conf()")
    try:
        time.sleep(0.3)  # the startup process reads the new setting
        pair.primary.psql("INSERT INTO vigie_rows VALUES (3)")
        waiting = "SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()"
        wait_until("the commit reaching the standby",
                   lambda: pair.standby.psql(waiting).strip() == "t")  # fmt: skip
        time.sleep(1.1)
        yield
    finally:
        pair.standby.psql("ALTER SYSTEM RESET recovery_min_apply_delay; SELECT pg_reload_conf()")
        wait_until("the standby catching up", lambda: caught_up(pair))


@pytest.mark.integration
@pytest.mark.usefixtures("held_back")
def test_replay_held_back_alarms_on_both_sides(pair):
    standby = check(pair.standby, "--warning-lag", "1", "--critical-lag", "1h")
    assert standby.state == WARNING, standby.text
    assert standby.summary.startswith(f"127.0.0.1 port {pair.standby.port}: replay delay ")
    assert check(pair.standby, "--critical-lag-bytes", "1").state == CRITICAL
    primary = check(pair.primary, "--critical-lag-bytes", "1")
    assert primary.state == CRITICAL, primary.text
    assert " walreceiver replay lag " in primary.summary


@pytest.mark.integration
def test_the_standby_stopped_is_critical_on_the_primary(pair):
    pair.standby.stop()
    try:
        outcome = check(pair.primary)
        assert outcome.state == CRITICAL, outcome.text
        assert outcome.summary == (
            f"127.0.0.1 port {pair.primary.port}: 0 standbys streaming < 1, slot standby1 "
            "(physical) inactive (no standby uses it), WAL reserved"
        )
        down = check(pair.standby)
        assert down.state == CRITICAL
        assert "Connection refused" in down.summary
    finally:
        pair.standby.start()
        wait_until("the standby streaming again", lambda: caught_up(pair))
    assert check(pair.primary).state == OK
