"""Fake SSH servers: TCP servers on loopback that send what broken or odd servers send.

Garbage, an SSH-1 identification, lines before the identification, nothing at all, or
their identification too late; and the identification strings other servers send.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest

from tests.servers.loopback import LoopbackServer, serving

#: Identification strings as other servers send them (their documented formats).
BANNERS = {
    "rfc4253-with-lines-before": "Welcome to the lab\r\nMaintenance at 22:00\r\n"
    "SSH-2.0-billsSSH_3.6.3q3\r\n",
    "dropbear": "SSH-2.0-dropbear_2022.83\r\n",
    "cisco-ssh1-and-2": "SSH-1.99-Cisco-1.25\r\n",
    "lf-only": "SSH-2.0-Go\n",
    "ssh1-only": "SSH-1.5-OpenSSH_2.5.2p2\r\n",
}


GARBAGE = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"


class FakeServer(LoopbackServer):
    """A TCP server on loopback: each client gets ``script`` after ``delay`` seconds.

    With an empty script the connection closes at once; otherwise the server then reads
    what the client says (kept in ``heard``) for up to 2 s and closes.
    """

    def __init__(self, script: bytes, delay: float = 0.0, host: str = "127.0.0.1") -> None:
        self.script, self.delay = script, delay
        self.heard: list[bytes] = []
        super().__init__(host)

    def answer(self, connection: socket.socket) -> None:
        if self.stopping.wait(self.delay) or not self.script:
            return
        connection.sendall(self.script)
        connection.settimeout(2)
        self.heard.append(connection.recv(256))


def fake_servers() -> AbstractContextManager[Callable[..., FakeServer]]:
    """Start fake servers with ``start(script, delay, host)``; all stop on the way out."""
    return serving(FakeServer)


@pytest.fixture
def fake() -> Iterator[Callable[..., FakeServer]]:
    """:func:`fake_servers` for one test: ``fake(script, delay, host)``."""
    with fake_servers() as start:
        yield start
