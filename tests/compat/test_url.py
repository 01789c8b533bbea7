"""check_url beside the C check_curl (and check_http where it has the option): same nginx.

Each case runs the C plugin first, then vigie's check_url, with the same arguments
against the same real nginx (tests/servers/nginx.py) or fake server, and asserts the
same state. Where vigie deliberately differs, the case says why and asserts both states:
TLS verification on by default, -C that also judges the page, redirects that keep the
port, a name that does not resolve (UNKNOWN), a truncated page (check_http: OK).
"""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import c_plugin, executable
from tests.helpers.compat import perf_value, same_state
from tests.servers.nginx import PASSWORD, USER
from tests.servers.ports import free_port
from tests.servers.ssh_fake import fake_servers

pytestmark = pytest.mark.integration
OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3


def run(path: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=60, check=False)


def beside(c_name: str, *args: str) -> tuple[subprocess.CompletedProcess[str], ...]:
    """The C plugin ``c_name``, then check_url, with ``args``."""
    return run(c_plugin(c_name), *args), run(executable("check_url"), *args)


@pytest.mark.parametrize(
    ("argv", "state"),
    [((), OK),
     (("-u", "/missing"), WARNING),
     (("-u", "/private"), WARNING),
     (("-u", "/error"), CRITICAL),
     (("-u", "/relative"), OK),
     (("-u", "/relative", "-f", "warning"), WARNING),
     (("-u", "/absolute", "-f", "critical"), CRITICAL),
     (("-u", "/absolute", "-f", "follow"), OK),
     (("-s", "all is well"), OK),
     (("-s", "All Is Well"), CRITICAL),
     (("-r", "ALL IS"), CRITICAL),
     (("-R", "ALL IS"), OK),
     (("-R", "ALL IS", "--invert-regex"), CRITICAL),
     (("-r", "^vigie"), OK),
     (("-e", "404"), CRITICAL),
     (("-e", "HTTP/1.1 200"), OK),
     (("-u", "/error", "-e", "HTTP/1.1 500"), OK),
     (("-d", "Content-Type: text/html"), OK),
     (("-d", "X-Missing"), CRITICAL),
     (("-u", "/big", "-m", "100:200"), WARNING),
     (("-m", "100000"), WARNING),
     (("-u", "/old", "-M", "1d"), CRITICAL),
     (("-u", "/old", "-M", "3d"), OK),
     (("-w", "0.000001", "-c", "60"), WARNING),
     (("-u", "/echo", "-j", "PUT", "-s", "method=PUT"), OK),
     (("-u", "/echo", "-P", "a=1", "-s", "method=POST"), OK),
     (("-u", "/echo", "-k", "X-Vigie: hello", "-s", "header=hello"), OK)],
)  # fmt: skip
def test_same_state_as_check_curl(nginx, argv, state):
    c_result, vigie_result = beside("check_curl", "-H", nginx.host, "-p", str(nginx.port), *argv)
    same_state(c_result, vigie_result, state)


@pytest.mark.parametrize(
    ("argv", "state"),
    [((), OK), (("-u", "/missing"), WARNING), (("-u", "/error"), CRITICAL),
     (("-s", "All Is Well"), CRITICAL), (("-u", "/relative", "-f", "follow"), OK),
     (("-e", "404"), CRITICAL)],
)  # fmt: skip
def test_same_state_as_check_http(nginx, argv, state):
    c_result, vigie_result = beside("check_http", "-H", nginx.host, "-p", str(nginx.port), *argv)
    same_state(c_result, vigie_result, state)


def test_the_time_and_size_perfdata_are_comparable(nginx):
    c_result, vigie_result = beside("check_curl", "-H", nginx.host, "-p", str(nginx.port))
    same_state(c_result, vigie_result, OK)
    for result in (c_result, vigie_result):
        assert 0 < perf_value(result.stdout, "time") < 1
    # Deliberate: vigie's size is the body (29 B); check_curl adds the headers.
    assert perf_value(vigie_result.stdout, "size") == 29
    assert perf_value(c_result.stdout, "size") > 29


def test_a_relative_redirect_keeps_its_port(nginx):
    """check_curl 2.3.3 drops the port of a relative Location and fails; vigie and
    check_http follow it to the same server."""
    argv = ("-H", nginx.host, "-p", str(nginx.port), "-u", "/relative", "-f", "follow")
    c_result, vigie_result = beside("check_curl", *argv)
    assert (c_result.returncode, vigie_result.returncode) == (CRITICAL, OK)
    assert "port 80" in c_result.stdout
    assert run(c_plugin("check_http"), *argv).returncode == OK


