"""check_quota: the repquota parser on real captures, the judging, and a run on real quota files.

The fixtures (tests/fixtures/quota/README.md) are real repquota output of quota files
written by quotacheck and setquota on loop ext4 filesystems; the plugin tests replay them
through a stub ``repquota`` first on PATH, which also records the arguments it got. The
last test builds such filesystems in a mount namespace and runs the real tools.
"""

from __future__ import annotations

import os
import re
import stat
import time

import pytest

from checks.core.cli import threshold
from checks.core.errors import ParseError
from checks.core.runtime import Outcome
from checks.storage import quota
from checks.storage.quota import Limits, Policy, parse_repquota
from tests.conftest import FIXTURES, executable
from tests.helpers.contract import assert_conforms
from tests.helpers.mutations import every_damage_answers_cleanly, every_damage_parses_or_refuses

SAMPLES = FIXTURES / "quota"
MIXED = "mixed-two-filesystems.txt"
# The capture's epoch: grace times of 20 years end in 2046; #1003's ended at capture.
CAPTURED = 1795560602
IN_GRACE = 2426280602


def read(name: str) -> str:
    return (SAMPLES / name).read_text()


def entries_by_name(name: str = MIXED) -> dict[tuple[str, str, str], quota.Entry]:
    return {(e.kind, e.name, e.device): e for e in parse_repquota(read(name))}


# --- parser -------------------------------------------------------------------------------


def test_parse_every_entry_of_every_report():
    entries = parse_repquota(read(MIXED))
    assert len(entries) == 21
    assert {(e.kind, e.device) for e in entries} == {
        (kind, f"/dev/loop{n}") for kind in ("user", "group") for n in (1, 2, 3)
    }
    daemon = entries_by_name()[("user", "daemon", "/dev/loop1")]
    assert (daemon.blocks.used, daemon.blocks.soft, daemon.blocks.hard) == (2001, 1500, 4000)
    assert daemon.blocks.grace == IN_GRACE
    assert (daemon.files.used, daemon.files.soft, daemon.files.hard, daemon.files.grace) == (
        2, 0, 0, 0)  # fmt: skip


def test_parse_numeric_ids():
    entries = entries_by_name("mixed-two-filesystems-numeric.txt")
    expired = entries[("user", "#1003", "/dev/loop1")]
    assert (expired.files.used, expired.files.soft, expired.files.grace) == (31, 20, 1795560603)
    assert ("user", "#65534", "/dev/loop1") in entries


def test_parse_names_with_spaces_from_the_right():
    line = "Domain Users  +-    2001    1500    4000 2426280602       2     0     0      0"
    text = f"*** Report for group quotas on device /dev/sdb1\n{'-' * 70}\n{line}\n"
    (entry,) = parse_repquota(text)
    assert (entry.kind, entry.name, entry.blocks.soft) == ("group", "Domain Users", 1500)


def test_no_output_means_no_quotas():
    assert parse_repquota(read("no-quotas.txt")) == []


def test_output_without_raw_grace_times_is_refused_with_the_reason():
    with pytest.raises(ParseError, match=r"repquota line 6: .*repquota -p"):
        parse_repquota(read("human-grace-not-parsed.txt"))


@pytest.mark.parametrize(
    "text",
    ["hello\n", "*** Report for cat quotas on device /dev/x\n",
     "*** Report for user quotas on device /dev/x\n---\nroot -- 1 2 3 4 5 6 7\n",
     "*** Report for user quotas on device /dev/x\n---\nroot ?? 1 2 3 0 5 6 7 0\n",
     "*** Report for user quotas on device /dev/x\n---\nroot -- 1 2 -3 0 5 6 7 0\n"],
)  # fmt: skip
def test_parse_refuses_garbage(text):
    with pytest.raises(ParseError, match="repquota line"):
        parse_repquota(text)


@pytest.mark.parametrize("sample", [MIXED, "all-within-limits.txt"])
def test_damaged_outputs_parse_or_are_refused(sample):
    every_damage_parses_or_refuses(parse_repquota, read(sample), examples=200)


# --- judging ------------------------------------------------------------------------------


def judge(key, now=CAPTURED + 60, **policy):
    options = {"over_soft": 1, "warning": None, "critical": None} | policy
    return Policy(now=now, **options).judge(entries_by_name()[key])


