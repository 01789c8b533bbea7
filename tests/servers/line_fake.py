"""Fake line-protocol servers (FTP, SMTP): a greeting, then scripted answers per command.

For what a real server will not do on demand: answer a command with garbage or an error,
close the connection in the middle of a dialogue (a service stopped mid-way), point a
passive data channel at a port nothing listens on.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

#: An answer that closes the connection instead of answering.
CLOSE = None


class LineServer:
    """A TCP server on loopback: sends ``greeting``, then for each line received the answer
    scripted for its first word (``answers``; CLOSE closes; unknown commands get 502)."""

    def __init__(self, greeting: bytes, answers: dict[str, bytes | None]) -> None:
        self.greeting, self.answers = greeting, answers
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.host, self.port = "127.0.0.1", self.listener.getsockname()[1]
        self.heard: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            with connection, contextlib.suppress(OSError):
                connection.settimeout(5)
                connection.sendall(self.greeting)
                for line in connection.makefile("rb"):
                    command = line.decode("latin-1").strip()
                    self.heard.append(command)
                    answer = self.answers.get(command.split(" ")[0].upper(), b"502 no\r\n")
                    if answer is CLOSE:
                        break
                    connection.sendall(answer)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.listener.close()


@contextlib.contextmanager
def line_servers() -> Iterator[Callable[..., LineServer]]:
    """Start fake servers with ``start(greeting, answers)``; all stop on the way out."""
    started: list[LineServer] = []

    def start(greeting: bytes, answers: dict[str, bytes | None] | None = None) -> LineServer:
        started.append(LineServer(greeting, answers or {}))
        return started[-1]

    try:
        yield start
    finally:
        for server in started:
            server.stop()
