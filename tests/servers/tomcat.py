"""A real Tomcat 10 with the manager webapp on loopback, for check_tomcat.

Debian's Tomcat (``CATALINA_HOME=/usr/share/tomcat10``) runs from a ``CATALINA_BASE`` in a
temporary directory: the stock configuration of ``/usr/share/tomcat10/etc`` with a
``server.xml`` written here (one HTTP connector on 127.0.0.1 and a free port, no shutdown
port, no AJP), a ``tomcat-users.xml`` with the ``monitor`` user of role
``manager-status`` (and ``deployer`` of another role: authenticated but forbidden), and
the manager webapp of tomcat10-admin deployed by a Context file (and ``/vigie/token.txt``,
by which the fixture knows the port answers this Tomcat and not another process). It runs in the
foreground (``catalina.sh run``) as the test's user and starts in a few seconds, so one
server serves the whole session.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.ports import free_port
from tests.servers.running import running

CATALINA_HOME = Path("/usr/share/tomcat10")
MANAGER = Path("/usr/share/tomcat10-admin/manager")
#: Ports tried before giving up: one may be taken between free_port() and the bind.
ATTEMPTS = 3
USER, PASSWORD = "monitor", "s3cret status"
SERVER_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector address="127.0.0.1" port="{port}" protocol="HTTP/1.1"
               connectionTimeout="20000" maxThreads="25" />
    <Engine name="Catalina" defaultHost="localhost">
      <Realm className="org.apache.catalina.realm.MemoryRealm" />
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false" />
    </Engine>
  </Service>
</Server>
"""
USERS_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<tomcat-users xmlns="http://tomcat.apache.org/xml" version="1.0">
  <role rolename="manager-status"/>
  <role rolename="other"/>
  <user username="{user}" password="{password}" roles="manager-status"/>
  <user username="deployer" password="deployer" roles="other"/>
</tomcat-users>
"""
MANAGER_CONTEXT = f'<Context docBase="{MANAGER}" privileged="true" antiResourceLocking="false" />\n'


class Tomcat:
    """Where the server listens, its login, and how to stop it."""

    def __init__(self, base: Path, port: int, process: subprocess.Popen[bytes]) -> None:
        self.base, self.host, self.port, self.process = base, "127.0.0.1", port, process
        self.user, self.password = USER, PASSWORD
        self.log = base / "catalina.out"

    def stop(self) -> None:
        """SIGTERM runs Tomcat's shutdown hook; wait for the JVM to exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _answers(port: int, token: str) -> bool:
    """Whether our Tomcat serves this run's token and the manager's status page (401
    without a login: deployed), not another process that took the port."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/vigie/token.txt", timeout=1) as page:
            if page.read().decode() != token:
                return False
        urllib.request.urlopen(f"http://127.0.0.1:{port}/manager/status?XML=true", timeout=1)
    except urllib.error.HTTPError as error:
        return error.code == 401
    except OSError:
        return False
    return False


def start_tomcat(base: Path) -> Tomcat:
    """Lay out ``CATALINA_BASE`` under ``base``, start Tomcat and wait for the manager."""
    if not (CATALINA_HOME / "bin" / "catalina.sh").exists() or not MANAGER.is_dir():
        pytest.skip("Tomcat 10 is not installed (apt install tomcat10 tomcat10-admin)")
    if shutil.which("java") is None:
        pytest.skip("no Java runtime (apt install default-jre-headless)")
    conf = base / "conf"
    shutil.copytree(CATALINA_HOME / "etc", conf)
    for directory in ("logs", "temp", "work", "webapps/vigie", "conf/Catalina/localhost"):
        (base / directory).mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(8)
    (base / "webapps" / "vigie" / "token.txt").write_text(token)
    (conf / "tomcat-users.xml").write_text(USERS_XML.format(user=USER, password=PASSWORD))
    (conf / "Catalina" / "localhost" / "manager.xml").write_text(MANAGER_CONTEXT)
    for _ in range(ATTEMPTS):
        server = _start_on(base, free_port(), token)
        if server is not None:
            return server
    raise AssertionError(f"tomcat did not start: {(base / 'catalina.out').read_text()[-3000:]}")


def _start_on(base: Path, port: int, token: str) -> Tomcat | None:
    """Tomcat with its connector on ``port``, once it serves ``token`` and the manager;
    None if the port was taken meanwhile (Tomcat then runs on without the connector)."""
    (base / "conf" / "server.xml").write_text(SERVER_XML.format(port=port))
    environment = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C",
        "CATALINA_HOME": str(CATALINA_HOME),
        "CATALINA_BASE": str(base),
        "CATALINA_TMPDIR": str(base / "temp"),
        "CATALINA_OPTS": "-Xms32m -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1",
        "JAVA_HOME": os.path.realpath(shutil.which("java") or "java").removesuffix("/bin/java"),
    }
    process = subprocess.Popen(
        [str(CATALINA_HOME / "bin" / "catalina.sh"), "run"],
        stdout=(base / "catalina.out").open("w"),
        stderr=subprocess.STDOUT,
        env=environment,
        start_new_session=True,
    )
    server = Tomcat(base, port, process)
    try:
        deadline = time.monotonic() + 60
        while not _answers(port, token):
            if "Address already in use" in server.log.read_text():
                server.stop()
                return None
            assert process.poll() is None, f"tomcat exited: {server.log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"tomcat did not start: {server.log.read_text()}"
            time.sleep(0.2)
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def tomcat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tomcat]:
    """Tomcat 10 with the manager on loopback, for the whole session."""
    with running(tmp_path_factory.mktemp("tomcat"), start_tomcat) as server:
        yield server


@pytest.fixture
def tomcat_to_stop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tomcat]:
    """A Tomcat of its own that the test may stop (the service going away mid-way)."""
    with running(tmp_path_factory.mktemp("tomcat-stopped"), start_tomcat) as server:
        yield server
