"""A real nginx on loopback, with a test CA and three HTTPS servers, for the HTTP checks.

Debian's nginx runs as root (``user root;``: the temporary directory is root's) from a
temporary directory, on free ports, in the foreground, stopped at the end of the session.
A CA made here with ``openssl ca`` signs three server certificates for ``localhost`` and
127.0.0.1: one valid for a year, one expiring in 10 days, one expired yesterday; each
HTTPS port serves one of them, with TLS 1.2 and 1.3. The plain port and the HTTPS ports
serve the same locations:

- ``/`` the page ``PAGE``; ``/target`` the page ``TARGET``; ``/old`` a page last modified
  two days ago; ``/big`` ``BIG_SIZE`` bytes; ``/slow`` a page sent at 2 KiB/s (≈ 1 s);
- ``/relative`` a 301 to ``/target`` with a relative Location, ``/absolute`` a 302 to
  ``http://localhost:PORT/target`` (port included), ``/loop`` a 301 to itself;
- ``/error`` 500, ``/missing`` 404, ``/private`` basic auth (``USER``/``PASSWORD``);
- ``/nginx_status`` stub_status; ``/echo`` answers with the request's method and its
  ``X-Vigie`` header, for -j/-k.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.ports import free_port, wait_for_tcp
from tests.servers.require import require_installed, require_root

NGINX = "/usr/sbin/nginx"
OPENSSL = "openssl"
PAGE = "vigie test page: all is well\n"
TARGET = "the target of the redirects\n"
BIG_SIZE = 1024 * 1024
USER, PASSWORD = "monitor", "s3cret with spaces"
#: Days each server certificate has left (negative: expired that long ago).
CERTIFICATES = {"valid": 365, "expiring": 10, "expired": -1}


class Nginx:
    """What a test needs to reach the server: ports, CA, documents, stopping it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls_ports = {name: free_port() for name in CERTIFICATES}
        self.ca_file = root / "ca.pem"
        self.documents = root / "html"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop nginx now (a test of a server that went away); idempotent."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _openssl(*arguments: str, cwd: Path) -> None:
    subprocess.run([OPENSSL, *arguments], cwd=cwd, check=True, capture_output=True)


def _stamp(days: float) -> str:
    """An ``openssl ca`` date (YYYYMMDDHHMMSSZ) ``days`` from now."""
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(time.time() + days * 86400))


def make_ca(root: Path) -> None:
    """``ca.pem`` and, per CERTIFICATES, ``<name>.pem``/``<name>.key`` signed by it."""
    (root / "ca").mkdir()
    (root / "ca" / "index.txt").write_text("")
    (root / "ca" / "serial").write_text("1000\n")
    (root / "ca.cnf").write_text(
        "[ca]\ndefault_ca = test\n[test]\ndir = ca\ndatabase = ca/index.txt\n"
        "serial = ca/serial\nnew_certs_dir = ca\ncertificate = ca.pem\n"
        "private_key = ca.key\ndefault_md = sha256\npolicy = anything\n"
        "unique_subject = no\ncopy_extensions = copy\nx509_extensions = server\n"
        "[anything]\ncommonName = supplied\n"
        "[server]\nbasicConstraints = CA:false\nkeyUsage = digitalSignature, keyEncipherment\n"
        "extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1\n"
    )
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650",
             "-subj", "/CN=vigie test CA", cwd=root)  # fmt: skip
    for name, days in CERTIFICATES.items():
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", "/CN=localhost",
                 cwd=root)  # fmt: skip
        start = min(days, 0) - 30
        _openssl("ca", "-batch", "-config", "ca.cnf", "-in", f"{name}.csr",
                 "-out", f"{name}.pem", "-startdate", _stamp(start), "-enddate", _stamp(days),
                 "-notext", cwd=root)  # fmt: skip


def _locations(server: Nginx) -> str:
    """The locations every server block serves (see the module docstring)."""
    return f"""
        root {server.documents};
        location = / {{ try_files /index.html =404; }}
        location = /relative {{ absolute_redirect off; return 301 /target; }}
        location = /absolute {{ return 302 http://localhost:{server.port}/target; }}
        location = /loop {{ absolute_redirect off; return 301 /loop; }}
        location = /error {{ return 500; }}
        location = /private {{
            auth_basic "vigie"; auth_basic_user_file {server.root}/htpasswd;
            try_files /index.html =404;
        }}
        location = /slow {{ limit_rate 2k; limit_rate_after 0; try_files /slow.html =404; }}
        location = /nginx_status {{ stub_status; }}
        location = /echo {{
            default_type text/plain;
            return 200 "method=$request_method header=$http_x_vigie\\n";
        }}
        location / {{ try_files $uri $uri.html =404; }}
    """


