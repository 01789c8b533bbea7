"""check_dnsbl: zone lists, names and return codes, and a real BIND 9 serving test zones."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.clients import dns
from checks.core.errors import ParseError
from checks.core.runtime import Outcome
from checks.network import _blocklists, dnsbl
from tests.conftest import executable
from tests.helpers.contract import assert_conforms
from tests.helpers.mutations import answers_cleanly, damaged, every_damage_parses_or_refuses
from tests.servers.bind import (
    CLEAN_V4,
    LISTED_REASON,
    LISTED_V4,
    LISTED_V6,
    LISTED_V6_REASON,
    MANY,
    Named,
)
from tests.servers.ports import free_port

CLOSED = free_port(kind=socket.SOCK_DGRAM)
ZONES_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "network" / "dnsbl" / "zones.txt"


# --- zones, names, return codes -----------------------------------------------------------


def test_zone_names_and_weights():
    assert (
        _blocklists.parse_zone("Zen.Spamhaus.org.").name,
        _blocklists.parse_zone("a.b").weight,
    ) == (
        "zen.spamhaus.org",
        None,
    )
    assert _blocklists.parse_zone("bl.spamcop.net:warning").weight == "warning"
    for text in ("", "localhost", "a..b", "bl.x:maybe", "bl x.org", "é.org"):
        with pytest.raises(ParseError):
            _blocklists.parse_zone(text)


def test_zones_file_and_each_zone_once():
    zones = _blocklists.parse_zones_file(ZONES_FILE.read_text())
    assert [(zone.name, zone.weight) for zone in zones] == [
        ("zen.spamhaus.org", None),
        ("bl.spamcop.net", "warning"),
        ("psbl.surriel.com", None),
        ("zen.spamhaus.org", "critical"),
    ]
    chosen = _blocklists.distinct(zones)
    assert [(zone.name, zone.weight) for zone in chosen] == [
        ("zen.spamhaus.org", "critical"),
        ("bl.spamcop.net", "warning"),
        ("psbl.surriel.com", None),
    ]
    with pytest.raises(ParseError, match="line 2"):
        _blocklists.parse_zones_file("bl.test\nnot a zone\n")
    with pytest.raises(ParseError, match="names no zone"):
        _blocklists.parse_zones_file("# nothing\n\n")


def test_damaged_zones_file_parses_or_refuses():
    every_damage_parses_or_refuses(
        _blocklists.parse_zones_file, ZONES_FILE.read_text(), examples=200
    )


def test_default_zones_are_distinct_ip_lists():
    assert len(set(_blocklists.DEFAULT_ZONES)) == len(_blocklists.DEFAULT_ZONES)
    assert not {"cbl.abuseat.org", "sbl.spamhaus.org", "xbl.spamhaus.org", "pbl.spamhaus.org",
                "dbl.spamhaus.org", "list.dnswl.org", "multi.surbl.org"} & set(
        _blocklists.DEFAULT_ZONES)  # fmt: skip


def test_query_names_of_rfc_5782():
    assert _blocklists.query_name("192.0.2.99", "bl.test") == "99.2.0.192.bl.test."
    # RFC 5782 2.4's example
    assert _blocklists.query_name("2001:db8:1:2:3:4:567:89ab", "ugly.example.com") == (
        "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example.com."
    )


def test_return_codes_that_are_not_listings():
    found = _blocklists.meaning(["127.0.0.2", "127.0.0.11"])
    assert (found.codes, found.problems) == (["127.0.0.2", "127.0.0.11"], [])
    for code in ("127.255.255.252", "127.255.255.254", "127.255.255.255", "127.0.1.255"):
        found = _blocklists.meaning([code])
        assert found.codes == []
        assert found.problems == [f"answered {code}: {_blocklists.ERROR_CODES[code]}"]
    assert _blocklists.meaning(["198.51.100.7"]).problems == [
        "answered 198.51.100.7: not a blocklist return code (outside 127/8)"
    ]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=20), st.ip_addresses(v=4).map(str)), max_size=4))
def test_any_a_answer_is_sorted_without_an_error(records):
    found = _blocklists.meaning(records)
    assert len(found.codes) + len(found.problems) == len(records)


def test_resolv_conf():
    text = "# generated\nsearch example.org\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\n"
    assert dns.parse_resolv_conf(text) == ["192.0.2.53", "fe80::1%eth0"]
    assert dns.parse_resolv_conf("options ndots:2\n") == []


def test_dnspython_loads_without_package_metadata():
    import subprocess
    import sys

    code = ("import sys; from checks.clients import dns; dns.load(); "
            "print(sys.modules['importlib.metadata'].__doc__ or '')")  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "imported on first use" in result.stdout


# --- against a real named ----------------------------------------------------------------


def run(server: Named, *args: str) -> Outcome:
    return dnsbl.PLUGIN.run(
        ["--nameserver", server.host, "--nameserver-port", str(server.port), *args]
    )


@pytest.mark.integration
def test_listed_ipv4_and_ipv6_with_their_reasons(named):
    outcome = run(named, "-H", LISTED_V4, "-H", LISTED_V6, "-H", CLEAN_V4, "-s", "bl.test")
    assert outcome.state == 2
    assert outcome.summary == (
        f"{LISTED_V4} listed in bl.test ({LISTED_REASON}); "
        f"{LISTED_V6} listed in bl.test ({LISTED_V6_REASON})"
    )
    assert "listed=1;;;0;1 " in outcome.status_line


@pytest.mark.integration
def test_clean_address_and_a_name_with_all_its_addresses(named):
    outcome = run(named, "-H", CLEAN_V4, "-s", "bl.test", "-s", "z01.test", "--self-test")
    assert outcome.state == 0
    assert outcome.summary == f"{CLEAN_V4} not listed in 2 of 2 zones (asked 127.0.0.1)"


@pytest.mark.integration
def test_a_name_stands_for_all_its_addresses_through_the_system_resolver(named_in_netns):
    result = named_in_netns.namespace.run(executable("check_dnsbl"), "-H", "mail.test",
                                          "-s", "bl.test", "-s", "z01.test:warning")  # fmt: skip
    assert_conforms("dnsbl", result.returncode, result.stdout, result.stderr)
    assert result.returncode == 2
    first = result.stdout.split("\n")[0]
    assert first.startswith("DNSBL CRITICAL - ")
    assert f"{LISTED_V4} listed in bl.test ({LISTED_REASON})" in first
    assert f"{LISTED_V6} listed in z01.test ({LISTED_V6_REASON})" in first


@pytest.mark.integration
def test_a_zone_weight_and_check_rbl_counts(named):
    outcome = run(named, "-H", LISTED_V4, "-s", "bl.test:warning")
    assert outcome.state == 1
    two = ("-H", LISTED_V4, "-s", "bl.test", "-s", "z01.test")
    outcome = run(named, *two, "-w", "2", "-c", "3")  # check_rbl: alert at COUNT or more
    assert outcome.state == 1
    assert outcome.summary.startswith(f"listed in 2 zones > 1; {LISTED_V4} listed in bl.test (")
    assert "listed=2;1;2;0;2" in outcome.status_line
    assert run(named, *two, "-w", "1", "-c", "2").state == 2
    assert run(named, *two, "-w", "3", "-c", "3").state == 0
    assert "is not a number of zones" in run(named, *two, "-w", "0").summary


@pytest.mark.integration
@pytest.mark.parametrize(
    ("zone", "meaning"),
    [
        ("public.test", "answered 127.255.255.254: queries through a public or open resolver"),
        ("dbl.test", "answered 127.0.1.255: IP addresses cannot be looked up in this domain"),
        ("servfail.test", "not answering (SERVFAIL)"),
        ("refused.test", "not answering (REFUSED)"),
    ],
)
def test_answers_that_are_not_listings_are_unknown(named, zone, meaning):
    outcome = run(named, "-H", LISTED_V4, "-s", zone)
    assert outcome.state == 3
    assert outcome.summary.startswith(f"{zone}: {meaning}")
    assert "listed=0;" in outcome.status_line


@pytest.mark.integration
def test_unanswered_zones_may_warn_so_that_a_listing_stays_critical(named):
    outcome = run(named, "-H", LISTED_V4, "-s", "bl.test", "-s", "refused.test")
    assert outcome.state == 3
    outcome = run(named, "-H", LISTED_V4, "-s", "bl.test", "-s", "refused.test",
                  "--unanswered", "warning")  # fmt: skip
    assert outcome.state == 2
    assert outcome.summary == (
        f"{LISTED_V4} listed in bl.test ({LISTED_REASON}), refused.test: not answering (REFUSED)"
    )


@pytest.mark.integration
def test_self_test_finds_dead_lists_and_lists_of_everything(named):
    outcome = run(named, "-H", CLEAN_V4, "-s", "empty.test", "-s", "everything.test",
                  "--self-test")  # fmt: skip
    assert outcome.state == 3
    assert outcome.summary == (
        "empty.test: fails the RFC 5782 self-test: 127.0.0.2 is not listed (a dead or renamed "
        "list), everything.test: fails the RFC 5782 self-test: 127.0.0.1 is listed (the list "
        f"lists everything); {CLEAN_V4} listed in everything.test (return code 127.0.0.2)"
    )
    assert run(named, "-H", CLEAN_V4, "-s", "empty.test").state == 0  # without the self-test


@pytest.mark.integration
def test_twenty_zones_are_asked_at_once(named, slow_named):
    zones = [argument for zone in MANY for argument in ("-s", zone)]
    started = time.monotonic()
    outcome = dnsbl.PLUGIN.run(["--nameserver", "127.0.0.1", "--nameserver-port",
                                str(slow_named.port), "-H", LISTED_V4, "-t", "5",
                                *zones])  # fmt: skip
    took = time.monotonic() - started
    # every query waits 0.5 s in the relay: one after the other, 20 A and 20 TXT take 20 s
    assert took < 3, outcome.text
    assert outcome.state == 2
    assert outcome.summary.count(f"{LISTED_V4} listed in z") == 20
    assert "listed=20;;;0;20" in outcome.status_line


@pytest.mark.integration
def test_a_silent_nameserver_is_unknown_within_the_timeout():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        started = time.monotonic()
        outcome = dnsbl.PLUGIN.run(["--nameserver", "127.0.0.1", "--nameserver-port",
                                    str(silent.getsockname()[1]), "-H", LISTED_V4, "-t", "2",
                                    "-s", "bl.test", "-s", "z01.test"])  # fmt: skip
        took = time.monotonic() - started
    assert took < 2.5
    assert outcome.state == 3
    assert outcome.summary == (
        "bl.test: not answering within 1.7 s, z01.test: not answering within 1.7 s"
    )


@pytest.mark.integration
def test_wrong_use_and_bad_files_are_unknown(named, tmp_path):
    bad = tmp_path / "zones"
    bad.write_text("bl.test\nbl.test:sometimes\n")
    assert run(named, "-H", LISTED_V4, "--zones-file", str(bad)).summary == (
        f"{bad}: line 2: 'bl.test:sometimes': the weight after ':' is warning or critical"
    )
    assert run(named, "-H", LISTED_V4, "--zones-file", str(tmp_path / "none")).state == 3
    assert "is not a DNS zone name" in run(named, "-H", LISTED_V4, "-s", "x").summary
    assert run(named, "-H", "no-such-host.invalid", "-s", "bl.test").state == 3


@settings(max_examples=30, deadline=None)
@given(damaged(ZONES_FILE.read_text()))
def test_damaged_zones_file_answers_cleanly(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("zones") / "zones"
    path.write_text(text)
    # a nameserver that cannot answer: only the zones file's damage is under test
    outcome = dnsbl.PLUGIN.run(["--nameserver", "127.0.0.1", "--nameserver-port", str(CLOSED), "-t",
                                "0.5", "-H", LISTED_V4, "--zones-file", str(path)])  # fmt: skip
    answers_cleanly("dnsbl", outcome)
