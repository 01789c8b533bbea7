"""check_ssh: identification strings parsed, then a real sshd and fake servers on loopback.

The real server is Debian's OpenSSH (tests/servers/sshd.py); the fakes are TCP servers
started here that send what broken or odd servers send: garbage, an SSH-1 identification,
lines before the identification, nothing at all, or their identification too late.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from checks.core.errors import ParseError
from checks.core.runtime import Outcome
from checks.reach.ssh import IDENTIFICATION, PLUGIN, parse_banner, read_identification
from tests.conftest import executable
from tests.helpers.contract import assert_conforms, assert_one_line
from tests.helpers.mutations import every_damage_parses_or_refuses
from tests.servers import netns
from tests.servers.ports import free_port
from tests.servers.ssh_fake import BANNERS, GARBAGE

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "reach"
#: What Debian 12's sshd sent to a client that identified itself (captured, see README).
OPENSSH = bytes.fromhex((FIXTURES / "ssh-openssh-identification-and-kexinit.hex").read_text())


# --- the identification string ------------------------------------------------------------


def test_openssh_identification_is_read_and_key_exchange_ignored():
    banner = parse_banner(OPENSSH.decode("latin-1"))
    assert (banner.protocol, banner.software, banner.comments, banner.preamble) == (
        "2.0",
        "OpenSSH_9.2p1",
        "Debian-2+deb12u10",
        [],
    )
    assert banner.version == "OpenSSH_9.2p1 Debian-2+deb12u10"


@pytest.mark.parametrize(
    ("name", "protocol", "software", "preamble"),
    [("rfc4253-with-lines-before", "2.0", "billsSSH_3.6.3q3",
      ["Welcome to the lab", "Maintenance at 22:00"]),
     ("dropbear", "2.0", "dropbear_2022.83", []),
     ("cisco-ssh1-and-2", "1.99", "Cisco-1.25", []),
     ("lf-only", "2.0", "Go", []),
     ("ssh1-only", "1.5", "OpenSSH_2.5.2p2", [])],
)  # fmt: skip
def test_identifications_of_other_servers(name, protocol, software, preamble):
    banner = parse_banner(BANNERS[name])
    assert (banner.protocol, banner.software, banner.comments, banner.preamble) == (
        protocol,
        software,
        "",
        preamble,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "closed the connection without sending anything"),
     (GARBAGE.decode(), "no SSH identification string; the server sent 'HTTP/1.1 400"),
     ("SSH-2.0-\r\n", "is not SSH-protoversion-softwareversion"),
     ("SSH-2.0\r\n", "is not SSH-protoversion-softwareversion"),
     ("SSH-two-OpenSSH\r\n", "is not SSH-protoversion-softwareversion"),
     ("SSH-2.0-Open\x01SSH\r\n", "not printable ASCII"),
     ("SSH-2.0-Öpen\r\n", "not printable ASCII")],
)  # fmt: skip
def test_what_is_not_an_identification_is_refused(text, message):
    with pytest.raises(ParseError, match=message):
        parse_banner(text)


@pytest.mark.parametrize("text", [OPENSSH.decode("latin-1"), *BANNERS.values()])
def test_damaged_identifications_parse_or_are_refused(text):
    every_damage_parses_or_refuses(parse_banner, text, examples=80)


def test_reading_stops_after_the_identification_line():
    server, client = socket.socketpair()
    with server, client:
        for piece in (b"hello\r\n", b"SSH-2.0-Open", b"SSH_9 x\r\n\x00\x00\x04<binary"):
            server.sendall(piece)
        assert read_identification(client) == "hello\r\nSSH-2.0-OpenSSH_9 x\r\n"


def test_reading_stops_at_the_end_or_the_limit():
    server, client = socket.socketpair()
    with server, client:
        server.sendall(b"no newline")
        server.shutdown(socket.SHUT_WR)
        assert read_identification(client) == "no newline"
    server, client = socket.socketpair()
    with server, client:
        server.sendall(b"x" * 9000 + b"\nSSH-2.0-late\r\n")
        assert len(read_identification(client)) >= 8192


# --- fake servers -------------------------------------------------------------------------


def run(*args: str) -> Outcome:
    outcome = PLUGIN.run(list(args))
    assert_conforms("ssh", outcome.state, outcome.text)
    return outcome


def test_an_ssh2_server_is_ok_and_hears_our_identification(fake):
    server = fake(BANNERS["dropbear"].encode())
    outcome = run("-H", server.host, "-p", str(server.port))
    assert outcome.state == 0, outcome.text
    assert outcome.status_line.startswith(
        f"SSH OK - dropbear_2022.83 (protocol 2.0) on 127.0.0.1 port {server.port} in "
    )
    assert " | time=" in outcome.status_line
    time.sleep(0.1)
    assert server.heard == [IDENTIFICATION]


def test_ipv6_and_the_host_as_last_argument(fake):
    server = fake(BANNERS["cisco-ssh1-and-2"].encode(), host="::1")
    outcome = run("-p", str(server.port), "::1")
    assert outcome.state == 0, outcome.text
    assert outcome.summary.startswith("Cisco-1.25 (protocol 1.99) on ::1 port")
    assert run("-4", "-p", str(server.port), "::1").state == 3


def test_lines_before_the_identification_are_allowed_and_shown(fake):
    server = fake(BANNERS["rfc4253-with-lines-before"].encode())
    outcome = run("-H", server.host, "-p", str(server.port), "-v")
    assert outcome.state == 0, outcome.text
    assert "before the identification: Welcome to the lab" in outcome.text
    assert "before the identification: Maintenance at 22:00" in outcome.text


@pytest.mark.parametrize(
    ("script", "message"),
    [(GARBAGE, "does not speak SSH: no SSH identification string; the server sent "
               "'HTTP/1.1 400 Bad Request"),
     (b"", "does not speak SSH: the server closed the connection without sending anything"),
     (BANNERS["ssh1-only"].encode(),
      "OpenSSH_2.5.2p2 (protocol 1.5) speaks only SSH-1 (protocol 2.0 or 1.99 required)")],
)  # fmt: skip
def test_what_is_not_an_ssh2_server_is_critical(fake, script, message):
    server = fake(script)
    assert_one_line(run("-H", server.host, "-p", str(server.port)), 2, message)


def test_the_protocol_can_be_required_exactly(fake):
    server = fake(BANNERS["ssh1-only"].encode())
    assert run("-H", server.host, "-p", str(server.port), "-P", "1.5").state == 0
    outcome = run("-H", server.host, "-p", str(server.port), "-P", "2.0")
    assert outcome.state == 2
    assert "protocol version mismatch, expected '2.0'" in outcome.text


def test_no_identification_within_the_timeout_is_critical(fake):
    server = fake(BANNERS["dropbear"].encode(), delay=3)
    started = time.monotonic()
    outcome = run("-H", server.host, "-p", str(server.port), "-t", "1")
    assert time.monotonic() - started < 1.5
    assert outcome.state == 2, outcome.text
    assert f"127.0.0.1 port {server.port}: no SSH identification within 1 s" in outcome.text


def test_a_slow_identification_is_judged_by_the_response_time(fake):
    server = fake(BANNERS["dropbear"].encode(), delay=0.3)
    outcome = run("-H", server.host, "-p", str(server.port), "-w", "100ms", "-c", "2")
    assert outcome.state == 1, outcome.text
    assert "response time 3" in outcome.text
    assert " ms > 100 ms" in outcome.text
    assert ";0.1;2;0" in outcome.text


def test_connection_refused_is_critical():
    port = free_port()
    outcome = run("-H", "127.0.0.1", "-p", str(port))
    assert outcome.state == 2
    assert outcome.text == f"SSH CRITICAL - 127.0.0.1 port {port}: connection refused\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [(["-H", "no-such-host.invalid"], "cannot resolve 'no-such-host.invalid'"),
     ([], "no host given: use -H HOST"),
     (["-H", "127.0.0.1", "::1"], "two hosts given: -H 127.0.0.1 and ::1"),
     (["-H", "127.0.0.1", "-p", "0"], "'0' is not a port number (1 to 65535)"),
     (["-H", "127.0.0.1", "-p", "65536"], "'65536' is not a port number (1 to 65535)")],
)  # fmt: skip
def test_wrong_use_is_unknown(args, message):
    outcome = run(*args)
    assert outcome.state == 3
    assert message in outcome.text


# --- the real sshd ------------------------------------------------------------------------


def test_real_sshd_is_ok(sshd):
    outcome = run("-H", sshd.host, "-p", str(sshd.port))
    assert outcome.state == 0, outcome.text
    assert outcome.summary.startswith("OpenSSH_")
    assert f"(protocol 2.0) on {sshd.host} port {sshd.port} in " in outcome.summary


def test_real_sshd_version_must_match_exactly(sshd):
    ok = run("-H", sshd.host, "-p", str(sshd.port))
    version = ok.summary.split(" (protocol")[0]
    assert run("-H", sshd.host, "-p", str(sshd.port), "-r", version).state == 0
    software_only = version.split()[0]
    outcome = run("-H", sshd.host, "-p", str(sshd.port), "-r", software_only)
    assert outcome.state == 2
    assert f"version mismatch, expected '{software_only}'" in outcome.text
    assert run("-H", sshd.host, "-p", str(sshd.port), "-P", "2.0").state == 0
    assert run("-H", sshd.host, "-p", str(sshd.port), "-P", "1.99").state == 2


def test_real_sshd_response_time_thresholds(sshd):
    outcome = run("-H", sshd.host, "-p", str(sshd.port), "-w", "0.000001", "-c", "10")
    assert outcome.state == 1
    assert "response time" in outcome.text
    assert "> 0.001 ms" in outcome.text


def test_real_sshd_logs_a_client_that_identified_itself(sshd):
    run("-H", sshd.host, "-p", str(sshd.port))
    time.sleep(0.3)
    log = sshd.log.read_text()
    assert "did not receive identification" not in log.lower(), log
    assert "banner exchange" not in log.lower(), log


@pytest.mark.integration
def test_a_host_that_never_answers_the_connection_is_critical(make_netns):
    # On a link where nothing answers neighbour discovery, the SYN never leaves.
    namespace = netns.neighbourless(make_netns)
    result = namespace.run(executable("check_ssh"), "-H", netns.ABSENT_NEIGHBOUR[0], "-t", "1")
    assert_conforms("ssh", result.returncode, result.stdout, result.stderr)
    assert result.returncode == 2, result.stdout
    assert result.stdout == "SSH CRITICAL - 198.51.100.2 port 22: no answer within 1 s\n"
