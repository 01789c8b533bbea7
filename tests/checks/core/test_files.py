"""core.files: a small file replaced atomically, with the mode asked for whatever the umask."""

from __future__ import annotations

import os
import stat

import pytest

from checks.core.files import replace_atomically


def test_the_mode_is_the_one_asked_whatever_the_umask(tmp_path):
    target = tmp_path / "record.json"
    previous = os.umask(0o077)
    try:
        replace_atomically(str(target), "{}\n", mode=0o640, group=os.getgid(), durable=True)
    finally:
        os.umask(previous)
    assert target.read_text() == "{}\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    replace_atomically(str(target), "[]\n")
    assert (target.read_text(), stat.S_IMODE(target.stat().st_mode)) == ("[]\n", 0o644)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]


def test_a_failure_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "record.json"
    target.write_text("old\n")
    (tmp_path / "record.json.d").mkdir()
    with pytest.raises(IsADirectoryError):
        replace_atomically(str(tmp_path / "record.json.d"), "new\n")
    with pytest.raises(FileNotFoundError):
        replace_atomically(str(tmp_path / "gone" / "record.json"), "new\n")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.json", "record.json.d"]
