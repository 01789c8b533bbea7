"""The ``drp`` command as cron, systemd and a person at 3 a.m. use it."""

from __future__ import annotations

import os
import subprocess

import pytest

from checks import __version__
from drptools.cli import HANDLERS, build_parser
from tests.conftest import executable
from tests.helpers.drp import EVEN_NOON, drp, local_site, mail_sink, notify_by_mail

ACTIONS = [
    ["config", "check"], ["backup", "files"], ["backup", "db"], ["snapshots"],
    ["verify", "files"], ["verify", "db"], ["prune"], ["status"], ["event-handler"],
]  # fmt: skip


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [executable("drp"), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, **env),
        timeout=60,
        check=False,
    )


@pytest.fixture
def site(tmp_path):
    return local_site(tmp_path)


def test_help_lists_every_action():
    result = run("--help")
    assert result.returncode == 0
    for action in ("config", "backup", "snapshots", "verify", "prune", "status"):
        assert f"\n    {action} " in result.stdout
    assert "exit status: 0 ok; 1 " in result.stdout
    assert set(HANDLERS) >= {"backup_files", "backup_db"}


@pytest.mark.parametrize("action", ACTIONS, ids=" ".join)
def test_each_action_has_help(action):
    result = run(*action, "--help")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"usage: drp {' '.join(action)} ")
    assert "--config FILE" in result.stdout


def test_version():
    assert run("-V").stdout == f"drp (vigie {__version__})\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [([], "drp: the following arguments are required: ACTION (see drp --help)"),
     (["backup"], "drp backup: the following arguments are required: KIND (see drp backup "
      "--help)"),
     (["restore"], "drp: argument ACTION: invalid choice: 'restore'"),
     (["backup", "files", "--target", "C"], "drp backup files: argument --target: invalid "
      "choice: 'C' (choose from 'A', 'B') (see drp backup files --help)"),
     (["verify", "db"], "drp verify db: the following arguments are required: "
      "ENVIRONMENT (see drp verify db --help)"),
     (["verify", "files", "--rolling", "0"], "drp verify files: argument --rolling: '0' is "
      "not a number of days from 1 to 366 (see drp verify files --help)"),
     (["prune", "--dryrun"], "drp: unrecognized arguments: --dryrun (see drp --help)")],
)  # fmt: skip
def test_bad_use_is_one_line_and_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(message), result.stderr


def test_naming_what_the_configuration_lacks_is_bad_use(site):
    _, config = site
    for args, message in (
        (["backup", "files", "shop"], "drp: no environment 'shop' in"),
        (["backup", "db"], "drp: no database configured in the environment(s) chosen"),
        (["backup", "db", "--database", "x"], "drp: environment 'www' has no database 'x'"),
        (["verify", "db", "www", "--database", "x"], "drp: environment 'www' has no database"),
    ):
        result = drp(config, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith(message), result.stderr


def test_success_is_silent_for_cron_and_one_line_per_backup_with_v(site):
    _, config = site
    quiet = drp(config, "backup", "files", now=EVEN_NOON)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    told = drp(config, "-v", "backup", "files", now=EVEN_NOON + 2 * 86400)
    assert told.returncode == 0
    assert told.stderr.startswith("drp: backup files www to A: snapshot ")
    assert told.stderr.count("\n") == 1


def test_under_systemd_lines_carry_journal_priorities(site, tmp_path):
    _, config = site
    log = tmp_path / "journal"
    with log.open("w") as stream:
        status = os.fstat(stream.fileno())
        environment = dict(
            os.environ,
            JOURNAL_STREAM=f"{status.st_dev}:{status.st_ino}",
            VIGIE_DRP_NOW=str(EVEN_NOON),
        )
        subprocess.run(
            [executable("drp"), "-c", str(config), "backup", "files"],
            stderr=stream,
            env=environment,
            check=True,
        )
        (tmp_path / "src").rename(tmp_path / "gone")
        environment["VIGIE_DRP_NOW"] = str(EVEN_NOON + 2 * 86400)
        failed = subprocess.run(
            [executable("drp"), "-c", str(config), "backup", "files"],
            stderr=stream,
            env=environment,
            check=False,
        )
    assert failed.returncode == 1
    lines = log.read_text().splitlines()
    assert lines[0].startswith("<6>drp: backup files www to A: snapshot ")
    assert lines[1].startswith("<3>drp: backup files www to A failed: copying www to A")


def test_a_failed_backup_is_mailed(site):
    tmp_path, config = site
    with mail_sink() as (port, received):
        notify_by_mail(config, port)
        assert drp(config, "backup", "files", now=EVEN_NOON).returncode == 0
        assert received == []  # success is not news
        (tmp_path / "src").rename(tmp_path / "gone")
        result = drp(config, "backup", "files", now=EVEN_NOON + 2 * 86400)
        assert result.returncode == 1
        ((sender, recipients, mail),) = received
    assert (sender, recipients) == ("drp@example.net", ["oncall@example.net"])
    assert "Subject: drp on " in mail
    assert ": backup files failed (1 problem(s))" in mail
    assert "backup files www to A failed: copying www to A" in mail


def test_an_unreachable_mail_server_is_reported_and_changes_nothing_else(site):
    tmp_path, config = site
    config.write_text(
        config.read_text() + '\n[notification]\nmail_to = ["oncall@example.net"]\n'
        'mail_from = "drp@example.net"\nsmtp_host = "127.0.0.1"\nsmtp_port = 9\n'
    )
    (tmp_path / "src").rename(tmp_path / "gone")
    result = drp(config, "backup", "files", now=EVEN_NOON)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[1].startswith(
        "drp: cannot mail 'backup files failed (1 problem(s))' to oncall@example.net "
        "via 127.0.0.1:9"
    )


def test_parser_builds_without_a_terminal():
    assert build_parser().prog == "drp"


def test_a_silent_mail_server_delays_drp_a_few_seconds_only(site):
    import socket
    import time

    tmp_path, config = site
    with socket.socket() as silent:  # accepts (the kernel does), never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        config.write_text(
            config.read_text() + '\n[notification]\nmail_to = ["oncall@example.net"]\n'
            'mail_from = "drp@example.net"\nsmtp_host = "127.0.0.1"\n'
            f"smtp_port = {silent.getsockname()[1]}\n"
        )
        (tmp_path / "src").rename(tmp_path / "gone")
        started = time.monotonic()
        result = drp(config, "backup", "files", now=EVEN_NOON)
        took = time.monotonic() - started
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines
    assert lines[1].startswith(
        "drp: cannot mail 'backup files failed (1 problem(s))' to oncall@example.net via 127.0.0.1:"
    )
    assert lines[1].endswith(": timed out"), lines[1]
    assert took < 10, took


def test_sigterm_while_the_configuration_loads_is_exit_143(tmp_path):
    import signal
    from pathlib import Path

    from tests.helpers.drp import wait_for

    fifo = tmp_path / "drp.toml"
    os.mkfifo(fifo)  # opening it blocks until a writer comes: drp is caught loading it
    process = subprocess.Popen(
        [executable("drp"), "-c", str(fifo), "status"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wchan = Path(f"/proc/{process.pid}/wchan")
    blocked = ("wait_for_partner", "fifo_open")  # the kernel function, by kernel version
    wait_for(lambda: wchan.read_text() in blocked, 30, "drp opening its config")
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert (process.returncode, out, err) == (143, "", "drp: interrupted by SIGTERM\n")
