"""Real BIND 9 servers of one TSIG-protected zone: a primary and a secondary, on loopback.

For the DRP's DNS switch: the primary (127.0.0.1) takes RFC 2136 updates signed with the
zone's TSIG key and sends NOTIFY to the secondary (::1, the other loopback address named
binds without touching the host's interfaces; the primary's NOTIFY to it comes from ::1,
hence its allow-notify), which transfers the zone; both listen on the same free port, so
``[dns] servers`` is two addresses and one port, as in production. Each runs
``named -g`` from its own temporary directory, without rndc (``controls {}``), as root;
:meth:`Zone.stop_secondary` makes the secondary unreachable.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.ports import free_port
from tests.servers.running import answering

NAMED = "/usr/sbin/named"
TSIG_KEYGEN = "/usr/sbin/tsig-keygen"
ZONE = "example.test"
KEY_NAME = "drp-key"
PRIMARY, SECONDARY = "127.0.0.1", "::1"
PRODUCTION = "192.0.2.10"


class Zone:
    """The two servers of :data:`ZONE`: their port, the key file, and control of them."""

    def __init__(self, root: Path, port: int, key_file: Path) -> None:
        self.root, self.port, self.key_file = root, port, key_file
        self.running: dict[str, contextlib.ExitStack] = {}

    def start(self, address: str) -> None:
        """Start the server of ``address`` and wait until it answers for the zone (a
        secondary: once it has transferred it)."""
        directory = self.root / address
        log = directory / "named.log"
        process = subprocess.Popen([NAMED, "-g", "-c", str(directory / "named.conf")],
                                   stdout=log.open("wb"), stderr=subprocess.STDOUT)  # fmt: skip
        stack = contextlib.ExitStack()
        stack.enter_context(answering(f"named {address}", process, log,
                                      lambda: _serves(address, self.port), within=20,
                                      pause=0.1, stop_within=20))  # fmt: skip
        self.running[address] = stack

    def stop_secondary(self) -> None:
        """Stop the secondary: an authoritative server that no longer answers."""
        self.stop(SECONDARY)

    def stop(self, address: str) -> None:
        stack = self.running.pop(address, None)
        if stack is not None:
            stack.close()


def _serves(address: str, port: int) -> bool:
    """Whether ``address`` answers the zone's SOA."""
    import dns.exception
    import dns.message
    import dns.query
    import dns.rcode

    try:
        answer = dns.query.udp(dns.message.make_query(ZONE, "SOA"), address, timeout=0.5,
                               port=port)  # fmt: skip
    except (OSError, dns.exception.Timeout):
        return False
    return answer.rcode() == dns.rcode.NOERROR and bool(answer.answer)


def _options(directory: Path, address: str, port: int) -> str:
    if ":" in address:
        listen = f"listen-on {{ none; }}; listen-on-v6 port {port} {{ {address}; }};"
    else:
        listen = f"listen-on port {port} {{ {address}; }}; listen-on-v6 {{ none; }};"
    return f"""
options {{
    directory "{directory}";
    pid-file "{directory}/named.pid";
    session-keyfile "{directory}/session.key";
    managed-keys-directory "{directory}";
    {listen}
    recursion no;
    allow-transfer {{ 127.0.0.1; ::1; }};
    dnssec-validation no;
}};
controls {{ }};
"""


ZONE_FILE = f"""$TTL 60
@   IN SOA ns1.{ZONE}. hostmaster.{ZONE}. 1 60 60 86400 60
@   IN NS  ns1.{ZONE}.
@   IN NS  ns2.{ZONE}.
ns1 IN A   {PRIMARY}
ns2 IN AAAA {SECONDARY}
www IN A   {PRODUCTION}
www IN AAAA 2001:db8::10
shop IN A  {PRODUCTION}
"""


def make_zone(root: Path) -> Zone:
    """The key, the configurations and the zone file of both servers under ``root``."""
    port = _port_free_on_both()
    root.mkdir(parents=True)
    clause = subprocess.run([TSIG_KEYGEN, "-a", "hmac-sha256", KEY_NAME], capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    key_file = root / "drp.tsig"
    key_file.write_text(clause)
    key_file.chmod(0o600)
    for address in (PRIMARY, SECONDARY):
        directory = root / address
        directory.mkdir(parents=True)
        (directory / "key.conf").write_text(clause)
        if address == PRIMARY:
            (directory / f"{ZONE}.zone").write_text(ZONE_FILE)
            zone = (
                f'zone "{ZONE}" {{ type primary; file "{directory}/{ZONE}.zone"; '
                f"allow-update {{ key {KEY_NAME}; }}; notify explicit; notify-delay 0; "
                f"also-notify {{ {SECONDARY} port {port}; }}; }};"
            )
        else:
            zone = (
                f'zone "{ZONE}" {{ type secondary; file "{directory}/{ZONE}.zone"; '
                f"primaries {{ {PRIMARY} port {port}; }}; allow-notify {{ {PRIMARY}; ::1; }}; }};"
            )
        (directory / "named.conf").write_text(
            _options(directory, address, port) + f'include "{directory}/key.conf";\n{zone}\n'
        )
    return Zone(root, port, key_file)


def _port_free_on_both() -> int:
    """A port free on 127.0.0.1 and ::1, for UDP and TCP."""
    for _ in range(50):
        port = free_port()
        try:
            for family, address in ((socket.AF_INET, PRIMARY), (socket.AF_INET6, SECONDARY)):
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    with socket.socket(family, kind) as probe:
                        probe.bind((address, port))
        except OSError:
            continue
        return port
    raise AssertionError("no port free on both 127.0.0.1 and ::1")


@pytest.fixture
def bind_zone(tmp_path: Path) -> Iterator[Zone]:
    """A primary and a secondary of :data:`ZONE`, started, stopped after the test."""
    zone = make_zone(tmp_path / "bind")
    try:
        zone.start(PRIMARY)
        zone.start(SECONDARY)
        yield zone
    finally:
        for address in list(zone.running):
            zone.stop(address)
