"""check_backup (checks/backup/backup.py) on what drp really wrote, and on target states
made for each case."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from checks.backup import backup
from checks.core.runtime import Outcome
from drptools import layout, manifest, status
from tests.helpers.contract import assert_conforms, run_installed
from tests.helpers.drp import DAY, EVEN_NOON, drp, held_lock, local_site, write_config

HOUR = 3600


@pytest.fixture
def site(tmp_path):
    """Config with local targets A and B, one environment with one database."""
    return local_site(tmp_path, {"environments.www.databases.shop": {"engine": "mariadb"}})


def snapshot(target: Path, when: float, complete: bool = True, partial: bool = False) -> Path:
    """A snapshot directory as drp leaves it (data time ``when``): an empty tree, its
    MANIFEST, and a COMPLETE sealing it."""
    name = layout.stamp(when) + (layout.PARTIAL if partial else "")
    path = target / "www" / "files" / name
    (path / "data").mkdir(parents=True)
    (path / "MANIFEST").write_bytes(manifest.HEADER)
    if complete:
        seal = {
            "snapshot": layout.stamp(when),
            "manifest_sha256": hashlib.sha256(manifest.HEADER).hexdigest(),
            "manifest_bytes": len(manifest.HEADER),
        }
        (path / "COMPLETE").write_text(json.dumps(seal) + "\n")
    return path


def dump(target: Path, when: float, complete: bool = True) -> None:
    directory = target / "www" / "db" / "shop"
    directory.mkdir(parents=True, exist_ok=True)
    stamp = layout.stamp(when)
    if complete:
        (directory / f"{stamp}.sql.zst").write_bytes(b"x")
        (directory / f"{stamp}.sha256").write_text(f"{'0' * 64}  {stamp}.sql.zst\n")
    else:
        (directory / f"{stamp}.sql.zst.partial").write_bytes(b"x")


def check(config: Path, now: float, *args: str, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    """check_backup in-process at ``now``; targets never verified are fine unless asked."""
    monkeypatch.setenv(layout.NOW_VARIABLE, str(int(now)))
    verified = () if "--unverified" in args else ("--unverified", "ok")
    outcome = backup.PLUGIN.run(["--config", str(config), *verified, *args])
    assert_conforms("backup", outcome.state, outcome.text)
    return outcome


def healthy(tmp_path: Path) -> None:
    """Yesterday on B, today on A, dumps every 2 hours."""
    snapshot(tmp_path / "B", EVEN_NOON - DAY)
    snapshot(tmp_path / "A", EVEN_NOON)
    for hours in (0, 2, 4):
        dump(tmp_path / "A", EVEN_NOON + hours * HOUR)
        dump(tmp_path / "B", EVEN_NOON + hours * HOUR)


def test_all_fresh_is_ok_with_ages_in_seconds(site, monkeypatch):
    tmp_path, config = site
    healthy(tmp_path)
    outcome = check(config, EVEN_NOON + 5 * HOUR, monkeypatch=monkeypatch)
    assert outcome.state == 0
    assert outcome.summary == "www: files 5 h old (A 5 h, B 1 d 5 h), db shop 1 h"
    assert outcome.status_line.endswith(
        "| www/files/A=18000s;;180000 www/files/B=104400s;;180000 www/files=18000s;;93600 "
        "www/db/shop=3600s;8100;10800"
    )


@pytest.mark.parametrize(
    ("hours", "args", "state", "summary"),
    [(27, [], 2, "www files 1 d 3 h old > 1 d 2 h"),
     (25, ["-w", "24h"], 1, "www files 1 d 1 h old > 1 d"),
     (21, ["--warning-db", "1h"], 0, None)],
)  # fmt: skip
def test_file_age_thresholds(site, monkeypatch, hours, args, state, summary):
    tmp_path, config = site
    snapshot(tmp_path / "B", EVEN_NOON - DAY + 10 * HOUR)
    snapshot(tmp_path / "A", EVEN_NOON)
    dump(tmp_path / "A", EVEN_NOON + hours * HOUR - 1800)
    outcome = check(config, EVEN_NOON + hours * HOUR, *args, monkeypatch=monkeypatch)
    assert outcome.state == state, outcome.text
    if summary:
        assert outcome.summary.startswith(summary), outcome.summary


def test_broken_alternation_is_critical_for_the_starved_target(site, monkeypatch):
    tmp_path, config = site
    snapshot(tmp_path / "B", EVEN_NOON - 3 * DAY)
    snapshot(tmp_path / "A", EVEN_NOON - 2 * DAY)
    snapshot(tmp_path / "A", EVEN_NOON)
    dump(tmp_path / "A", EVEN_NOON)
    outcome = check(config, EVEN_NOON + HOUR, monkeypatch=monkeypatch)
    assert outcome.state == 2
    assert outcome.summary == "www files on B 3 d 1 h old > 2 d 2 h"


def test_a_target_that_never_got_a_backup_is_critical(site, monkeypatch):
    tmp_path, config = site
    snapshot(tmp_path / "A", EVEN_NOON)
    dump(tmp_path / "A", EVEN_NOON)
    outcome = check(config, EVEN_NOON + HOUR, monkeypatch=monkeypatch)
    assert (outcome.state, outcome.summary) == (2, "www: no complete file backup on B")


@pytest.mark.parametrize(
    ("minutes", "state", "summary"),
    [(130, 0, None), (140, 1, "www db shop 2 h 20 min old > 2 h 15 min"),
     (190, 2, "www db shop 3 h 10 min old > 3 h")],
)  # fmt: skip
def test_database_rpo(site, monkeypatch, minutes, state, summary):
    tmp_path, config = site
    healthy(tmp_path)
    outcome = check(config, EVEN_NOON + 4 * HOUR + minutes * 60, monkeypatch=monkeypatch)
    assert outcome.state == state, outcome.text
    if summary:
        assert outcome.summary == summary


def test_a_partial_dump_does_not_count_and_is_reported(site, monkeypatch):
    tmp_path, config = site
    healthy(tmp_path)
    dump(tmp_path / "A", EVEN_NOON + 6 * HOUR, complete=False)
    outcome = check(config, EVEN_NOON + 6 * HOUR + 1800, monkeypatch=monkeypatch)
    assert outcome.state == 1
    stamp = layout.stamp(EVEN_NOON + 6 * HOUR)
    assert outcome.summary == (
        f"www db shop on A: {stamp} is partial (left by an interrupted run), "
        "www db shop 2 h 30 min old > 2 h 15 min"
    )


def test_interrupted_and_unmarked_snapshots_warn_and_never_count(site, monkeypatch):
    tmp_path, config = site
    healthy(tmp_path)
    snapshot(tmp_path / "A", EVEN_NOON + 2 * HOUR, complete=True, partial=True)
    snapshot(tmp_path / "B", EVEN_NOON + 3 * HOUR, complete=False)
    outcome = check(config, EVEN_NOON + 4 * HOUR, monkeypatch=monkeypatch)
    assert outcome.state == 1
    assert outcome.summary == (
        f"www files on A: {layout.stamp(EVEN_NOON + 2 * HOUR)}.partial is partial (left by an "
        f"interrupted run), www files on B: {layout.stamp(EVEN_NOON + 3 * HOUR)} is incomplete "
        "(no COMPLETE)"
    )
    assert "www/files=14400s" in outcome.status_line  # still the 12:00 one on A
    assert (
        check(config, EVEN_NOON + 4 * HOUR, "--incomplete", "ok", monkeypatch=monkeypatch).state
        == 0
    )


def test_a_partial_in_progress_is_fine(site, monkeypatch):
    tmp_path, config = site
    healthy(tmp_path)
    snapshot(tmp_path / "B", EVEN_NOON + 2 * HOUR, complete=False, partial=True)
    with held_lock(tmp_path / "B" / "www" / "files" / ".lock"):
        outcome = check(config, EVEN_NOON + 4 * HOUR, "-v", monkeypatch=monkeypatch)
    assert outcome.state == 0, outcome.text


def record(name: str, **fields: object) -> None:
    status.write(name, {"what": "files", "environment": "www", **fields})


def test_failed_and_dead_runs(site, monkeypatch):
    tmp_path, config = site
    healthy(tmp_path)
    started = EVEN_NOON + 2 * HOUR
    record("files.www.B", target="B", result="failed", started=started, error="rsync said no")
    record("db.www.shop.A", target="A", result="running", started=started, pid=2**22 + 7)
    outcome = check(config, EVEN_NOON + 4 * HOUR, monkeypatch=monkeypatch)
    assert outcome.state == 1
    assert outcome.summary == (
        "www files on B: last run failed 2 h ago: rsync said no, "
        "www db shop on A: the run started 2 h ago died unfinished"
    )
    critical = check(config, EVEN_NOON + 4 * HOUR, "--failed-run", "critical",
                     monkeypatch=monkeypatch)  # fmt: skip
    assert critical.state == 2


def test_remote_targets_are_judged_from_their_status_records(tmp_path, monkeypatch):
    (tmp_path / "A").mkdir()
    config = write_config(
        tmp_path / "drp.toml",
        a=str(tmp_path / "A"),
        b="backup-b.example.net:/srv/vigie",
        environments={"www": {"paths": ["/srv/www"]}},
    )
    snapshot(tmp_path / "A", EVEN_NOON)
    last_ok = {"snapshot": layout.stamp(EVEN_NOON - DAY), "started": EVEN_NOON - DAY}
    record("files.www.B", target="B", result="failed", started=EVEN_NOON + DAY,
           error="cannot reach target B", last_ok=last_ok)  # fmt: skip
    outcome = check(config, EVEN_NOON + DAY + HOUR, monkeypatch=monkeypatch)
    assert outcome.state == 1
    assert outcome.summary == "www files on B: last run failed 1 h ago: cannot reach target B"
    assert "www/files/B=176400s" in outcome.status_line


def test_after_real_runs_and_a_killed_one(tmp_path, monkeypatch):
    _, config = local_site(tmp_path, directories=2)
    assert drp(config, "backup", "files", now=EVEN_NOON - DAY).returncode == 0
    assert drp(config, "backup", "files", now=EVEN_NOON).returncode == 0
    later = dict(os.environ, VIGIE_DRP_NOW=str(EVEN_NOON + 2 * HOUR))
    result = run_installed("backup", "--config", str(config), "--unverified", "ok", env=later)
    assert result.stdout.startswith("BACKUP OK - www: files 2 h old (A 2 h, B 1 d 2 h) |")
    # An interrupted run the next day: it leaves a partial, a failed record, and the
    # newest complete snapshot is still yesterday's.
    snapshot(tmp_path / "B", EVEN_NOON + DAY, complete=True, partial=True)
    record("files.www.B", target="B", result="failed", started=EVEN_NOON + DAY,
           error="copying www to B: killed by SIGKILL")  # fmt: skip
    outcome = check(config, EVEN_NOON + DAY + HOUR, monkeypatch=monkeypatch)
    assert outcome.state == 1
    assert "killed by SIGKILL" in outcome.summary
    assert "www/files=90000s" in outcome.status_line


def test_unusable_configuration_is_unknown(tmp_path, monkeypatch):
    outcome = check(tmp_path / "none.toml", EVEN_NOON, monkeypatch=monkeypatch)
    assert (outcome.state, outcome.summary) == (
        3,
        f"{tmp_path}/none.toml: no such file (give another with --config FILE)",
    )
    path = tmp_path / "bad.toml"
    path.write_text("datacenter = 1\n")
    outcome = check(path, EVEN_NOON, monkeypatch=monkeypatch)
    assert outcome.state == 3
    assert outcome.summary.startswith(f"{path}: datacenter: expected a non-empty string")


def test_unknown_environment_is_unknown(site, monkeypatch):
    _, config = site
    outcome = check(config, EVEN_NOON, "-e", "shop", monkeypatch=monkeypatch)
    assert (outcome.state, outcome.summary) == (
        3,
        f"no environment 'shop' in {config} (configured: www)",
    )


def test_status_records_are_written_atomically_and_read_back(tmp_path):
    status.write("files.www.A", {"result": "ok"})
    assert status.read("files.www.A") == {"result": "ok"}
    directory = Path(status.state_dir())
    assert sorted(p.name for p in directory.iterdir()) == ["files.www.A.json"]
    (directory / "db.x.y.A.json").write_text("{not json")
    assert [r.get("result") for r in status.read_all()] == ["ok"]
    assert json.loads((directory / "files.www.A.json").read_text()) == {"result": "ok"}


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_a_record_holding_nan_or_infinity_is_unknown_and_drp_status_says_so(
    site, monkeypatch, number
):
    tmp_path, config = site
    healthy(tmp_path)
    directory = Path(status.state_dir())
    directory.mkdir(parents=True)
    path = directory / "files.www.A.json"
    path.write_text(
        '{"what": "files", "environment": "www", "target": "A", "result": "ok", '
        f'"started": {number}, "finished": {number}}}\n'
    )
    outcome = check(config, EVEN_NOON + HOUR, monkeypatch=monkeypatch)
    assert (outcome.state, outcome.summary) == (
        3,
        f"{path}: not a usable status record: {number} where a number was expected",
    )
    result = drp(config, "status")
    assert result.returncode == 1
    assert result.stderr == (
        f"drp: {path}: not a usable status record: {number} where a number was expected\n"
    )


def test_a_running_record_whose_pid_is_not_drp_has_died(site, monkeypatch):
    tmp_path, config = site
    healthy(tmp_path)
    with subprocess.Popen(["sleep", "60"]) as stranger:  # the pid, reused by something else
        try:
            record("files.www.B", target="B", result="running", started=EVEN_NOON + 2 * HOUR,
                   pid=stranger.pid)  # fmt: skip
            outcome = check(config, EVEN_NOON + 4 * HOUR, monkeypatch=monkeypatch)
            listed = drp(config, "status").stdout
        finally:
            stranger.kill()
    assert (outcome.state, outcome.summary) == (
        1,
        "www files on B: the run started 2 h ago died unfinished",
    )
    assert " died " in listed


def test_hundreds_of_partials_are_summed_up_in_one_finding(site, monkeypatch):
    tmp_path, config = site
    healthy(tmp_path)
    for minute in range(300):
        snapshot(tmp_path / "A", EVEN_NOON + 60 + minute * 60, complete=False, partial=True)
    outcome = check(config, EVEN_NOON + 6 * HOUR, monkeypatch=monkeypatch)
    first, last = layout.stamp(EVEN_NOON + 60), layout.stamp(EVEN_NOON + 300 * 60)
    assert (outcome.state, outcome.summary) == (
        1,
        f"www files on A: 300 incomplete snapshots ({first}.partial to {last}.partial; "
        "drp snapshots lists them)",
    )
    assert len(outcome.status_line) < 400


def test_a_good_run_that_went_without_something_warns(site, monkeypatch):
    tmp_path, config = site
    healthy(tmp_path)
    stamp = layout.stamp(EVEN_NOON)
    record("files.www.A", target="A", result="ok", started=EVEN_NOON, snapshot=stamp,
           unreadable_files=12, unreadable=["/srv/www/secret", "/srv/www/key"])  # fmt: skip
    record("db.www.shop.B", target="B", result="ok", started=EVEN_NOON + 4 * HOUR,
           prune_error="removing 1 item(s) on B: rm: cannot remove …")  # fmt: skip
    outcome = check(config, EVEN_NOON + 5 * HOUR, monkeypatch=monkeypatch)
    assert outcome.state == 1
    assert outcome.summary == (
        f"www files on A: 12 source file(s) could not be read and are not in {stamp}: "
        "/srv/www/secret, /srv/www/key and 10 more, "
        "www db shop on B: retention failed: removing 1 item(s) on B: rm: cannot remove …"
    )


def drill_record(target: str, snapshot: float, result: str = "ok") -> None:
    """The record ``drp drill`` leaves after restoring the snapshot of time ``snapshot``."""
    status.write(f"drill.www.{target}", {
        "what": "drill", "environment": "www", "target": target, "result": result,
        "snapshot": layout.stamp(snapshot), "started": snapshot + HOUR,
        "finished": snapshot + 2 * HOUR, "problems": [] if result == "ok" else ["missing: x"],
    })  # fmt: skip


def test_a_target_never_drilled_is_named_once_drills_are_in_use(site, monkeypatch):
    tmp_path, config = site
    healthy(tmp_path)
    drill_record("A", EVEN_NOON)
    outcome = check(config, EVEN_NOON + 5 * HOUR, monkeypatch=monkeypatch)
    assert outcome.state == 0
    assert outcome.summary == (
        "www: files 5 h old (A 5 h, B 1 d 5 h), db shop 1 h; "
        "www files on B: never restored by a drill (drp drill)"
    )
    outcome = check(config, EVEN_NOON + 5 * HOUR, "--undrilled", "warning",
                    monkeypatch=monkeypatch)  # fmt: skip
    assert (outcome.state, outcome.summary) == (
        1, "www files on B: never restored by a drill (drp drill)")  # fmt: skip


@pytest.mark.parametrize(
    ("drilled_days_before", "result", "args", "summary"),
    [(14, "ok", (), None),
     (16, "ok", (), "www files on A: the last drill restored 20261109T120000Z, 16 d older "
      "than the newest"),
     (3, "ok", ("--drill-grace", "2d"), "www files on A: the last drill restored "
      "20261122T120000Z, 3 d older than the newest"),
     (0, "failed", (), "www files on A: the last drill failed, no snapshot is proven "
      "restorable")],
)  # fmt: skip
def test_a_drill_that_lags_or_failed_is_named(
    site, monkeypatch, drilled_days_before, result, args, summary
):
    tmp_path, config = site
    healthy(tmp_path)
    drill_record("A", EVEN_NOON - drilled_days_before * DAY, result)
    drill_record("B", EVEN_NOON - DAY)
    outcome = check(config, EVEN_NOON + 5 * HOUR, "--undrilled", "warning", *args,
                    monkeypatch=monkeypatch)  # fmt: skip
    assert (outcome.state, outcome.summary) == (
        (0, "www: files 5 h old (A 5 h, B 1 d 5 h), db shop 1 h")
        if summary is None
        else (1, summary)
    )


def test_without_drp_nor_drills_only_a_state_asks_for_them(site, monkeypatch):
    tmp_path, config = site
    healthy(tmp_path)
    assert "drill" not in check(config, EVEN_NOON + 5 * HOUR, monkeypatch=monkeypatch).summary
    outcome = check(
        config, EVEN_NOON + 5 * HOUR, "--undrilled", "critical", monkeypatch=monkeypatch
    )
    assert (outcome.state, outcome.summary) == (2, (
        "www files on A: never restored by a drill (drp drill), "
        "www files on B: never restored by a drill (drp drill)"))  # fmt: skip
    bad = check(config, EVEN_NOON, "--drill-grace", "soon", monkeypatch=monkeypatch)
    assert bad.state == 3
    assert "'soon'" in bad.summary
