"""check_url against a real nginx on loopback (tests/servers/nginx.py) and fake servers.

The option parsers and judges are tested on their own first; then every state the check
can reach is reached on the real server: statuses, redirects, content, size, age, time,
TLS verification and certificate days, basic auth, and the ways a server fails.
"""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.clients.http import Response
from checks.core.runtime import Outcome
from checks.web.url import (
    PLUGIN,
    age_problem,
    certificate_days,
    expectations,
    judge_status,
    max_age,
    page_size,
)
from tests.conftest import FIXTURES
from tests.helpers.compat import perf_value
from tests.helpers.contract import assert_conforms, run_installed
from tests.helpers.http_failures import critical_once_stopped
from tests.helpers.icinga import applied_services
from tests.helpers.mutations import answers_cleanly, damaged
from tests.servers.nginx import PASSWORD, USER
from tests.servers.ports import free_port
from tests.servers.ssh_fake import fake_servers

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
PHASES = ("time", "time_dns", "time_connect", "time_tls", "time_firstbyte", "size")


def run(*args: str) -> Outcome:
    outcome = PLUGIN.run(list(args))
    assert_conforms("url", outcome.state, outcome.text)
    return outcome


NOON = "Tue, 01 Dec 2026 12:00:00 GMT"


def response(
    status: int,
    reason: str = "",
    headers: tuple[tuple[str, str], ...] = (),
    location: str | None = None,
) -> Response:
    return Response(status, reason, list(headers), b"", location=location)


# --- options and judges, without a server --------------------------------------------------


def test_expect_takes_codes_ranges_and_status_line_strings():
    items = expectations("200, 301-302,HTTP/1.0")
    assert [item.matches(301, "HTTP/1.1 301 Moved") for item in items] == [False, True, False]
    assert items[2].matches(500, "HTTP/1.0 500 Oops")
    assert not items[0].matches(404, "HTTP/1.1 404 Not Found (200 bytes)")
    for bad in ("200,,301", "302-301"):
        with pytest.raises(Exception, match=r"empty item|goes backwards"):
            expectations(bad)


@pytest.mark.parametrize(
    ("status", "on_redirect", "state", "hint"),
    [(200, "ok", OK, None), (204, "ok", OK, None), (301, "ok", OK, None),
     (302, "warning", WARNING, "redirects to http://h/x"), (307, "critical", CRITICAL, "redirects"),
     (301, "follow", OK, None), (401, "ok", WARNING, "client error"),
     (503, "ok", CRITICAL, "server error"), (99, "ok", CRITICAL, "not a valid HTTP status"),
     (600, "ok", CRITICAL, "not a valid")],
)  # fmt: skip
def test_default_states_of_a_status(status, on_redirect, state, hint):
    found, why = judge_status(response(status, location="http://h/x"), None, on_redirect)
    assert found.code == state
    assert (why is None) if hint is None else (hint in str(why))


def test_expect_replaces_the_default_states():
    state, why = judge_status(response(503, "Busy"), expectations("503"), "ok")
    assert (state.code, why) == (OK, None)
    state, why = judge_status(response(200, "OK"), expectations("301-302"), "ok")
    assert state.code == CRITICAL
    assert why == "is not what -e 301-302 expects"


def test_page_size_age_and_certificate_options():
    assert str(page_size("100:200")) == "100:200"
    assert page_size("100").alerts(99)
    assert not page_size("100").alerts(10**9)
    assert max_age("90") == 90
    assert max_age("10m") == 600
    assert max_age("2d") == 172800
    assert certificate_days("30") == (30, 0)
    assert certificate_days("30,14") == (30, 14)
    for parse, bad in ((page_size, "a:b"), (page_size, "5:1"), (max_age, "1y"),
                       (certificate_days, "14,30"), (certificate_days, "x")):  # fmt: skip
        with pytest.raises(Exception, match=re.escape(repr(bad))):
            parse(bad)


