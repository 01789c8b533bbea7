"""What the package tests share: Debian's own environment, what the packages hold and
where, and running a command as the admin would."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from tests.conftest import REPO

#: Debian's own tools and python3, never a pyenv or venv python found first on PATH.
SYSTEM_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root"}
APT_ENV = {**SYSTEM_ENV, "DEBIAN_FRONTEND": "noninteractive"}
SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
COMMANDS = {"vigie", "drp"}
PLUGINS = sorted(set(SCRIPTS) - COMMANDS)
CONTRIB = "/usr/share/icinga2/include/plugins-contrib.d"
TIMERS = ("db", "files", "prestage", "verify")
#: A plugin's first line: ``NAME STATE - summary | perfdata``.
STATUS_LINE = re.compile(r"^[A-Z_]+ (OK|WARNING|CRITICAL|UNKNOWN) - .+")


def system(*command: str | Path, env: dict[str, str] = SYSTEM_ENV, timeout: float = 300,
           cwd: Path | str = "/") -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run ``command`` with Debian's PATH; fail the test with its output if it fails."""
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, env=env,
        timeout=timeout, check=False, cwd=cwd,
    )  # fmt: skip
    assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
    return result
