"""check_nginx: the stub_status parser on real captures (and damaged ones), then a real
nginx with stub_status on loopback (tests/servers/nginx.py) and a fake one."""

from __future__ import annotations

import time
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.core import statefile
from checks.core.errors import ParseError
from checks.core.runtime import Outcome
from checks.core.web import Request
from checks.web.nginx import PLUGIN, parse_stub_status, state_name
from tests.conftest import shared_fixtures
from tests.helpers.compat import perf_value
from tests.helpers.contract import assert_conforms
from tests.helpers.http_failures import critical_once_stopped
from tests.helpers.mutations import answers_cleanly, damaged, every_damage_parses_or_refuses
from tests.servers.nginx import Nginx
from tests.servers.ssh_fake import fake_servers

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
NGINX_585 = "stub_status_active_585.txt"
TENGINE = "stub_status_tengine_with_request_time.txt"
HEADER = "server accepts handled requests"
STATES = "Reading: 0 Writing: 1 Waiting: 0\n"


def capture(name: str) -> str:
    return (shared_fixtures() / "nginx" / name).read_text()


def run(*args: str) -> Outcome:
    outcome = PLUGIN.run(list(args))
    assert_conforms("nginx", outcome.state, outcome.text)
    return outcome


# --- the page ------------------------------------------------------------------------------


def test_nginx_stub_status():
    assert parse_stub_status(capture(NGINX_585)) == {
        "active": 585, "accepts": 85340, "handled": 85340, "requests": 35085,
        "reading": 4, "writing": 135, "waiting": 446,
    }  # fmt: skip


def test_tengine_request_time_column_is_read_by_its_name():
    values = parse_stub_status(capture(TENGINE))
    assert (values["accepts"], values["handled"], values["requests"]) == (853, 8533, 3502)
    assert (values["request_time"], values["active"], values["waiting"]) == (1546565864, 403, 946)


@pytest.mark.parametrize(
    ("text", "message"),
    [("", r"4 lines expected, 0 read"),
     ("<html>Welcome to nginx!</html>", r"4 lines expected, 1 read"),
     (f"Active connections: x\n{HEADER}\n 1 1 1\n{STATES}",
      "is not 'Active connections: N'"),
     (f"Active connections: 1\nserver accepts requests\n 1 1\n{STATES}",
      "unknown stub_status counters line"),
     (f"Active connections: 1\n{HEADER}\n 1 1\n{STATES}",
      "do not match"),
     ("Active connections: 1\nserver accepts handled requests\n 1 1 1\nReading: 0 Writing: 1\n",
      "is not 'Reading: N Writing: N Waiting: N'")],
)  # fmt: skip
def test_what_is_not_stub_status_is_refused(text, message):
    with pytest.raises(ParseError, match=message):
        parse_stub_status(text)


@pytest.mark.parametrize("name", [NGINX_585, TENGINE])
def test_damaged_pages_parse_or_are_refused(name):
    every_damage_parses_or_refuses(parse_stub_status, capture(name), examples=200)


def test_state_names_keep_pages_apart():
    one = state_name(Request("web1", 80, "/nginx_status"))
    assert one == "nginx-web1_80_nginx_status"
    assert one != state_name(Request("web1", 8080, "/nginx_status"))
    assert state_name(Request("v", 80, "/s?x=1", address="::1")) == "nginx-_1_80_s_x_1"


# --- against nginx ----------------------------------------------------------------------------


def base(nginx: Nginx) -> tuple[str, ...]:
    return ("-H", nginx.host, "-p", str(nginx.port), "--sample", "0.2")


@pytest.mark.integration
def test_a_first_run_samples_then_the_next_uses_the_stored_reading(nginx):
    first = run(*base(nginx))
    assert first.state == OK
    assert "dropped over 0.2 s" in first.status_line
    assert first.status_line.startswith("NGINX OK - active ")
    for label in ("active", "reading", "writing", "waiting", "requests_per_second", "dropped"):
        assert perf_value(first.text, label) >= 0
    assert perf_value(first.text, "requests") > 0
    time.sleep(0.3)
    second = run(*base(nginx))
    assert second.state == OK
    assert "dropped over the last" in second.status_line
    # The check's own fetches are requests: at least the one of the first run.
    assert perf_value(second.text, "requests_per_second") > 0


