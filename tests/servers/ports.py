"""Free loopback ports and waiting for a server to listen."""

from __future__ import annotations

import socket
import time


def free_port(family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> int:
    """A port nothing listens on right now (the kernel's choice, released at once)."""
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    with socket.socket(family, kind) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_for_tcp(host: str, port: int, timeout: float = 15.0) -> None:
    """Return once ``host:port`` accepts a TCP connection; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"nothing listens on {host}:{port} after {timeout} s"
                ) from None
            time.sleep(0.05)
