"""core.web: check_curl's -H -I -p -u -S options turned into requests (no network)."""

from __future__ import annotations

import argparse
import re
import socket

import pytest

from checks.core.cli import Parser, UsageError
from checks.core.web import USER_AGENT, add_http_options, request_of


def parse(*argv: str, default_port: int = 80, default_path: str = "/") -> argparse.Namespace:
    parser = Parser("check_x", "x")
    add_http_options(parser, default_port, default_path)
    return parser.parse_args(list(argv))


def test_a_vhost_on_the_default_port():
    request = request_of(parse("-H", "www.example.org"))
    assert (request.url, request.address, request.where) == (
        "http://www.example.org/",
        None,
        "www.example.org port 80",
    )
    assert (request.method, request.headers, request.body) == (
        "GET",
        [("User-Agent", USER_AGENT)],
        None,
    )
    assert request.verify
    assert not request.tls
    assert request.family == socket.AF_UNSPEC


def test_ssl_means_port_443_and_p_overrides():
    assert request_of(parse("-H", "a.example", "-S")).url == "https://a.example/"
    assert request_of(parse("-H", "a.example", "-S", "-p", "8443")).url == "https://a.example:8443/"
    assert request_of(parse("-H", "a.example", "-p", "8080", "-u", "/x?y=1")).url == (
        "http://a.example:8080/x?y=1"
    )


def test_the_check_chooses_the_default_port_and_path():
    request = request_of(parse("-H", "h", default_port=8080, default_path="/status"))
    assert request.url == "http://h:8080/status"
    assert request_of(parse("-H", "h", default_path="/status"), "/server-status?auto").url == (
        "http://h/server-status?auto"
    )


def test_i_is_where_to_connect_and_h_the_virtual_host():
    request = request_of(parse("-H", "shop.example", "-I", "192.0.2.7", "-S"))
    assert (request.host, request.address, request.url) == (
        "shop.example",
        "192.0.2.7",
        "https://shop.example/",
    )
    assert request.where == "shop.example (192.0.2.7) port 443"
    alone = request_of(parse("-I", "2001:db8::1", "-p", "81"))
    assert (alone.url, alone.address, alone.where) == (
        "http://[2001:db8::1]:81/",
        None,
        "2001:db8::1 port 81",
    )


def test_a_full_url_names_the_site_and_h_then_is_the_server():
    request = request_of(parse("-u", "https://shop.example:8443/cart?x=1"))
    assert (request.url, request.tls, request.port, request.address) == (
        "https://shop.example:8443/cart?x=1",
        True,
        8443,
        None,
    )
    # Icinga passes -H $address$: the URL's host stays the virtual host.
    request = request_of(parse("-H", "192.0.2.7", "-u", "http://shop.example/"))
    assert (request.url, request.address) == ("http://shop.example/", "192.0.2.7")
    assert request_of(parse("-H", "shop.example", "-u", "http://shop.example/")).address is None
    assert request_of(parse("-u", "HTTPS://[::1]/")).url == "https://[::1]/"


@pytest.mark.parametrize(
    ("argv", "message"),
    [((), "no host given: use -H VHOST, -I ADDRESS or a full -u URL"),
     (("-u", "ftp://h/"), "only http and https URLs can be checked"),
     (("-u", "http:///x"), "no host in the URL"),
     (("-u", "http://u:p@h/"), "use --credentials FILE"),
     (("-u", "http://h:99999/"), "Port out of range"),
     (("-S", "-u", "http://h/"), "-S asks for HTTPS but -u is an http URL"),
     (("-p", "81", "-u", "http://h:82/"), "-p 81 and the port 82 of the -u URL differ"),
     (("-H", "h", "-u", "index.html"), "a path starts with /"),
     (("-H", "h", "-u", "/a b"), "a URL path has no blanks"),
     (("-H", "h", "--client-key", "k.pem"), "--client-key needs --client-cert"),
     (("-H", "127.0.0.1", "-6"), "-6 (IPv6) contradicts the address 127.0.0.1"),
     (("-H", "h", "-I", "::1", "-4"), "-4 (IPv4) contradicts the address ::1")],
)  # fmt: skip
def test_contradictions_are_usage_errors(argv, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        request_of(parse(*argv))


def test_family_tls_and_credentials_options(tmp_path):
    secret = tmp_path / "web.cred"
    secret.write_text("username = monitor\npassword = s3cret\n")
    secret.chmod(0o600)
    request = request_of(parse("-H", "h", "-6", "--insecure", "--ca-file", "ca.pem",
                               "--client-cert", "c.pem", "--credentials", str(secret)))  # fmt: skip
    assert request.family == socket.AF_INET6
    assert not request.verify
    assert (request.ca_file, request.client_cert, request.client_key) == ("ca.pem", "c.pem", None)
    assert request.credentials is not None
    assert request.credentials.password == "s3cret"
    assert "s3cret" not in repr(request)
    assert parse("-H", "h", "--sni").sni


def test_a_readable_credentials_file_is_refused(tmp_path):
    from checks.core.errors import CannotCheck

    secret = tmp_path / "web.cred"
    secret.write_text("username = monitor\n")
    secret.chmod(0o644)
    with pytest.raises(CannotCheck, match="accessible by group or others"):
        request_of(parse("-H", "h", "--credentials", str(secret)))


def test_the_web_module_loads_no_http_or_tls_library():
    import subprocess
    import sys

    heavy = "{'pycurl', 'ssl', 'http.client', 'urllib.parse'}"
    code = f"import sys, checks.core.web; print(sorted({heavy} & set(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_check_curl_spellings_of_port_tls_version_and_files():
    assert request_of(parse("-H", "h:8080")).url == "http://h:8080/"
    assert request_of(parse("-H", "[2001:db8::1]:8443", "-S")).url == "https://[2001:db8::1]:8443/"
    assert request_of(parse("-H", "2001:db8::1")).url == "http://[2001:db8::1]/"
    with pytest.raises(UsageError, match="-p 81 and the port of -H h:82 differ"):
        request_of(parse("-H", "h:82", "-p", "81"))
    assert request_of(parse("-H", "h", "-S", "--tls-version", "1.2")).tls_version == "1.2"
    assert request_of(parse("-H", "h", "--tls-version", "1.2+")).tls_version == "1.2+"
    assert request_of(parse("-H", "h", "-S")).tls_version is None
    with pytest.raises(UsageError, match="'3' is not a TLS version"):
        parse("-H", "h", "--tls-version", "3")
    with pytest.raises(UsageError, match=r"ignored explicit argument .1\.2."):
        parse("-H", "h", "--ssl=1.2")
    request = request_of(parse("-H", "h", "--ca-cert", "ca.pem", "-J", "c.pem", "-K", "k.pem"))
    assert (request.ca_file, request.client_cert, request.client_key) == (
        "ca.pem",
        "c.pem",
        "k.pem",
    )
