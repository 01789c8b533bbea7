"""Fake TCP servers on loopback, for what a real server will not do on demand.

:class:`LoopbackServer` is the accept loop they share (a thread, a free port, a clean stop);
a fake says what it says to each client in :meth:`LoopbackServer.answer`. :func:`serving`
starts fakes for one ``with`` block and stops them all on the way out, even on failure.
:func:`silent_server` is the port that accepts connections and never says anything.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

Arguments = ParamSpec("Arguments")
Server = TypeVar("Server", bound="LoopbackServer")


class LoopbackServer:
    """A TCP server on ``host`` (loopback) and a free port, answering clients one at a time
    in a thread until :meth:`stop`. A subclass sets its own attributes before calling this
    ``__init__`` (the thread starts here)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.bind((host, 0))
        self.listener.listen(8)
        self.listener.settimeout(0.1)
        self.host, self.port = host, self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def answer(self, connection: socket.socket) -> None:
        """Talk to one client; the connection closes when this returns."""
        raise NotImplementedError

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            with connection, contextlib.suppress(OSError):
                self.answer(connection)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.listener.close()


@contextlib.contextmanager
def serving(
    make: Callable[Arguments, Server],
) -> Iterator[Callable[Arguments, Server]]:
    """``start(…)`` makes a server with ``make(…)``; every one started stops on the way out."""
    started: list[Server] = []

    def start(*args: Arguments.args, **kwargs: Arguments.kwargs) -> Server:
        started.append(make(*args, **kwargs))
        return started[-1]

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never says anything."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]
