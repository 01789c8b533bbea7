"""check_clock: the SNTP packet, the time daemons' reports, and the check against servers.

The packet and report parsers run on replies and outputs captured from chronyd (and on
documented ntpq and timedatectl formats); the check runs against a real chronyd on
loopback and against a scripted server for the replies a healthy one never sends.
"""

from __future__ import annotations

import re
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks.core.errors import CannotCheck, ParseError
from checks.core.runtime import Outcome
from checks.system import _sntp, _timesync, clock
from tests.helpers.contract import assert_conforms
from tests.helpers.mutations import answers_cleanly, damaged, parses_or_refuses
from tests.servers.ntp_fake import FakeNtpServer, forge, ntp_timestamp
from tests.servers.ports import free_port

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "clock"
#: When the chronyd replies in fixtures/clock were captured (Unix seconds).
CAPTURED = 1_795_560_942.79
COOKIE = bytes.fromhex("0123456789abcdef")


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def reply_bytes(receive: float, transmit: float, **fields: int) -> bytes:
    """A server reply with the given receive and transmit times (Unix seconds)."""
    first = fields.get("leap", 0) << 6 | fields.get("version", 4) << 3 | fields.get("mode", 4)
    header = struct.pack("!BBbbiI", first, fields.get("stratum", 2), 6, -20, 0, 0)
    return (
        header
        + b"\xc0\x00\x02\x01"
        + ntp_timestamp(receive - 10)
        + COOKIE
        + ntp_timestamp(receive)
        + ntp_timestamp(transmit)
    )


def parses_or_refuses_packet(data: bytes) -> None:
    """As tests.mutations.parses_or_refuses, for bytes: a reply, or a ParseError that says why."""
    try:
        _sntp.parse_reply(data, time.time_ns())
    except ParseError as error:
        message = str(error)
    else:
        return
    assert message, "a ParseError must say what is wrong"


# --- the SNTP packet ------------------------------------------------------------------------


def test_request_is_a_version_4_client_packet_carrying_the_cookie():
    packet = _sntp.request(COOKIE)
    assert len(packet) == 48
    assert packet[0] == 0b00_100_011  # LI 0, version 4, mode 3
    assert packet[1:40] == bytes(39)
    assert packet[40:] == COOKIE


def test_real_chronyd_reply_is_read():
    reply = _sntp.parse_reply(fixture_bytes("chronyd-reply-stratum8.bin"), int(CAPTURED * 1e9))
    assert (reply.leap, reply.version, reply.mode, reply.stratum) == (0, 4, 4, 8)
    assert reply.reference == "127.127.1.1"
    assert reply.origin == COOKIE
    assert reply.kiss_code is None
    assert reply.synchronised
    assert abs(reply.transmit_ns / 1e9 - CAPTURED) < 1
    assert 0 <= reply.transmit_ns - reply.receive_ns < 1_000_000


def test_unsynchronised_chronyd_reply_is_not_a_kiss_of_death():
    reply = _sntp.parse_reply(
        fixture_bytes("chronyd-reply-unsynchronised.bin"), int(CAPTURED * 1e9)
    )
    assert (reply.leap, reply.stratum, reply.kiss_code) == (3, 0, None)
    assert not reply.synchronised


@pytest.mark.parametrize("code", [b"RATE", b"DENY", b"RSTR"])
def test_kiss_of_death_code_is_read(code):
    packet = forge(_sntp.request(COOKIE), kiss=code)
    reply = _sntp.parse_reply(packet, time.time_ns())
    assert reply.kiss_code == code.decode()
    assert not reply.synchronised


@pytest.mark.parametrize(
    ("leap", "stratum", "synchronised"),
    [(0, 1, True), (1, 2, True), (2, 15, True), (3, 2, False), (0, 16, False), (0, 200, False)],
)
def test_synchronised_needs_no_alarm_and_a_stratum_from_1_to_15(leap, stratum, synchronised):
    reply = _sntp.parse_reply(reply_bytes(1e9, 1e9, leap=leap, stratum=stratum), int(1e18))
    assert reply.synchronised is synchronised