@pytest.mark.integration
def test_a_restart_discards_the_stored_reading(nginx):
    request = Request(nginx.host, nginx.port, "/nginx_status")
    huge = {"accepts": 1e9, "handled": 1e9, "requests": 1e9}
    store(request, huge, age=60)
    outcome = run(*base(nginx))
    assert outcome.state == OK
    assert "over 0.2 s" in outcome.status_line
    assert perf_value(outcome.text, "requests_per_second") >= 0


@pytest.mark.integration
def test_dropped_connections_and_thresholds(nginx):
    request = Request(nginx.host, nginx.port, "/nginx_status")
    now = parse_now(nginx)
    earlier = {"accepts": now["accepts"] - 50, "handled": now["handled"] - 20,
               "requests": now["requests"] - 10}  # fmt: skip
    store(request, earlier, age=10)
    outcome = run(*base(nginx), "--critical-dropped", "20")
    assert outcome.state == CRITICAL
    assert outcome.status_line.startswith("NGINX CRITICAL - 30 dropped > 20 - active ")
    assert perf_value(outcome.text, "dropped") == 30


def store(request: Request, values: Mapping[str, float], age: float) -> None:
    """A reading as a previous run ``age`` seconds ago would have stored it."""
    reading = {"boot": statefile.boot_id(), "time": time.monotonic() - age, "values": dict(values)}
    statefile.save(state_name(request), reading)


def parse_now(nginx: Nginx) -> dict[str, int]:
    from checks.clients.http import fetch

    return parse_stub_status(fetch(Request(nginx.host, nginx.port, "/nginx_status")).text)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("argv", "state", "message"),
    [(("-w", "0", "-c", "100"), WARNING, "active 1 > 0 - active 1 ("),
     (("-c", "0"), CRITICAL, "active 1 > 0"),
     (("--warning-requests", "0:0.000001"), WARNING, "requests/s > 0"),
     (("-u", "/"), UNKNOWN, "not a stub_status page (4 lines expected, 1 read)"),
     (("-u", "/missing"), UNKNOWN, "HTTP 404 Not Found: no stub_status page there"),
     (("-u", "/private"), UNKNOWN, "401 Unauthorized: the stub_status page wants a login"),
     (("-u", "/relative"), UNKNOWN, "page moved to http://127.0.0.1:{port}/target"),
     (("-u", "/error"), CRITICAL, "HTTP 500 Internal Server Error instead of the")],
)  # fmt: skip
def test_states(nginx, argv, state, message):
    outcome = run(*base(nginx), *argv)
    assert outcome.state == state, outcome.text
    assert message.format(port=nginx.port) in outcome.status_line


@pytest.mark.integration
def test_over_tls_with_the_test_ca(nginx):
    outcome = run("-H", "localhost", "-I", "127.0.0.1", "-p", str(nginx.tls_ports["valid"]), "-S",
                  "--ca-file", str(nginx.ca_file), "--sample", "0.2")  # fmt: skip
    assert outcome.state == OK


@pytest.mark.integration
def test_refused_and_stopped(own_nginx):
    outcome = critical_once_stopped(lambda: run(*base(own_nginx)), own_nginx.stop)
    assert outcome.status_line.endswith("connection refused")


@pytest.mark.integration
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_a_damaged_page_served_is_one_clean_line(data):
    page = data.draw(damaged(capture(NGINX_585))).encode()
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(page), page)
    with fake_servers() as start:
        server = start(answer)
        answers_cleanly(
            "nginx", PLUGIN.run(["-H", "127.0.0.1", "-p", str(server.port), "--sample", "0.01"])
        )
