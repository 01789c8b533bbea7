"""The DNS switch against a real BIND primary and secondary with a TSIG-protected zone."""

from __future__ import annotations

import base64
import time

import pytest

from drptools import dns as switch
from drptools.config.model import Dns
from tests.servers.bind_zone import KEY_NAME, PRIMARY, PRODUCTION, SECONDARY, ZONE, Zone

pytestmark = pytest.mark.integration

DRP = switch.Addresses.of(["203.0.113.20", "2001:db8::20"])
NOW = switch.Addresses.of([PRODUCTION, "2001:db8::10"])
WWW = f"www.{ZONE}"


def config_of(zone: Zone, timeout: int = 10, servers: tuple[str, ...] = ()) -> Dns:
    return Dns(ZONE, PRIMARY, KEY_NAME, str(zone.key_file), {"www": (WWW,)}, port=zone.port,
               servers=servers, verify_timeout=timeout)  # fmt: skip


def test_the_precheck_proves_key_primary_and_value_and_changes_nothing(bind_zone: Zone) -> None:
    config = config_of(bind_zone)
    before = switch.serial(config, PRIMARY)
    switch.precheck(config, WWW, NOW)
    assert switch.serial(config, PRIMARY) == before
    assert switch.held(config, PRIMARY, WWW) == NOW


def test_a_swap_is_proven_on_every_authoritative_server(bind_zone: Zone) -> None:
    config = config_of(bind_zone)
    assert sorted(switch.authoritative_servers(config)) == [PRIMARY, SECONDARY]  # the NS set
    serial = switch.swap(config, WWW, NOW, DRP, ttl=60)
    assert serial > 1
    assert sorted(switch.prove(config, [WWW], DRP, serial)) == [PRIMARY, SECONDARY]
    assert switch.held(config, SECONDARY, WWW) == DRP
    assert switch.swap(config, WWW, NOW, DRP, ttl=60) == serial  # done: nothing sent again


def test_a_stale_value_fails_naming_what_the_server_holds(bind_zone: Zone) -> None:
    config = config_of(bind_zone)
    other = switch.Addresses.of(["198.51.100.7"])
    with pytest.raises(switch.DnsFailed, match=r"holds 192\.0\.2\.10, 2001:db8::10, not the "
                       r"expected 198\.51\.100\.7; someone changed it"):  # fmt: skip
        switch.swap(config, WWW, other, DRP, ttl=60)
    assert switch.held(config, PRIMARY, WWW) == NOW
    with pytest.raises(switch.DnsFailed, match="someone changed it"):
        switch.precheck(config, WWW, other)


def test_a_wrong_key_fails_loudly(bind_zone: Zone) -> None:
    bind_zone.key_file.write_text(base64.b64encode(b"not the key, 32 bytes long......").decode())
    config = config_of(bind_zone)
    with pytest.raises(switch.DnsFailed, match=r"primary 127\.0\.0\.1 port \d+ (refused the "
                       r"TSIG key drp-key|answered NOTAUTH)"):  # fmt: skip
        switch.precheck(config, WWW, NOW)
    assert switch.held(config, PRIMARY, WWW) == NOW


def test_an_unreachable_secondary_fails_the_proof_naming_it(bind_zone: Zone) -> None:
    config = config_of(bind_zone, timeout=2)
    bind_zone.stop_secondary()
    serial = switch.swap(config, WWW, NOW, DRP, ttl=60)
    started = time.monotonic()
    with pytest.raises(switch.DnsFailed, match=r"1 of 2 authoritative server\(s\) do not answer "
                       r".*::1 port \d+: .*does not answer"):  # fmt: skip
        switch.prove(config, [WWW], DRP, serial)
    assert time.monotonic() - started < 2 + 3 * switch.QUERY_TIMEOUT
