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
