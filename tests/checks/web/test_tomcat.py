"""check_tomcat: the manager's status XML parsed from real captures, then a real Tomcat 10.

The parser reads the shared captures (Tomcat 6, Tomcat 7/8 with memory pools) and this
repository's capture of Debian's Tomcat 10.1 (tests/fixtures/tomcat/), whole and damaged.
The check runs against a real Tomcat with the manager webapp (tests/servers/tomcat.py):
the right login, a wrong one, none, one without the role, the HTML status page, and
against refused, silent and garbage-answering ports.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from checks.core.errors import ParseError
from checks.core.runtime import Outcome
from checks.web.tomcat import PLUGIN, parse_status
from tests.conftest import shared_fixtures, shared_fixtures_dir
from tests.helpers.contract import assert_conforms, run_installed
from tests.helpers.http_failures import HTTP_FAILURES, critical_once_stopped, damaged_pages_served
from tests.helpers.mutations import every_damage_parses_or_refuses
from tests.servers.tomcat import Tomcat

OWN = Path(__file__).resolve().parents[2] / "fixtures" / "tomcat"
TOMCAT10 = (OWN / "manager_status_xml_tomcat10_1.xml").read_text()
APACHE_HTML = (OWN.parent / "apache" / "server_status_html_2_4_71.html").read_text()


def shared(name: str) -> str:
    return (shared_fixtures() / "tomcat" / name).read_text()


# --- the parser ---------------------------------------------------------------------------


def test_tomcat6_without_memory_pools():
    status = parse_status(shared("manager_status_xml_tomcat6.xml"))
    assert (status.free, status.total, status.max) == (1942681600, 2040070144, 2040070144)
    (connector,) = status.connectors
    assert (connector.name, connector.busy, connector.max_threads) == ("http-8080", 2, 150)
    assert (connector.requests, connector.errors) == (436, 16)


def test_tomcat7_8_quoted_connector_names_and_memory_pools():
    status = parse_status(shared("manager_status_xml_tomcat7_8_memorypools.xml"))
    assert status.used == 58195968 - 17909336
    assert [(c.name, c.busy, c.max_threads, c.requests, c.errors) for c in status.connectors] == [
        ("ajp-apr-8009", 0, 200, 0, 0),
        ("http-apr-8080", 1, 200, 2, 1),
    ]
    assert status.counters() == {
        "ajp-apr-8009 requests": 0,
        "ajp-apr-8009 errors": 0,
        "http-apr-8080 requests": 2,
        "http-apr-8080 errors": 1,
    }


def test_tomcat10_1_on_one_line():
    status = parse_status(TOMCAT10)
    assert (status.free, status.total, status.max) == (17116784, 32440320, 129761280)
    (connector,) = status.connectors
    assert connector.name.startswith("http-nio-127.0.0.1-")
    assert (connector.busy, connector.max_threads, connector.requests, connector.errors) == (
        1, 25, 2, 2,
    )  # fmt: skip


def test_an_executor_without_a_thread_limit_is_read():
    status = parse_status(TOMCAT10.replace('maxThreads="25"', 'maxThreads="-1"'))
    assert status.connectors[0].max_threads == -1


@pytest.mark.parametrize(
    ("text", "message"),
    [(APACHE_HTML, "an HTML page, not the manager's status XML (does -u end with ?XML=true?)"),
     ("127.0.0.1\nServerVersion: Apache\n", "not the manager's status XML (syntax error"),
     ('<?xml version="1.0"?><health status="ok"/>', "XML whose root is <health>, not the "
                                                   "manager's <status>"),
     ("<status><jvm/></status>", "status XML without <jvm><memory>"),
     ("<status><jvm><memory free='1' total='2' max='3'/></jvm></status>",
      "status XML without any <connector>"),
     (TOMCAT10.replace("free='17116784'", "free='lots'"), "memory free is not a count: 'lots'"),
     (TOMCAT10.replace("free='17116784'", "free='99999999999'"), "is more than total"),
     (TOMCAT10.replace('errorCount="2" ', ""), "has no errorCount"),
     (TOMCAT10.replace('currentThreadsBusy="1"', 'currentThreadsBusy="-1"'),
      "currentThreadsBusy is not a count: '-1'")],
)  # fmt: skip
def test_what_is_not_the_status_xml_is_refused(text, message):
    with pytest.raises(ParseError, match=re.escape(message)):
        parse_status(text)


CAPTURES = [TOMCAT10] + [
    path.read_text() for path in sorted(shared_fixtures_dir().glob("tomcat/*"))
]


@pytest.mark.parametrize("text", CAPTURES)
def test_damaged_captures_parse_or_are_refused(text):
    every_damage_parses_or_refuses(parse_status, text, examples=60)


@pytest.mark.integration
def test_a_damaged_page_served_is_judged_or_one_clear_unknown(elasticsearch):
    damaged_pages_served(PLUGIN, elasticsearch, CAPTURES, "text/xml", "--sample", "0.05")


# --- a real Tomcat ------------------------------------------------------------------------


def run(*args: str) -> Outcome:
    outcome = PLUGIN.run(list(args))
    assert_conforms("tomcat", outcome.state, outcome.text)
    return outcome


def login(tmp_path: Path, user: str, password: str) -> str:
    path = tmp_path / f"{user}.cred"
    path.write_text(f"username = {user}\npassword = {password}\n")
    path.chmod(0o600)
    return str(path)


@pytest.fixture
def monitor(tomcat: Tomcat, tmp_path: Path) -> str:
    """The credentials file of the manager-status user."""
    return login(tmp_path, tomcat.user, tomcat.password)


def at(server: Tomcat, *args: str) -> Outcome:
    return run("-H", server.host, "-p", str(server.port), *args)


def connector_of(server: Tomcat) -> str:
    return f"http-nio-127.0.0.1-{server.port}"


@pytest.mark.integration
def test_a_real_tomcat_is_ok_with_heap_threads_and_rates(tomcat, monitor):
    outcome = at(tomcat, "--credentials", monitor, "--sample", "0.05")
    assert outcome.state == 0, outcome.text
    name = connector_of(tomcat)
    assert re.fullmatch(
        rf"heap [\d.]+ MiB used of [\d.]+ MiB \([\d.]+%\); {name} 1 of 25 threads busy, "
        r"[\d.]+ requests/s, 0 errors/s over 0.05 s",
        outcome.summary,
    ), outcome.summary
    assert f"'{name} busy'=4%;80;90;0;100" in outcome.status_line
    assert f"'{name} threads_busy'=1;;;0;25" in outcome.status_line
    assert re.search(r"heap=[\d.]+%;90;95;0;100", outcome.status_line)


@pytest.mark.integration
def test_errors_per_second_since_the_previous_run(tomcat, monitor, isolated_state):
    assert at(tomcat, "--credentials", monitor, "--sample", "0.05").state == 0
    for _ in range(5):  # each 401 counts in the connector's errorCount
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{tomcat.port}/manager/status", timeout=5)
    time.sleep(0.3)
    outcome = at(tomcat, "--credentials", monitor, "--sample", "0.2", "--critical-errors", "1")
    assert outcome.state == 2, outcome.text
    assert outcome.summary.startswith(f"{connector_of(tomcat)} errors ")
    assert "/s > 1 (over the last 0 s)" in outcome.summary


@pytest.mark.integration
def test_counters_going_backwards_drop_the_stored_reading(tomcat, monitor, isolated_state):
    assert at(tomcat, "--credentials", monitor, "--sample", "0.05").state == 0
    (path,) = isolated_state.glob("tomcat-*.json")
    reading = json.loads(path.read_text())
    reading["time"] -= 60
    reading["values"] = {key: value + 10**6 for key, value in reading["values"].items()}
    path.write_text(json.dumps(reading))
    outcome = at(tomcat, "--credentials", monitor, "--sample", "0.05")
    assert outcome.summary.endswith("over 0.05 s"), outcome.text


@pytest.mark.integration
def test_heap_and_thread_thresholds(tomcat, monitor):
    outcome = at(tomcat, "--credentials", monitor, "--sample", "0.05", "-w", "1", "-c", "2",
                 "--warning-memory", "0.1")  # fmt: skip
    assert outcome.state == 2, outcome.text
    assert outcome.summary.startswith(f"{connector_of(tomcat)} threads busy 4% > 2%, heap used ")
    assert "% > 0.1% (over 0.05 s)" in outcome.summary


@pytest.mark.integration
def test_logins_that_cannot_read_the_status(tomcat, tmp_path):
    wrong = login(tmp_path, tomcat.user, "wrong")
    outcome = at(tomcat, "--credentials", wrong)
    assert outcome.state == 3, outcome.text
    assert outcome.summary == (
        f"authentication failed: 127.0.0.1 port {tomcat.port} answered HTTP 401 "
        f"(check the login in {wrong})"
    )
    outcome = at(tomcat)
    assert outcome.state == 3, outcome.text
    assert outcome.summary.endswith(": the manager status XML wants a login (--credentials FILE)")
    outcome = at(tomcat, "--credentials", login(tmp_path, "deployer", "deployer"))
    assert outcome.state == 3, outcome.text
    assert outcome.summary.endswith(
        "answered HTTP 403: the login may not read the manager status XML"
    )


@pytest.mark.integration
def test_the_html_status_page_is_wrong_content(tomcat, monitor):
    outcome = at(tomcat, "--credentials", monitor, "-u", "/manager/status")
    assert outcome.state == 3, outcome.text
    assert outcome.summary == (
        f"http://127.0.0.1:{tomcat.port}/manager/status: an HTML page, not the manager's "
        "status XML (does -u end with ?XML=true?)"
    )


@pytest.mark.integration
def test_a_world_readable_credentials_file_is_refused(tomcat, monitor):
    Path(monitor).chmod(0o644)
    outcome = at(tomcat, "--credentials", monitor)
    assert outcome.state == 3, outcome.text
    assert "accessible by group or others (mode 0644)" in outcome.summary


@pytest.mark.integration
def test_the_service_stopped_midway_is_critical(tomcat_to_stop, tmp_path):
    credentials = login(tmp_path, tomcat_to_stop.user, tomcat_to_stop.password)
    outcome = critical_once_stopped(
        lambda: at(tomcat_to_stop, "--credentials", credentials, "--sample", "0.05"),
        tomcat_to_stop.stop,
    )
    assert outcome.summary == f"127.0.0.1 port {tomcat_to_stop.port}: connection refused"


@pytest.mark.parametrize("failure", HTTP_FAILURES)
def test_a_failing_server_is_critical(failure):
    failure(run)


@pytest.mark.integration
def test_the_installed_executable_keeps_the_contract(tomcat, monitor):
    done = run_installed("tomcat", "-H", "127.0.0.1", "-p", str(tomcat.port), "--credentials",
                         monitor, "--sample", "0.05")  # fmt: skip
    assert done.returncode == 0, done.stdout