@pytest.mark.parametrize(
    ("headers", "problem"),
    [((("Date", NOON), ("Last-Modified", "Tue, 01 Dec 2026 11:00:00 GMT")), None),
     ((("Date", NOON), ("Last-Modified", "Mon, 30 Nov 2026 12:00:00 GMT")),
      "last modified 1 d ago (> 2 h)"),
     ((("Date", NOON),), "no Last-Modified header"),
     ((("Last-Modified", NOON),), "no Date header"),
     ((("Date", "yesterday"), ("Last-Modified", NOON)),
      "Date 'yesterday' is not an HTTP date"),
     ((("Date", NOON), ("Last-Modified", "Tue, 01 Dec 2026 13:00:00 GMT")),
      "dated 1 h in the future")],
)  # fmt: skip
def test_max_age_by_date_and_last_modified(headers, problem):
    found = age_problem(response(200, headers=headers), 7200)
    assert found is None if problem is None else problem in str(found)


@pytest.mark.parametrize(
    ("argv", "message"),
    [(("-H", "h", "-a", "u:p"), "a password on the command line is visible in ps"),
     (("-H", "h", "-r", "(", ), "'(' is not a regular expression"),
     (("-H", "h", "-r", "a", "-R", "b"), "give -r or -R, not both"),
     (("-H", "h", "--invert-regex"), "--invert-regex needs -r or -R"),
     (("-H", "h", "-k", "no colon"), "is not a header line"),
     (("-H", "h", "-f", "elsewhere"), "argument -f/--onredirect: invalid choice"),
     (("-H", "h", "-w", "x"), "'x' is not a range"),
     (("-u", "/"), "no host given")],
)  # fmt: skip
def test_wrong_use_is_one_unknown_line(argv, message):
    outcome = run(*argv)
    assert outcome.state == UNKNOWN
    assert message in outcome.status_line


# --- against nginx ------------------------------------------------------------------------


@pytest.mark.integration
def test_a_page_is_ok_with_the_timing_split(nginx):
    outcome = run("-H", nginx.host, "-p", str(nginx.port))
    assert outcome.state == OK
    assert outcome.status_line.startswith("URL OK - HTTP/1.1 200 OK, 29 B in ")
    assert outcome.status_line.split(" | ")[0].endswith(f"from {nginx.url}/")
    for label in PHASES:
        perf_value(outcome.text, label)
    assert perf_value(outcome.text, "size") == 29
    assert perf_value(outcome.text, "time_tls") == 0


