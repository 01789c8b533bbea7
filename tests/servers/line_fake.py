"""Fake line-protocol servers (FTP, SMTP): a greeting, then scripted answers per command.

For what a real server will not do on demand: answer a command with garbage or an error,
close the connection in the middle of a dialogue (a service stopped mid-way), point a
passive data channel at a port nothing listens on.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest

from tests.servers.loopback import LoopbackServer, serving

#: An answer that closes the connection instead of answering.
CLOSE = None


class LineServer(LoopbackServer):
    """A TCP server on loopback: sends ``greeting``, then for each line received the answer
    scripted for its first word (``answers``; CLOSE closes; unknown commands get 502)."""

    def __init__(self, greeting: bytes, answers: dict[str, bytes | None] | None = None) -> None:
        self.greeting, self.answers = greeting, answers or {}
        self.heard: list[str] = []
        super().__init__()

    def answer(self, connection: socket.socket) -> None:
        connection.settimeout(5)
        connection.sendall(self.greeting)
        for line in connection.makefile("rb"):
            command = line.decode("latin-1").strip()
            self.heard.append(command)
            answer = self.answers.get(command.split(" ")[0].upper(), b"502 no\r\n")
            if answer is CLOSE:
                break
            connection.sendall(answer)


def line_servers() -> AbstractContextManager[Callable[..., LineServer]]:
    """Start fake servers with ``start(greeting, answers)``; all stop on the way out."""
    return serving(LineServer)


@pytest.fixture
def scripted() -> Iterator[Callable[..., LineServer]]:
    """:func:`line_servers` for one test: ``scripted(greeting, answers)``."""
    with line_servers() as start:
        yield start