def _configuration(server: Nginx) -> str:
    blocks = [f"server {{ listen {server.host}:{server.port}; {_locations(server)} }}"]
    for name, tls_port in server.tls_ports.items():
        blocks.append(
            f"server {{ listen {server.host}:{tls_port} ssl; server_name localhost;\n"
            f"ssl_protocols TLSv1.2 TLSv1.3; ssl_certificate {server.root}/{name}.pem;\n"
            f"ssl_certificate_key {server.root}/{name}.key;\n{_locations(server)} }}"
        )
    return _main_configuration(server.root, "".join(blocks))


def _main_configuration(root: Path, servers: str) -> str:
    """nginx.conf running as root from ``root`` in the foreground, with ``servers``."""
    temporary = root / "tmp"
    return f"""
user root;
daemon off;
master_process on;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    default_type text/html;
    types {{ text/html html; }}
    client_body_temp_path {temporary}/body;
    proxy_temp_path {temporary}/proxy;
    fastcgi_temp_path {temporary}/fastcgi;
    uwsgi_temp_path {temporary}/uwsgi;
    scgi_temp_path {temporary}/scgi;
    {servers}
}}
"""


def _documents(server: Nginx) -> None:
    server.documents.mkdir()
    (server.documents / "index.html").write_text(PAGE)
    (server.documents / "target.html").write_text(TARGET)
    (server.documents / "old.html").write_text("an old page\n")
    old = time.time() - 2 * 86400
    os.utime(server.documents / "old.html", (old, old))
    (server.documents / "big.html").write_bytes(b"x" * BIG_SIZE)
    (server.documents / "slow.html").write_bytes(b"s" * 2048)
    hashed = subprocess.run(
        [OPENSSL, "passwd", "-apr1", PASSWORD], check=True, capture_output=True, text=True
    ).stdout.strip()
    (server.root / "htpasswd").write_text(f"{USER}:{hashed}\n")


@contextlib.contextmanager
def running_nginx(root: Path) -> Iterator[Nginx]:
    """nginx serving ``root`` on free loopback ports until the block ends."""
    server = Nginx(root)
    make_ca(root)
    _documents(server)
    (root / "tmp").mkdir()
    (root / "nginx.conf").write_text(_configuration(server))
    server.process = subprocess.Popen(
        [NGINX, "-p", str(root), "-c", str(root / "nginx.conf"), "-e", str(root / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for port in (server.port, *server.tls_ports.values()):
            wait_for_tcp(server.host, port)
        yield server
    finally:
        server.stop()


def _skip_unless_possible() -> None:
    require_installed("nginx", "nginx-light", NGINX)
    if shutil.which(OPENSSL) is None:
        pytest.skip("openssl is not installed (apt install openssl)")
    require_root("the test nginx runs as root (user root;)")


@pytest.fixture(scope="session")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    """nginx on 127.0.0.1 (plain and three HTTPS ports) for the whole session."""
    _skip_unless_possible()
    with running_nginx(tmp_path_factory.mktemp("nginx")) as server:
        yield server


@pytest.fixture
def own_nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    """An nginx of the test's own, which the test may stop (``Nginx.stop``)."""
    _skip_unless_possible()
    with running_nginx(tmp_path_factory.mktemp("own-nginx")) as server:
        yield server


@contextlib.contextmanager
def virtual_host(
    root: Path, documents: Path, server_name: str, address: str = "127.0.0.1",
    port: int | None = None,
) -> Iterator[int]:  # fmt: skip
    """nginx serving ``documents`` as the virtual host ``server_name`` on ``address``,
    ``port`` (default: a free one), yielded, until the block ends; any other Host gets
    421, so that a client that does not send the site's name is told apart."""
    _skip_unless_possible()
    port = port or free_port()
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    (root / "nginx.conf").write_text(
        _main_configuration(
            root,
            f"""
    server {{ listen {address}:{port} default_server; return 421; }}
    server {{ listen {address}:{port}; server_name {server_name}; root {documents};
             location / {{ try_files $uri $uri/index.html =404; }} }}
""",
        )
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(root), "-c", str(root / "nginx.conf"), "-e", str(root / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_tcp(address, port)
        yield port
    finally:
        process.terminate()
        process.wait(10)
