"""drp prestage: the DRP server kept warm, so an activation moves only the delta."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers.drp import EVEN_NOON, drp, recovery_site, tree_digest
from tests.servers.bind_zone import Zone

pytestmark = pytest.mark.integration

HOUR = 3600


def record(state: Path, environment: str) -> dict[str, object]:
    return json.loads((state / "drp" / f"prestage.{environment}.json").read_text())  # type: ignore[no-any-return]


def test_prestaging_copies_the_backup_then_only_the_delta(
    tmp_path: Path, bind_zone: Zone, isolated_state: Path
) -> None:
    root, config = recovery_site(tmp_path, bind_zone)
    done = drp(config, "prestage", now=EVEN_NOON + HOUR)
    assert done.returncode == 0, done.stdout + done.stderr
    copy = root / "drp" / str(root / "src").lstrip("/")
    assert tree_digest(copy) == tree_digest(root / "src")
    first = record(isolated_state, "www")
    assert first["moved"] == first["bytes"]
    assert first["in_place"] == 0
    # One file changes, a new backup goes to B; the next pre-staging moves that file only.
    changed = root / "src" / "d0001" / "f0000"
    changed.write_bytes(b"changed " * 64)
    assert drp(config, "backup", "files", "--target", "B", now=EVEN_NOON + 86400).returncode == 0
    again = drp(config, "prestage", now=EVEN_NOON + 86400 + HOUR)
    assert again.returncode == 0, again.stdout + again.stderr
    second = record(isolated_state, "www")
    assert (second["target"], second["moved"]) == ("B", len(b"changed " * 64))
    assert tree_digest(copy) == tree_digest(root / "src")
    # The activation that follows finds it in place.
    shutil.rmtree(root / "src")
    activated = drp(config, "activate", "--yes", "--authorized-by", "J", "--reference", "R",
                    now=EVEN_NOON + 86400 + 2 * HOUR)  # fmt: skip
    assert activated.returncode == 0, activated.stdout + activated.stderr
    assert "files: 0 B copied, " in activated.stdout  # everything was in place
    # While the DRP serves, pre-staging would overwrite it: refused.
    refused = drp(config, "prestage", now=EVEN_NOON + 86400 + 3 * HOUR)
    assert refused.returncode == 1
    assert "the DRP is active (activation activate-" in refused.stderr


def test_a_prestaged_file_changed_behind_its_mtime_is_caught_by_the_activation(
    tmp_path: Path, bind_zone: Zone, isolated_state: Path
) -> None:
    """The activation takes the hashes the pre-staging proved for files left as they were,
    and reads the rest: the snapshot's delta, and a file on the DRP server whose content
    changed under an mtime set back (rsync's quick check skips it; its ctime moved)."""
    import os

    from drptools import journal

    root, config = recovery_site(tmp_path, bind_zone)
    assert drp(config, "prestage", now=EVEN_NOON + HOUR).returncode == 0
    copy = root / "drp" / str(root / "src").lstrip("/")
    shutil.rmtree(root / "src")

    def activate(now: float) -> tuple[int, str, dict[object, dict[str, object]]]:
        done = drp(config, "activate", "--yes", "--authorized-by", "J", "--reference", "R",
                   now=now)  # fmt: skip
        run_id = sorted(run for run in journal.all_runs() if run.startswith("activate-"))[-1]
        ends = {r["step"]: r for r in journal.read(run_id) if r["event"] == "end"}
        return done.returncode, done.stdout + done.stderr, ends

    damaged = copy / "d0001" / "f0000"
    before = damaged.stat()
    damaged.write_bytes(b"X" * before.st_size)
    os.utime(damaged, ns=(before.st_atime_ns, before.st_mtime_ns))
    code, said, ends = activate(EVEN_NOON + 2 * HOUR)
    assert code == 1
    assert "the DRP server's files differ from the MANIFEST: " in said
    assert "d0001/f0000" in said
    assert "switch-dns:www" not in ends
    # Repaired (a rewrite with the backup's content), the next activation proves it.
    damaged.unlink()
    code, said, ends = activate(EVEN_NOON + 3 * HOUR)
    assert code == 0, said
    details = ends["verify-files:www"]["details"]
    assert isinstance(details, dict)
    assert details["hashed_files"] == 1  # only the file copied again was read