@pytest.mark.parametrize(
    "unix", [0.5, 1_795_560_942.25, 2_085_978_495.5, 2_085_978_496.0, 2_085_978_600.75]
)
def test_timestamps_cross_the_2036_era_wrap(unix):
    # 2_085_978_496 is 2036-02-07 06:28:16 UTC, where the 32-bit seconds field wraps.
    raw = (
        ntp_timestamp(unix)
        if unix < 2_085_978_496
        else struct.pack("!II", int(unix) + _sntp.NTP_TO_UNIX - 2**32, int((unix % 1) * 2**32))
    )
    assert _sntp.timestamp_ns(raw, int(unix * 1e9) + 3_600 * 10**9) == pytest.approx(
        unix * 1e9, abs=1
    )


def test_offset_and_delay_follow_rfc_5905():
    # Sent at 100.0, server received at 102.1 and answered at 102.2, back at 100.3:
    # offset ((102.1 - 100.0) + (102.2 - 100.3)) / 2 = 2.0, delay 0.3 - 0.1 = 0.2.
    reply = _sntp.parse_reply(reply_bytes(102.1, 102.2), int(100e9))
    offset, delay = reply.offset_and_delay(int(100.0e9), int(100.3e9))
    assert offset == pytest.approx(2.0, abs=1e-6)
    assert delay == pytest.approx(0.2, abs=1e-6)


@pytest.mark.parametrize(
    ("packet", "message"),
    [(reply_bytes(1e9, 1e9)[:47], "47-byte reply"),
     (b"", "0-byte reply"),
     (reply_bytes(1e9, 1e9, version=0), "version 0"),
     (reply_bytes(1e9, 1e9, version=7), "version 7"),
     (reply_bytes(1e9, 1e9, mode=3), "mode 3"),
     (reply_bytes(1e9, 1e9, mode=5), "mode 5"),
     (reply_bytes(1e9, 1e9)[:40] + bytes(8), "no transmit timestamp")],
)  # fmt: skip
def test_garbage_is_refused_with_a_reason(packet, message):
    with pytest.raises(ParseError, match=message):
        _sntp.parse_reply(packet, int(1e18))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80) | st.binary(min_size=48, max_size=48))
def test_any_bytes_parse_or_are_refused(data):
    parses_or_refuses_packet(data)


@settings(max_examples=200, deadline=None)
@given(damaged(fixture_bytes("chronyd-reply-stratum8.bin").decode("latin-1")))
def test_damaged_real_replies_parse_or_are_refused(text):
    parses_or_refuses_packet(text.encode("latin-1"))


# --- the time daemons' reports ---------------------------------------------------------------


def test_chrony_synchronised_to_a_server():
    local = _timesync.parse_chrony_tracking(fixture_text("chronyc-tracking-synchronised.csv"))
    assert (local.daemon, local.synchronised, local.source) == (
        "chronyd",
        True,
        "127.0.0.1 stratum 9",
    )
    assert local.offset == pytest.approx(-0.000000597)


def test_chrony_synchronised_to_its_local_reference():
    local = _timesync.parse_chrony_tracking(fixture_text("chronyc-tracking-local-stratum8.csv"))
    assert (local.synchronised, local.source) == (True, "127.127.1.1 stratum 8")


def test_chrony_not_synchronised():
    local = _timesync.parse_chrony_tracking(fixture_text("chronyc-tracking-unsynchronised.csv"))
    assert not local.synchronised
    assert local.detail == "leap status 'Not synchronised'"


def test_timedatectl_states():
    assert _timesync.parse_timedatectl_show(
        fixture_text("timedatectl-show-synchronised.txt")
    ).synchronised
    unsynchronised = _timesync.parse_timedatectl_show(
        fixture_text("timedatectl-show-unsynchronised.txt")
    )
    assert (unsynchronised.synchronised, unsynchronised.detail) == (False, "NTPSynchronized=no")
    off = _timesync.parse_timedatectl_show(fixture_text("timedatectl-show-ntp-off.txt"))
    assert "synchronisation is off (NTP=no)" in off.detail


def test_ntpq_system_peer_and_its_absence():
    synced = _timesync.parse_ntpq_peers(fixture_text("ntpq-pn-synchronised.txt"))
    assert (synced.synchronised, synced.source) == (True, "192.0.2.10 stratum 1")
    assert synced.offset == pytest.approx(-0.0000567)
    unsynced = _timesync.parse_ntpq_peers(fixture_text("ntpq-pn-unsynchronised.txt"))
    assert (unsynced.synchronised, unsynced.detail) == (False, "no system peer among 2 peers")


