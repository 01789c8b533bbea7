"""vigie installed into a copy of Debian's Icinga 2, as the README's "Install into Icinga 2" says.

The packages put ``icinga_conf/commands.conf`` (and the event handler's
``eventcommands.conf``) in ``/usr/share/icinga2/include/plugins-contrib.d/``, which Debian's
``include <plugins-contrib>`` reads, and the templates and apply rules in
``/usr/share/vigie/icinga2/``, which the admin includes. The tests do the same under a
temporary root: a copy of ``/etc/icinga2`` and of ``/usr/share/icinga2/include``
(``-DIncludeConfDir`` points Icinga at the copy), the admin's lines appended to the copy's
``icinga2.conf`` with the paths mapped. A daemon run this way has its own data, log, cache,
spool and run directories (``defines``), so several run side by side with the system's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from checks.registry import plugins
from tests.conftest import REPO

CONF = REPO / "icinga_conf"
ETC = Path("/etc/icinga2")  # what Debian's icinga2-common installs
INCLUDE = Path("/usr/share/icinga2/include")  # the ITL and plugins-contrib.d
SHARE = "/usr/share/vigie/icinga2"
# Where the packages install each file of icinga_conf/ (the README says the same).
PACKAGED = {
    "commands.conf": f"{INCLUDE}/plugins-contrib.d/vigie.conf",
    "eventcommands.conf": f"{INCLUDE}/plugins-contrib.d/vigie-eventcommands.conf",
    "templates.conf": f"{SHARE}/templates.conf",
    "services.conf": f"{SHARE}/services.conf",
}
# What the README tells the admin to append to /etc/icinga2/icinga2.conf.
ADMIN_LINES = [f'include "{SHARE}/templates.conf"', f'include "{SHARE}/services.conf"']
RUN_DIRS = {"DataDir": "data", "CacheDir": "cache", "LogDir": "log", "SpoolDir": "spool",
            "InitRunDir": "run"}  # fmt: skip
# Host variables that make every apply rule of services.conf apply (README's examples).
EVERY_RULE = """
  vars.vigie_local_checks = true
  vars.vigie_quota = true
  vars.vigie_backup = true
  vars.vigie_smart = true
  vars.vigie_processes["init"] = { argument = "1" }
  vars.vigie_urls["home"] = { url = "/", string = "Welcome" }
  vars.vigie_nginx_status = "/nginx_status"
  vars.vigie_apache_status = "/server-status?auto"
  vars.vigie_tomcat_status = true
  vars.vigie_elasticsearch_status = true
  vars.vigie_varnish = true
  vars.vigie_ftp = true
  vars.vigie_postfix = true
  vars.vigie_qmail = true
  vars.vigie_mysql = true
  vars.vigie_mysql_file = "/etc/icinga2/secrets/mysql.cnf"
  vars.vigie_mysql_replica = true
  vars.vigie_pgsql = true
  vars.vigie_pgsql_replication = true
  vars.vigie_dnsbl = true
  vars.vigie_drbd_resources = [ "r0" ]
  vars.vigie_ceph = true
  vars.vigie_glusterfs = true
  vars.vigie_hacluster = true
  vars.vigie_drp = true
"""


def icinga2() -> str:
    path = shutil.which("icinga2") or "/usr/sbin/icinga2"
    if not os.path.exists(path):
        pytest.skip("icinga2 is not installed (apt install icinga2)")
    return path


def declared_services() -> set[str]:
    """Every apply rule's name, from the checks' PLUGIN declarations."""
    names = {f"vigie-{entry.name}" for plugin in plugins() for entry in plugin.local}
    return names | {name for plugin in plugins() for name in plugin.services}


def defines(root: Path) -> list[str]:
    """The daemon's own directories under ``root`` (and root may run it: no nagios user)."""
    user = ["-DRunAsUser=root", "-DRunAsGroup=root"] if os.geteuid() == 0 else []
    for sub in RUN_DIRS.values():
        (root / sub).mkdir(parents=True, exist_ok=True)
    return [f"-D{name}={root / sub}" for name, sub in RUN_DIRS.items()] + user


def include_copy(include: Path) -> None:
    """Debian's include directory copied to ``include``, with vigie's packaged files in it.

    Any vigie file already in the system's plugins-contrib.d (an installed package, say)
    is left out: what is tested is this tree's.
    """
    shutil.copytree(INCLUDE, include, symlinks=True, ignore=shutil.ignore_patterns("vigie*"))
    for name, installed in PACKAGED.items():
        if installed.startswith(str(INCLUDE)) and (CONF / name).exists():
            shutil.copy(CONF / name, include / Path(installed).relative_to(INCLUDE))


def stock_install(root: Path, *, included: bool = True) -> Path:
    """Debian's Icinga 2 with vigie installed as packaged, under ``root``; its icinga2.conf.

    ``included=False`` leaves out the admin's includes of the templates and apply rules.
    """
    if not (ETC / "icinga2.conf").is_file() or not INCLUDE.is_dir():
        pytest.skip(f"{ETC} not found (apt install icinga2)")
    etc, include, share = root / "etc", root / "include", root / "share"
    shutil.copytree(ETC, etc, symlinks=True)
    include_copy(include)
    share.mkdir()
    for name, installed in PACKAGED.items():
        if installed.startswith(SHARE):
            shutil.copy(CONF / name, share / Path(installed).name)
    main = etc / "icinga2.conf"
    if not included:
        return main
    admin = "\n".join(ADMIN_LINES).replace(SHARE, str(share))
    main.write_text(main.read_text() + "\n" + admin + "\n")
    return main


def stock_host_asks(main: Path, variables: str) -> None:
    """Add ``variables`` (Icinga DSL lines) to the stock conf.d host, the node itself."""
    hosts = main.parent / "conf.d" / "hosts.conf"
    text = hosts.read_text()
    anchor = '  vars.os = "Linux"\n'
    assert anchor in text, "Debian's conf.d/hosts.conf changed: no vars.os line"
    hosts.write_text(text.replace(anchor, anchor + variables.lstrip("\n"), 1))


def validate(main: Path, root: Path, *more: str) -> subprocess.CompletedProcess[str]:
    """``icinga2 daemon -C`` on ``main`` with the copied include directory."""
    return subprocess.run(
        [icinga2(), "daemon", "-C", "-c", str(main), *defines(root), *more,
         f"-DIncludeConfDir={root / 'include'}"],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip


def netstrings(path: Path) -> list[dict[str, Any]]:
    """Records of Icinga's state and debug files: ``<length>:<json>,`` one after another."""
    data, records, index = path.read_bytes(), [], 0
    while index < len(data):
        colon = data.index(b":", index)
        length = int(data[index:colon])
        records.append(json.loads(data[colon + 1 : colon + 1 + length]))
        index = colon + 2 + length
    return records


def objects(root: Path, kind: str) -> list[dict[str, Any]]:
    """The objects of ``kind`` a validation made (its cache/icinga2.debug)."""
    return [record for record in netstrings(root / "cache" / "icinga2.debug")
            if record["type"] == kind]  # fmt: skip
