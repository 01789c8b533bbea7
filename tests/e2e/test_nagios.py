"""icinga_conf/nagios/ with Debian's Nagios 4: ``nagios4 -v`` validates the definitions."""

from __future__ import annotations

import getpass
import grp
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration

NAGIOS = REPO / "icinga_conf" / "nagios"
# Nagios' own sample objects: notification commands, contacts, timeperiods, templates.
SAMPLES = Path("/etc/nagios4/objects")


def nagios4() -> str:
    path = shutil.which("nagios4") or "/usr/sbin/nagios4"
    if not Path(path).exists():
        pytest.skip("nagios4 is not installed (apt install nagios4-core)")
    return path


def configuration(root: Path, files: list[Path]) -> Path:
    """A nagios.cfg under ``root`` reading ``files``, a host in vigie-local, and the samples."""
    (root / "hosts.cfg").write_text(
        "define host {\n    use linux-server\n    host_name web1\n    address 127.0.0.1\n"
        "    check_command vigie-uptime\n    hostgroups vigie-local,vigie-reach\n}\n"
    )
    samples = [
        SAMPLES / name
        for name in ("commands.cfg", "contacts.cfg", "timeperiods.cfg", "templates.cfg")
    ]
    lines = [f"cfg_file={path}" for path in [*samples, root / "hosts.cfg", *files]]
    lines += [f"{key}={root / value}" for key, value in (
        ("object_cache_file", "objects.cache"), ("precached_object_file", "objects.precache"),
        ("status_file", "status.dat"), ("lock_file", "nagios.pid"), ("temp_file", "nagios.tmp"),
        ("check_result_path", ""), ("log_file", "nagios.log"))]  # fmt: skip
    # Nagios drops to nagios_user before reading the objects: stay the user of the test.
    user, group = getpass.getuser(), grp.getgrgid(os.getgid()).gr_name
    lines += [f"nagios_user={user}", f"nagios_group={group}"]
    main = root / "nagios.cfg"
    main.write_text("\n".join(lines) + "\n")
    return main


def verify(main: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nagios4(), "-v", str(main)], capture_output=True, text=True, timeout=60, check=False
    )


def test_nagios_validates_the_definitions(tmp_path):
    files = [NAGIOS / name for name in ("commands.cfg", "templates.cfg", "services.cfg")]
    result = verify(configuration(tmp_path, files))
    assert result.returncode == 0, result.stdout
    assert "Total Errors:   0" in result.stdout
    # One host per hostgroup: as many services as the file defines.
    defined = (NAGIOS / "services.cfg").read_text().count("define service")
    assert f"Checked {defined} services." in result.stdout


def test_nagios_refuses_services_without_their_commands(tmp_path):
    """The harness really validates: without commands.cfg the services are refused."""
    files = [NAGIOS / name for name in ("templates.cfg", "services.cfg")]
    result = verify(configuration(tmp_path, files))
    assert result.returncode != 0
    assert "vigie-load" in result.stdout