@pytest.mark.parametrize(
    ("parse", "text"),
    [(_timesync.parse_chrony_tracking, ""),
     (_timesync.parse_chrony_tracking, "506 Cannot talk to daemon\n"),
     (_timesync.parse_chrony_tracking, "7F7F0101,,8,1.0,0,0,0,0,0,0,0,0,0,Sideways\n"),
     (_timesync.parse_chrony_tracking, "Reference ID    : 7F7F0101 ()\nStratum : 8\n"),
     (_timesync.parse_timedatectl_show, "Timezone=UTC\n"),
     (_timesync.parse_timedatectl_show, "NTPSynchronized=maybe\n"),
     (_timesync.parse_ntpq_peers, "localhost: timed out, nothing received\n"),
     (_timesync.parse_ntpq_peers, "===\n*x\n")],
)  # fmt: skip
def test_report_garbage_is_refused(parse, text):
    with pytest.raises(ParseError):
        parse(text)


REPORTS = [
    (_timesync.parse_chrony_tracking, "chronyc-tracking-synchronised.csv"),
    (_timesync.parse_chrony_tracking, "chronyc-tracking-unsynchronised.csv"),
    (_timesync.parse_timedatectl_show, "timedatectl-show-synchronised.txt"),
    (_timesync.parse_ntpq_peers, "ntpq-pn-synchronised.txt"),
    (_timesync.parse_ntpq_peers, "ntpq-pn-unsynchronised.txt"),
]


@pytest.mark.parametrize(("parse", "name"), REPORTS, ids=[name for _, name in REPORTS])
def test_damaged_reports_parse_or_are_refused(parse, name):
    @settings(max_examples=150, deadline=None)
    @given(damaged(fixture_text(name)))
    def check(text: str) -> None:
        parses_or_refuses(parse, text)

    check()


# --- check_clock against a scripted server ------------------------------------------------


def run(*args: str) -> Outcome:
    return clock.PLUGIN.run(["--local", "off", *args])


def perf(outcome: Outcome, label: str) -> float:
    for item in outcome.text.split("\n", 1)[0].split(" | ", 1)[1].split():
        name, _, rest = item.partition("=")
        if name == label:
            return float(rest.split(";")[0].rstrip("s"))
    raise AssertionError(f"no {label} in {outcome.text!r}")


@pytest.mark.parametrize(
    ("offset", "state"),
    [(0.0, 0), (0.3, 0), (-0.3, 0), (0.7, 1), (-0.7, 1), (2.5, 2), (-2.5, 2), (-400.0, 2)],
)
def test_offset_is_judged_by_its_absolute_value(fake_ntp, offset, state):
    fake_ntp.reply = lambda request: forge(request, offset=offset)
    outcome = run("-H", fake_ntp.host, "-p", str(fake_ntp.port), "-w", "0.5", "-c", "1")
    assert outcome.state == state, outcome.text
    assert perf(outcome, "offset") == pytest.approx(offset, abs=0.01)
    assert_conforms("clock", outcome.state, outcome.text)
    assert ";-0.5:0.5;-1:1" in outcome.text  # |offset| <= 0.5 as the signed value reads it


def within_the_round_trip(outcome: Outcome, shown: str, offset: float) -> None:
    """The offset shown (ms) is the forged one give or take half the measured round trip.

    The fake forges its clock when it answers; NTP's offset is off from it by half the
    difference of the two legs' delays, at most half the round trip (RFC 5905), which a
    loaded machine stretches to milliseconds (-748 ms was seen for -750).
    """
    delay = re.search(r"delay ([\d.]+) (us|ms)", outcome.text)
    assert delay, outcome.text
    half_trip = float(delay[1]) / (1000 if delay[2] == "us" else 1) / 2
    assert abs(float(shown) - offset * 1000) <= half_trip + 0.1, (shown, delay[0])  # 0.1: rounding


