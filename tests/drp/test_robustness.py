"""drp and check_backup when things go wrong around them: stuck ssh, locks held too long,
permissions, full disks, bad bytes, signals, clocks set back (issue 7)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import executable
from tests.drp.helpers import (
    DAY,
    EVEN_NOON,
    drp,
    held_lock,
    local_site,
    make_tree,
    wait_for,
    write_config,
)
from tests.servers.sshd import Sshd

SSH = shutil.which("ssh") or "/usr/bin/ssh"
HOUR = 3600


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


# --- a run that holds its lock for too long (item 3) ----------------------------------


def test_a_refused_run_names_the_holder_and_fails_once_it_held_too_long(tmp_path, monkeypatch):
    from checks import backup
    from drptools import status

    _, config = local_site(tmp_path)
    lock = Path(status.state_dir()) / "locks" / "files.www.lock"
    environment = dict(os.environ, TZ="Europe/Paris", VIGIE_DRP_NOW=str(EVEN_NOON),
                       VIGIE_DRP_LOCK_WAIT="30")  # fmt: skip
    with held_lock(tmp_path / "A" / "www" / "files" / ".lock"):  # the holder waits on it
        holder = subprocess.Popen(
            [executable("drp"), "-c", str(config), "backup", "files", "--target", "A"],
            env=environment,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(lambda: lock.exists() and lock.read_text().startswith(f"{holder.pid} "),
                     what="the first run holding its local lock")  # fmt: skip
            busy = drp(config, "backup", "files", "--target", "A", now=EVEN_NOON + 90)
            hung = drp(config, "backup", "files", "--target", "A", now=EVEN_NOON + 21 * HOUR)
            monkeypatch.setenv("VIGIE_DRP_NOW", str(EVEN_NOON + 21 * HOUR))
            outcome = backup.PLUGIN.run(["--config", str(config)])
        finally:
            holder.kill()
            holder.communicate()
    head = f"drp: backup files www to A failed: another drp run holds {lock} (pid {holder.pid}"
    assert (busy.returncode, busy.stderr) == (75, f"{head}, for 1 min 30 s)\n")
    assert (hung.returncode, hung.stderr) == (
        1,
        f"{head}, for 21 h): longer than limits.files_minutes (1200 min), so it looks hung: "
        f"see what pid {holder.pid} does, kill it if it is stuck\n",
    )
    assert outcome.state == 2  # no backup at all, besides
    assert (
        f"www files on A: the run started 21 h ago (pid {holder.pid}) still runs, longer than "
        "limits.files_minutes (20 h): hung?"
    ) in outcome.text


def test_limits_are_validated_like_every_key():
    from drptools.config import ConfigError, parse
    from tests.drp.test_config import GOOD

    with pytest.raises(ConfigError) as raised:
        parse({**GOOD, "limits": {"files_minutes": 0, "db_minutes": "2h", "dumps": 1}})
    assert raised.value.problems == [
        "limits.dumps: unknown key (known here: files_minutes, db_minutes)",
        "limits.files_minutes: 0 is out of range (expected 1 to 100000)",
        "limits.db_minutes: expected an integer, found a string '2h'",
    ]
    loaded = parse({**GOOD, "limits": {"db_minutes": 100}})
    assert loaded.limits == {"files": 1200, "db": 100}


# --- check_backup's -t --------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e10", "86401", "9.3e9"])
def test_a_timeout_beyond_a_day_is_refused_with_one_unknown_line(value):
    result = subprocess.run(
        [executable("check_backup"), "-t", value, "--config", "/nonexistent"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        3,
        f"BACKUP UNKNOWN - argument -t/--timeout: {value!r} is more than 86400 seconds (a day) "
        "(see check_backup --help)\n",
        "",
    )


# --- the clock set back ---------------------------------------------------------------------


def test_with_the_clock_set_back_a_run_never_prunes_the_snapshot_it_wrote(tmp_path):
    from drptools import layout

    _, config = local_site(tmp_path)
    config.write_text(config.read_text() + "\n[retention]\nfiles = 1\n")
    assert drp(config, "backup", "files", now=EVEN_NOON + 2 * DAY).returncode == 0
    back = drp(config, "backup", "files", now=EVEN_NOON)  # the clock went 2 days back
    assert (back.returncode, back.stderr) == (0, "")
    (record,) = json.loads(drp(config, "status", "--json").stdout)
    assert record["snapshot"] == layout.stamp(EVEN_NOON)
    files = tmp_path / "A" / "www" / "files"
    assert (files / layout.stamp(EVEN_NOON) / layout.MARKER).exists()
    assert (files / layout.stamp(EVEN_NOON + 2 * DAY) / layout.MARKER).exists()  # the future
