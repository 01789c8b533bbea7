"""A real varnishd on loopback, in front of a small HTTP backend, for check_varnish.

varnishd runs in the foreground (``-F``) from a temporary working directory (``-n DIR``,
so varnishstat finds it with the same ``-n``), without a management jail (``-j none``),
listening on a free loopback port. Its backend is a Python HTTP server in a thread that
answers every GET with a cacheable page; the ``varnish_dead_backend`` variant points at a
port nothing listens on, so every miss is a backend failure.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.servers.ports import free_port, wait_for_tcp
from tests.servers.require import require_installed

VARNISHD = "/usr/sbin/varnishd"
VARNISHSTAT = "/usr/bin/varnishstat"


class _Cacheable(BaseHTTPRequestHandler):
    """Every path is a small page Varnish may keep for an hour."""

    def do_GET(self) -> None:
        body = f"page {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Cache-Control", "max-age=3600")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class Varnish:
    """What a test needs: the working directory (varnishstat -n), the port, a client."""

    def __init__(self, workdir: Path, port: int, process: subprocess.Popen[bytes]) -> None:
        self.workdir, self.port, self.process = workdir, port, process

    def get(self, path: str) -> int:
        """GET ``path`` through Varnish; the HTTP status (503 when the backend fails)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
                return int(r.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    def varnishstat(self) -> str:
        """The real ``varnishstat -j`` of this instance."""
        return subprocess.run(
            [VARNISHSTAT, "-n", str(self.workdir), "-j"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout

    def child_pid(self) -> int:
        """The cache (child) process of the manager."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return int(children.read_text().split()[0])

    def wait_for_child(self, timeout: float = 15) -> None:
        """Return once a (restarted) child answers varnishstat with its uptime running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.get("/restarted") and self.varnishstat():
                    return
            except (OSError, subprocess.CalledProcessError):
                pass
            time.sleep(0.2)
        raise AssertionError("the varnish child did not come back")


def _start(root: Path, backend_port: int) -> Iterator[Varnish]:
    require_installed("varnishd", "varnish", VARNISHD, VARNISHSTAT)
    port = free_port()
    workdir = root / "instance"
    log = (root / "varnishd.log").open("w")
    process = subprocess.Popen(
        [VARNISHD, "-F", "-n", str(workdir), "-j", "none", "-a", f"127.0.0.1:{port}",
         "-b", f"127.0.0.1:{backend_port}", "-s", "malloc,16m", "-p", "auto_restart=on"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_tcp("127.0.0.1", port)
        server = Varnish(workdir, port, process)
        deadline = time.monotonic() + 15
        while True:  # the shared memory appears a moment after the port
            try:
                server.varnishstat()
                break
            except subprocess.CalledProcessError:
                assert time.monotonic() < deadline, (root / "varnishd.log").read_text()
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


@pytest.fixture(scope="session")
def varnish(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Varnish]:
    """varnishd in front of a cacheable HTTP backend, both on loopback."""
    backend = ThreadingHTTPServer(("127.0.0.1", 0), _Cacheable)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    root = tmp_path_factory.mktemp("varnish")
    try:
        yield from _start(root, int(backend.server_address[1]))
    finally:
        backend.shutdown()
        backend.server_close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def varnish_dead_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Varnish]:
    """varnishd whose backend port has nothing listening: every fetch fails."""
    root = tmp_path_factory.mktemp("varnish-dead")
    yield from _start(root, free_port())
    shutil.rmtree(root, ignore_errors=True)
