"""vigie's Nagios definitions in a nagios.cfg of their own, or dropped into a copy of Debian's
stock ``/etc/nagios4`` as the README's "Install into Nagios" says; ``nagios4 -v`` on it."""

from __future__ import annotations

import getpass
import grp
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

NAGIOS = REPO / "icinga_conf" / "nagios"
STOCK = Path("/etc/nagios4")  # what Debian's nagios4-core installs
SHARE = "/usr/share/vigie/nagios"  # where the packages install icinga_conf/nagios/
ADMIN_LINE = f"cfg_dir={SHARE}"  # what the README tells the admin to add to nagios.cfg
SHIPPED = ("commands.cfg", "templates.cfg", "services.cfg")


def nagios4() -> str:
    path = shutil.which("nagios4") or "/usr/sbin/nagios4"
    if not Path(path).exists():
        pytest.skip("nagios4 is not installed (apt install nagios4-core)")
    return path


def hostgroups(path: Path) -> list[str]:
    return re.findall(r"^\s*hostgroup_name\s+(\S+)\s*$", path.read_text(), re.M)


def services(path: Path) -> int:
    return path.read_text().count("define service {")


def as_this_user(lines: str) -> str:
    """Nagios drops to nagios_user before reading the objects: stay the user of the test."""
    user, group = getpass.getuser(), grp.getgrgid(os.getgid()).gr_name
    lines = re.sub(r"^nagios_user=.*$", f"nagios_user={user}", lines, flags=re.M)
    return re.sub(r"^nagios_group=.*$", f"nagios_group={group}", lines, flags=re.M)


def configuration(root: Path, files: list[Path]) -> Path:
    """A nagios.cfg under ``root`` reading ``files``, the samples, and a host in every group."""
    groups = ",".join(dict.fromkeys(hostgroups(NAGIOS / "services.cfg")))
    (root / "hosts.cfg").write_text(
        "define host {\n    use linux-server\n    host_name web1\n    address 127.0.0.1\n"
        f"    check_command vigie-uptime\n    hostgroups {groups}\n}}\n"
    )
    sample_names = ("commands.cfg", "contacts.cfg", "timeperiods.cfg", "templates.cfg")
    samples = [STOCK / "objects" / name for name in sample_names]
    lines = [f"cfg_file={path}" for path in [*samples, root / "hosts.cfg", *files]]
    lines += [f"{key}={root / value}" for key, value in (
        ("object_cache_file", "objects.cache"), ("precached_object_file", "objects.precache"),
        ("status_file", "status.dat"), ("lock_file", "nagios.pid"), ("temp_file", "nagios.tmp"),
        ("check_result_path", ""), ("log_file", "nagios.log"))]  # fmt: skip
    lines += ["nagios_user=", "nagios_group=", "illegal_macro_output_chars=`~$&|'\"<>"]
    main = root / "nagios.cfg"
    main.write_text(as_this_user("\n".join(lines) + "\n"))
    return main


def stock_install(root: Path) -> Path:
    """A copy of Debian's /etc/nagios4 with vigie installed as packaged; its nagios.cfg."""
    if not (STOCK / "nagios.cfg").is_file():
        pytest.skip(f"{STOCK} not found (apt install nagios4-core)")
    etc, share, var = root / "etc", root / "share", root / "var"
    shutil.copytree(STOCK, etc)
    share.mkdir()
    for name in SHIPPED:
        shutil.copy(NAGIOS / name, share / name)
    for name in ("eventcommands.cfg", "nrpe.cfg.example"):  # the *.example is not read
        if (NAGIOS / name).exists():
            shutil.copy(NAGIOS / name, share / name)
    for sub in ("lib/rw", "lib/spool/checkresults", "log/archives", "run"):
        (var / sub).mkdir(parents=True)
    main = etc / "nagios.cfg"
    text = main.read_text().replace(str(STOCK), str(etc))
    for old, new in (("/var/lib/nagios4", "lib"), ("/var/log/nagios4", "log"),
                     ("/var/run/nagios4", "run")):  # fmt: skip
        text = text.replace(old, str(var / new))
    main.write_text(as_this_user(text) + ADMIN_LINE.replace(SHARE, str(share)) + "\n")
    return main


def verify(main: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nagios4(), "-v", str(main)], capture_output=True, text=True, timeout=60, check=False
    )


def clean(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout
    assert "Total Warnings: 0" in result.stdout, result.stdout
    assert "Total Errors:   0" in result.stdout, result.stdout
