"""A mount table of our own for check_partitions and check_inodes: fake /proc/self/mountinfo."""

from __future__ import annotations

from pathlib import Path

import pytest


def fake_proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[str]) -> None:
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "mountinfo").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("VIGIE_PROC_ROOT", str(proc))


def mountinfo_line(
    number: int, path: str | Path, fs_type: str = "ext4", source: str = "/dev/sdz1"
) -> str:
    escaped = str(path).replace("\\", "\\134").replace(" ", "\\040")
    return f"{number} 1 8:{number} / {escaped} rw,relatime - {fs_type} {source} rw"
