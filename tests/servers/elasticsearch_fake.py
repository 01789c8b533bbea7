"""A loopback HTTP server answering as Elasticsearch with the real captures, and the broken
servers the status-page checks are tested against.

Elasticsearch is not in Debian. :class:`FakeElasticsearch` (stdlib ``http.server`` in a
thread, on 127.0.0.1 and a free port) serves ``../shared/fixtures/elasticsearch/`` read in
place: ``GET /<capture name without .json>/_cluster/health`` answers that capture, as
``application/json``. Under ``/locked/`` it wants Elasticsearch's basic auth
(:data:`USER`/:data:`PASSWORD`) and answers a wrong or missing login as Elasticsearch 8
does: 401 with ``WWW-Authenticate`` and its ``security_exception`` JSON. ``/garbage/``
answers broken JSON with status 200, ``/html/`` an HTML page, ``/failing/`` a 503; the
same over HTTPS with a valid and an expired certificate (:class:`SecuredElasticsearch`). A
test may make it answer anything at a path of its choice (:attr:`FakeElasticsearch.answers`:
damaged captures of any status page, for the checks' runs on damaged data).

:func:`garbage_server` answers every connection with bytes that are not HTTP.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import shared_fixtures
from tests.servers.loopback import LoopbackServer, serving
from tests.servers.nginx import make_ca

USER, PASSWORD = "elastic", "changeme too"
#: Elasticsearch 8's answer to a request without a valid login (status 401).
UNAUTHORIZED = {
    "error": {
        "root_cause": [{"type": "security_exception",
                        "reason": "missing authentication credentials for REST request [/]",
                        "header": {"WWW-Authenticate": 'Basic realm="security" charset="UTF-8"'}}],
        "type": "security_exception",
        "reason": "missing authentication credentials for REST request [/]",
        "header": {"WWW-Authenticate": 'Basic realm="security" charset="UTF-8"'},
    },
    "status": 401,
}  # fmt: skip
GARBAGE_JSON = b'{"cluster_name": "prod", "status": "gre'
HTML = b"<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head><body></body></html>\n"
NOT_HTTP = b"\x00\x01garbage that is not HTTP\r\n\r\n\xff\xfe"


class FakeElasticsearch(ThreadingHTTPServer):
    """The server; ``captures`` is the directory of the real ``_cluster/health`` answers."""

    daemon_threads = True

    def __init__(self, captures: Path, certificate: Path | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        if certificate is not None:  # HTTPS, with the key beside it (name.pem, name.key)
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certificate, certificate.with_suffix(".key"))
            self.socket = context.wrap_socket(self.socket, server_side=True)
        self.captures = captures
        self.host, self.port = "127.0.0.1", self.server_address[1]
        #: path -> (status, body, content type): answers set by a test, before all others.
        self.answers: dict[str, tuple[int, bytes, str]] = {}


class _Handler(BaseHTTPRequestHandler):
    server: FakeElasticsearch
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        if self.path in self.server.answers:
            self._answer(*self.server.answers[self.path])
            return
        first, _, rest = self.path.lstrip("/").partition("/")
        if first == "locked":
            login = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {login}":
                self._answer(
                    401,
                    json.dumps(UNAUTHORIZED).encode(),
                    "application/json",
                    {"WWW-Authenticate": 'Basic realm="security" charset="UTF-8"'},
                )
                return  # fmt: skip
            first, _, rest = rest.partition("/")
        if first == "garbage":
            self._answer(200, GARBAGE_JSON, "application/json")
        elif first == "html":
            self._answer(200, HTML, "text/html")
        elif first == "failing":
            self._answer(503, b'{"error": "unavailable"}', "application/json")
        elif rest.split("?")[0] == "_cluster/health" and (capture := self._capture(first)):
            self._answer(200, capture, "application/json")
        else:
            self._answer(404, b'{"error": "no such capture"}', "application/json")

    def _capture(self, name: str) -> bytes | None:
        path = self.server.captures / f"{name}.json"
        return path.read_bytes() if path.is_file() else None

    def _answer(
        self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="session")
def elasticsearch() -> Iterator[FakeElasticsearch]:
    """The fake Elasticsearch for the whole session."""
    server = FakeElasticsearch(shared_fixtures() / "elasticsearch")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class SecuredElasticsearch:
    """Two fakes over HTTPS, certificates from a test CA: ``valid`` and ``expired``."""

    def __init__(self, root: Path) -> None:
        make_ca(root)
        self.ca_file = root / "ca.pem"
        captures = shared_fixtures() / "elasticsearch"
        self.valid = FakeElasticsearch(captures, root / "valid.pem")
        self.expired = FakeElasticsearch(captures, root / "expired.pem")


@pytest.fixture(scope="session")
def elasticsearch_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredElasticsearch]:
    """The fake Elasticsearch over HTTPS (the CA and certificates of tests/servers/nginx)."""
    secured = SecuredElasticsearch(tmp_path_factory.mktemp("elasticsearch-tls"))
    servers = (secured.valid, secured.expired)
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield secured
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


class GarbageServer(LoopbackServer):
    """Answers every request with bytes that are not HTTP, then closes."""

    def answer(self, connection: socket.socket) -> None:
        connection.settimeout(1)
        connection.recv(4096)
        connection.sendall(NOT_HTTP)


@contextmanager
def garbage_server() -> Iterator[int]:
    """A port answering every connection with bytes that are not HTTP, then closing."""
    with serving(GarbageServer) as start:
        yield start().port