def test_hard_limit_reached_is_critical_even_at_equality():
    # nobody uses exactly its hard limit: repquota shows "--", the kernel refuses the next block.
    judgement = judge(("user", "nobody", "/dev/loop1"))
    assert (judgement.state, judgement.reasons) == (2, ["blocks at hard limit (1 MiB of 1 MiB)"])


def test_soft_limit_within_grace_is_warning_and_expired_grace_is_critical():
    judgement = judge(("user", "daemon", "/dev/loop1"))
    assert judgement.state == 1
    assert judgement.reasons == [
        "blocks over soft limit (2 MiB > 1.5 MiB), grace ends in 7299 d 23 h"
    ]
    expired = judge(("user", "#1003", "/dev/loop1"), now=1795560603 + 3 * 3600)
    assert (expired.state, expired.reasons) == (
        2, ["files over soft limit (31 > 20), grace expired 3 h ago"])  # fmt: skip
    late = judge(("user", "daemon", "/dev/loop1"), now=IN_GRACE)
    assert late.state == 2


def test_share_of_the_limit_ranges_and_the_over_soft_state():
    www = ("user", "www-data", "/dev/loop1")  # 601 KiB of a 20000 KiB hard limit: 3%
    assert judge(www).state == 0
    warned = judge(www, warning=threshold()("2"))
    assert warned.reasons == ["blocks 3% of hard limit > 2%"]
    assert judge(("user", "daemon", "/dev/loop1"), over_soft=2).state == 2


def test_limits_semantics():
    assert Limits(used=5, soft=5, hard=0, grace=0).over_soft is False
    assert Limits(used=6, soft=5, hard=0, grace=0).over_soft is True
    assert Limits(used=0, soft=0, hard=0, grace=0).limited is False
    assert Limits(used=9, soft=0, hard=10, grace=0).share() == 90


# --- the plugin on recorded outputs ---------------------------------------------------------