def test_tls_is_verified_by_default(nginx):
    """Deliberate: check_curl accepts any certificate without -D; vigie verifies."""
    tls = ("-H", "localhost", "-I", "127.0.0.1", "-p", str(nginx.tls_ports["valid"]), "-S")
    c_result, vigie_result = beside("check_curl", *tls)
    assert (c_result.returncode, vigie_result.returncode) == (OK, CRITICAL)
    assert "unable to get local issuer certificate" in vigie_result.stdout
    c_result, vigie_result = beside("check_curl", *tls, "-D")
    same_state(c_result, vigie_result, CRITICAL)
    c_result, vigie_result = beside("check_curl", *tls, "-D", "--ca-cert", str(nginx.ca_file))
    same_state(c_result, vigie_result, OK)


@pytest.mark.parametrize(
    ("certificate", "days", "state"),
    [("valid", "30,14", OK), ("expiring", "30,5", WARNING), ("expiring", "30,14", CRITICAL),
     ("expired", "30,14", CRITICAL)],
)  # fmt: skip
def test_certificate_days(nginx, certificate, days, state):
    argv = ("-H", "localhost", "-I", "127.0.0.1", "-p", str(nginx.tls_ports[certificate]),
            "-D", "--ca-cert", str(nginx.ca_file), "-C", days)  # fmt: skip
    c_result, vigie_result = beside("check_curl", *argv)
    same_state(c_result, vigie_result, state)
    c_result, vigie_result = beside("check_http", *argv[:6], "-S", "-C", days)
    assert c_result.returncode == state


def test_certificate_days_still_judge_the_page(nginx):
    """Deliberate: check_curl's -C judges only the certificate (OK for a 404 page) unless
    --continue-after-certificate; vigie judges both, and accepts that option."""
    argv = ("-H", "localhost", "-I", "127.0.0.1", "-p", str(nginx.tls_ports["valid"]),
            "-D", "--ca-cert", str(nginx.ca_file), "-C", "30", "-u", "/error")  # fmt: skip
    c_result, vigie_result = beside("check_curl", *argv)
    assert (c_result.returncode, vigie_result.returncode) == (OK, CRITICAL)
    c_result, vigie_result = beside("check_curl", *argv, "--continue-after-certificate")
    same_state(c_result, vigie_result, CRITICAL)


def test_basic_auth(nginx, tmp_path):
    """Same login, given as check_curl takes it (-a) and as vigie does (a 0600 file)."""
    secret = tmp_path / "web.cred"
    secret.write_text(f"username = {USER}\npassword = {PASSWORD}\n")
    secret.chmod(0o600)
    base = ("-H", nginx.host, "-p", str(nginx.port), "-u", "/private")
    c_result = run(c_plugin("check_curl"), *base, "-a", f"{USER}:{PASSWORD}")
    vigie_result = run(executable("check_url"), *base, "--credentials", str(secret))
    same_state(c_result, vigie_result, OK)
    refused = run(executable("check_url"), *base, "-a", f"{USER}:{PASSWORD}")
    assert refused.returncode == UNKNOWN
    assert "--credentials FILE" in refused.stdout
    assert PASSWORD not in refused.stdout


def test_refused_and_unresolvable():
    c_result, vigie_result = beside("check_curl", "-H", "127.0.0.1", "-p", str(free_port()))
    same_state(c_result, vigie_result, CRITICAL)
    # Deliberate: a name that does not resolve is UNKNOWN, as in the other C plugins.
    c_result, vigie_result = beside("check_curl", "-H", "nowhere.invalid")
    assert (c_result.returncode, vigie_result.returncode) == (CRITICAL, UNKNOWN)


@pytest.mark.parametrize(
    ("script", "delay"),
    [(b"SSH-2.0-OpenSSH_9.2p1\r\n", 0), (b"", 30)],
)  # fmt: skip
def test_garbage_and_silence_are_critical(script, delay):
    with fake_servers() as start:
        server = start(script, delay)
        for c_name in ("check_curl", "check_http"):
            c_result, vigie_result = beside(
                c_name, "-H", "127.0.0.1", "-p", str(server.port), "-t", "2"
            )
            same_state(c_result, vigie_result, CRITICAL)


def test_a_truncated_page():
    """A server that stops mid-page: check_curl and vigie CRITICAL, check_http OK (wrong)."""
    with fake_servers() as start:
        server = start(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\nthe start of a page")
        argv = ("-H", "127.0.0.1", "-p", str(server.port))
        c_result, vigie_result = beside("check_curl", *argv)
        same_state(c_result, vigie_result, CRITICAL)
        assert run(c_plugin("check_http"), *argv).returncode == OK