def test_ok_summary_names_the_offset_server_and_stratum(fake_ntp):
    fake_ntp.reply = lambda request: forge(request, offset=0.25)
    outcome = run("-H", "127.0.0.1", "-p", str(fake_ntp.port), "-v")
    match = re.fullmatch(
        r"offset \+(\d+(?:\.\d)?) ms from 127\.0\.0\.1 \(stratum 2\)", outcome.summary
    )
    assert match, outcome.summary
    within_the_round_trip(outcome, match[1], 0.25)


def test_problem_summary_says_which_bound(fake_ntp):
    fake_ntp.reply = lambda request: forge(request, offset=-0.75)
    outcome = run("-H", "127.0.0.1", "-p", str(fake_ntp.port), "-w", "0.5", "-c", "1", "-v")
    match = re.fullmatch(r"127\.0\.0\.1 offset (-\d+(?:\.\d)?) ms beyond ±500 ms", outcome.summary)
    assert match, outcome.summary
    within_the_round_trip(outcome, match[1], -0.75)


@pytest.mark.parametrize(
    ("offset", "state"), [(-0.3, 1), (0.3, 0), (0.7, 1), (-1.5, 2), (1.5, 1), (2.5, 2)]
)
def test_a_range_with_a_negative_bound_judges_the_signed_offset(fake_ntp, offset, state):
    fake_ntp.reply = lambda request: forge(request, offset=offset)
    outcome = run("-H", "127.0.0.1", "-p", str(fake_ntp.port), "--warning=-0.1:0.5", "-c=-1:2")
    assert outcome.state == state, outcome.text
    assert ";-0.1:0.5;-1:2" in outcome.text


def test_expected_offset_is_subtracted(fake_ntp):
    fake_ntp.reply = lambda request: forge(request, offset=5.2)
    outcome = run("-H", "127.0.0.1", "-p", str(fake_ntp.port), "-o", "5")
    assert outcome.state == 0, outcome.text
    assert perf(outcome, "offset") == pytest.approx(0.2, abs=0.01)
    assert run("-H", "127.0.0.1", "-p", str(fake_ntp.port), "-o=-5").state == 2


@pytest.mark.parametrize(
    ("reply", "state", "words"),
    [({"leap": 3}, 2, "the server's clock is not synchronised (leap indicator 3, stratum 2)"),
     ({"stratum": 16}, 2, "not synchronised (leap indicator 0, stratum 16)"),
     ({"kiss": b"DENY"}, 2, "kiss-o'-death DENY (access denied by remote server)"),
     ({"kiss": b"RATE"}, 2, "kiss-o'-death RATE (rate exceeded"),
     ({"kiss": b"XYZW"}, 2, "kiss-o'-death XYZW (unknown kiss code)"),
     ({"length": 40}, 3, "not an NTP reply: a 40-byte reply is not an NTP packet"),
     ({"version": 7}, 3, "not an NTP reply: the reply has NTP version 7"),
     ({"mode": 3}, 3, "not an NTP reply: the reply has mode 3, not 4 (server)")],
)  # fmt: skip
def test_unusable_replies(fake_ntp, reply, state, words):
    fake_ntp.reply = lambda request: forge(request, **reply)
    outcome = run("-H", "127.0.0.1", "-p", str(fake_ntp.port))
    assert outcome.state == state, outcome.text
    assert words in outcome.summary
    assert outcome.text.count("\n") == 1
    assert "offset=" not in outcome.text


@pytest.mark.parametrize("reply", [{"leap": 3}, {"kiss": b"DENY"}])
def test_quiet_makes_an_unusable_clock_unknown_as_check_ntp_time(fake_ntp, reply):
    fake_ntp.reply = lambda request: forge(request, **reply)
    assert run("-H", "127.0.0.1", "-p", str(fake_ntp.port), "-q").state == 3


def test_silent_server_is_critical_before_the_timeout_with_resends(fake_ntp):
    fake_ntp.reply = lambda request: None
    started = time.monotonic()
    outcome = run("-H", "127.0.0.1", "-p", str(fake_ntp.port), "-t", "2.5")
    assert time.monotonic() - started < 2.5
    assert outcome.state == 2, outcome.text
    assert re.fullmatch(r"127\.0\.0\.1: no reply within 2\.[0-2] s", outcome.summary)
    assert fake_ntp.requests >= 3  # one request per second


