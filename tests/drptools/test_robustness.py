"""drp and check_backup when things go wrong around them: stuck ssh, locks held too long,
permissions, full disks, bad bytes, signals, clocks set back (issue 7)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from tests.conftest import executable
from tests.helpers.drp import (
    DAY,
    EVEN_NOON,
    drp,
    held_lock,
    local_site,
    make_tree,
    notify_by_mail,
    wait_for,
    write_config,
)
from tests.servers.sshd import Sshd

SSH = shutil.which("ssh") or "/usr/bin/ssh"
HOUR = 3600
T = TypeVar("T")


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
    from checks.backup import backup
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
    from tests.helpers.drp import GOOD

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


# --- who can read the state (item 7) --------------------------------------------------------


@pytest.fixture
def public(tmp_path, monkeypatch):
    """A directory other users can reach (pytest's own are root's alone), as state."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="vigie-h1-", dir="/tmp"))
    root.chmod(0o755)
    monkeypatch.setenv("VIGIE_STATE_DIR", str(root / "state"))
    try:
        yield root
    finally:
        shutil.rmtree(root)


def as_user(user: str, function: Callable[[], T]) -> T:
    """``function()`` in a forked child running as ``user`` (its groups too), as the
    monitoring engine runs check_backup; the parent imported everything beforehand."""
    import pickle
    import pwd

    entry = pwd.getpwnam(user)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read)
            os.setgroups(os.getgrouplist(user, entry.pw_gid))
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            data = pickle.dumps(function())
        except BaseException as error:
            data = pickle.dumps(RuntimeError(f"{type(error).__name__}: {error}"))
        with os.fdopen(write, "wb") as pipe:
            pipe.write(data)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    result = pickle.loads(data)
    if isinstance(result, RuntimeError):
        raise result
    return result  # type: ignore[no-any-return]


def check_as(
    user: str, config: Path, now: float, prepare: Callable[[], object] = lambda: None
) -> tuple[int, str]:
    """check_backup's state and summary when ``user`` runs it (after ``prepare()``); the
    targets' verification is not judged here."""
    from checks.backup import backup

    os.environ["VIGIE_DRP_NOW"] = str(int(now))
    arguments = ["--config", str(config), "--unverified", "ok"]
    try:
        backup.PLUGIN.run(arguments)  # imports all it needs, as root
        prepare()

        def judge() -> tuple[int, str]:
            outcome = backup.PLUGIN.run(arguments)
            return outcome.state, outcome.summary

        return as_user(user, judge)
    finally:
        del os.environ["VIGIE_DRP_NOW"]


