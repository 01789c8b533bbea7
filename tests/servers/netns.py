"""Private network namespaces where ICMP answers late, partly, twice, or not at all.

Test traffic never leaves the machine: each namespace is made for the test (``ip netns
add``), has only its own loopback and, for the unreachable neighbour, a veth pair whose
other end sits in a second private namespace; addresses come from the documentation
ranges (198.51.100.0/24, 2001:db8::/32). Checks run inside with ``ip netns exec``.

This kernel has no ``sch_netem`` (``tc qdisc … netem`` answers "Specified qdisc kind is
unknown" and there are no modules to load), so latency and loss come from a responder:
the namespace's kernel is told to ignore echo requests (``icmp_echo_ignore_all``) and this
module, run as ``python -m tests.servers.netns respond``, answers them from a raw socket,
late (``--delay``), dropping every Nth request of each sender (``--drop-every``) and
answering more than once (``--copies``). Drops count per sender and ICMP identifier, so
every ping run sees the same pattern: with ``--drop-every 2``, 5 requests lose 2 (40%).

:func:`linked` joins two namespaces with a veth pair for the interface and route checks
(counters moved by real traffic, a carrier lost when the far end goes down);
:func:`send_frames` sends frames no kernel handles, which the far end counts as drops.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import itertools
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers.require import require_root

REPO = Path(__file__).resolve().parents[2]
_names = itertools.count()

# Addresses inside the namespaces only (RFC 5737 / RFC 3849 documentation ranges).
NEIGHBOUR_NET = ("198.51.100.1/24", "2001:db8:1::1/64")
#: On the veth's link, where nothing answers neighbour discovery.
ABSENT_NEIGHBOUR = ("198.51.100.2", "2001:db8:1::2")
#: Where a namespace with only loopback has no route.
UNROUTED = ("198.51.100.7", "2001:db8:7::7")


class Namespace:
    """A network namespace made for a test; commands run inside it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.processes: list[subprocess.Popen[str]] = []

    def command(self, *argv: str) -> list[str]:
        """``argv`` wrapped to run inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside and return its output; never raises for its exit code."""
        return subprocess.run(
            self.command(*argv), capture_output=True, text=True, timeout=timeout, check=False
        )

    def sysctl(self, key: str, value: str) -> None:
        subprocess.run(self.command("sysctl", "-q", "-w", f"{key}={value}"), check=True)

    def ip(self, *args: str) -> None:
        subprocess.run(["ip", "-n", self.name, *args], check=True)

    def wait_until_up(self, device: str, timeout: float = 10) -> None:
        """Wait for ``device``'s operstate to follow its carrier (the kernel's linkwatch
        updates it up to a second after the link comes up)."""
        deadline = time.monotonic() + timeout
        while self.run("cat", f"/sys/class/net/{device}/operstate").stdout.strip() != "up":
            assert time.monotonic() < deadline, f"{device} in {self.name} did not come up"
            time.sleep(0.05)

    def ignore_echo_requests(self) -> None:
        """The kernel answers no echo request, IPv4 or IPv6 (raw sockets still see them)."""
        self.sysctl("net.ipv4.icmp_echo_ignore_all", "1")
        self.sysctl("net.ipv6.icmp.echo_ignore_all", "1")

    def start_responder(self, delay: float = 0.0, drop_every: int = 0, copies: int = 1) -> None:
        """Answer echo requests from a raw socket, as :func:`respond` does."""
        process = subprocess.Popen(
            self.command(
                sys.executable,
                "-m",
                "tests.servers.netns",
                "respond",
                "--delay",
                str(delay),
                "--drop-every",
                str(drop_every),
                "--copies",
                str(copies),
            ),
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready", "the ICMP responder did not start"


@contextlib.contextmanager
def namespaces() -> Iterator[Callable[[], Namespace]]:
    """A factory of namespaces with loopback up; all are deleted on the way out."""
    made: list[Namespace] = []

    def make() -> Namespace:
        namespace = Namespace(f"vigie-{os.getpid()}-{next(_names)}")
        subprocess.run(["ip", "netns", "add", namespace.name], check=True)
        made.append(namespace)
        namespace.ip("link", "set", "lo", "up")
        return namespace

    try:
        yield make
    finally:
        for namespace in made:
            for process in namespace.processes:
                process.terminate()
                process.wait(timeout=10)
            subprocess.run(["ip", "netns", "del", namespace.name], check=False)


def silent(make: Callable[[], Namespace]) -> Namespace:
    """Loopback where nothing answers an echo request: 100% loss on 127.0.0.1 and ::1."""
    namespace = make()
    namespace.ignore_echo_requests()
    return namespace


def slow_lossy(make: Callable[[], Namespace]) -> Namespace:
    """Loopback answering after 200 ms and dropping every second request of each run."""
    namespace = silent(make)
    namespace.start_responder(delay=0.2, drop_every=2)
    return namespace


def duplicating(make: Callable[[], Namespace]) -> Namespace:
    """Loopback answering every echo request twice."""
    namespace = silent(make)
    namespace.start_responder(copies=2)
    return namespace


def neighbourless(make: Callable[[], Namespace]) -> Namespace:
    """A link where ``ABSENT_NEIGHBOUR`` never answers ARP/ND: host unreachable.

    The veth's other end is up in a second private namespace with no address, so the
    kernel's neighbour resolution fails after its probes (about 3 s) and it reports
    "Destination Host Unreachable" to the local sender. Loopback alone (any namespace
    from ``make``) has no route to ``UNROUTED``: network unreachable.
    """
    namespace, far_end = make(), make()
    namespace.ip(
        "link", "add", "vigie0", "type", "veth", "peer", "name", "vigie1", "netns", far_end.name
    )
    namespace.ip("addr", "add", NEIGHBOUR_NET[0], "dev", "vigie0")
    namespace.ip("addr", "add", NEIGHBOUR_NET[1], "dev", "vigie0", "nodad")
    namespace.ip("link", "set", "vigie0", "up")
    far_end.ip("link", "set", "vigie1", "up")
    return namespace


def linked(
    make: Callable[[], Namespace], near: str = "vigie0", far: str = "vigie1"
) -> tuple[Namespace, Namespace]:
    """Two namespaces joined by a veth pair ``near``/``far``, both up and addressed.

    The near end has 198.51.100.1/24 and 2001:db8:1::1/64, the far end .2 and ::2, so
    real traffic (ping, raw frames) crosses the pair and moves its counters.
    """
    namespace, far_end = make(), make()
    namespace.ip("link", "add", near, "type", "veth", "peer", "name", far, "netns", far_end.name)
    for end, device, last in ((namespace, near, "1"), (far_end, far, "2")):
        end.ip("addr", "add", f"198.51.100.{last}/24", "dev", device)
        end.ip("addr", "add", f"2001:db8:1::{last}/64", "dev", device, "nodad")
        end.ip("link", "set", device, "up")
    for end, device in ((namespace, near), (far_end, far)):
        end.wait_until_up(device)
    return namespace, far_end


#: Sends argv[2] broadcast frames of EtherType 0x88B5 (IEEE local experimental) out of argv[1].
_FRAME_SENDER = """
import socket, sys
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((sys.argv[1], 0))
frame = b"\\xff" * 6 + b"\\x02" + b"\\x00" * 5 + b"\\x88\\xb5" + b"\\x00" * 46
for _ in range(int(sys.argv[2])):
    sock.send(frame)
"""


def send_frames(namespace: Namespace, device: str, count: int) -> None:
    """Send ``count`` Ethernet frames of a protocol no kernel handles out of ``device``:
    the receiving end counts each one as an rx drop."""
    result = namespace.run(sys.executable, "-c", _FRAME_SENDER, device, str(count))
    assert result.returncode == 0, result.stderr


@pytest.fixture
def make_netns() -> Iterator[Callable[[], Namespace]]:
    """A factory of private namespaces (loopback up), deleted after the test."""
    require_root("network namespaces need root")
    if shutil.which("ip") is None:
        pytest.skip("ip is not installed (apt install iproute2)")
    with namespaces() as make:
        yield make


# --- the responder, run inside a namespace ------------------------------------------------


def _checksum(data: bytes) -> int:
    data += b"\0" * (len(data) % 2)
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _reply(request: bytes, ipv6: bool) -> bytes | None:
    """The echo reply to an ICMP echo request message, or None for any other message."""
    if len(request) < 8 or request[0] != (128 if ipv6 else 8):
        return None
    reply = bytes([129 if ipv6 else 0, 0, 0, 0]) + request[4:]
    if ipv6:  # the kernel fills ICMPv6 checksums on raw sockets
        return reply
    return reply[:2] + struct.pack("!H", _checksum(reply)) + reply[4:]


def respond(delay: float, drop_every: int, copies: int) -> None:
    """Answer echo requests on every address of this namespace until terminated."""
    sockets = {
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP): False,
        socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6): True,
    }
    seen: dict[tuple[object, int], int] = {}
    due: list[tuple[float, int, socket.socket, bytes, tuple[object, ...]]] = []
    order = itertools.count()
    print("ready", flush=True)
    while True:
        wait = max(due[0][0] - time.monotonic(), 0) if due else None
        readable, _, _ = select.select(list(sockets), [], [], wait)
        for sock in readable:
            packet, sender = sock.recvfrom(65535)
            ipv6 = sockets[sock]
            message = packet if ipv6 else packet[(packet[0] & 0x0F) * 4 :]
            reply = _reply(message, ipv6)
            if reply is None:
                continue
            key = (sender[0], struct.unpack_from("!H", message, 4)[0])
            seen[key] = count = seen.get(key, 0) + 1
            if drop_every and count % drop_every == 0:
                continue
            for _ in range(copies):
                heapq.heappush(due, (time.monotonic() + delay, next(order), sock, reply, sender))
        while due and due[0][0] <= time.monotonic():
            _, _, sock, reply, sender = heapq.heappop(due)
            sock.sendto(reply, sender)


def main() -> None:
    parser = argparse.ArgumentParser(description="ICMP echo responder for test namespaces")
    parser.add_argument("action", choices=["respond"])
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--drop-every", type=int, default=0)
    parser.add_argument("--copies", type=int, default=1)
    args = parser.parse_args()
    respond(args.delay, args.drop_every, args.copies)


if __name__ == "__main__":
    main()