@pytest.fixture
def repquota(tmp_path, monkeypatch):
    """A stub repquota printing a fixture; returns a function that sets the fixture."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    script = bin_dir / "repquota"
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "mountinfo").write_text(
        "40 1 7:1 / /home rw - ext4 /dev/loop1 rw\n"
        "41 1 7:2 / /srv rw - ext4 /dev/loop2 rw\n"
        "42 1 7:9 / /backup rw - ext4 /dev/loop9 rw\n"
    )
    monkeypatch.setenv("VIGIE_PROC_ROOT", str(proc))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def use(sample: str | None, exit_code: int = 0, stderr: str = "") -> list[str]:
        output = SAMPLES / sample if sample else "/dev/null"
        script.write_text(
            f'#!/bin/sh\necho "$@" >> {calls}\ncat {output}\n'
            f"printf '%s' '{stderr}' >&2\nexit {exit_code}\n"
        )
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        return calls.read_text().splitlines() if calls.exists() else []

    return use


def run(*argv: str) -> Outcome:
    return quota.PLUGIN.run(list(argv))


def test_mixed_report(repquota):
    repquota(MIXED)
    outcome = run()
    assert outcome.state == 2
    assert outcome.summary.startswith(
        "user nobody on /home blocks at hard limit (1 MiB of 1 MiB), "
        "user #1003 on /home files over soft limit (31 > 20), grace expired "
    )
    assert outcome.summary.count(", user ") + outcome.summary.count(", group ") == 4
    assert outcome.status_line.endswith(
        "| quotas=13;;;0 over_soft=4;;;0 hard_reached=1;;;0 grace_expired=1;;;0"
    )
    long_output = outcome.text.splitlines()[1:]
    assert [line.split(":")[0] for line in long_output] == ["CRITICAL"] * 2 + ["WARNING"] * 3
    assert "WARNING: group #2002 on /home files over soft limit (33 > 25), grace ends in" in (
        outcome.text
    )
    assert repquota(MIXED) == ["-u -g -p -a"]
    # Every limited entry alerts with -w 0: the status line names five, the long output all.
    crowded = run("-w", "0")
    assert crowded.summary.endswith(" and 8 more"), crowded.summary
    assert crowded.text.count("\n") == 14


def test_all_within_limits_and_verbose_lists_every_entry(repquota):
    repquota("all-within-limits.txt")
    outcome = run()
    assert (outcome.state, outcome.summary) == (
        0,
        "4 user and group quotas within limits on /dev/loop3",
    )
    assert outcome.text.count("\n") == 1
    assert run("-v").text.count("OK: ") == 4


def test_names_and_numeric_ids(repquota):
    repquota(MIXED)
    assert run("--name", "^www").state == 1
    outcome = run("--exclude-name", "^(nobody|#1003)$")
    assert outcome.state == 1
    assert "nobody" not in outcome.text
    repquota("mixed-two-filesystems-numeric.txt")
    assert run("-n", "-F", "/home", "-F", "/srv").state == 2
    assert repquota(None)[-1] == "-u -g -p -n /home /srv"


def test_no_quotas_anywhere_is_unknown_unless_told(repquota):
    repquota("no-quotas.txt")
    assert run().status_line.startswith(
        "QUOTA UNKNOWN - no quotas on any filesystem (repquota -a reports none) |"
    )
    assert run("--no-quotas", "ok").state == 0


def test_a_named_filesystem_without_quotas(repquota):
    repquota("all-within-limits.txt", exit_code=1,
             stderr="repquota: Not all specified mountpoints are using quota.")  # fmt: skip
    outcome = run("-F", "/backup", "-F", "/nowhere")
    assert (outcome.state, outcome.summary) == (3, "no quotas on /backup, /nowhere")
    assert run("-F", "/backup", "--no-quotas", "critical").state == 2


def test_repquota_failing_is_unknown_with_its_message(repquota):
    repquota(None, exit_code=2, stderr="repquota: Cannot initialize mountpoint scan.")
    outcome = run("-F", "/nonexistent")
    assert (outcome.state, outcome.summary) == (
        3, "repquota failed (exit 2): repquota: Cannot initialize mountpoint scan.")  # fmt: skip


def test_garbage_from_repquota_is_unknown(repquota):
    repquota("human-grace-not-parsed.txt")
    outcome = run()
    assert outcome.state == 3
    assert "repquota -p" in outcome.summary


def test_damaged_outputs_are_answered_cleanly(repquota, tmp_path):
    text = read(MIXED)
    sample = tmp_path / "damaged.txt"
    repquota(None)
    script = tmp_path / "bin" / "repquota"
    script.write_text(f"#!/bin/sh\ncat {sample}\n")

    def run_on(damaged_text: str) -> Outcome:
        sample.write_text(damaged_text)
        return run()

    every_damage_answers_cleanly("quota", run_on, text, examples=40)


# --- real quota files on real filesystems ---------------------------------------------------


@pytest.mark.integration
def test_real_quota_files_in_a_mount_namespace(mount_namespace):
    home = mount_namespace.make_filesystem("home")
    mount_namespace.fill(home / "big", 2048 * 1024, "33:33")
    mount_namespace.touch_many(home / "many", 50, "1:1")
    mount_namespace.quota_files([home])
    setquota = ("setquota", "-u")
    mount_namespace.run(*setquota, "33", "1000", "4000", "0", "0", str(home))
    mount_namespace.run(*setquota, "1", "0", "0", "100", "200", str(home))
    mount_namespace.run(*setquota, "-T", "33", str(20 * 365 * 86400), "unset", str(home))
    command = [executable("check_quota"), "-F", str(home)]
    result = mount_namespace.run(*command, check=False)
    assert_conforms("quota", result.returncode, result.stdout, result.stderr)
    assert result.returncode == 1, result.stdout
    assert result.stdout.startswith(
        f"QUOTA WARNING - user www-data on {home} blocks over soft limit (2 MiB > 1000 KiB), "
        "grace ends in 7299 d 23 h |"
    ), result.stdout
    # Expire the grace time: one second, then past it.
    mount_namespace.run(*setquota, "-T", "33", "1", "unset", str(home))
    time.sleep(2)
    result = mount_namespace.run(*command, "-w", "20", check=False)
    assert result.returncode == 2, result.stdout
    assert re.search(r"blocks over soft limit \(2 MiB > 1000 KiB\), grace expired [\d.]+ s ago",
                     result.stdout), result.stdout  # fmt: skip
    assert "WARNING: user daemon on" in result.stdout  # 51 files of 200: over 20%
    # At the hard limit: critical even within grace.
    mount_namespace.run(*setquota, "33", "0", "1536", "0", "0", str(home))
    result = mount_namespace.run(*command, check=False)
    assert "blocks at hard limit (2 MiB of 1.5 MiB)" in result.stdout, result.stdout