@pytest.mark.integration
@pytest.mark.parametrize(
    ("argv", "state", "summary"),
    [(("-u", "/missing"), WARNING, "HTTP/1.1 404 Not Found (client error) - 153 B in"),
     (("-u", "/error"), CRITICAL, "HTTP/1.1 500 Internal Server Error (server error) - "),
     (("-u", "/private"), WARNING, "HTTP/1.1 401 Unauthorized (client error)"),
     (("-u", "/relative"), OK, "HTTP/1.1 301 Moved Permanently, 169 B in"),
     (("-u", "/relative", "-f", "warning"), WARNING,
      "HTTP/1.1 301 Moved Permanently redirects to http://127.0.0.1:{port}/target - "),
     (("-u", "/absolute", "-f", "critical"), CRITICAL, "redirects to http://localhost:{port}/target"),
     (("-u", "/relative", "-f", "follow"), OK,
      "from http://127.0.0.1:{port}/target after 1 redirect"),
     (("-u", "/absolute", "-f", "follow", "-e", "200"), OK, "HTTP/1.1 200 OK, 28 B"),
     (("-u", "/relative", "-f", "follow", "-e", "301"), CRITICAL,
      "HTTP/1.1 200 OK is not what -e 301 expects"),
     (("-u", "/relative", "-e", "300-399"), OK, "HTTP/1.1 301 Moved Permanently"),
     (("-u", "/error", "-e", "HTTP/1.1 500,HTTP/1.1 503"), OK,
      "HTTP/1.1 500 Internal Server Error, "),
     (("-u", "/loop", "-f", "follow", "--max-redirs", "3"), CRITICAL,
      "Maximum (3) redirects followed"),
     (("-s", "all is well"), OK, "HTTP/1.1 200 OK"),
     (("-s", "All Is Well"), CRITICAL, "string 'All Is Well' not found - HTTP/1.1 200 OK, 29 B"),
     (("-r", "^vigie test page"), OK, "HTTP/1.1 200 OK"),
     (("-r", "ALL IS"), CRITICAL, "pattern 'ALL IS' not found"),
     (("-R", "ALL IS"), OK, "HTTP/1.1 200 OK"),
     (("-R", "ALL IS", "--invert-regex"), CRITICAL, "pattern 'ALL IS' found"),
     (("-d", "Content-Type: text/html"), OK, "HTTP/1.1 200 OK"),
     (("-d", "X-Missing"), CRITICAL, "header string 'X-Missing' not found"),
     (("-u", "/big", "-m", "100:200"), WARNING, "size 1 MiB > 200 B"),
     (("-u", "/big", "-m", "1048576"), OK, "1 MiB in"),
     (("-m", "100"), WARNING, "size 29 B < 100 B"),
     (("-u", "/old", "-M", "1d"), CRITICAL, "last modified 2 d ago (> 1 d)"),
     (("-u", "/old", "-M", "3d"), OK, "12 B in"),
     (("-u", "/echo", "-j", "DELETE", "-k", "X-Vigie: hello",
       "-s", "method=DELETE header=hello"), OK, "27 B"),
     (("-u", "/echo", "-P", "a=1", "-s", "method=POST"), OK, "HTTP/1.1 200 OK"),
     (("-u", "/echo", "-j", "HEAD"), OK, "HTTP/1.1 200 OK, 0 B"),
     (("-u", "/big", "-N"), OK, "HTTP/1.1 200 OK, 0 B in"),
     (("-w", "0.000001", "-c", "60"), WARNING, "time "),
     (("-c", "1us"), CRITICAL, "time "),
     (("-w", "30", "-c", "60", "-u", "/slow", "-s", "sss"), OK, "2 KiB in")],
)  # fmt: skip
def test_states_on_the_real_server(nginx, argv, state, summary):
    outcome = run("-H", nginx.host, "-p", str(nginx.port), *argv)
    assert outcome.state == state, outcome.text
    assert summary.format(port=nginx.port) in outcome.status_line
    if "Maximum" not in summary:  # the server answered: the perfdata is there, OK or not
        for label in PHASES:
            perf_value(outcome.text, label)


@pytest.mark.integration
def test_a_slow_page_is_judged_on_its_total_time(nginx):
    outcome = run("-H", nginx.host, "-p", str(nginx.port), "-u", "/slow", "-w", "0.5", "-c", "30")
    assert outcome.state == WARNING
    assert perf_value(outcome.text, "time") > 0.5
    assert re.search(r"time \d[\d.]* (ms|s) > 500 ms", outcome.status_line)


@pytest.mark.integration
def test_basic_auth_from_a_credentials_file(nginx, tmp_path):
    good = tmp_path / "good.cred"
    good.write_text(f"username = {USER}\npassword = {PASSWORD}\n")
    bad = tmp_path / "bad.cred"
    bad.write_text(f"username = {USER}\npassword = wrong\n")
    for path in (good, bad):
        path.chmod(0o600)
    base = ("-H", nginx.host, "-p", str(nginx.port), "-u", "/private", "-e", "200")
    assert run(*base, "--credentials", str(good)).state == OK
    outcome = run(*base, "--credentials", str(bad))
    assert outcome.state == CRITICAL
    assert "HTTP/1.1 401 Unauthorized is not what -e 200 expects" in outcome.status_line
    bad.chmod(0o644)
    outcome = run(*base, "--credentials", str(bad))
    assert outcome.state == UNKNOWN
    assert "accessible by group or others" in outcome.status_line


