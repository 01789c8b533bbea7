"""The services Icinga 2 makes of icinga_conf/ for a host: what an apply rule really does.

``icinga2 daemon -C`` validates icinga_conf/ (constants, commands, templates, apply rules)
with the host given, in a temporary directory, and writes every object it made to
``icinga2.debug`` (netstrings of JSON): the services and their custom variables.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import REPO


def applied_services(root: Path, hosts: str) -> dict[str, dict[str, Any]]:
    """``host!service`` -> the service's properties, once icinga_conf/ is applied to
    ``hosts`` (Icinga DSL); AssertionError with Icinga's output if it does not validate."""
    icinga2 = shutil.which("icinga2") or "/usr/sbin/icinga2"
    conf = REPO / "icinga_conf"
    for name in ("data", "cache", "log", "spool", "run"):
        (root / name).mkdir()
    (root / "hosts.conf").write_text(hosts)
    files = (conf / "commands.conf", conf / "templates.conf",
             conf / "services.conf", root / "hosts.conf")  # fmt: skip
    includes = "".join(f'include "{path}"\n' for path in files)
    (root / "icinga2.conf").write_text(
        f'const PluginDir = "/usr/lib/nagios/plugins"\ninclude <itl>\ninclude <plugins>\n{includes}'
    )
    places = ("DataDir", "data"), ("CacheDir", "cache"), ("LogDir", "log"), ("SpoolDir", "spool")
    defines = [f"-D{name}={root / sub}" for name, sub in (*places, ("InitRunDir", "run"))]
    defines += ["-DRunAsUser=root", "-DRunAsGroup=root"]
    result = subprocess.run([icinga2, "daemon", "-C", "-c", str(root / "icinga2.conf"), *defines],
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    services, debug, index = {}, (root / "cache" / "icinga2.debug").read_bytes(), 0
    while index < len(debug):  # netstrings: <length>:<json>,
        colon = debug.index(b":", index)
        length = int(debug[index:colon])
        record = json.loads(debug[colon + 1 : colon + 1 + length])
        index = colon + 2 + length
        if record["type"] == "Service":
            properties = record["properties"]
            services[f"{properties['host_name']}!{properties['name']}"] = properties
    return services
