"""core.statefile: readings kept between runs, and where they are kept."""

from __future__ import annotations

import json
import time
from pathlib import Path

from checks.core import statefile
from checks.system import cpu
from tests.conftest import PROC_SAMPLES


def test_statefile_ignores_stale_foreign_and_broken_state(isolated_state, monkeypatch):
    reader = lambda: {"n": 5.0}  # noqa: E731
    monkeypatch.setenv("VIGIE_PROC_ROOT", str(PROC_SAMPLES / "idle-no-swap"))
    for previous in (
        {"boot": "another-boot", "time": time.monotonic() - 60, "values": {"n": 1.0}},
        {"boot": statefile.boot_id(), "time": time.monotonic() - 7200, "values": {"n": 1.0}},
        {"boot": statefile.boot_id(), "time": time.monotonic() - 60, "values": {"n": 9.0}},
        {"boot": statefile.boot_id(), "time": "yesterday", "values": {"n": 1.0}},
    ):
        isolated_state.mkdir(exist_ok=True)
        (isolated_state / "t.json").write_text(json.dumps(previous))
        assert statefile.counters("t", reader, 0.01).how == "over 0.01 s"
    (isolated_state / "t.json").write_text("{not json")
    assert statefile.counters("t", reader, 0.01).how == "over 0.01 s"


def unusable(tmp_path: Path, name: str) -> str:
    """A directory path that cannot be created, even by root: its parent is a file."""
    blocker = tmp_path / "a-file"
    blocker.touch()
    return str(blocker / name)


def test_state_dir_falls_back_to_the_system_then_the_user_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("VIGIE_STATE_DIR", unusable(tmp_path, "env"))
    monkeypatch.setattr(statefile, "SYSTEM_DIR", str(tmp_path / "var-lib-vigie"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert statefile.state_dir() == str(tmp_path / "var-lib-vigie")
    monkeypatch.setattr(statefile, "SYSTEM_DIR", unusable(tmp_path, "system"))
    assert statefile.state_dir() == str(tmp_path / "xdg" / "vigie")
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert statefile.state_dir() == str(tmp_path / "home" / ".local" / "state" / "vigie")


def test_unwritable_state_only_costs_a_sample(monkeypatch, tmp_path):
    monkeypatch.setenv("VIGIE_STATE_DIR", unusable(tmp_path, "env"))
    monkeypatch.setattr(statefile, "SYSTEM_DIR", unusable(tmp_path, "system"))
    monkeypatch.setenv("XDG_STATE_HOME", unusable(tmp_path, "xdg"))
    assert statefile.state_dir() is None  # the real fallbacks, every one unusable
    outcome = cpu.PLUGIN.run(["--sample", "0.1", "-v"])
    assert outcome.state in (0, 1, 2)
    assert "over 0.1 s" in outcome.text, outcome.text
