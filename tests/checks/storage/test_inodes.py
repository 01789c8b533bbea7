"""check_inodes in-process: check_disk's -W/-K forms, counts, and filesystems without inodes.

Numbers against the C check_disk on filled loop filesystems: tests/compat/test_disk.py.
"""

from __future__ import annotations

import re

import pytest

from checks.core.runtime import Outcome
from checks.storage import inodes
from tests.helpers.mounts import fake_proc, mountinfo_line


@pytest.fixture
def machine(tmp_path, monkeypatch):
    fake_proc(tmp_path, monkeypatch, [mountinfo_line(1, "/", source="/dev/vda")])
    return tmp_path


def run(*argv: str) -> Outcome:
    return inodes.PLUGIN.run(list(argv))


@pytest.mark.parametrize(
    ("argv", "state", "summary"),
    [([], 0, r"/ [\d.]+% inodes free \(\d+ of \d+\)"),
     (["-w", "100%", "-c", "0%", "-p", "/"], 1,
      r"/ inodes free [\d.]+% <= 100% \(\d+ free of \d+\)"),
     (["-W", "100", "-K", "0"], 1, r"/ inodes free [\d.]+% <= 100% \(.+\)"),
     (["-c", "1000000000000"], 2, r"/ inodes free \d+ <= 1000000000000 \(.+\)"),
     (["-w", "0", "-c", "0"], 0, r"/ [\d.]+% inodes free .*"),
     (["--warning-used", "0"], 1, r"/ inodes used [\d.]+% > 0% \(.+\)")],
)  # fmt: skip
def test_states_and_wording(machine, argv, state, summary):
    outcome = run(*argv)
    assert outcome.state == state, outcome.text
    assert re.fullmatch(summary, outcome.summary), outcome.summary


def test_perfdata_is_used_inodes_of_the_total(machine):
    outcome = run("-w", "10%", "-c", "5%")
    assert re.search(r"\| /=\d+;@\d+:;@\d+:;0;\d+$", outcome.status_line), outcome.status_line


def test_w_and_big_w_are_the_same_threshold(machine):
    # The live count of free inodes may move between the two runs (other processes).
    def words(outcome: Outcome) -> str:
        return re.sub(r"\(\d+ free of", "(N free of", outcome.summary)

    assert words(run("-w", "100%")) == words(run("-W", "100%"))


def test_a_filesystem_without_an_inode_count(tmp_path, monkeypatch):
    # /proc has no inode count: left out when found, reported (OK) when named.
    fake_proc(tmp_path, monkeypatch, [
        mountinfo_line(1, "/", source="/dev/vda"),
        mountinfo_line(2, "/proc", "vfat", "/dev/sdz9"),
    ])  # fmt: skip
    assert run().summary.startswith("/ ")
    outcome = run("-p", "/proc")
    assert (outcome.state, outcome.summary) == (0, "/proc has no fixed number of inodes (vfat)")


@pytest.mark.parametrize("argv", [["-w", "5G"], ["-W", "abc"], ["-K", "101"]])
def test_bad_thresholds_are_unknown(argv):
    outcome = run(*argv)
    assert outcome.state == 3
    assert repr(argv[1]) in outcome.summary
