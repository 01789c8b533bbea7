"""clients.http: pycurl against a real nginx on loopback, and servers that misbehave.

The nginx of tests/servers/nginx.py serves plain HTTP and HTTPS with a certificate that
is valid, one expiring in 10 days and one expired, all signed by a CA made by the test;
the fake servers (tests/servers/ssh_fake.py's TCP servers) answer garbage, nothing, or
half a response.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.clients import http
from checks.clients.http import fetch, parse_certificate_time
from checks.core.credentials import Credentials
from checks.core.errors import CannotCheck, ServiceDown
from checks.core.runtime import _Alarm
from checks.core.web import Request
from tests.helpers.mutations import damaged
from tests.servers.nginx import BIG_SIZE, PAGE, PASSWORD, TARGET, USER
from tests.servers.ports import free_port
from tests.servers.ssh_fake import fake_servers

pytestmark = pytest.mark.integration


def plain(nginx, path="/", **options):
    return Request(nginx.host, nginx.port, path, **options)


def secure(nginx, certificate="valid", path="/", **options):
    options.setdefault("ca_file", str(nginx.ca_file))
    return Request("localhost", nginx.tls_ports[certificate], path, tls=True,
                   address="127.0.0.1", **options)  # fmt: skip


def test_a_page_its_headers_and_timings(nginx):
    response = fetch(plain(nginx))
    assert (response.status, response.reason, response.status_line) == (
        200,
        "OK",
        "HTTP/1.1 200 OK",
    )
    assert response.text == PAGE
    assert response.body == PAGE.encode()
    assert response.size == len(PAGE)
    assert response.header("content-type") == response.header("Content-Type") == "text/html"
    assert response.header("X-None") is None
    assert ("Server", response.header("server")) in response.headers
    assert response.url == f"{nginx.url}/"
    assert response.where == f"127.0.0.1 port {nginx.port}"
    assert response.certificate_expiry is None
    assert response.redirects == 0
    assert response.dns >= 0
    assert response.connect >= 0
    assert response.tls == 0
    assert 0 <= response.first_byte <= response.total < 5


def test_error_statuses_are_responses_not_failures(nginx):
    assert fetch(plain(nginx, "/missing")).status == 404
    assert fetch(plain(nginx, "/error")).reason == "Internal Server Error"


def test_redirects_are_reported_or_followed_with_the_port(nginx):
    response = fetch(plain(nginx, "/relative"))
    assert (response.status, response.location) == (301, f"{nginx.url}/target")
    followed = fetch(plain(nginx, "/relative"), follow=2)
    assert (followed.status, followed.text, followed.redirects) == (200, TARGET, 1)
    assert followed.url == f"{nginx.url}/target"
    with pytest.raises(ServiceDown, match=r"port \d+: Maximum \(3\) redirects followed"):
        fetch(plain(nginx, "/loop"), follow=3)


def test_method_headers_and_body_are_sent(nginx):
    request = plain(nginx, "/echo", method="PUT", body=b"x=1")
    request.headers.append(("X-Vigie", "hello"))
    assert fetch(request).text == "method=PUT header=hello\n"
    assert fetch(plain(nginx, "/echo", method="HEAD")).body == b""


def test_basic_auth_from_credentials(nginx):
    assert fetch(plain(nginx, "/private")).status == 401
    good = Credentials(USER, PASSWORD, "test")
    assert fetch(plain(nginx, "/private", credentials=good)).text == PAGE
    bad = Credentials(USER, "wrong", "test")
    assert fetch(plain(nginx, "/private", credentials=bad)).status == 401


def test_max_size_stops_reading(nginx):
    response = fetch(plain(nginx, "/big"), max_size=4096)
    assert (response.size, response.truncated) == (4096, True)
    whole = fetch(plain(nginx, "/big"))
    assert (whole.size, whole.truncated) == (BIG_SIZE, False)


def test_tls_verified_against_the_ca_file_with_the_certificate_expiry(nginx):
    response = fetch(secure(nginx))
    assert response.text == PAGE
    assert response.url.startswith("https://localhost:")
    assert response.where == f"localhost (127.0.0.1) port {nginx.tls_ports['valid']}"
    assert response.tls > 0
    assert response.certificate_expiry is not None
    assert 364 * 86400 < response.certificate_expiry - time.time() < 366 * 86400
    expiring = fetch(secure(nginx, "expiring"))
    assert expiring.certificate_expiry is not None
    assert 9 * 86400 < expiring.certificate_expiry - time.time() < 11 * 86400


def test_an_expired_or_unknown_certificate_is_critical(nginx):
    with pytest.raises(ServiceDown, match="certificate has expired"):
        fetch(secure(nginx, "expired"))
    with pytest.raises(ServiceDown, match="unable to get local issuer certificate"):
        fetch(secure(nginx, ca_file=None))
    insecure = fetch(secure(nginx, "expired", verify=False, ca_file=None))
    assert insecure.status == 200
    assert insecure.certificate_expiry is not None
    assert insecure.certificate_expiry < time.time()


def test_the_name_must_match_the_certificate(nginx):
    request = Request("127.0.0.2.nip.invalid", nginx.tls_ports["valid"], "/", tls=True,
                      address="127.0.0.1", ca_file=str(nginx.ca_file))  # fmt: skip
    with pytest.raises(ServiceDown, match=r"127\.0\.0\.2\.nip\.invalid"):
        fetch(request)


def test_the_system_ca_directory_is_used_without_ca_file(nginx, tmp_path, monkeypatch):
    directory = tmp_path / "certs"
    directory.mkdir()
    (directory / "vigie-test-ca.pem").write_bytes(nginx.ca_file.read_bytes())
    subprocess.run(["openssl", "rehash", str(directory)], check=True)
    monkeypatch.setattr(http, "CA_PATH", str(directory))
    assert fetch(secure(nginx, ca_file=None)).status == 200


def test_a_ca_file_that_cannot_be_used_is_unknown(nginx, tmp_path):
    with pytest.raises(CannotCheck, match="CA certificate file problem"):
        fetch(secure(nginx, ca_file=str(tmp_path / "none.pem")))
    with pytest.raises(CannotCheck, match="client certificate problem"):
        fetch(secure(nginx, client_cert=str(tmp_path / "none.pem")))


def test_refused_and_unresolvable():
    port = free_port()
    with pytest.raises(ServiceDown, match=f"^127.0.0.1 port {port}: connection refused$"):
        fetch(Request("127.0.0.1", port))
    with pytest.raises(CannotCheck, match=r"cannot resolve 'nowhere\.invalid'"):
        fetch(Request("nowhere.invalid", 80))


def test_a_server_that_never_answers_ends_within_the_timeout():
    with fake_servers() as start:
        silent = start(b"", delay=30)
        started = time.monotonic()
        with _Alarm(1.0), pytest.raises(ServiceDown, match="Operation timed out after 9"):
            fetch(Request("127.0.0.1", silent.port))
        assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    ("script", "message"),
    [(b"SSH-2.0-OpenSSH_9.2p1\r\n", "Received HTTP/0.9 when not allowed"),
     (b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nhalf a page",
      "end of response with 989 bytes missing"),
     (b"HTTP/1.1 OK\r\n\r\n", "Unsupported HTTP/1 subversion in response"),
     (b"\x16\x03\x01\x00\x05hello", "Received HTTP/0.9 when not allowed")],
)  # fmt: skip
def test_garbage_and_half_answers_are_critical(script, message):
    with fake_servers() as start:
        server = start(script)
        with pytest.raises(ServiceDown, match=message):
            fetch(Request("127.0.0.1", server.port))


def test_a_stopped_server_is_critical(own_nginx):
    assert fetch(plain(own_nginx)).status == 200
    own_nginx.stop()
    with pytest.raises(ServiceDown, match="connection refused"):
        fetch(plain(own_nginx))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Dec  1 23:39:04 2027 GMT", 1827704344.0), ("2027-12-01 23:39:04 GMT", 1827704344.0),
     ("garbage", None), ("", None)],
)  # fmt: skip
def test_certificate_dates(text, expected):
    assert parse_certificate_time(text) == expected


@pytest.mark.parametrize(("version", "works"), [("1.2", True), ("1.3", True), ("1.2+", True),
                                                ("1.1", False)])  # fmt: skip
def test_the_tls_version_can_be_pinned(nginx, version, works):
    request = secure(nginx, tls_version=version)
    if works:
        assert fetch(request).status == 200
    else:
        with pytest.raises(ServiceDown, match=f"localhost \\(127.0.0.1\\) port {request.port}: "):
            fetch(request)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(10**10), max_value=10**11))
def test_certificate_dates_agree_with_the_c_library(epoch):
    moment = time.gmtime(epoch)
    for layout in ("%b %e %H:%M:%S %Y GMT", "%Y-%m-%d %H:%M:%S GMT"):
        text = time.strftime(layout, moment)
        if moment.tm_year >= 1000:  # four-digit years, as certificates carry
            assert parse_certificate_time(text) == epoch


@settings(max_examples=300, deadline=None)
@given(damaged("Dec  1 23:39:04 2027 GMT"))
def test_damaged_certificate_dates_are_none_or_a_time(text):
    found = parse_certificate_time(text)
    assert found is None or isinstance(found, float)


def test_pycurl_is_loaded_without_its_asyncio_helper():
    code = (
        "import sys; from checks.clients.http import libcurl; curl = libcurl(); "
        "print(curl.Curl is not None, 'pycurl.async_multi' in sys.modules, "
        "'dataclasses' in sys.modules)"
    )
    loaded = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.split() == ["True", "False", "False"]
