"""A real BIND 9 on loopback serving test DNS blocklist zones, for check_dnsbl.

named runs in the foreground (``-g``) from a temporary directory as root without ``-u``,
with ``recursion no`` and its own ``listen-on port`` on 127.0.0.1 and ::1; it never
reads /etc/bind. The zones (all under the reserved ``.test`` TLD, RFC 6761):

- ``bl.test``: RFC 5782 test points (127.0.0.2 listed, 127.0.0.1 not; ::FFFF:7F00:2 for
  IPv6) and :data:`LISTED_V4` / :data:`LISTED_V6` listed with TXT reasons;
- ``z01.test`` … ``z20.test``: the same, for twenty zones queried at once;
- ``public.test``: answers 127.255.255.254 to everything, as Spamhaus does to queries that
  come through a public resolver; ``dbl.test`` answers 127.0.1.255, Spamhaus DBL's "IP
  queries prohibited";
- ``everything.test``: lists every address (a dead list's wildcard); ``empty.test``: lists
  nothing, not even its test point (a dead list);
- ``servfail.test``: its zone file does not load, so named answers SERVFAIL;
- ``refused.test``: ``allow-query { none; }``, so named answers REFUSED.

:class:`SlowProxy` forwards UDP queries to named after a delay, so that twenty zones
answered serially would take twenty delays: the proof that queries run in parallel.
"""

from __future__ import annotations

import contextlib
import ipaddress
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from tests.servers.netns import Namespace, namespaces
from tests.servers.ports import free_port
from tests.servers.require import require_installed, require_root
from tests.servers.running import answering

NAMED = "/usr/sbin/named"
LISTED_V4 = "192.0.2.99"
LISTED_V6 = "2001:db8::99"
CLEAN_V4 = "192.0.2.1"
LISTED_REASON = "Listed for testing: see https://bl.test/lookup?ip=192.0.2.99"
LISTED_V6_REASON = "IPv6 listed for testing"
MANY = [f"z{number:02d}.test" for number in range(1, 21)]


def reverse(address: str) -> str:
    """The DNSBL label of ``address``: octets or nibbles in reverse order (RFC 5782)."""
    parsed = ipaddress.ip_address(address)
    if parsed.version == 4:
        return ".".join(reversed(address.split(".")))
    return ".".join(reversed(parsed.exploded.replace(":", "")))


def _zone(records: str) -> str:
    return (
        "$TTL 60\n@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\nns IN A 127.0.0.1\n"
        + records
    )


LISTING = _zone(
    '2.0.0.127 IN A 127.0.0.2\n2.0.0.127 IN TXT "RFC 5782 test point"\n'
    f"{reverse('::ffff:127.0.0.2')} IN A 127.0.0.2\n"
    f'{reverse(LISTED_V4)} IN A 127.0.0.2\n{reverse(LISTED_V4)} IN TXT "{LISTED_REASON}"\n'
    f'{reverse(LISTED_V6)} IN A 127.0.0.4\n{reverse(LISTED_V6)} IN TXT "{LISTED_V6_REASON}"\n'
)
ZONES = {
    "bl.test": LISTING,
    **dict.fromkeys(MANY, LISTING),
    "public.test": _zone('* IN A 127.255.255.254\n* IN TXT "Error: open resolver"\n'),
    "dbl.test": _zone("* IN A 127.0.1.255\n"),
    "everything.test": _zone("* IN A 127.0.0.2\n"),
    "empty.test": _zone(""),
    "servfail.test": "this is not a zone file\n",
    "refused.test": LISTING,
}


class Named:
    """Where the test reaches the server."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.host, self.host6 = "127.0.0.1", "::1"
        self.log = root / "named.log"


#: A query for bl.test's SOA (id 0xabcd), to see whether named answers yet.
_SOA_QUERY = bytes.fromhex("abcd01000001000000000000") + b"\x02bl\x04test\x00\x00\x06\x00\x01"
_PROBE = """
import socket, sys
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
probe.settimeout(0.3)
probe.sendto(bytes.fromhex(sys.argv[1]), ("127.0.0.1", int(sys.argv[2])))
sys.exit(probe.recv(512)[:2] != bytes.fromhex("abcd"))
"""


def _answers(port: int, inside: tuple[str, ...] = ()) -> bool:
    """Whether named answers a query for bl.test's SOA on ``port`` (inside a namespace)."""
    if inside:
        command = [*inside, sys.executable, "-c", _PROBE, _SOA_QUERY.hex(), str(port)]
        return subprocess.run(command, capture_output=True, check=False).returncode == 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.2)
        try:
            probe.sendto(_SOA_QUERY, ("127.0.0.1", port))
            return probe.recv(512)[:2] == b"\xab\xcd"
        except OSError:
            return False