def backup_two_days_under_umask_077(config: Path) -> None:
    """Give the state to the group ``nagios``, then back up on two days under umask 077."""
    config.write_text(config.read_text() + '\n[status]\ngroup = "nagios"\n')
    config.chmod(0o644)
    for day in (0, 1):
        result = subprocess.run(
            [executable("drp"), "-c", str(config), "backup", "files"],
            env=dict(os.environ, VIGIE_DRP_NOW=str(EVEN_NOON + day * DAY)),
            umask=0o077,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert (result.returncode, result.stderr) == (0, "")


def test_under_umask_077_the_monitoring_group_still_reads_the_records(public, sshd):
    source = make_tree(public / "src", 1, 2)
    for name in ("A", "B"):
        (public / name).mkdir()
    config = write_config(  # remote targets: check_backup judges them by the records alone
        public / "drp.toml",
        a=f"{sshd.alias}:{public / 'A'}",
        b=f"{sshd.alias}:{public / 'B'}",
        ssh_config=sshd.ssh_config,
        environments={"www": {"paths": [str(source)]}},
    )
    backup_two_days_under_umask_077(config)
    state = Path(os.environ["VIGIE_STATE_DIR"])
    for path, mode in ((state, 0o755), (state / "drp", 0o750),
                       (state / "drp" / "files.www.A.json", 0o640)):  # fmt: skip
        assert (oct(path.stat().st_mode & 0o777), path.group()) == (
            oct(mode),
            "nagios" if mode != 0o755 else "root",
        ), path
    assert check_as("nagios", config, EVEN_NOON + DAY + HOUR) == (
        0,
        "www: files 1 h old (A 1 d 1 h, B 1 h)",
    )


def test_under_umask_077_the_monitoring_group_still_reads_local_targets(public):
    _, config = local_site(public)
    backup_two_days_under_umask_077(config)
    files = public / "A" / "www" / "files"
    for path in (files.parent, files, next(files.glob("2*")) / "COMPLETE"):
        assert path.group() == "nagios", path
    assert check_as("nagios", config, EVEN_NOON + DAY + HOUR) == (
        0,
        "www: files 1 h old (A 1 d 1 h, B 1 h)",
    )


def test_a_record_the_monitoring_user_cannot_read_is_unknown_never_skipped(public, monkeypatch):
    from drptools import layout, status

    _, config = local_site(public)
    for path in (public / "A", public / "B", config):
        path.chmod(0o755 if path.is_dir() else 0o644)
    for target, when in (("A", EVEN_NOON), ("B", EVEN_NOON - DAY)):
        snapshot = public / target / "www" / "files" / layout.stamp(when)
        (snapshot / "data").mkdir(parents=True)
        (snapshot / layout.MARKER).write_text("{}\n")
        for directory in (snapshot.parent.parent, snapshot.parent, snapshot):
            directory.chmod(0o755)
    status.write("files.www.A", {"what": "files", "environment": "www", "target": "A",
                                 "result": "failed", "started": EVEN_NOON + HOUR,
                                 "error": "copying www to A: rsync said no"})  # fmt: skip
    directory = Path(status.state_dir())
    path = directory / "files.www.A.json"
    assert check_as("nobody", config, EVEN_NOON + 2 * HOUR, lambda: directory.chmod(0o700)) == (
        3,
        f"cannot read the status record {path}: Permission denied",
    )


# --- a state directory that cannot be written (item 8) --------------------------------------


@pytest.fixture
def mail_sink():
    """A real SMTP server on loopback (tests/helpers/drp.py's), and the mails it got."""
    from tests.helpers.drp import mail_sink

    with mail_sink() as sink:
        yield sink


def mailed(mails: list[tuple[str, list[str], str]]) -> str:
    """The text of the one mail received."""
    import email
    import email.policy

    ((_, _, mail),) = mails
    message = email.message_from_string(mail, policy=email.policy.default)
    return message.get_content()  # type: ignore[no-any-return]


def test_a_file_where_the_state_directory_should_be_is_one_line_and_a_mail(tmp_path, mail_sink):
    from drptools import status

    port, mails = mail_sink
    _, config = local_site(tmp_path)
    notify_by_mail(config, port)
    state = Path(status.state_dir())
    state.parent.mkdir(parents=True)
    state.write_text("not a directory\n")
    result = drp(config, "backup", "files", now=EVEN_NOON)
    line = (
        f"backup files www to A failed: cannot create the lock {state}/locks/files.www.lock: "
        f"{state}: not a directory"
    )
    assert (result.returncode, result.stderr) == (1, f"drp: {line}\n")
    assert line in mailed(mails)


def test_a_full_state_filesystem_is_one_line_and_a_mail(tmp_path, mail_sink):
    from drptools import status

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("mounting a tmpfs needs root and unshare (util-linux)")
    port, mails = mail_sink
    _, config = local_site(tmp_path)
    notify_by_mail(config, port)
    state = Path(status.state_dir())
    state.mkdir(parents=True)
    # In a mount namespace of drp's own: a 64 KiB tmpfs on the state directory, filled up
    # after the lock file got its page (so the lock works and the record cannot be written).
    fill = (
        'mount -t tmpfs -o size=64k vigie-full "$1" && mkdir "$1/locks" && '
        'echo 1 >"$1/locks/files.www.lock" && '
        '{ dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null; true; } && shift && exec "$@"'
    )
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", fill, "sh", str(state),
         executable("drp"), "-c", str(config), "backup", "files"],
        env=dict(os.environ, VIGIE_DRP_NOW=str(EVEN_NOON), TZ="Europe/Paris"),
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    line = (
        f"backup files www to A failed: cannot write the status record files.www.A in "
        f"{state}: No space left on device"
    )
    assert (result.returncode, result.stderr) == (1, f"drp: {line}\n")
    assert line in mailed(mails)


