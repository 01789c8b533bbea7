"""A scripted NTP server on loopback, for the replies a healthy server never sends.

A UDP socket on 127.0.0.1 (or ::1) and a thread answering each request with what the test
asked for: a forged clock offset, leap indicator 3, stratum 16, a kiss-o'-death, another
version or mode, a truncated packet, a reply to somebody else's request, or silence. The
replies are built field by field as RFC 5905 section 7.3 lays them out, independently of
the module under test.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

NTP_TO_UNIX = 2_208_988_800


def ntp_timestamp(unix: float) -> bytes:
    """A 64-bit NTP timestamp (era 0) for the Unix time ``unix``."""
    seconds = int(unix) + NTP_TO_UNIX
    fraction = int((unix - int(unix)) * 2**32)
    return struct.pack("!II", seconds % 2**32, fraction)


def forge(
    request: bytes,
    *,
    offset: float = 0.0,
    leap: int = 0,
    version: int = 4,
    mode: int = 4,
    stratum: int = 2,
    reference_id: bytes = b"\xc0\x00\x02\x01",
    kiss: bytes | None = None,
    origin: bytes | None = None,
    length: int = 48,
) -> bytes:
    """A server reply to ``request`` whose clock is ``offset`` seconds ahead of ours."""
    now = time.time() + offset
    if kiss is not None:
        stratum, reference_id = 0, kiss
    header = struct.pack("!BBbb", leap << 6 | version << 3 | mode, stratum, 6, -20) + struct.pack(
        "!iI", 1 << 8, 1 << 8
    )
    origin = request[40:48] if origin is None else origin
    zero = bytes(8)
    stamps = (
        ntp_timestamp(now - 10) + origin + ntp_timestamp(now) + ntp_timestamp(now)
        if kiss is None
        else zero + origin + zero + zero
    )
    return (header + reference_id + stamps)[:length]


class FakeNtpServer:
    """Answers every request with ``reply(request)``; None means stay silent."""

    def __init__(self, host: str, port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_DGRAM)
        self.socket.bind((host, port))
        self.socket.settimeout(0.1)
        self.host = host
        self.port: int = self.socket.getsockname()[1]
        self.reply: Callable[[bytes], bytes | None] = forge
        self.requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                request, client = self.socket.recvfrom(1024)
            except TimeoutError:
                continue
            self.requests += 1
            answer = self.reply(request)
            if answer is not None:
                self.socket.sendto(answer, client)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.socket.close()


@pytest.fixture
def fake_ntp() -> Iterator[FakeNtpServer]:
    """A scripted NTP server on 127.0.0.1; set its ``reply`` per test."""
    server = FakeNtpServer("127.0.0.1")
    yield server
    server.close()


@pytest.fixture
def fake_ntp6() -> Iterator[FakeNtpServer]:
    """A scripted NTP server on ::1."""
    server = FakeNtpServer("::1")
    yield server
    server.close()
