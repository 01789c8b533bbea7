"""``drp backup files`` against real targets: a local directory and a real sshd on loopback.

What must hold: the day's parity picks the target; a snapshot is complete only after its
last step; an interrupted run (rsync killed, drp killed, or stopped after any step) is
never taken as complete by ``drp snapshots``, check_backup or the next ``--link-dest``,
and the next run resumes it; unchanged files are hard links and are not re-read; two
runs never overlap; retention keeps the newest complete snapshots and plans first.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from functools import partial
from pathlib import Path

import pytest

from checks.backup import backup as check_backup
from drptools import config as drp_config
from drptools import layout, manifest
from drptools.actions import common
from drptools.procedures.backup_files import FileBackup
from drptools.targets import Place
from tests.helpers.drp import (
    DAY,
    EVEN_NOON,
    children,
    drp,
    held_lock,
    make_tree,
    start_drp,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def site(tmp_path):
    """A source tree, a local target A and a local target B."""
    source = tmp_path / "srv" / "www"
    make_tree(source, 3, 5)
    (source / "odd name\twith tab\nand newline\\").write_text("strange but legal\n")
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    config = write_config(
        tmp_path / "drp.toml",
        a=str(tmp_path / "A"),
        b=str(tmp_path / "B"),
        environments={"www": {"paths": [str(source)], "excludes": ["*.tmp"]}},
    )
    return tmp_path, config, source


@pytest.fixture
def remote_site(tmp_path, sshd):
    """Target A local, target B over ssh to the real sshd on loopback."""
    source = tmp_path / "srv" / "www"
    make_tree(source, 3, 5)
    (tmp_path / "A").mkdir()
    remote = tmp_path / "remote B"  # a space: remote paths must be quoted right
    remote.mkdir()
    config = write_config(
        tmp_path / "drp.toml",
        a=str(tmp_path / "A"),
        b=f"{sshd.alias}:{remote}",
        ssh_config=sshd.ssh_config,
        environments={"www": {"paths": [str(source)]}},
    )
    return tmp_path, config, source, remote


def snapshot_dirs(target: Path, environment: str = "www") -> list[str]:
    directory = target / environment / "files"
    return sorted(p.name for p in directory.iterdir() if p.name != ".lock")


def snapshot_path(target: Path, when: float, environment: str = "www") -> Path:
    return target / environment / "files" / layout.stamp(when)


def complete_snapshots(target: Path, environment: str = "www") -> list[str]:
    entries = set()
    directory = target / environment / "files"
    for child in directory.iterdir():
        entries.add(child.name)
        if child.is_dir():
            entries |= {f"{child.name}/{grand.name}" for grand in child.iterdir()}
    return [s.name for s in layout.classify_snapshots(entries) if s.state == layout.COMPLETE]


def test_even_day_goes_to_a_and_odd_day_to_b_over_ssh(remote_site):
    tmp_path, config, source, remote = remote_site
    even = drp(config, "backup", "files", now=EVEN_NOON)
    assert (even.returncode, even.stderr) == (0, "")
    odd = drp(config, "backup", "files", now=EVEN_NOON + DAY)
    assert (odd.returncode, odd.stderr) == (0, "")
    assert complete_snapshots(tmp_path / "A") == [layout.stamp(EVEN_NOON)]
    assert complete_snapshots(remote) == [layout.stamp(EVEN_NOON + DAY)]
    snapshot = snapshot_path(remote, EVEN_NOON + DAY)
    copied = snapshot / "data" / str(source)[1:]
    assert (copied / "d0001" / "f0002").read_bytes() == (source / "d0001" / "f0002").read_bytes()
    # The manifest and marker were written on the remote side, and verify there passes.
    marker = json.loads((snapshot / "COMPLETE").read_text())
    assert (marker["target"], marker["files"]) == ("B", 15)
    verified = drp(config, "verify", "files", "www")
    assert verified.returncode == 0, verified.stderr
    assert "B: www files" in verified.stdout
    assert "intact, 15 files" in verified.stdout


def test_days_alternate_across_a_month_end_and_dst(site):
    _, _config, _ = site
    # 2026-10-31 (Saturday) to 2026-11-01 and the night of the DST change (25 October):
    # runs at 00:30 local time on consecutive days alternate.
    os.environ["TZ"] = "Europe/Paris"
    time.tzset()
    try:
        starts = [time.mktime((2026, 10, day, 0, 30, 0, 0, 0, -1)) for day in (24, 25, 26)]
        starts += [time.mktime((2026, 10, 31, 0, 30, 0, 0, 0, -1))]
        starts += [time.mktime((2026, 11, 1, 0, 30, 0, 0, 0, -1))]
        targets = [layout.target_of_day(layout.local_day(start)) for start in starts]
    finally:
        del os.environ["TZ"]
        time.tzset()
    assert targets[:3] in (["A", "B", "A"], ["B", "A", "B"])
    assert targets[3] != targets[4], "the 31st and the 1st must go to different targets"


def test_target_option_overrides_the_day(site):
    tmp_path, config, _ = site
    result = drp(config, "backup", "files", "--target", "B", now=EVEN_NOON)
    assert result.returncode == 0, result.stderr
    assert complete_snapshots(tmp_path / "B") == [layout.stamp(EVEN_NOON)]
    assert not (tmp_path / "A" / "www").exists()


def test_unchanged_files_are_hard_links_and_not_hashed_again(site):
    tmp_path, config, source = site
    assert drp(config, "backup", "files", now=EVEN_NOON).returncode == 0
    (source / "d0000" / "f0000").write_text("changed\n")
    (source / "new.txt").write_text("new\n")
    (source / "junk.tmp").write_text("excluded\n")
    assert drp(config, "backup", "files", now=EVEN_NOON + 2 * DAY).returncode == 0
    first, second = (snapshot_path(tmp_path / "A", t) for t in (EVEN_NOON, EVEN_NOON + 2 * DAY))
    relative = Path("data") / str(source)[1:]
    assert (
        os.stat(first / relative / "d0002/f0004").st_ino
        == os.stat(second / relative / "d0002/f0004").st_ino
    )
    assert (
        os.stat(first / relative / "d0000/f0000").st_ino
        != os.stat(second / relative / "d0000/f0000").st_ino
    )
    assert not (second / relative / "junk.tmp").exists()
    marker = json.loads((second / "COMPLETE").read_text())
    assert (marker["files"], marker["hashed_files"]) == (17, 2)  # the changed and the new
    entries = manifest.parse_manifest((second / "MANIFEST").read_bytes())
    by_path = {manifest.key_path(key): digest for key, digest in entries.items()}
    odd = (str(source)[1:] + "/odd name\twith tab\nand newline\\").encode()
    assert by_path[odd] == hashlib.sha256(b"strange but legal\n").hexdigest().encode()
    status = json.loads(
        (Path(os.environ["VIGIE_STATE_DIR"]) / "drp" / "files.www.A.json").read_text()
    )
    assert (status["result"], status["snapshot"]) == ("ok", layout.stamp(EVEN_NOON + 2 * DAY))


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def partial_has_files(target: Path, when: float) -> bool:
    partial = target / "www/files" / (layout.stamp(when) + ".partial") / "data"
    return partial.is_dir() and sum(1 for _ in partial.rglob("f*")) > 200


@pytest.fixture
def big_site(site):
    """The small site backed up once on A, then grown to 20 000 files."""
    tmp_path, config, source = site
    assert drp(config, "backup", "files", now=EVEN_NOON).returncode == 0
    make_tree(source / "big", 40, 500)
    return tmp_path, config, source


def test_rsync_killed_mid_copy_leaves_a_partial_nobody_takes_as_complete(big_site):
    tmp_path, config, _source = big_site
    day2 = EVEN_NOON + 2 * DAY
    process = start_drp(config, "backup", "files", now=day2)
    rsync_pid = wait_for(
        lambda: next((pid for pid, name in children(process.pid) if name == "rsync"), None),
        what="rsync to start",
    )
    wait_for(lambda: partial_has_files(tmp_path / "A", day2), what="rsync to copy some files")
    os.kill(rsync_pid, signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith("drp: backup files www to A failed: copying www to A (")
    assert "killed by SIGKILL" in stderr
    # Only the first snapshot counts; the attempt is a partial for every reader.
    assert complete_snapshots(tmp_path / "A") == [layout.stamp(EVEN_NOON)]
    listing = drp(config, "snapshots", "--json")
    states = {row["name"]: row["state"] for row in json.loads(listing.stdout)}
    assert states == {
        layout.stamp(EVEN_NOON): "complete",
        layout.stamp(day2) + ".partial": "partial",
    }
    status = drp(config, "status", "--json")
    (record,) = json.loads(status.stdout)
    assert record["result"] == "failed"
    assert "killed by SIGKILL" in record["error"]
    assert record["last_ok"]["snapshot"] == layout.stamp(EVEN_NOON)

    # The next run resumes the partial, hard-links to the last COMPLETE one, and completes.
    day4 = EVEN_NOON + 4 * DAY
    result = drp(config, "-vv", "backup", "files", now=day4)
    assert result.returncode == 0, result.stderr
    assert f"--link-dest={tmp_path}/A/www/files/{layout.stamp(EVEN_NOON)}/data" in result.stderr
    assert f"{layout.stamp(day2)}.partial {tmp_path}/A/www/files/{layout.stamp(day4)}.partial" in (
        result.stderr
    )
    assert snapshot_dirs(tmp_path / "A") == [layout.stamp(EVEN_NOON), layout.stamp(day4)]
    assert complete_snapshots(tmp_path / "A") == [layout.stamp(EVEN_NOON), layout.stamp(day4)]
    assert drp(config, "verify", "files", "www", "--target", "A").returncode == 0


def test_drp_killed_mid_copy_takes_its_children_and_its_locks_along(big_site):
    tmp_path, config, _ = big_site
    day2 = EVEN_NOON + 2 * DAY
    process = start_drp(config, "backup", "files", now=day2)
    wait_for(lambda: partial_has_files(tmp_path / "A", day2), what="rsync to copy some files")
    helpers = children(process.pid)
    process.kill()
    process.communicate(timeout=30)
    for pid, name in helpers:  # rsync and the lock holder die with drp (PR_SET_PDEATHSIG)
        wait_for(partial(gone, pid), what=f"{name} to die")
    assert complete_snapshots(tmp_path / "A") == [layout.stamp(EVEN_NOON)]
    # The record still says running, but its process is gone: status says it died.
    status = drp(config, "status")
    assert " died " in status.stdout
    # The locks are free: the next run works at once.
    result = drp(config, "backup", "files", now=EVEN_NOON + 4 * DAY)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("remote", [False, True], ids=["local", "ssh"])
def test_a_run_stopped_after_any_step_is_never_complete(tmp_path, request, remote):
    source = make_tree(tmp_path / "src", 2, 3)
    if remote:
        sshd = request.getfixturevalue("sshd")
        location = drp_config.Location(str(tmp_path / "B"), sshd.alias)
        target = drp_config.Target("B", location, "dc-2", str(sshd.ssh_config))
    else:
        target = drp_config.Target("B", drp_config.Location(str(tmp_path / "B")), "dc-2", None)
    environment = drp_config.Environment("www", (str(source),))
    files = tmp_path / "B" / "www" / "files"
    with Place(target) as place:
        place.mkdir(str(files))
        first = FileBackup(environment, place, clock_at(EVEN_NOON))
        for _, step in first.steps():
            step()
        steps = [name for name, _ in first.steps()]
        for count in range(len(steps)):
            when = EVEN_NOON + (count + 1) * DAY
            job = FileBackup(environment, place, clock_at(when))
            for _, step in job.steps()[:count]:
                step()
            entries = place.listing(str(files), 2) or set()
            latest = layout.latest_complete(layout.classify_snapshots(entries))
            assert latest is not None, steps[count - 1]
            assert latest.name == first.stamp, steps[count - 1]
            state = check_backup.snapshot_states(files)
            assert [name for name, s in state if s == layout.COMPLETE] == [first.stamp]
        # The last partial resumes into a complete snapshot.
        last = FileBackup(environment, place, clock_at(EVEN_NOON + 20 * DAY))
        for _, step in last.steps():
            step()
        assert last.resumed is not None
        assert last.resumed.stamp == layout.stamp(EVEN_NOON + len(steps) * DAY)
        entries = place.listing(str(files), 2) or set()
        assert [s.name for s in layout.classify_snapshots(entries) if s.state == "complete"] == [
            first.stamp,
            last.stamp,
        ]


def clock_at(when: float) -> common.Clock:
    clock = common.Clock()
    clock.started = when
    return clock


def test_two_runs_never_overlap(big_site):
    tmp_path, config, _ = big_site
    day2 = EVEN_NOON + 2 * DAY
    first = start_drp(config, "backup", "files", now=day2)
    wait_for(lambda: partial_has_files(tmp_path / "A", day2), what="the first run to copy")
    second = drp(config, "backup", "files", now=day2 + 60)
    assert second.returncode == 75
    assert second.stderr.count("\n") == 1
    assert "another drp run holds" in second.stderr
    first.communicate(timeout=120)
    assert first.returncode == 0
    # The refused run did not touch the first run's status record.
    status = json.loads(drp(config, "status", "--json").stdout)
    assert [(r["result"], r["snapshot"]) for r in status] == [("ok", layout.stamp(day2))]


def test_a_lock_held_on_the_target_by_another_machine_is_respected(site):
    tmp_path, config, _ = site
    with held_lock(tmp_path / "A" / "www" / "files" / ".lock"):
        result = drp(config, "backup", "files", now=EVEN_NOON, VIGIE_DRP_LOCK_WAIT="1")
    assert result.returncode == 75, result.stderr
    assert "another run holds" in result.stderr
    (record,) = json.loads(drp(config, "status", "--json").stdout)
    assert record["result"] == "failed"


def test_a_failing_rsync_is_one_line_and_keeps_the_last_good_run(site):
    tmp_path, config, source = site
    assert drp(config, "backup", "files", now=EVEN_NOON).returncode == 0
    source.rename(source.with_name("gone"))
    result = drp(config, "backup", "files", now=EVEN_NOON + 2 * DAY)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "rsync exited 23 (partial transfer due to error)" not in result.stderr  # wording:
    assert "exited 23 (partial transfer due to error)" in result.stderr
    assert complete_snapshots(tmp_path / "A") == [layout.stamp(EVEN_NOON)]
    (record,) = json.loads(drp(config, "status", "--json").stdout)
    assert record["result"] == "failed"
    assert record["last_ok"]["snapshot"] == layout.stamp(EVEN_NOON)


def test_an_unreachable_ssh_target_is_one_line(tmp_path, sshd):
    source = make_tree(tmp_path / "src", 1, 1)
    (tmp_path / "A").mkdir()
    config = write_config(
        tmp_path / "drp.toml",
        a=str(tmp_path / "A"),
        b=f"nobody-{sshd.alias}:/srv",  # no such Host in the ssh config: DNS fails
        ssh_config=sshd.ssh_config,
        environments={"www": {"paths": [str(source)]}},
    )
    result = drp(config, "backup", "files", now=EVEN_NOON + DAY)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("drp: backup files www to B failed: cannot reach target B")


def test_retention_keeps_the_newest_complete_and_plans_first(site):
    tmp_path, config, _source = site
    config.write_text(config.read_text() + "\n[retention]\nfiles = 2\n")
    for day in (0, 2, 4):
        assert (
            drp(config, "backup", "files", "--no-prune", now=EVEN_NOON + day * DAY).returncode == 0
        )
    leftover = tmp_path / "A/www/files" / (layout.stamp(EVEN_NOON + DAY * 1) + ".partial")
    leftover.mkdir()
    plan = drp(config, "prune", "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.splitlines() == [
        f"would remove A:{tmp_path}/A/www/files/{layout.stamp(EVEN_NOON)} "
        "(complete, older than the 2 kept)",
        f"would remove A:{tmp_path}/A/www/files/{leftover.name} (left by an interrupted run)",
    ]
    assert len(snapshot_dirs(tmp_path / "A")) == 4  # the plan removed nothing
    assert drp(config, "backup", "files", now=EVEN_NOON + 6 * DAY).returncode == 0
    assert snapshot_dirs(tmp_path / "A") == [
        layout.stamp(EVEN_NOON + 4 * DAY),
        layout.stamp(EVEN_NOON + 6 * DAY),
    ]


def test_sigterm_stops_the_run_at_once_and_says_so(big_site):
    tmp_path, config, _ = big_site
    day2 = EVEN_NOON + 2 * DAY
    process = start_drp(config, "backup", "files", now=day2)
    wait_for(lambda: partial_has_files(tmp_path / "A", day2), what="rsync to copy some files")
    helpers = children(process.pid)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert time.monotonic() - started < 10
    assert process.returncode == 128 + signal.SIGTERM
    assert stderr.splitlines()[-1] == "drp: interrupted by SIGTERM"
    for pid, name in helpers:
        wait_for(partial(gone, pid), what=f"{name} to end")
    assert complete_snapshots(tmp_path / "A") == [layout.stamp(EVEN_NOON)]
    (record,) = json.loads(drp(config, "status", "--json").stdout)
    assert (record["result"], record["error"]) == ("failed", "Interrupted: interrupted by SIGTERM")


def test_snapshots_tells_a_run_in_progress_from_an_interrupted_one(site):
    tmp_path, config, _ = site
    assert drp(config, "backup", "files", now=EVEN_NOON).returncode == 0
    partial_dir = tmp_path / "A/www/files" / (layout.stamp(EVEN_NOON + 2 * DAY) + ".partial")
    partial_dir.mkdir()
    with held_lock(tmp_path / "A/www/files/.lock"):
        running = json.loads(drp(config, "snapshots", "--json", "--target", "A").stdout)
    stopped = drp(config, "snapshots", "--target", "A")
    assert [row["state"] for row in running] == ["complete", "in progress"]
    assert stopped.returncode == 0
    lines = stopped.stdout.splitlines()
    assert lines[0].split() == ["TARGET", "ENVIRONMENT", "KIND", "NAME", "STATE", "DATA", "FROM",
                                "FILES", "SIZE"]  # fmt: skip
    assert lines[1].split()[:5] == ["A", "www", "files", layout.stamp(EVEN_NOON), "complete"]
    assert lines[2].split()[3:5] == [partial_dir.name, "partial"]


def test_verify_names_corrupted_and_missing_files_over_ssh(remote_site):
    _, config, source, remote = remote_site
    assert drp(config, "backup", "files", now=EVEN_NOON + DAY).returncode == 0
    data = snapshot_path(remote, EVEN_NOON + DAY) / "data" / str(source)[1:]
    (data / "d0001/f0001").write_bytes(b"bit rot.........")  # same size: only the hash sees it
    os.utime(data / "d0001/f0001", ns=(0, (source / "d0001/f0001").stat().st_mtime_ns))
    (data / "d0002/f0003").unlink()
    result = drp(config, "verify", "files", "www", "--target", "B")
    assert result.returncode == 1
    relative = str(source)[1:]
    assert result.stdout.splitlines()[1:] == [
        f"  B: checksum mismatch: {relative}/d0001/f0001",
        f"  B: missing: {relative}/d0002/f0003",
    ]
    assert result.stderr == "drp: verify: 2 problem(s) found; listed above\n"