# --- PostgreSQL dying mid-dump (item 10) ----------------------------------------------------


@pytest.mark.integration
def test_postgresql_dying_mid_dump_shows_pg_dumps_error_line(tmp_path, postgresql):
    postgresql.psql("CREATE DATABASE accounts;")
    postgresql.psql("CREATE TABLE ledger (id int); INSERT INTO ledger VALUES (1);", "accounts")
    (tmp_path / "A").mkdir()
    (tmp_path / "src").mkdir()
    config = write_config(
        tmp_path / "drp.toml",
        a=str(tmp_path / "A"),
        b=str(tmp_path / "B"),
        environments={"www": {"paths": [str(tmp_path / "src")]}},
        databases={"environments.www.databases.accounts": {
            "engine": "postgresql", "host": postgresql.host, "port": postgresql.port,
            "user": postgresql.user, "password_file": str(postgresql.password_file),
            "targets": ["A"], "globals": False,
        }},
    )  # fmt: skip
    # A session holding the table keeps pg_dump waiting in the middle of its work, where
    # its server process is then killed, as when the server dies.
    blocker = subprocess.Popen(
        [str(postgresql.binaries / "psql"), "-X", "-q", "-h", postgresql.host, "-p",
         str(postgresql.port), "-U", postgresql.user, "-d", "accounts", "-c",
         "BEGIN; LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);"],
        env=dict(os.environ, PGPASSWORD=postgresql.password),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        dump = subprocess.Popen(
            [executable("drp"), "-c", str(config), "backup", "db"],
            env=dict(os.environ, VIGIE_DRP_NOW=str(EVEN_NOON)),
            stderr=subprocess.PIPE,
            text=True,
        )
        waiting = (
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'pg_dump' "
            "AND wait_event_type = 'Lock'"
        )
        pid = wait_for(lambda: postgresql.psql(waiting).strip(), what="pg_dump waiting")
        postgresql.psql(f"SELECT pg_terminate_backend({pid})")
        _, err = dump.communicate(timeout=60)
    finally:
        blocker.kill()
        blocker.wait()
    assert dump.returncode == 1
    assert err.startswith(
        "drp: backup db www/accounts to A failed: dumping www/accounts: exited 1: "
        "pg_dump: error: query failed: "
    ), err
    assert "Query was" not in err, err
    assert err.count("\n") == 1, err


def test_drp_status_shows_a_run_past_its_limit_as_hung(tmp_path):
    from drptools import status

    _, config = local_site(tmp_path)
    fifo = tmp_path / "blocked.toml"
    os.mkfifo(fifo)
    # A drp that stays alive: it waits for a writer to open its configuration.
    live = subprocess.Popen([executable("drp"), "-c", str(fifo), "status"])
    try:
        for target, started in (("A", EVEN_NOON), ("B", EVEN_NOON + 20 * HOUR)):
            record = {"what": "files", "environment": "www", "target": target,
                      "result": "running", "started": started, "pid": live.pid}  # fmt: skip
            status.write(f"files.www.{target}", record)
        listed = drp(config, "status", now=EVEN_NOON + 21 * HOUR)
    finally:
        live.kill()
        live.wait()
    assert listed.returncode == 0
    results = [line.split()[3] for line in listed.stdout.splitlines()[1:]]
    assert results == ["hung", "running"]