def test_replies_to_other_requests_are_ignored(fake_ntp):
    fake_ntp.reply = lambda request: forge(request, origin=b"spoofed!")
    outcome = run("-H", "127.0.0.1", "-p", str(fake_ntp.port), "-t", "1")
    assert outcome.state == 2
    assert "no reply within" in outcome.summary


def test_closed_port_is_critical_at_once():
    port = free_port(kind=socket.SOCK_DGRAM)
    started = time.monotonic()
    outcome = run("-H", "127.0.0.1", "-p", str(port))
    assert time.monotonic() - started < 1
    assert outcome.state == 2
    assert outcome.summary == f"127.0.0.1: port {port} unreachable (no NTP server listening)"


def test_ipv6(fake_ntp6):
    fake_ntp6.reply = lambda request: forge(request, offset=-0.6)
    outcome = run("-H", "::1", "-p", str(fake_ntp6.port), "-6")
    assert outcome.state == 1, outcome.text
    assert outcome.summary.startswith("::1 offset -")


def test_family_options_restrict_resolution(fake_ntp6):
    outcome = run("-H", "::1", "-p", str(fake_ntp6.port), "-4")
    assert outcome.state == 3
    assert outcome.summary.startswith("::1: cannot resolve:")


def test_unresolvable_name_is_unknown():
    outcome = run("-H", "no-such-host.invalid", "-t", "5")
    assert outcome.state == 3
    assert outcome.summary.startswith("no-such-host.invalid: cannot resolve")


@pytest.fixture
def three_fakes():
    """Scripted servers on 127.0.0.1, 127.0.0.2 and ::1, all on one port (-p is shared)."""
    first = FakeNtpServer("127.0.0.1")
    others = [FakeNtpServer(host, first.port) for host in ("127.0.0.2", "::1")]
    yield [first, *others]
    for server in (first, *others):
        server.close()


def answering(*offsets: float | None) -> list[Callable[[bytes], bytes | None]]:
    """Reply functions forging each offset, None for a silent server."""

    def reply(offset: float | None) -> Callable[[bytes], bytes | None]:
        return lambda request: None if offset is None else forge(request, offset=offset)

    return [reply(offset) for offset in offsets]


def test_several_servers_median_is_the_offset(three_fakes):
    for server, reply in zip(three_fakes, answering(0.1, 0.2, 0.4), strict=True):
        server.reply = reply
    outcome = run(*(f"-H{server.host}" for server in three_fakes), "-p", str(three_fakes[0].port))
    assert outcome.state == 0, outcome.text
    assert perf(outcome, "offset") == pytest.approx(0.2, abs=0.01)
    assert perf(outcome, "offset_127.0.0.2") == pytest.approx(0.2, abs=0.01)
    assert perf(outcome, "offset_::1") == pytest.approx(0.4, abs=0.01)
    assert outcome.summary.startswith("offset +")
    assert "ms, median of 3 servers (127.0.0.1 +" in outcome.summary
    assert len(outcome.text.splitlines()) == 8  # status, and per server its reply and offset


def test_several_servers_each_is_judged(three_fakes):
    for server, reply in zip(three_fakes, answering(0.1, 0.3, 2.0), strict=True):
        server.reply = reply
    outcome = run(*(f"-H{server.host}" for server in three_fakes), "-p", str(three_fakes[0].port))
    assert outcome.state == 2, outcome.text
    # +2 s, or +2.001 s when the reply took a millisecond longer on a loaded machine
    assert re.match(r"::1 offset \+2(\.\d+)? s beyond ±1 s", outcome.summary), outcome.summary
    assert perf(outcome, "offset") == pytest.approx(0.3, abs=0.01)


def test_a_silent_server_among_several_is_critical_and_left_out_of_the_median(three_fakes):
    for server, reply in zip(three_fakes, answering(0.1, None, 0.2), strict=True):
        server.reply = reply
    hosts = [f"-H{server.host}" for server in three_fakes]
    outcome = run(*hosts, "-p", str(three_fakes[0].port), "-t", "1.5")
    assert outcome.state == 2, outcome.text
    assert outcome.summary.startswith("127.0.0.2: no reply within")
    assert perf(outcome, "offset") == pytest.approx(0.15, abs=0.01)
    assert "offset_127.0.0.2" not in outcome.text


