"""A real Apache httpd with mod_status on loopback, for check_apache.

Debian's ``apache2`` binary runs from a configuration written into a temporary directory
(its own ServerRoot, PidFile, ErrorLog, lock and scoreboard files), in the foreground
(``-DFOREGROUND``), listening on 127.0.0.1 on a free port, with the event MPM (or
prefork, whose scoreboard has a slot per process) and only the modules the check needs:
authz_core, authz_host, status, and basic auth for one location. Started as root it runs
its children as www-data, so the temporary directory is made traversable and the
document root readable for that user.

``/server-status`` is mod_status; ``/plain.html`` an HTML page (wrong content for the
check); ``/locked/server-status`` asks for a login it never accepts (basic auth with an
empty user file: bad credentials).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.ports import free_port, wait_for_tcp

APACHE2 = "/usr/sbin/apache2"
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
    if not os.path.exists(APACHE2):
        pytest.skip("apache2 is not installed (apt install apache2)")
    if os.geteuid() != 0:
        pytest.skip("apache2 must start as root to run its children as www-data")
    user = pwd.getpwnam("www-data")
    for directory in (root, *root.parents):
        if directory == Path("/"):
            break
        directory.chmod(directory.stat().st_mode | 0o001)  # traversable for www-data
    (root / "htdocs").mkdir()
    (root / "htdocs" / "plain.html").write_text(
        "<!DOCTYPE html>\n<html><head><title>It works</title></head>"
        "<body><p>It works</p></body></html>\n"
    )
    (root / "htdocs").chmod(0o755)
    (root / "htpasswd").write_text("")
    (root / "htpasswd").chmod(0o644)
    port = free_port()
    (root / "httpd.conf").write_text(
        CONFIG.format(root=root, port=port, modules=MODULES, user=user.pw_name,
                      group="www-data", mpm=mpm)
    )  # fmt: skip
    environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
    process = subprocess.Popen(
        [APACHE2, "-f", str(root / "httpd.conf"), "-DFOREGROUND"],
        stdout=subprocess.DEVNULL,
        stderr=(root / "stderr.log").open("w"),
        env=environment,
    )
    server = Apache(root, port, process)
    try:
        deadline = time.monotonic() + 15
        while process.poll() is None:
            try:
                wait_for_tcp(server.host, port, timeout=0.2)
                break
            except AssertionError:
                assert time.monotonic() < deadline, "apache2 did not start"
        assert process.poll() is None, (
            f"apache2 exited: {(root / 'stderr.log').read_text()}"
            f"{server.log.read_text() if server.log.exists() else ''}"
        )
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def apache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Apache]:
    """Apache with mod_status on loopback, for the whole session."""
    root = tmp_path_factory.mktemp("apache")
    server = start_apache(root)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def apache_to_stop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Apache]:
    """An Apache of its own that the test may stop (the service going away mid-way)."""
    root = tmp_path_factory.mktemp("apache-stopped")
    server = start_apache(root)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
