"""check_drp (checks/backup/drp.py) on snapshots drp really made, pre-stagings drp really
ran, drill records written as ``drp drill`` writes them, and a real BIND zone."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks.backup import drp as check_drp
from checks.core.runtime import Outcome
from drptools import layout, manifest, status
from tests.helpers.contract import assert_conforms, run_installed
from tests.helpers.drp import (
    DAY,
    DRP_ADDRESSES,
    EVEN_NOON,
    drp,
    held_lock,
    local_site,
    recovery_site,
    toml,
)
from tests.servers.sshd import Sshd

HOUR = 3600
GIB = 1024**3
MIB = 1024**2


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    """Local targets A and B, a local DRP root, www backed up to A at EVEN_NOON."""
    root, config = local_site(tmp_path, directories=2)
    (root / "drp").mkdir()
    config.write_text(config.read_text() + toml(
        {"drp": {"location": str(root / "drp"), "datacenter": "dc-3"}}))  # fmt: skip
    backed_up = drp(config, "backup", "files", "--target", "A", now=EVEN_NOON)
    assert backed_up.returncode == 0, backed_up.stderr
    return root, config


def check(config: Path, now: float, *args: str, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    """check_drp in-process at ``now``."""
    monkeypatch.setenv(layout.NOW_VARIABLE, str(int(now)))
    outcome = check_drp.PLUGIN.run(["--config", str(config), *args])
    assert_conforms("drp", outcome.state, outcome.text)
    return outcome


def drilled(
    target: str, snapshot: str, finished: float, result: str = "ok", rate: float = 100 * MIB,
    problems: tuple[str, ...] = (), database_seconds: float = 0.0,
) -> None:  # fmt: skip
    """A drill record as ``drp drill`` writes it: 1 GiB restored at ``rate``."""
    parts: dict[str, float] = {"files": GIB / rate, "verify": 3.0}
    if database_seconds:
        parts["db:shop"] = database_seconds
    status.write(f"drill.www.{target}", {
        "what": "drill", "environment": "www", "target": target, "run": "drill-x",
        "started": finished - 600, "finished": finished, "result": result,
        "problems": list(problems), "snapshot": snapshot, "dumps": {},
        "data_time": layout.parse_stamp(snapshot), "rpo_seconds": 3600,
        "rto_estimate_seconds": 600, "parts": parts, "files": 4, "bytes": GIB, "rows": 0,
    })  # fmt: skip


def prestaged(config: Path, now: float) -> dict[str, object]:
    """``drp prestage`` really run at ``now``; its record."""
    done = drp(config, "prestage", now=now)
    assert done.returncode == 0, done.stdout + done.stderr
    record = status.read("prestage.www")
    assert record is not None
    return record


def newer_snapshot(root: Path, base: str, when: float, extra: int) -> str:
    """A complete snapshot of www on B at ``when``: the files of ``base`` on A plus one of
    ``extra`` bytes, as its MANIFEST (the documented format) and COMPLETE say."""
    entries = manifest.parse_manifest((root / "A/www/files" / base / "MANIFEST").read_bytes())
    entries[f"srv/new.bin\t{extra}\t1795600000.0000000000\t4242".encode()] = b"a" * 64
    stamp = layout.stamp(when)
    directory = root / "B/www/files" / stamp
    (directory / "data").mkdir(parents=True)
    text = manifest.render(entries)
    (directory / "MANIFEST").write_bytes(text)
    seal = {"snapshot": stamp, "manifest_sha256": hashlib.sha256(text).hexdigest(),
            "manifest_bytes": len(text)}  # fmt: skip
    (directory / "COMPLETE").write_text(json.dumps(seal))
    return stamp


def stamp_on_a(root: Path) -> str:
    (stamp,) = [name for name in os.listdir(root / "A/www/files") if layout.parse_stamp(name)]
    return stamp


def test_ok_after_a_drill_and_a_prestage(site, monkeypatch):
    root, config = site
    stamp = stamp_on_a(root)
    prestaged(config, EVEN_NOON + HOUR)
    drilled("A", stamp, EVEN_NOON + 2 * HOUR, database_seconds=40)
    outcome = check(config, EVEN_NOON + 3 * HOUR, monkeypatch=monkeypatch)
    assert outcome.state == 0, outcome.text
    assert outcome.summary.startswith(
        "www: drilled 1 h ago, pre-staged 2 h ago, 0 B to move, predicted RTO 40 s; DRP server: "
    ), outcome.summary
    perfdata = outcome.status_line.split(" | ")[1].split()
    assert perfdata[:4] == ["www/drill=3600s;;691200", "www/prestage=7200s;93600",
                            "www/to_move=0B;;;0", "www/rto=40s;600;1800;0"]  # fmt: skip
    assert perfdata[4].startswith("drp/free=")


@pytest.mark.parametrize(
    ("result", "age", "args", "state", "summary"),
    [("ok", 9 * DAY, (), 2, "www drilled 9 d ago > 8 d"),
     ("ok", 3 * DAY, ("--warning-drill", "2d"), 1, "www drilled 3 d ago > 2 d"),
     ("failed", HOUR, (), 2, "www: the drill on A 1 h ago failed: checksum mismatch: "
      "srv/d0000/f0000 (and 1 more)")],
)  # fmt: skip
def test_an_old_or_failed_drill(site, monkeypatch, result, age, args, state, summary):
    root, config = site
    stamp = stamp_on_a(root)
    prestaged(config, EVEN_NOON + HOUR)
    now = EVEN_NOON + 2 * HOUR + age
    problems = ("checksum mismatch: srv/d0000/f0000", "table shop.orders: 3 rows, 4 expected")
    drilled("A", stamp, EVEN_NOON + 2 * HOUR, result, problems=problems)
    outcome = check(config, now, "--warning-prestage", "30d", *args, monkeypatch=monkeypatch)
    assert (outcome.state, outcome.summary) == (state, summary), outcome.text


def test_never_drilled_is_critical_and_never_prestaged_warns(site, monkeypatch):
    _, config = site
    outcome = check(config, EVEN_NOON + HOUR, monkeypatch=monkeypatch)
    assert outcome.state == 2
    assert outcome.summary.startswith(
        "www: never drilled (drp drill), www: never pre-staged (drp prestage): an activation "
        "copies everything"
    ), outcome.summary


def test_a_prestage_left_a_gigabyte_behind(site, monkeypatch):
    root, config = site
    stamp = stamp_on_a(root)
    prestaged(config, EVEN_NOON + HOUR)
    # 1 GiB in 17 min; the databases' 5 min go on at the same time.
    drilled("A", stamp, EVEN_NOON + 2 * HOUR, rate=MIB, database_seconds=300)
    newer_snapshot(root, stamp, EVEN_NOON + DAY, GIB)
    now = EVEN_NOON + DAY + HOUR
    outcome = check(config, now, "--warning-prestage", "30d", monkeypatch=monkeypatch)
    assert (outcome.state, outcome.summary) == (1, "www predicted RTO 17 min 4 s > 10 min")
    assert "www/to_move=1073741824B;;;0 www/rto=1024s;600;1800;0" in outcome.status_line
    outcome = check(config, now, "--warning-prestage", "30d", "--critical-rto", "15m",
                    monkeypatch=monkeypatch)  # fmt: skip
    assert (outcome.state, outcome.summary) == (2, "www predicted RTO 17 min 4 s > 15 min")
    remembered = json.loads(Path(os.environ["VIGIE_STATE_DIR"], f"{check_drp.DELTAS}.json")
                            .read_text())  # fmt: skip
    assert [delta[-1] for delta in remembered.values()] == [GIB]  # computed once, kept


def test_no_room_on_the_drp_server_for_the_delta(site, monkeypatch):
    root, config = site
    stamp = stamp_on_a(root)
    prestaged(config, EVEN_NOON + HOUR)
    drilled("A", stamp, EVEN_NOON + 2 * HOUR)
    newer_snapshot(root, stamp, EVEN_NOON + DAY, 1 << 50)  # a pebibyte: more than any disk
    outcome = check(config, EVEN_NOON + DAY + HOUR, "--critical-rto", "1000000d",
                    "--warning-rto", "1000000d", monkeypatch=monkeypatch)  # fmt: skip
    assert outcome.state == 2
    assert "free at " in outcome.summary
    assert outcome.summary.endswith("the activation would copy 1 PiB"), outcome.summary


def test_a_missing_drp_root_is_critical(site, monkeypatch):
    root, config = site
    drilled("A", stamp_on_a(root), EVEN_NOON + HOUR)
    (root / "drp").rmdir()
    outcome = check(config, EVEN_NOON + 2 * HOUR, "--unstaged", "ok", monkeypatch=monkeypatch)
    assert outcome.state == 2
    assert outcome.summary == (
        f"the DRP root {root / 'drp'} cannot be used: No such file or directory"
    )


def test_a_drp_server_unreachable_by_ssh_is_critical(site, monkeypatch):
    import socket

    root, config = site
    drilled("A", stamp_on_a(root), EVEN_NOON + HOUR)
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    remote_drp(root, config, port)
    outcome = check(config, EVEN_NOON + 2 * HOUR, "--unstaged", "ok", monkeypatch=monkeypatch)
    assert outcome.state == 2, outcome.text
    assert outcome.summary.startswith(
        "the DRP server drp-test:/srv/drp is unreachable: ssh: connect to host 127.0.0.1 port"
    ), outcome.summary


def remote_drp(root: Path, config: Path, port: int) -> None:
    """The DRP server reached by ssh at 127.0.0.1 ``port`` (an ssh config's Host)."""
    ssh_config = root / "ssh_config"
    ssh_config.write_text(f"Host drp-test\n  HostName 127.0.0.1\n  Port {port}\n")
    text = config.read_text().replace(f'location = "{root / "drp"}"',
                                      'location = "drp-test:/srv/drp"')  # fmt: skip
    config.write_text(text + f'ssh_config = "{ssh_config}"\n')


def test_a_drp_server_that_never_answers_is_critical_within_the_timeout(site, monkeypatch):
    import socket
    import time

    root, config = site
    drilled("A", stamp_on_a(root), EVEN_NOON + HOUR)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never says a word
        remote_drp(root, config, silent.getsockname()[1])
        started = time.monotonic()
        outcome = check(config, EVEN_NOON + 2 * HOUR, "--unstaged", "ok", "-t", "2",
                        monkeypatch=monkeypatch)  # fmt: skip
        assert time.monotonic() - started < 2
    assert outcome.state == 2, outcome.text
    assert outcome.summary.startswith(
        "the DRP server drp-test:/srv/drp is unreachable: ssh did not finish within"
    ), outcome.summary


def test_the_runbook_lock_is_drps():
    from drptools import runbook

    assert check_drp.RUNBOOK_LOCK == runbook.LOCK


def test_an_activation_in_force_and_one_in_progress_come_first(site, monkeypatch):
    root, config = site
    drilled("A", stamp_on_a(root), EVEN_NOON + HOUR)
    runs = Path(os.environ["VIGIE_STATE_DIR"]) / "drp" / "runs"
    runs.mkdir(parents=True)
    done = "activate-20261125T130000Z-abcd"
    (runs / f"{done}.jsonl").write_text(
        json.dumps({"event": "begin", "runbook": "activate", "parameters": {}, "time": 1}) + "\n"
        + json.dumps({"event": "finish", "result": "ok", "time": 2}) + "\n"
    )  # fmt: skip
    outcome = check(config, EVEN_NOON + 2 * HOUR, "--unstaged", "ok", monkeypatch=monkeypatch)
    assert outcome.state == 1
    assert outcome.summary == (
        f"the site runs on the DRP server (activation {done}, no failback since)"
    )
    outcome = check(config, EVEN_NOON + 2 * HOUR, "--unstaged", "ok", "--on-drp", "ok",
                    monkeypatch=monkeypatch)  # fmt: skip
    assert outcome.state == 0
    assert outcome.summary.startswith("the site runs on the DRP server"), outcome.summary
    running = "failback-20261125T140000Z-beef"
    (runs / f"{running}.jsonl").write_text(
        json.dumps({"event": "begin", "runbook": "failback", "parameters": {}, "pid": os.getpid()})
        + "\n"
    )
    lock = runs.parent / "locks" / "runbook.lock"
    lock.parent.mkdir(exist_ok=True)
    lock.write_text(f"{os.getpid()} {EVEN_NOON}\n")
    with held_lock(lock):
        outcome = check(config, EVEN_NOON + 2 * HOUR, "--unstaged", "ok",
                        monkeypatch=monkeypatch)  # fmt: skip
    assert outcome.state == 1
    assert outcome.summary.startswith(f"failback {running} in progress, the site runs on")


def test_dns_ttl_above_the_rto_goal_warns(tmp_path, bind_zone, monkeypatch):
    root, config = recovery_site(tmp_path, bind_zone)
    drilled("A", stamp_on_a(root), EVEN_NOON + HOUR)
    prestaged(config, EVEN_NOON + HOUR)
    outcome = check(config, EVEN_NOON + 2 * HOUR, monkeypatch=monkeypatch)
    assert outcome.state == 0, outcome.text
    assert "; www.example.test: TTL 1 min; " in outcome.summary
    outcome = check(config, EVEN_NOON + 2 * HOUR, "--warning-rto", "30s",
                    monkeypatch=monkeypatch)  # fmt: skip
    assert (outcome.state, outcome.summary) == (1, "www.example.test TTL 1 min > 30 s")
    assert " www.example.test/ttl=60s;30;;0 " in outcome.status_line


@pytest.mark.parametrize(
    ("content", "summary"),
    [(None, "has no [drp] section: no DRP server to judge"),
     ("{", "not a usable status record")],
)  # fmt: skip
def test_unusable_config_or_records_are_unknown(site, monkeypatch, content, summary):
    _, config = site
    if content is None:
        config.write_text(config.read_text().split("\n[drp]")[0])
    else:
        status.make_state_dir()
        Path(status.state_dir(), "drill.www.B.json").write_text(content)
    outcome = check(config, EVEN_NOON, monkeypatch=monkeypatch)
    assert outcome.state == 3
    assert summary in outcome.summary


def test_installed_executable_keeps_the_contract(site):
    _, config = site
    result = run_installed("drp", "--config", str(config))
    assert result.returncode == 2, result.stdout
    assert result.stdout.startswith("DRP CRITICAL - www: never drilled"), result.stdout


def test_to_move_counts_new_and_changed_files():
    kept, changed, new = b"a\t10\t1.0\t1", b"b\t20\t1.0\t2", b"c\t30\t1.0\t3"
    staged = {kept: b"1" * 64, changed: b"2" * 64}
    newest = {b"a\t10\t1.0\t9": b"1" * 64, changed: b"3" * 64, new: b"4" * 64}
    assert check_drp.to_move(newest, staged) == (50, 60)  # same content, another inode: kept
    assert check_drp.to_move(newest, {}) == (60, 60)


def test_rates_from_a_drill_and_a_journal():
    assert check_drp.drill_rate({"bytes": 1000, "parts": {"files": 4}}) == 250
    assert check_drp.drill_rate({"bytes": 1000, "parts": {"files": True}}) is None
    assert check_drp.drill_rate({"bytes": "1000", "parts": {}}) is None
    assert check_drp.database_seconds({"parts": {"files": 9, "db:a": 2, "db:b": 3.5}}) == 5.5
    copy = {"event": "end", "kind": "copy-files", "result": "ok", "seconds": 2,
            "details": {"moved": 128 * MIB}}  # fmt: skip
    assert check_drp.copy_rate([copy]) == 64 * MIB
    assert check_drp.copy_rate([{**copy, "details": {"moved": 1}}]) is None


def test_statfs_output():
    assert check_drp.parse_statfs("1000 4096\n") == 4096000
    with pytest.raises(ValueError, match="not 'blocks size'"):
        check_drp.parse_statfs("stat: cannot read file system information\n")


@given(st.text(max_size=40))
def test_statfs_garbage_is_refused_or_read(text):
    fields = text.split()
    if len(fields) == 2 and all(field.isascii() and field.isdigit() for field in fields):
        assert check_drp.parse_statfs(text) == int(fields[0]) * int(fields[1])
    else:
        with pytest.raises(ValueError, match="not 'blocks size'"):
            check_drp.parse_statfs(text)


def test_records_on_the_drp_addresses_mean_the_site_runs_there(tmp_path, bind_zone, monkeypatch):
    from drptools import config as drp_config
    from drptools import dns

    root, config = recovery_site(tmp_path, bind_zone)
    drilled("A", stamp_on_a(root), EVEN_NOON + HOUR)
    prestaged(config, EVEN_NOON + HOUR)
    loaded = drp_config.load(str(config))
    assert loaded.dns is not None
    assert loaded.production is not None
    old, new = dns.Addresses.of(loaded.production.addresses), dns.Addresses.of(DRP_ADDRESSES)
    dns.swap(loaded.dns, "www.example.test", old, new, ttl=30)
    outcome = check(config, EVEN_NOON + 2 * HOUR, monkeypatch=monkeypatch)
    assert (outcome.state, outcome.summary) == (
        1, "www.example.test answers the DRP server's addresses: the site runs on the DRP "
        "server")  # fmt: skip


def by_ssh(root: Path, config: Path, server: Sshd, location: Path) -> None:
    """The DRP server reached at ``location`` through a real sshd (its ssh_config)."""
    text = config.read_text().replace(f'location = "{root / "drp"}"',
                                      f'location = "{server.alias}:{location}"')  # fmt: skip
    config.write_text(text + f'ssh_config = "{server.ssh_config}"\n')


def test_a_drp_server_over_ssh_reports_its_free_space_or_its_missing_root(site, sshd, monkeypatch):
    root, config = site
    drilled("A", stamp_on_a(root), EVEN_NOON + HOUR)
    by_ssh(root, config, sshd, root / "drp")
    outcome = check(config, EVEN_NOON + 2 * HOUR, "--unstaged", "ok", monkeypatch=monkeypatch)
    assert outcome.state == 0, outcome.text
    free = os.statvfs(root / "drp").f_bavail * os.statvfs(root / "drp").f_frsize
    (reported,) = [field for field in outcome.status_line.split() if field.startswith("drp/")]
    assert abs(int(reported.split("=")[1].split("B")[0]) - free) < 64 * MIB
    (root / "drp").rmdir()
    outcome = check(config, EVEN_NOON + 2 * HOUR, "--unstaged", "ok", monkeypatch=monkeypatch)
    assert outcome.state == 2
    assert outcome.summary == (
        f"the DRP root {sshd.alias}:{root / 'drp'} cannot be used: stat: cannot read file "
        f"system information for '{root / 'drp'}': No such file or directory"
    )


def test_snapshots_on_ssh_targets_are_read_when_asked(site, sshd, monkeypatch):
    root, config = site
    stamp = stamp_on_a(root)
    prestaged(config, EVEN_NOON + HOUR)
    drilled("A", stamp, EVEN_NOON + 2 * HOUR, rate=MIB)
    newer_snapshot(root, stamp, EVEN_NOON + DAY, GIB)
    config.write_text(config.read_text() + toml({
        f"drp.targets.{name}": {"location": f"{sshd.alias}:{root / name}",
                                "ssh_config": str(sshd.ssh_config)}
        for name in ("A", "B")}))  # fmt: skip
    now, args = EVEN_NOON + DAY + HOUR, ("--warning-prestage", "30d")
    outcome = check(config, now, *args, monkeypatch=monkeypatch)
    assert outcome.state == 1
    assert outcome.summary == (
        f"www: no complete snapshot to predict the activation from (A is reached by ssh "
        f"({sshd.alias}:{root / 'A'}; --remote-targets reads it); B is reached by ssh "
        f"({sshd.alias}:{root / 'B'}; --remote-targets reads it))"
    )
    for _ in range(2):  # the second run takes the delta from the state: the same
        outcome = check(config, now, *args, "--remote-targets", monkeypatch=monkeypatch)
        assert (outcome.state, outcome.summary) == (1, "www predicted RTO 17 min 4 s > 10 min")
        assert "www/to_move=1073741824B;;;0 " in outcome.status_line