def test_usage_errors():
    assert clock.PLUGIN.run(["-H", "a", "-H", "a"]).state == 3
    assert "given twice" in clock.PLUGIN.run(["-H", "a", "-H", "a"]).summary
    assert clock.PLUGIN.run(["-p", "0", "-H", "a"]).state == 3
    assert clock.PLUGIN.run(["-o", "abc", "-H", "a"]).state == 3
    nothing = clock.PLUGIN.run(["--local", "off"])
    assert (nothing.state, nothing.summary.startswith("nothing to check")) == (3, True)


def test_damaged_replies_end_to_end(fake_ntp):
    real = fixture_bytes("chronyd-reply-stratum8.bin").decode("latin-1")

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(damaged(real))
    def check(text: str) -> None:
        data = text.encode("latin-1")

        def reply(request: bytes) -> bytes:
            # Keep the cookie where a reply to this request has it, damage the rest.
            return data[:24] + request[40:48] + data[32:] if len(data) >= 32 else data

        fake_ntp.reply = reply
        outcome = run("-H", "127.0.0.1", "-p", str(fake_ntp.port), "-t", "1")
        answers_cleanly("clock", outcome)

    check()


# --- against a real chronyd ---------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_real_chronyd_is_ok_with_a_tiny_offset(chronyd, host):
    outcome = run("-H", host, "-p", str(chronyd.port), "-w", "0.5", "-c", "1")
    assert outcome.state == 0, outcome.text
    assert abs(perf(outcome, "offset")) < 0.005  # chronyd -x serves this very clock
    assert "(stratum 8)" in outcome.summary


@pytest.mark.integration
def test_real_unsynchronised_chronyd_is_critical(chronyd_unsynchronised):
    outcome = run("-H", "127.0.0.1", "-p", str(chronyd_unsynchronised.port))
    assert outcome.state == 2, outcome.text
    assert "not synchronised (leap indicator 3, stratum 0)" in outcome.summary


@pytest.mark.integration
def test_local_chronyd_synchronised(chronyd):
    outcome = clock.PLUGIN.run(["--local", "chrony", "--chrony-address", str(chronyd.socket)])
    assert outcome.state == 0, outcome.text
    assert outcome.summary == "chronyd: synchronised to 127.127.1.1 stratum 8, offset +0 us"


@pytest.mark.integration
def test_local_state_beside_a_server(chronyd):
    outcome = clock.PLUGIN.run(
        ["-H", "127.0.0.1", "-p", str(chronyd.port), "--chrony-address", str(chronyd.socket)]
    )
    assert outcome.state == 0, outcome.text
    assert "; chronyd: synchronised to 127.127.1.1 stratum 8" in outcome.summary


@pytest.mark.integration
@pytest.mark.parametrize(("extra", "state"), [([], 1), (["--unsynchronised", "critical"], 2),
                                              (["--unsynchronised", "ok"], 0)])  # fmt: skip
def test_local_chronyd_not_synchronised(chronyd_unsynchronised, extra, state):
    address = str(chronyd_unsynchronised.socket)
    outcome = clock.PLUGIN.run(["--local", "chrony", "--chrony-address", address, *extra])
    assert outcome.state == state, outcome.text
    assert "chronyd: the local clock is not synchronised (leap status 'Not synchronised')" in (
        outcome.text
    )


@pytest.mark.integration
def test_named_daemon_that_does_not_answer_is_critical(tmp_path):
    outcome = clock.PLUGIN.run(
        ["--local", "chrony", "--chrony-address", str(tmp_path / "no.sock"), "-t", "5"]
    )
    assert outcome.state == 2, outcome.text
    assert outcome.summary.startswith("local time daemon: chronyc failed (exit 1)")


@pytest.mark.integration
def test_observe_reads_the_real_daemon(chronyd, chronyd_unsynchronised):
    synchronised = _timesync.observe("chrony", str(chronyd.socket))
    unsynchronised = _timesync.observe("chrony", str(chronyd_unsynchronised.socket))
    assert synchronised is not None
    assert synchronised.synchronised
    assert unsynchronised is not None
    assert not unsynchronised.synchronised
    with pytest.raises(CannotCheck):
        _timesync.observe("chrony", "/nonexistent/chronyd.sock")
