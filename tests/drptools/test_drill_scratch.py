"""The drill's scratch directory: made safely, and removed even when the restore made
parts of it read-only (the backup's modes) and drp is not root."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import drptools.engines  # noqa: F401 - imported before the fork: the child may not read it
from drptools.errors import Failure
from drptools.procedures.drill import Scratch, clean, scratch_directory

NOBODY = 65534


def test_a_read_only_restore_is_removed_by_a_user_that_is_not_root() -> None:
    # Not in tmp_path: pytest keeps it 0700 for root, out of the unprivileged child's reach.
    root = Path("/var/tmp") / f"vigie-test-scratch-{os.getpid()}"
    shutil.rmtree(root, ignore_errors=True)
    (root / "files" / "a" / "b").mkdir(parents=True)
    (root / "files" / "a" / "b" / "f").write_text("x")
    for path in (root, *root.rglob("*")):
        os.chown(path, NOBODY, NOBODY)
    for directory in (root / "files" / "a" / "b", root / "files" / "a"):
        directory.chmod(0o500)
    try:
        child = os.fork()
        if child == 0:  # pragma: no cover - the child reports by its exit code
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            scratch = Scratch(str(root / "files"), str(root / "dumps"), False, (str(root),) * 2)
            os._exit(0 if clean(None, None, scratch) == [] and not root.exists() else 1)  # type: ignore[arg-type]
        _, code = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(code) == 0
        assert not root.exists()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_scratch_parent_someone_else_can_write_is_refused(tmp_path: Path) -> None:
    parent = tmp_path / "scratch"
    made = Path(scratch_directory(str(parent), "www"))
    assert made.parent == parent
    assert made.stat().st_mode & 0o777 == 0o700
    assert parent.stat().st_mode & 0o777 == 0o700
    parent.chmod(0o777)
    with pytest.raises(Failure, match="only it can write"):
        scratch_directory(str(parent), "www")
    os.chown(parent, NOBODY, NOBODY)
    parent.chmod(0o700)
    with pytest.raises(Failure, match="not a directory of uid 0"):
        scratch_directory(str(parent), "www")
