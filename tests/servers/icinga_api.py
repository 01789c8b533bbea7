"""A real Icinga 2 with its API on loopback: the receiver of drp's comments and downtimes.

``icinga2 daemon`` runs from a temporary directory (``-DDataDir=…``, as root without
dropping privileges), with an ApiListener on a free port whose certificate a throwaway
openssl CA signed, an ApiUser ``drp`` and one host, ``web-1`` (no active checks).
"""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.ports import free_port, wait_for_tcp

HOST = "web-1"
USER, PASSWORD = "drp", "api-s3cret"


class IcingaApi:
    """Where the API is, its CA, a credentials file for drp, and reading objects back."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.url = f"https://127.0.0.1:{port}"
        self.ca_file = root / "ca.crt"
        self.credentials = root / "api.cred"

    def objects(self, kind: str) -> list[dict[str, object]]:
        """``GET /v1/objects/<kind>``'s attributes (comments, downtimes)."""
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request = urllib.request.Request(
            f"{self.url}/v1/objects/{kind}",
            headers={"Accept": "application/json", "Authorization": f"Basic {token}"},
        )
        context = ssl.create_default_context(cafile=str(self.ca_file))
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return [result["attrs"] for result in json.load(answer)["results"]]


@pytest.fixture
def icinga_api(tmp_path: Path) -> Iterator[IcingaApi]:
    """A running Icinga 2 API, stopped after the test."""
    icinga2 = shutil.which("icinga2") or "/usr/sbin/icinga2"
    root = tmp_path / "icinga"
    for name in ("data", "cache", "log", "spool", "run"):
        (root / name).mkdir(parents=True)
    api = IcingaApi(root, free_port())
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
         str(root / "api.key"), "-out", str(api.ca_file), "-days", "2", "-subj", "/CN=master",
         "-addext", "subjectAltName=DNS:master,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    api.credentials.write_text(f"username = {USER}\npassword = {PASSWORD}\n")
    api.credentials.chmod(0o600)
    (root / "icinga2.conf").write_text(f"""
const NodeName = "master"
const ZoneName = NodeName
include <itl>
object Endpoint NodeName {{ }}
object Zone ZoneName {{ endpoints = [ NodeName ] }}
object ApiListener "api" {{
  bind_host = "127.0.0.1"
  bind_port = {api.port}
  cert_path = "{api.ca_file}"
  key_path = "{root / "api.key"}"
  ca_path = "{api.ca_file}"
}}
object ApiUser "{USER}" {{ password = "{PASSWORD}"; permissions = [ "*" ] }}
object Host "{HOST}" {{
  check_command = "dummy"; address = "127.0.0.1"; enable_active_checks = false
}}
""")
    defines = [f"-D{name}={root / sub}" for name, sub in (
        ("DataDir", "data"), ("CacheDir", "cache"), ("LogDir", "log"), ("SpoolDir", "spool"),
        ("InitRunDir", "run"))] + ["-DRunAsUser=root", "-DRunAsGroup=root"]  # fmt: skip
    log = (root / "daemon.log").open("wb")
    daemon = subprocess.Popen([icinga2, "daemon", "-c", str(root / "icinga2.conf"), *defines],
                              stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_for_tcp("127.0.0.1", api.port, timeout=60)
        deadline = time.monotonic() + 30
        while True:  # the listener accepts before the API answers requests
            try:
                api.objects("hosts")
                break
            except OSError:
                assert time.monotonic() < deadline, (root / "daemon.log").read_text()[-2000:]
                time.sleep(0.2)
        yield api
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        log.close()
