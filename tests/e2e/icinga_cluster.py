"""Icinga 2 nodes on loopback for the end-to-end tests: their PKI, configuration and REST API.

Each node is a real ``icinga2 daemon`` with its own configuration, data, log and run
directories and its own API port; its certificate is signed by the master's CA with
``icinga2 pki new-ca``, ``new-cert`` and ``sign-csr`` (run with the node's ``DataDir``, where
the ApiListener looks for ``certs/<NodeName>.crt``). Every node reads vigie's CheckCommands
as the package installs them: from ``plugins-contrib.d/vigie.conf`` of a copied include
directory (``-DIncludeConfDir``). The REST API is read with the CA's certificate.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.icinga_install import defines, icinga2, include_copy
from tests.servers.ports import free_port, wait_for_tcp


@dataclass
class Node:
    """One icinga2 daemon: where it lives, its API port, and the process once started."""

    name: str
    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def main(self) -> Path:
        return self.root / "icinga2.conf"

    @property
    def certs(self) -> Path:
        return self.root / "data" / "certs"


def include_directory(root: Path) -> Path:
    """A copy of the ITL and plugins-contrib.d with the packaged vigie.conf in it."""
    include = root / "include"
    if not include.exists():
        include_copy(include)
    return include


def pki(node: Node, command: list[str]) -> None:
    """``icinga2 pki …`` as root, with the node's directories (the CA lives in data/ca)."""
    subprocess.run([icinga2(), "pki", *command, *defines(node.root)],
                   check=True, capture_output=True, timeout=60)  # fmt: skip


def certify(master: Node, nodes: list[Node]) -> Path:
    """The master's CA signs every node's certificate; the CA certificate's path."""
    pki(master, ["new-ca"])
    ca = master.root / "data" / "ca" / "ca.crt"
    for node in nodes:
        node.certs.mkdir(parents=True, exist_ok=True)
        key, csr, cert = (node.certs / f"{node.name}.{ext}" for ext in ("key", "csr", "crt"))
        pki(master, ["new-cert", "--cn", node.name, "--key", str(key), "--csr", str(csr)])
        pki(master, ["sign-csr", "--csr", str(csr), "--cert", str(cert)])
        shutil.copy(ca, node.certs / "ca.crt")
    return ca


def preamble(node: Node, zone_objects: str, listener: str) -> str:
    """The constants, ITL and vigie commands, zones and API listener every node has."""
    return f"""
const PluginDir = "/usr/lib/nagios/plugins"
const PluginContribDir = "/usr/lib/nagios/plugins"
const NodeName = "{node.name}"
const ZoneName = NodeName
include <itl>
include <plugins>
include <plugins-contrib>
{zone_objects}
object ApiListener "api" {{
  bind_host = "127.0.0.1"
  bind_port = {node.port}
  {listener}
}}
"""


FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")


class Clock:
    """A daemon's clock that the test moves forward (libfaketime reading an offset file).

    Only the wall clock moves: with the monotonic clock faked too, Icinga's checker never
    wakes up.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.write_text("+0\n")

    def env(self) -> dict[str, str]:
        return {"LD_PRELOAD": str(FAKETIME), "FAKETIME_TIMESTAMP_FILE": str(self.path),
                "FAKETIME_CACHE_DURATION": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}  # fmt: skip

    def forward(self, seconds: int) -> None:
        self.path.write_text(f"+{seconds}\n")


def start(node: Node, *, clock: Clock | None = None, env: dict[str, str] | None = None) -> None:
    """Start the daemon (on ``clock`` if given) and wait for its API port."""
    include = include_directory(node.root.parent)
    log = (node.root / "daemon.log").open("ab")
    command = [icinga2(), "daemon", "-c", str(node.main), *defines(node.root),
               f"-DIncludeConfDir={include}", f"-DZonesDir={node.root / 'zones.d'}"]  # fmt: skip
    environment = dict(os.environ, **(env or {}), **(clock.env() if clock else {}))
    node.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
    log.close()
    process = node.process

    def listening() -> bool:
        assert process.poll() is None, (node.root / "daemon.log").read_text()[-3000:]
        try:
            wait_for_tcp("127.0.0.1", node.port, timeout=0.5)
        except AssertionError:
            return False
        return True

    wait_for(f"{node.name}'s API listening", listening, 60)


def stop(node: Node) -> None:
    if node.process and node.process.poll() is None:
        node.process.send_signal(signal.SIGTERM)
        try:
            node.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait()


class Api:
    """The master's REST API, as an ApiUser with a password of the test's."""

    def __init__(self, node: Node, ca: Path) -> None:
        self.node = node
        self.password = secrets.token_hex(16)
        self.context = ssl.create_default_context(cafile=str(ca))
        self.context.check_hostname = False  # the certificate names the node, not 127.0.0.1

    def user(self) -> str:
        """The ApiUser object for the master's configuration."""
        return (f'object ApiUser "vigie-test" {{\n  password = "{self.password}"\n'
                '  permissions = [ "objects/query/*" ]\n}\n')  # fmt: skip

    def services(self, host: str) -> dict[str, dict[str, Any]]:
        """Service short name -> its attributes, for the services of ``host``."""
        query = urllib.parse.urlencode({"filter": f'host.name=="{host}"'})
        url = f"https://127.0.0.1:{self.node.port}/v1/objects/services?{query}"
        token = base64.b64encode(f"vigie-test:{self.password}".encode()).decode()
        request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}",
                                                       "Accept": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, context=self.context, timeout=10) as answer:
            results = json.load(answer)["results"]
        return {result["attrs"]["name"]: result["attrs"] for result in results}


def wait_for(what: str, condition: Callable[[], Any], within: float, every: float = 0.5) -> Any:
    """Poll ``condition`` until it returns something true; AssertionError after ``within``."""
    deadline, last = time.monotonic() + within, None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what}: not within {within} s")
