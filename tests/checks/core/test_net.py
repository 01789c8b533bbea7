"""core.net: what network checks share (ports, hosts, banners, TLS), on loopback."""

from __future__ import annotations

import argparse
import socket
import ssl

import pytest

from checks.core import net
from checks.core.cli import Parser, UsageError
from checks.core.errors import ServiceDown


@pytest.mark.parametrize("text", ["0", "65536", "-1", "22a", "٢٢", ""])
def test_a_port_is_1_to_65535(text):
    with pytest.raises(argparse.ArgumentTypeError, match=r"is not a port number \(1 to 65535\)"):
        net.port(text)
    assert net.port("65535") == 65535


def test_the_host_comes_from_h_or_the_last_argument():
    parser = Parser("check_x", "x")
    net.add_host_option(parser, "host", last=True)
    assert net.host_of(parser.parse_args(["-H", "a"])) == "a"
    assert net.host_of(parser.parse_args(["a"])) == "a"
    assert net.host_of(parser.parse_args(["-H", "a", "a"])) == "a"
    with pytest.raises(UsageError, match="two hosts given: -H a and b"):
        net.host_of(parser.parse_args(["-H", "a", "b"]))
    with pytest.raises(UsageError, match="no host given"):
        net.host_of(parser.parse_args([]))


def test_connect_names_where_and_refusal_is_critical():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    found = net.resolve("127.0.0.1", socket.AF_INET, port)
    sock, where = net.connect("127.0.0.1", port, found, 1.0)
    sock.close()
    assert where == f"127.0.0.1 port {port}"
    listener.close()
    with pytest.raises(ServiceDown, match=f"127.0.0.1 port {port}: connection refused"):
        net.connect("127.0.0.1", port, found, 1.0)


def test_read_banner_stops_at_the_wanted_line():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"220-hello\r\n220 ready\r\nmore")
        text = net.read_banner(ours, lambda line: line[3:4] == b" ", 1024)
    assert text == "220-hello\r\n220 ready\r\n"


def test_tls_context_verifies_unless_told_not_to():
    verifying = net.tls_context()
    assert verifying.verify_mode == ssl.CERT_REQUIRED
    assert verifying.check_hostname
    lax = net.tls_context(verify=False)
    assert lax.verify_mode == ssl.CERT_NONE
    assert not lax.check_hostname