@contextlib.contextmanager
def serving(root: Path, port: int, inside: tuple[str, ...] = ()) -> Iterator[Named]:
    """named with the test zones on ``port`` of loopback, its files in ``root``;
    ``inside`` prefixes its command (``ip netns exec NS``) to run it in a namespace."""
    require_installed("named", "bind9", NAMED)
    require_root("named runs as root here (it binds loopback without dropping to 'bind')")
    server = Named(root, port)
    zones = []
    for name, text in ZONES.items():
        (root / f"{name}.zone").write_text(text)
        extra = " allow-query { none; };" if name == "refused.test" else ""
        zones.append(f'zone "{name}" {{ type primary; file "{root}/{name}.zone";{extra} }};')
    (root / "named.conf").write_text(
        f'options {{ directory "{root}"; pid-file "{root}/named.pid";\n'
        f"  listen-on port {server.port} {{ 127.0.0.1; }};\n"
        f"  listen-on-v6 port {server.port} {{ ::1; }};\n"
        "  recursion no; notify no; dnssec-validation no; allow-query { any; };\n"
        f'  session-keyfile "{root}/session.key"; }};\n'
        "controls { };\nlogging { category default { default_stderr; }; };\n"
        + "\n".join(zones)
        + "\n"
    )
    with server.log.open("w") as log:
        process = subprocess.Popen(
            [*inside, NAMED, "-g", "-n", "2", "-c", str(root / "named.conf")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    ready = partial(_answers, server.port, inside)
    with answering("named", process, server.log, ready, within=20, pause=0.1, stop_within=20):
        yield server


@pytest.fixture(scope="session")
def named(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Named]:
    """named serving the test blocklist zones on a free port of 127.0.0.1 and ::1."""
    root = tmp_path_factory.mktemp("named")
    with serving(root, free_port(kind=socket.SOCK_DGRAM)) as server:
        yield server
    shutil.rmtree(root, ignore_errors=True)


class NamespacedNamed(Named):
    """named on port 53 of a private namespace whose resolv.conf and hosts point at it."""

    def __init__(self, root: Path, namespace: Namespace) -> None:
        super().__init__(root, 53)
        self.namespace = namespace


@pytest.fixture(scope="module")
def named_in_netns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NamespacedNamed]:
    """named as the system resolver of a private namespace (port 53 there only).

    ``ip netns exec`` mounts /etc/netns/NAME/* over /etc/*: the namespace's resolv.conf
    names 127.0.0.1, and its hosts file gives ``mail.test`` :data:`LISTED_V4` and
    :data:`LISTED_V6`, so that clients using the system resolver (check_rbl, check_dnsbl
    without ``--nameserver``) ask this named.
    """
    require_root("network namespaces need root")
    root = tmp_path_factory.mktemp("named-netns")
    with namespaces() as make:
        namespace = make()
        etc = Path("/etc/netns") / namespace.name
        etc.mkdir(parents=True)
        try:
            (etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")
            (etc / "hosts").write_text(
                f"127.0.0.1 localhost\n{LISTED_V4} mail.test\n{LISTED_V6} mail.test\n"
            )
            with serving(root, 53, tuple(namespace.command())):
                yield NamespacedNamed(root, namespace)
        finally:
            shutil.rmtree(etc, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)


class SlowProxy:
    """A UDP relay on 127.0.0.1 that hands every query to named ``delay`` seconds late."""

    def __init__(self, upstream_port: int, delay: float) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.delay = delay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _relay(self, query: bytes, client: tuple[str, int]) -> None:
        time.sleep(self.delay)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as upstream:
            upstream.settimeout(5)
            upstream.sendto(query, self.upstream)
            with contextlib.suppress(OSError):  # the client gave up: nothing to relay
                self.sock.sendto(upstream.recv(65535), client)

    def _serve(self) -> None:
        while not self.stopped.is_set():
            readable, _, _ = select.select([self.sock], [], [], 0.1)
            if readable:
                query, client = self.sock.recvfrom(65535)
                threading.Thread(target=self._relay, args=(query, client), daemon=True).start()

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def slow_named(named: Named) -> Iterator[SlowProxy]:
    """named behind a relay that delays every query by 0.5 s."""
    proxy = SlowProxy(named.port, 0.5)
    yield proxy
    proxy.close()
