"""check_apache: mod_status ?auto parsed from real captures, then a real Apache on loopback.

The parser reads the shared capture (telegraf's, 2.4 event MPM under load) and this
repository's captures of Debian's Apache 2.4.71 (tests/fixtures/apache/), whole and
damaged. The check runs against a real apache2 with mod_status (tests/servers/apache.py),
and against broken servers: refused, silent, garbage, a 401, an HTML page, stopped.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from checks.core.errors import ParseError
from checks.core.runtime import Outcome
from checks.core.statefile import Interval
from checks.web.apache import PLUGIN, parse_status, restarted
from tests.conftest import shared_fixtures, shared_fixtures_dir
from tests.helpers.contract import assert_conforms, run_installed
from tests.helpers.http_failures import HTTP_FAILURES, critical_once_stopped, damaged_pages_served
from tests.helpers.mutations import every_damage_parses_or_refuses
from tests.servers.apache import Apache

OWN = Path(__file__).resolve().parents[2] / "fixtures" / "apache"
AUTO = (OWN / "server_status_auto_2_4_71_event.txt").read_text()
HTML = (OWN / "server_status_html_2_4_71.html").read_text()


def shared(name: str) -> str:
    return (shared_fixtures() / "apache" / name).read_text()


def twice_printed(text: str, busy: int, idle: int) -> str:
    """``text`` in the layout of the event MPM of 2.4.35 to 2.4.5x: after ``Stopping:``
    the MPM prints its own BusyWorkers and IdleWorkers (here different, to tell them apart)."""
    return text.replace("Stopping: 0\n", f"Stopping: 0\nBusyWorkers: {busy}\nIdleWorkers: {idle}\n")


# --- the parser ---------------------------------------------------------------------------


def test_the_shared_capture_of_a_busy_event_mpm():
    status = parse_status(shared("server_status_auto_event_mpm_busy.txt"))
    assert (status.busy, status.idle, status.limit) == (270, 630, 3750)
    assert status.scoreboard["waiting"] == 630
    assert status.scoreboard["reading"] + status.scoreboard["sending"] == 270
    assert status.scoreboard["open"] == 2850
    assert status.counters == {"accesses": 129811861, "kbytes": 5213701865, "uptime": 941553}


def test_a_capture_of_debian_apache_2_4_71():
    status = parse_status(AUTO)
    assert (status.busy, status.idle, status.limit) == (1, 9, 15)
    assert (status.version, status.mpm) == ("Apache/2.4.71 (Debian)", "event")
    assert status.scoreboard == {"waiting": 9, "starting": 0, "reading": 0, "sending": 1,
                                 "keepalive": 0, "dns": 0, "closing": 0, "logging": 0,
                                 "graceful": 0, "idle_cleanup": 0, "open": 5}  # fmt: skip
    assert status.counters == {"accesses": 20, "kbytes": 8, "uptime": 0}


def test_a_capture_of_the_prefork_mpm_has_a_slot_per_process():
    status = parse_status((OWN / "server_status_auto_2_4_71_prefork.txt").read_text())
    assert (status.busy, status.idle, status.limit, status.mpm) == (1, 1, 6, "prefork")
    assert status.scoreboard["open"] == 4


def test_of_busy_workers_printed_twice_mod_status_count_is_taken():
    status = parse_status(twice_printed(AUTO, busy=4, idle=2))
    assert (status.busy, status.idle) == (1, 9)


def test_without_extended_status_there_are_no_counters():
    counters = ("Total ", "CPU", "Uptime", "BytesPer", "Duration")
    text = "".join(line for line in AUTO.splitlines(keepends=True) if not line.startswith(counters))
    assert parse_status(text).counters is None


@pytest.mark.parametrize(
    ("text", "message"),
    [(HTML, "an HTML page, not mod_status ?auto output (does -u end with ?auto?)"),
     ("It works!\n", "not mod_status ?auto output (no Scoreboard line): 'It works!'"),
     (AUTO.replace("Scoreboard: _W", "Scoreboard: _X"), "states mod_status does not have: {'X'}"),
     (AUTO.replace("BusyWorkers: 1", "BusyWorkers: nan"), "BusyWorkers is not a count: 'nan'"),
     (AUTO.replace("BusyWorkers: 1", "BusyWorkers: 90"), "are more than the scoreboard's 15"),
     (AUTO.replace("IdleWorkers: 9\n", ""), "mod_status output without 'IdleWorkers'"),
     (AUTO.replace("Total kBytes: 8\n", ""), "mod_status output without 'Total kBytes'")],
)  # fmt: skip
def test_what_is_not_mod_status_is_refused(text, message):
    with pytest.raises(ParseError, match=re.escape(message)):
        parse_status(text)


CAPTURES = (
    [AUTO, twice_printed(AUTO, 3, 7), HTML]
    + [(OWN / "server_status_auto_2_4_71_prefork.txt").read_text()]
    + [path.read_text() for path in sorted(shared_fixtures_dir().glob("apache/*"))]
)


@pytest.mark.parametrize("text", CAPTURES)
def test_damaged_captures_parse_or_are_refused(text):
    every_damage_parses_or_refuses(parse_status, text, examples=60)


@pytest.mark.integration
def test_a_damaged_page_served_is_judged_or_one_clear_unknown(elasticsearch):
    damaged_pages_served(PLUGIN, elasticsearch, CAPTURES, "text/plain", "--sample", "0.05")


def test_a_restart_shows_as_uptime_growing_less_than_the_interval():
    before = {"accesses": 100.0, "kbytes": 10.0, "uptime": 50.0}
    assert not restarted(Interval(before, {**before, "uptime": 110.0}, 60.0, ""))
    assert not restarted(Interval(before, {**before, "uptime": 109.0}, 60.4, ""))
    assert restarted(Interval(before, {"accesses": 900.0, "kbytes": 90.0, "uptime": 55.0},
                              60.0, ""))  # fmt: skip


# --- a real Apache ------------------------------------------------------------------------


def run(*args: str) -> Outcome:
    outcome = PLUGIN.run(list(args))
    assert_conforms("apache", outcome.state, outcome.text)
    return outcome


def at(server: Apache, *args: str) -> Outcome:
    return run("-H", server.host, "-p", str(server.port), *args)


def stored(state_dir: Path) -> Path:
    (path,) = state_dir.glob("apache-*.json")
    return path


@pytest.mark.integration
def test_a_real_apache_is_ok_with_workers_rates_and_scoreboard(apache):
    outcome = at(apache, "--sample", "0.05", "-v")
    assert outcome.state == 0, outcome.text
    assert outcome.status_line.startswith("APACHE OK - 1 of 15 workers busy (6.7%), ")
    assert " requests/s, " in outcome.summary
    assert outcome.summary.endswith(" event)")
    assert "(Apache/2.4" in outcome.summary
    assert " | busy=6.666667%;80;95;0 busy_workers=1;;;0;15 " in outcome.status_line
    assert " open=5;;;0;15" in outcome.status_line
    assert "scoreboard: waiting " in outcome.text


@pytest.mark.integration
def test_rates_come_from_the_previous_run_and_a_restart_drops_it(apache, isolated_state):
    assert at(apache, "--sample", "0.05").state == 0
    path = stored(isolated_state)
    reading = json.loads(path.read_text())
    uptime = reading["values"]["uptime"]
    # The previous run 100 s ago, 500 requests fewer, the server up 100 s less: the rate
    # covers the 100 s.
    reading["time"] -= 100
    reading["values"].update(accesses=reading["values"]["accesses"] - 500, uptime=uptime - 100)
    path.write_text(json.dumps(reading))
    outcome = at(apache, "--sample", "0.05")
    assert "over the last 100 s" in outcome.summary, outcome.text
    assert "requests=5." in outcome.status_line
    # The same, but the server was up only a few seconds now: it restarted in between and
    # served more since than before; the stored reading is dropped and the rate sampled.
    reading = json.loads(path.read_text())
    reading["time"] -= 100
    reading["values"].update(accesses=0, kbytes=0, uptime=0)
    path.write_text(json.dumps(reading))
    outcome = at(apache, "--sample", "0.05")
    assert "over 0.05 s" in outcome.summary, outcome.text
    # Counters going backwards (a restart with fewer requests since) are dropped too.
    reading = json.loads(path.read_text())
    reading["time"] -= 100
    reading["values"].update(accesses=10**9)
    path.write_text(json.dumps(reading))
    assert "over 0.05 s" in at(apache, "--sample", "0.05").summary


@pytest.mark.integration
def test_thresholds_on_busy_workers_and_requests(apache):
    outcome = at(apache, "--sample", "0.05", "-w", "5", "-c", "50")
    assert outcome.state == 1, outcome.text
    assert outcome.summary.startswith("workers busy 6.7% > 5% (1 of 15 workers busy over ")
    outcome = at(apache, "--sample", "0.05", "--critical-requests", "@0:100000")
    assert outcome.state == 2, outcome.text
    assert " requests/s inside " in outcome.summary, outcome.summary


@pytest.mark.integration
def test_max_workers_names_a_limit_below_the_scoreboard(apache):
    outcome = at(apache, "--sample", "0.05", "--max-workers", "4", "-w", "20")
    assert outcome.state == 1, outcome.text
    assert outcome.summary.startswith("workers busy 25% > 20% (1 of 4 workers busy over ")
    assert " busy=25%;20;95;0 busy_workers=1;;;0;4 " in outcome.status_line
    assert " open=5;;;0;15" in outcome.status_line
    assert at(apache, "--max-workers", "0").summary.startswith(
        "argument --max-workers: '0' is not a number of workers (1 or more)"
    )


@pytest.mark.integration
@pytest.mark.parametrize(
    ("path", "state", "message"),
    [("/plain.html", 3, "/plain.html: an HTML page, not mod_status ?auto output (does -u end "
                        "with ?auto?)"),
     ("/server-status", 3, "an HTML page, not mod_status ?auto output"),
     ("/nothing", 3, "answered HTTP 404 Not Found: no mod_status page there (check -u)"),
     ("/old-status", 3, "answered HTTP 301 Moved Permanently: the mod_status page moved to "
                        "http://127.0.0.1:{port}/server-status?auto (give -u that)"),
     ("/locked/server-status?auto", 3,
      "answered HTTP 401 Unauthorized: the mod_status page wants a login (--credentials FILE)")],
)  # fmt: skip
def test_what_is_not_the_status_page_is_unknown(apache, path, state, message):
    outcome = at(apache, "-u", path)
    assert outcome.state == state, outcome.text
    assert message.format(port=apache.port) in outcome.summary
    assert outcome.text.count("\n") == 1


@pytest.mark.integration
def test_bad_credentials_are_an_authentication_failure(apache, tmp_path):
    credentials = tmp_path / "status.cred"
    credentials.write_text("username = monitor\npassword = wrong\n")
    credentials.chmod(0o600)
    outcome = at(apache, "-u", "/locked/server-status?auto", "--credentials", str(credentials))
    assert outcome.state == 3, outcome.text
    assert outcome.summary == (
        f"authentication failed: 127.0.0.1 port {apache.port} answered HTTP 401 Unauthorized "
        f"(check the login in {credentials})"
    )


@pytest.mark.integration
def test_the_service_stopped_midway_is_critical(apache_to_stop):
    outcome = critical_once_stopped(
        lambda: at(apache_to_stop, "--sample", "0.05"), apache_to_stop.stop
    )
    assert f"127.0.0.1 port {apache_to_stop.port}" in outcome.summary


@pytest.mark.parametrize("failure", HTTP_FAILURES)
def test_a_failing_server_is_critical(failure):
    failure(run)


@pytest.mark.integration
def test_the_installed_executable_keeps_the_contract(apache):
    done = run_installed("apache", "-H", "127.0.0.1", "-p", str(apache.port), "--sample", "0.05")
    assert done.returncode == 0, done.stdout
