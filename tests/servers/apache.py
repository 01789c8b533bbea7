"""A real Apache httpd with mod_status on loopback, for check_apache.

Debian's ``apache2`` binary runs from a configuration written into a temporary directory
(its own ServerRoot, PidFile, ErrorLog, lock and scoreboard files), in the foreground
(``-DFOREGROUND``), listening on 127.0.0.1 on a free port, with the event MPM (or
prefork, whose scoreboard has a slot per process) and only the modules the check needs:
authz_core, authz_host, status, and basic auth for one location. Started as root it runs
its children as www-data, so its directory (in /tmp, see :func:`server_root`) is made
traversable and the document root readable for that user.

``/server-status`` is mod_status; ``/plain.html`` an HTML page (wrong content for the
check); ``/old-status`` a redirect to ``/server-status?auto``; ``/locked/server-status``
asks for a login it never accepts (basic auth with an empty user file: bad credentials).
"""

from __future__ import annotations

import pwd
import secrets
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.ports import free_port
from tests.servers.require import require_installed, require_root
from tests.servers.running import running

APACHE2 = "/usr/sbin/apache2"
#: Ports tried before giving up: one may be taken between free_port() and the bind.
ATTEMPTS = 3
MODULES = Path("/usr/lib/apache2/modules")
#: Workers of the test server: with the event MPM 2 processes of 5 threads, up to
#: ServerLimit 3 (15 scoreboard slots); with prefork 2 processes, up to 6 (6 slots).
CONFIG = """\
ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{root}/httpd.pid"
ErrorLog "{root}/error.log"
LogLevel warn
Mutex file:{root}
ScoreBoardFile "{root}/scoreboard"
DefaultRuntimeDir "{root}"
User {user}
Group {group}
LoadModule mpm_{mpm}_module {modules}/mod_mpm_{mpm}.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule authn_core_module {modules}/mod_authn_core.so
LoadModule authn_file_module {modules}/mod_authn_file.so
LoadModule auth_basic_module {modules}/mod_auth_basic.so
LoadModule authz_user_module {modules}/mod_authz_user.so
LoadModule authz_host_module {modules}/mod_authz_host.so
LoadModule status_module {modules}/mod_status.so
LoadModule alias_module {modules}/mod_alias.so
<IfModule mpm_event_module>
    ServerLimit 3
    StartServers 2
    ThreadsPerChild 5
    ThreadLimit 5
    MaxRequestWorkers 15
    MinSpareThreads 5
    MaxSpareThreads 15
</IfModule>
<IfModule mpm_prefork_module>
    ServerLimit 6
    StartServers 2
    MinSpareServers 2
    MaxSpareServers 4
    MaxRequestWorkers 6
</IfModule>
ExtendedStatus On
DocumentRoot "{root}/htdocs"
<Directory "{root}/htdocs">
    Require all granted
</Directory>
Redirect 301 /old-status /server-status?auto
<Location "/server-status">
    SetHandler server-status
    Require ip 127.0.0.1
</Location>
<Location "/locked/server-status">
    SetHandler server-status
    AuthType Basic
    AuthName "status"
    AuthUserFile "{root}/htpasswd"
    Require valid-user
</Location>
"""


class Apache:
    """Where the server listens and how to stop it (for the service stopped mid-way)."""

    def __init__(self, root: Path, port: int, process: subprocess.Popen[bytes]) -> None:
        self.root, self.host, self.port, self.process = root, "127.0.0.1", port, process
        self.log = root / "error.log"

    def stop(self) -> None:
        """Stop the server (SIGTERM to the parent stops its children) and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


def start_apache(root: Path, mpm: str = "event") -> Apache:
    """Write the configuration under ``root`` and start Apache with ``mpm`` (event,
    prefork); wait until it listens."""
    require_installed("apache2", "apache2", APACHE2)
    require_root("apache2 must start as root to run its children as www-data")
    user = pwd.getpwnam("www-data")
    root.chmod(0o711)  # traversable for www-data
    (root / "htdocs").mkdir()
    (root / "htdocs" / "plain.html").write_text(
        "<!DOCTYPE html>\n<html><head><title>It works</title></head>"
        "<body><p>It works</p></body></html>\n"
    )
    (root / "htdocs").chmod(0o755)
    (root / "htpasswd").write_text("")
    (root / "htpasswd").chmod(0o644)
    token = secrets.token_hex(8)
    (root / "htdocs" / "token.txt").write_text(token)
    for _ in range(ATTEMPTS):
        server = _start_on(root, free_port(), mpm, user.pw_name, token)
        if server is not None:
            return server
    raise AssertionError(f"apache2 did not start: {(root / 'stderr.log').read_text()}")


def _start_on(root: Path, port: int, mpm: str, user: str, token: str) -> Apache | None:
    """Apache on ``port``, once it serves this run's ``token``; None if the port was taken
    meanwhile (free_port() releases it: another process may bind it first)."""
    (root / "httpd.conf").write_text(
        CONFIG.format(root=root, port=port, modules=MODULES, user=user, group="www-data",
                      mpm=mpm)
    )  # fmt: skip
    environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
    process = subprocess.Popen(
        [APACHE2, "-f", str(root / "httpd.conf"), "-DFOREGROUND"],
        stdout=subprocess.DEVNULL,
        stderr=(root / "stderr.log").open("w"),
        env=environment,
    )
    server = Apache(root, port, process)
    deadline = time.monotonic() + 15
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if _serves(port, token):
                return server
            time.sleep(0.05)
    except BaseException:
        server.stop()
        raise
    exited = process.poll() is not None
    server.stop()
    logs = "".join(path.read_text() for path in (root / "stderr.log", server.log) if path.exists())
    if exited and "Address already in use" not in logs:
        raise AssertionError(f"apache2 exited: {logs}")
    return None


def _serves(port: int, token: str) -> bool:
    """Whether our Apache answers on ``port`` (not another process that took the port)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/token.txt", timeout=1) as page:
            return bool(page.read().decode() == token)
    except OSError:
        return False


def server_root() -> Path:
    """A directory of its own in /tmp for one Apache.

    Not under pytest's base temporary directory: every pytest session of root (other test
    runs on the machine) sets ``/tmp/pytest-of-root`` back to mode 0700, and www-data
    could then no longer reach the documents mid-run (403 on every page).
    """
    return Path(tempfile.mkdtemp(prefix="vigie-apache-"))


@pytest.fixture(scope="session")
def apache() -> Iterator[Apache]:
    """Apache with mod_status on loopback, for the whole session."""
    with running(server_root(), start_apache) as server:
        yield server


@pytest.fixture
def apache_to_stop() -> Iterator[Apache]:
    """An Apache of its own that the test may stop (the service going away mid-way)."""
    with running(server_root(), start_apache) as server:
        yield server
