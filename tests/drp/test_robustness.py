"""drp and check_backup when things go wrong around them: stuck ssh, locks held too long,
permissions, full disks, bad bytes, signals, clocks set back (issue 7)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.drp.helpers import DAY, EVEN_NOON, drp, make_tree, write_config
from tests.servers.sshd import Sshd

SSH = shutil.which("ssh") or "/usr/bin/ssh"


def stubborn_ssh(directory: Path, *, honour_exit: bool) -> Path:
    """A ``ssh`` on PATH whose processes ignore SIGTERM (an ignored disposition survives
    exec), as a ControlMaster stuck in ``poll`` under load behaves; without
    ``honour_exit`` it also ignores ``ssh -O exit``, so only SIGKILL ends the master."""
    directory.mkdir()
    swallow = "" if honour_exit else 'case " $* " in *" -O "*) exit 0;; esac\n'
    script = directory / "ssh"
    script.write_text(f"#!/bin/sh\ntrap '' TERM\n{swallow}exec {SSH} \"$@\"\n")
    script.chmod(0o755)
    return directory


def remote_config(tmp_path: Path, sshd: Sshd) -> Path:
    """Target A local, B over ssh to the real sshd on loopback, one small environment."""
    source = make_tree(tmp_path / "src", 1, 2)
    for name in ("A", "B"):
        (tmp_path / name).mkdir()
    return write_config(
        tmp_path / "drp.toml",
        a=str(tmp_path / "A"),
        b=f"{sshd.alias}:{tmp_path / 'B'}",
        ssh_config=sshd.ssh_config,
        environments={"www": {"paths": [str(source)]}},
    )


@pytest.mark.parametrize("honour_exit", [True, False], ids=["O-exit", "SIGKILL"])
def test_closing_an_ssh_master_that_ignores_sigterm_is_bounded(tmp_path, sshd, honour_exit):
    config = remote_config(tmp_path, sshd)
    wrappers = stubborn_ssh(tmp_path / "bin", honour_exit=honour_exit)
    path = f"{wrappers}{os.pathsep}{os.environ['PATH']}"
    started = time.monotonic()
    result = drp(config, "backup", "files", now=EVEN_NOON + DAY, timeout=60, PATH=path)
    took = time.monotonic() - started
    assert (result.returncode, result.stderr) == (0, "")
    assert took < 20, took
    assert not [pid for pid in pids() if str(sshd.ssh_config) in cmdline(pid)]


def pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