@pytest.mark.integration
def test_a_full_url_and_h_as_the_server(nginx):
    url = f"https://localhost:{nginx.tls_ports['valid']}/target"
    outcome = run("-H", "127.0.0.1", "-u", url, "--ca-file", str(nginx.ca_file), "-s", "target")
    assert outcome.state == OK
    assert f"from {url}" in outcome.status_line


@pytest.mark.integration
def test_tls_is_verified_by_default(nginx):
    port = str(nginx.tls_ports["valid"])
    outcome = run("-H", "localhost", "-I", "127.0.0.1", "-p", port, "-S")
    assert outcome.state == CRITICAL
    assert outcome.status_line == (
        f"URL CRITICAL - localhost (127.0.0.1) port {port}: SSL certificate OpenSSL verify "
        "result: unable to get local issuer certificate (20)"
    )
    assert run("-H", "localhost", "-I", "127.0.0.1", "-p", port, "-S", "--insecure").state == OK
    secure = run(
        "-H", "localhost", "-I", "127.0.0.1", "-p", port, "-S", "--ca-file", str(nginx.ca_file)
    )
    assert secure.state == OK
    assert perf_value(secure.text, "time_tls") > 0


@pytest.mark.integration
def test_the_certificate_name_must_match(nginx):
    port = str(nginx.tls_ports["valid"])
    outcome = run(
        "-H",
        "www.example.org",
        "-I",
        "127.0.0.1",
        "-p",
        port,
        "-S",
        "--ca-file",
        str(nginx.ca_file),
    )
    assert outcome.state == CRITICAL
    assert "www.example.org" in outcome.status_line


@pytest.mark.integration
@pytest.mark.parametrize(
    ("certificate", "options", "state", "summary"),
    [("valid", ("-C", "30,14"), OK, "certificate expires in 365.0 days"),
     ("expiring", ("-C", "30,5"), WARNING,
      "certificate expires in 10.0 days < 30 - HTTP/1.1 200 OK"),
     ("expiring", ("-C", "30,14"), CRITICAL, "certificate expires in 10.0 days < 14"),
     ("expiring", ("-C", "5"), OK, "HTTP/1.1 200 OK"),
     ("expired", ("-C", "30,14"), CRITICAL, "certificate has expired"),
     ("expired", ("-C", "30", "--insecure"), CRITICAL, "certificate expired 1.0 days ago < 0"),
     ("expiring", ("-C", "30", "-u", "/missing"), WARNING,
      "HTTP/1.1 404 Not Found (client error), certificate expires in 10.0 days < 30 - 153 B")],
)  # fmt: skip
def test_certificate_days_and_the_page_too(nginx, certificate, options, state, summary):
    port = str(nginx.tls_ports[certificate])
    outcome = run(
        "-H", "localhost", "-I", "127.0.0.1", "-p", port, "--ca-file", str(nginx.ca_file), *options
    )
    assert outcome.state == state, outcome.text
    assert summary in outcome.status_line
    if "has expired" not in summary:
        assert 0 <= abs(perf_value(outcome.text, "certificate_days")) < 366


# --- failures -------------------------------------------------------------------------------


@pytest.mark.integration
def test_refused_unresolvable_and_never_answering():
    port = free_port()
    outcome = run("-H", "127.0.0.1", "-p", str(port))
    assert (outcome.state, outcome.status_line) == (
        CRITICAL,
        f"URL CRITICAL - 127.0.0.1 port {port}: connection refused",
    )
    outcome = run("-H", "nowhere.invalid")
    assert outcome.state == UNKNOWN
    assert "cannot resolve 'nowhere.invalid'" in outcome.status_line
    with fake_servers() as start:
        silent = start(b"", delay=30)
        started = time.monotonic()
        outcome = run("-H", "127.0.0.1", "-p", str(silent.port), "-t", "1")
        assert time.monotonic() - started < 1.6
    assert outcome.state == CRITICAL
    assert re.search(
        r"port \d+: Operation timed out after 9\d\d milliseconds with 0 bytes received$",
        outcome.status_line,
    )


