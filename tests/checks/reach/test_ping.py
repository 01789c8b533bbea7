"""check_ping: ICMP packets and ping's output as captured here, then real echo traffic.

The parsers read tests/fixtures/reach/ (see its README): packets as raw and datagram
sockets delivered them, ICMP errors as the kernel queued them, and iputils ping's output
for each situation. The check then pings loopback in this namespace, and, as a process,
loopback and documentation addresses inside private namespaces where replies come late,
partly, twice or not at all (tests/servers/netns.py), as root and as an unprivileged user.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.core.errors import ParseError
from checks.reach._icmp import (
    checksum,
    describe_icmp_error,
    echo_request,
    parse_echo,
    strip_ipv4_header,
)
from checks.reach.ping import PLUGIN, parse_ping_output, rta_and_loss
from tests.conftest import executable
from tests.helpers.contract import assert_conforms
from tests.helpers.mutations import (
    answers_cleanly,
    damaged,
    every_damage_parses_or_refuses,
    parses_or_refuses,
)
from tests.helpers.stub_tools import printing
from tests.servers import netns

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "reach"
PING_OUTPUTS = sorted(path.stem for path in FIXTURES.glob("ping-*.txt"))
PACKETS = sorted(path.stem for path in FIXTURES.glob("*.hex") if not path.stem.startswith("ssh"))


def packet(name: str) -> bytes:
    return bytes.fromhex((FIXTURES / f"{name}.hex").read_text())


def perf(text: str, label: str) -> float | None:
    match = re.search(rf" {label}=([\d.]+)", text)
    return float(match[1]) if match else None


# --- ICMP packets -------------------------------------------------------------------------


def test_captured_ipv4_packets_carry_valid_checksums():
    for name in ("ipv4-raw-echo-request", "ipv4-raw-echo-reply", "ipv4-raw-port-unreachable"):
        whole = packet(name)
        assert checksum(whole[:20]) == 0, name  # the IP header's own checksum
        assert checksum(strip_ipv4_header(whole)) == 0, name
    assert checksum(packet("ipv4-datagram-echo-reply")) == 0


def test_echo_request_is_built_byte_for_byte_as_iputils_ping_sent_it():
    sent = strip_ipv4_header(packet("ipv4-raw-echo-request"))
    request = parse_echo(sent, ipv6=False, reply=False)
    assert request is not None
    assert echo_request(False, request.identifier, request.sequence, request.payload) == sent


def test_ipv6_echo_request_leaves_the_checksum_to_the_kernel():
    captured = packet("ipv6-raw-echo-request")
    request = parse_echo(captured, ipv6=True, reply=False)
    assert request is not None
    built = echo_request(True, request.identifier, request.sequence, request.payload)
    assert built[:2] + built[4:] == captured[:2] + captured[4:]
    assert built[2:4] == b"\0\0"


@pytest.mark.parametrize("version", ["ipv4", "ipv6"])
def test_raw_reply_matches_its_request(version):
    ipv6 = version == "ipv6"
    request = parse_echo(
        packet(f"{version}-raw-echo-request"), ipv6, ip_header=not ipv6, reply=False
    )
    reply = parse_echo(packet(f"{version}-raw-echo-reply"), ipv6, ip_header=not ipv6)
    assert request is not None
    assert reply is not None
    assert (reply.identifier, reply.sequence, reply.payload) == (
        request.identifier,
        1,
        request.payload,
    )
    assert len(reply.payload) == 56


@pytest.mark.parametrize("version", ["ipv4", "ipv6"])
def test_other_icmp_traffic_is_not_taken_for_a_reply(version):
    # A raw socket sees the host's own requests on loopback and every ICMP error.
    ipv6 = version == "ipv6"
    for name in ("raw-echo-request", "raw-port-unreachable"):
        assert parse_echo(packet(f"{version}-{name}"), ipv6, ip_header=not ipv6) is None


@pytest.mark.parametrize(("version", "identifier"), [("ipv4", 0x977E), ("ipv6", 0x9780)])
def test_datagram_socket_reply_has_no_ip_header_and_the_kernels_identifier(version, identifier):
    reply = parse_echo(packet(f"{version}-datagram-echo-reply"), version == "ipv6")
    assert reply is not None
    assert (reply.identifier, reply.sequence, reply.payload) == (
        identifier,
        1,
        b"vigie-fixture" * 4,
    )


def test_damaged_ipv4_packets_are_refused_with_a_reason():
    reply = bytearray(packet("ipv4-raw-echo-reply"))
    reply[40] ^= 0xFF  # one payload byte changed on the way
    with pytest.raises(ParseError, match="checksum"):
        parse_echo(bytes(reply), ipv6=False, ip_header=True)
    with pytest.raises(ParseError, match="truncated"):
        parse_echo(packet("ipv4-raw-echo-reply")[:60], ipv6=False, ip_header=True)
    with pytest.raises(ParseError, match="shorter"):
        parse_echo(packet("ipv6-raw-echo-reply")[:7], ipv6=True)
    with pytest.raises(ParseError, match="version 8"):
        parse_echo(b"\x85" + packet("ipv4-raw-echo-reply")[1:], ipv6=False, ip_header=True)
    udp = bytearray(packet("ipv4-raw-port-unreachable"))
    udp[9] = 17
    with pytest.raises(ParseError, match="protocol 17"):
        parse_echo(bytes(udp), ipv6=False, ip_header=True)


@pytest.mark.parametrize("name", PACKETS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_damaged_packets_parse_or_are_refused(name, data):
    text = packet(name).decode("latin-1")
    broken = data.draw(damaged(text))
    ipv6, queued = name.startswith("ipv6"), "error-queue-unreachable" in name
    if queued:
        parses_or_refuses(lambda t: describe_icmp_error(t.encode("latin-1"), ipv6), broken)
    else:
        raw_ipv4 = name.startswith("ipv4-raw")
        parses_or_refuses(lambda t: parse_echo(t.encode("latin-1"), ipv6, raw_ipv4), broken)


def test_queued_icmp_errors_name_the_error_and_who_sent_it():
    assert describe_icmp_error(packet("ipv4-error-queue-unreachable"), ipv6=False) == (
        "host unreachable (from 198.51.100.1)"
    )
    assert describe_icmp_error(packet("ipv6-error-queue-unreachable"), ipv6=True) == (
        "address unreachable (from 2001:db8:1::1)"
    )
    # The kernel queues the request the error is about: its sequence says which one failed.
    for version in ("ipv4", "ipv6"):
        request = parse_echo(packet(f"{version}-error-queue-request"), version == "ipv6",
                             reply=False)  # fmt: skip
        assert request is not None
        assert (request.identifier, request.sequence) == (0x7E57, 1)


def test_local_errors_and_unknown_icmp_types_are_still_worded():
    local = (113).to_bytes(4, "little") + bytes([1, 0, 0, 0]) + bytes(8)
    assert describe_icmp_error(local, ipv6=False) == "no route to host"
    odd = bytearray(packet("ipv4-error-queue-unreachable"))
    odd[5], odd[6] = 5, 1  # redirect: no wording of its own
    assert describe_icmp_error(bytes(odd), ipv6=False) == (
        "ICMP error type 5 code 1 (from 198.51.100.1)"
    )


# --- iputils ping output ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sent", "received", "duplicates", "average_ms", "errors"),
    [("ping-ipv4-loopback", 5, 5, 0, 0.031, ()),
     ("ping-ipv6-loopback", 5, 5, 0, 0.034, ()),
     ("ping-slow-40-percent-loss", 5, 3, 0, 201.795, ()),
     ("ping-duplicates", 5, 5, 4, 0.162, ()),
     ("ping-no-reply", 5, 0, 0, None, ()),
     ("ping-host-unreachable", 5, 0, 0, None,
      ("Destination Host Unreachable (from 198.51.100.1)",)),
     ("ping-ipv6-address-unreachable", 5, 0, 0, None,
      ("Destination unreachable: Address unreachable (from 2001:db8:1::1)",))],
)  # fmt: skip
def test_ping_output_is_read(name, sent, received, duplicates, average_ms, errors):
    measured = parse_ping_output((FIXTURES / f"{name}.txt").read_text())
    assert (measured.sent, measured.received, measured.duplicates, measured.errors) == (
        sent,
        received,
        duplicates,
        errors,
    )
    if average_ms is None:
        assert measured.rtt_avg is None
        assert measured.loss == 100
    else:
        assert measured.rtt_avg == pytest.approx(average_ms / 1000)
        assert measured.loss == pytest.approx(100 * (sent - received) / sent)


def test_ping_output_without_statistics_is_refused():
    # What ping prints on stdout when the network is unreachable: nothing.
    assert (FIXTURES / "ping-network-unreachable.txt").read_text() == ""
    with pytest.raises(ParseError, match="no statistics"):
        parse_ping_output("")
    with pytest.raises(ParseError, match="no round-trip times"):
        parse_ping_output("5 packets transmitted, 5 received, 0% packet loss, time 4ms\n")
    with pytest.raises(ParseError, match="6 replies to 5"):
        parse_ping_output("5 packets transmitted, 6 received, 0% packet loss, time 4ms\n")
    with pytest.raises(ParseError, match="do not add up"):
        parse_ping_output(
            "5 packets transmitted, 5 received, 0% packet loss\n"
            "rtt min/avg/max/mdev = 0.5/0.1/0.2/0.1 ms\n"
        )


@pytest.mark.parametrize("name", PING_OUTPUTS)
def test_damaged_ping_output_parses_or_is_refused(name):
    text = (FIXTURES / f"{name}.txt").read_text()
    every_damage_parses_or_refuses(parse_ping_output, text, examples=80)


def test_the_fallback_reports_damaged_ping_output_cleanly(tmp_path, monkeypatch):
    # A ``ping`` on PATH that prints a broken statistics line.
    printing(tmp_path / "ping", "5 packets transmitted, five received\n")
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    outcome = PLUGIN.run(["-H", "127.0.0.1", "--method", "ping"])
    answers_cleanly("ping", outcome)
    assert outcome.state == 3
    assert "'five received' has no count" in outcome.text


# --- thresholds ---------------------------------------------------------------------------


def test_c_threshold_pairs_become_inclusive_ranges():
    rta, loss = rta_and_loss("100,20%")
    assert (str(rta), str(loss)) == ("@100:", "@20:")
    assert rta is not None
    assert rta.alerts(100)
    assert not rta.alerts(99.99)
    assert rta_and_loss("250.5")[1] is None
    assert rta_and_loss("60%")[0] is None


@pytest.mark.parametrize("text", ["", "20%,100", "100,20", "-1,20%", "100,101%", "a,b%", "1,2,3%"])
def test_malformed_threshold_pairs_are_refused(text):
    outcome = PLUGIN.run(["-H", "127.0.0.1", f"--warning={text}"])
    assert outcome.state == 3
    assert "is not RTA,PL%" in outcome.text


def test_warning_above_critical_is_refused_as_by_the_c_plugin():
    outcome = PLUGIN.run(["-H", "127.0.0.1", "-w", "500,20%", "-c", "100,60%"])
    assert outcome.state == 3
    assert "warning round-trip average (500) is above the critical one (100)" in outcome.text


def test_too_many_packets_for_the_timeout_are_refused():
    outcome = PLUGIN.run(["-H", "127.0.0.1", "-p", "5000", "-t", "10"])
    assert outcome.state == 3
    assert "5000 packets do not fit in half of -t 10 s" in outcome.text


# --- real echo traffic on this machine's loopback (root: raw sockets) ----------------------


@pytest.mark.parametrize("method", ["socket", "ping"])
@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_loopback_answers(address, method):
    outcome = PLUGIN.run(["-H", address, "-w", "100,20%", "-c", "500,60%", "--method", method])
    assert_conforms("ping", outcome.state, outcome.text)
    assert outcome.state == 0, outcome.text
    assert outcome.status_line.startswith(f"PING OK - {address}: packet loss 0%, rta ")
    assert "rta=" in outcome.text
    assert " pl=0%;@20:;@60:;0;100" in outcome.text
    rta = perf(outcome.text, "rta")
    assert rta is not None
    assert 0 < rta < 50


def test_names_resolve_and_the_address_is_shown():
    outcome = PLUGIN.run(["-H", "localhost", "-4", "-p", "2"])
    assert outcome.status_line.startswith("PING OK - localhost (127.0.0.1): packet loss 0%")


def test_verbose_output_says_how_requests_went_out():
    outcome = PLUGIN.run(["-H", "::1", "-p", "3", "-v"])
    assert "3 requests sent via raw ICMP socket, 3 replies, 0 duplicates" in outcome.text
    assert "round trip min/avg/max " in outcome.text


def test_round_trip_over_the_critical_average_is_critical():
    outcome = PLUGIN.run(["-H", "127.0.0.1", "-p", "2", "-w", "0.0001,20%", "-c", "0.0002,60%"])
    assert outcome.state == 2
    assert re.search(r"rta [\d.]+ ms >= 0\.0002 ms", outcome.status_line), outcome.text


@pytest.mark.parametrize(
    ("args", "message"),
    [(["-H", "no-such-host.invalid"], "cannot resolve 'no-such-host.invalid'"),
     (["-H", "127.0.0.1", "-6"], "cannot resolve '127.0.0.1' as IPv6"),
     (["-H", "::1", "-4"], "cannot resolve '::1' as IPv4"),
     (["-H", "10"], "'10' is 0.0.0.10, not the address of a host"),
     (["-H", " "], "no host given")],
)  # fmt: skip
def test_a_host_that_cannot_be_resolved_is_unknown(args, message):
    outcome = PLUGIN.run(args)
    assert outcome.state == 3
    assert message in outcome.text


# --- as processes in private network namespaces -------------------------------------------

PING_AS_NOBODY = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups")


def check_ping(
    namespace: netns.Namespace, *args: str, user: tuple[str, ...] = ()
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = namespace.run(*user, executable("check_ping"), *args)
    assert_conforms("ping", result.returncode, result.stdout, result.stderr)
    return result, time.monotonic() - started


@pytest.mark.integration
@pytest.mark.parametrize("method", ["socket", "ping"])
def test_a_silent_host_is_critical_without_rta(make_netns, method):
    result, took = check_ping(netns.silent(make_netns), "-H", "127.0.0.1", "--method", method)
    assert result.returncode == 2, result.stdout
    assert "127.0.0.1: packet loss 100% (no reply to 5 requests)" in result.stdout
    assert "rta=" not in result.stdout
    assert " pl=100%;@5:;@15:;0;100" in result.stdout
    assert took < 4  # 0.8 s of sending, 1 s for late replies


@pytest.mark.integration
def test_a_silent_host_is_critical_before_the_timeout(make_netns):
    result, took = check_ping(netns.silent(make_netns), "-H", "::1", "-t", "1")
    assert result.returncode == 2, result.stdout
    assert "no reply to 5 requests" in result.stdout
    assert took < 1.5


@pytest.mark.integration
@pytest.mark.parametrize("method", ["socket", "ping"])
@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_late_and_lost_replies_are_measured(make_netns, address, method):
    namespace = netns.slow_lossy(make_netns)
    result, _ = check_ping(namespace, "-H", address, "-w", "100,20%", "-c", "500,60%",
                           "--method", method)  # fmt: skip
    assert result.returncode == 1, result.stdout
    assert f"{address}: rta 2" in result.stdout
    assert ">= 100 ms, packet loss 40% >= 20%" in result.stdout
    assert perf(result.stdout, "pl") == 40
    # Tolerance: the responder answers 200 ms late; scheduling adds a few ms.
    assert perf(result.stdout, "rta") == pytest.approx(200, abs=25)


@pytest.mark.integration
@pytest.mark.parametrize("method", ["socket", "ping"])
def test_duplicate_replies_warn(make_netns, method):
    namespace = netns.duplicating(make_netns)
    result, _ = check_ping(namespace, "-H", "127.0.0.1", "--method", method)
    assert result.returncode == 1, result.stdout
    assert "127.0.0.1: 4 duplicate replies" in result.stdout
    assert perf(result.stdout, "pl") == 0


@pytest.mark.integration
@pytest.mark.parametrize("method", ["socket", "ping"])
@pytest.mark.parametrize("address", netns.UNROUTED)
def test_no_route_is_critical(make_netns, address, method):
    result, _ = check_ping(make_netns(), "-H", address, "--method", method)
    assert result.returncode == 2, result.stdout
    assert result.stdout == f"PING CRITICAL - {address}: network is unreachable\n"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("address", "reported"),
    [(netns.ABSENT_NEIGHBOUR[0], "host unreachable (from 198.51.100.1)"),
     (netns.ABSENT_NEIGHBOUR[1], "address unreachable (from 2001:db8:1::1)")],
)  # fmt: skip
def test_unreachable_host_is_critical_with_the_reason(make_netns, address, reported):
    # Neighbour discovery gives up after about 3 s: a critical rta of 2 s waits 4 s.
    namespace = netns.neighbourless(make_netns)
    result, took = check_ping(namespace, "-H", address, "-c", "2000,60%")
    assert result.returncode == 2, result.stdout
    assert f"packet loss 100% (no reply to 5 requests: {reported})" in result.stdout
    assert took < 4.5  # every request has its error: no need to wait for more


@pytest.mark.integration
@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_unprivileged_users_ping_from_a_datagram_socket(make_netns, address):
    namespace = make_netns()
    namespace.sysctl("net.ipv4.ping_group_range", "65534 65534")  # nogroup
    result, _ = check_ping(namespace, "-H", address, "-v", user=PING_AS_NOBODY)
    assert result.returncode == 0, result.stdout
    assert "5 requests sent via ICMP datagram socket, 5 replies" in result.stdout


@pytest.mark.integration
def test_users_without_icmp_sockets_fall_back_to_ping(make_netns):
    namespace = make_netns()  # ping_group_range "1 0": no group may open one
    result, _ = check_ping(namespace, "-H", "127.0.0.1", "-v", user=PING_AS_NOBODY)
    assert result.returncode == 0, result.stdout
    assert "5 requests sent via ping command, 5 replies" in result.stdout
    forced, _ = check_ping(namespace, "-H", "::1", "--method", "socket", user=PING_AS_NOBODY)
    assert forced.returncode == 3
    assert "no ICMP socket allowed: run as root" in forced.stdout