@pytest.mark.integration
@pytest.mark.parametrize(
    ("script", "message"),
    [(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", "Received HTTP/0.9 when not allowed"),
     (b"\x00\xff\x13garbage", "Received HTTP/0.9 when not allowed"),
     (b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\nthe start of a page",
      "end of response with 4981 bytes missing")],
)  # fmt: skip
def test_garbage_and_a_server_stopping_mid_way_are_critical(script, message):
    with fake_servers() as start:
        server = start(script)
        outcome = run("-H", "127.0.0.1", "-p", str(server.port))
    assert outcome.state == CRITICAL
    assert outcome.status_line.endswith(message)


@pytest.mark.integration
def test_a_stopped_server(own_nginx):
    argv = ("-H", own_nginx.host, "-p", str(own_nginx.port))
    outcome = critical_once_stopped(lambda: run(*argv), own_nginx.stop)
    assert outcome.status_line.endswith("connection refused")


@pytest.mark.integration
def test_the_installed_command_keeps_the_contract_and_its_timeout():
    with fake_servers() as start:
        silent = start(b"", delay=30)
        started = time.monotonic()
        result = run_installed("url", "-H", "127.0.0.1", "-p", str(silent.port), "-t", "1")
        assert time.monotonic() - started < 3
    assert result.returncode == CRITICAL


WEB_HOST = """
object Host "shop.example.org" {
  check_command = "dummy"
  address = "192.0.2.7"
  vars.vigie_urls["shop"] = { url = "https://shop.example.org/", certificate = "30,14" }
  vars.vigie_urls["api"] = { url = "/health", port = 8080, expect = "200" }
  vars.vigie_nginx_status = "/nginx_status"
}
"""


@pytest.mark.integration
def test_icinga_applies_a_service_per_url_and_one_for_nginx(tmp_path):
    """icinga_conf's apply rules: vigie-url <name> per vars.vigie_urls entry, vigie-nginx."""
    applied = applied_services(tmp_path, WEB_HOST)
    services = {name.removeprefix("shop.example.org!"): properties
                for name, properties in applied.items()}  # fmt: skip
    assert {"vigie-url shop", "vigie-url api", "vigie-nginx"} <= set(services)
    shop = services["vigie-url shop"]
    assert shop["check_command"] == "vigie-url"
    assert shop["vars"]["vigie_url_url"] == "https://shop.example.org/"
    assert shop["vars"]["vigie_url_certificate"] == "30,14"
    assert services["vigie-url api"]["vars"]["vigie_url_port"] == 8080
    assert services["vigie-nginx"]["vars"]["vigie_nginx_url"] == "/nginx_status"


#: What nginx sent for GET / (tests/fixtures/README.md).
NGINX_RESPONSE = (FIXTURES / "nginx" / "http-response-200.bin").read_bytes().decode("latin-1")


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["Date", "Last-Modified"]), damaged("Tue, 01 Dec 2026 12:00:00 GMT"))
def test_damaged_dates_are_a_problem_or_none_never_an_error(header, value):
    headers = {"Date": NOON, "Last-Modified": NOON} | {header: value}
    found = age_problem(response(200, headers=tuple(headers.items())), 3600)
    assert found is None or isinstance(found, str)


@pytest.mark.integration
@settings(max_examples=40, deadline=None)
@given(damaged(NGINX_RESPONSE))
def test_a_damaged_response_is_one_clean_line(text):
    with fake_servers() as start:
        server = start(text.encode("latin-1", errors="replace") or b"\n")
        outcome = PLUGIN.run(["-H", "127.0.0.1", "-p", str(server.port), "-t", "3",
                              "-s", "all is well", "-M", "1d"])  # fmt: skip
    answers_cleanly("url", outcome)
