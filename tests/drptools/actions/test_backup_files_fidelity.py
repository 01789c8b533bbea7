"""A complete snapshot holds exactly what the source held, and nothing says OK otherwise.

Issue 7's silent losses and false OKs, each on real trees and real rsync: a configured
path that is a symlink, a same-size rewrite within the same second, damaged markers and
manifests, a wrong hash that must not be inherited, hard links, sparse files, xattrs,
ACLs and file capabilities, and the rolling verification check_backup reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from checks.backup import backup as check_backup
from drptools import config as drp_config
from drptools import layout, manifest, status
from drptools.actions import common
from drptools.errors import Failure
from drptools.procedures.backup_files import FileBackup
from drptools.targets import Place
from tests.helpers.contract import assert_conforms
from tests.helpers.drp import DAY, EVEN_NOON, drp, local_site, make_tree

pytestmark = pytest.mark.integration
HOUR = 3600


def newest(target: Path) -> Path:
    """The newest complete snapshot directory on a local target."""
    directory = target / "www" / "files"
    names = sorted(p.name for p in directory.iterdir() if (p / "COMPLETE").exists())
    return directory / names[-1]


def judge(config: Path, now: float, *args: str) -> tuple[int, str]:
    """check_backup's state and first line at ``now``, run in-process."""
    os.environ[layout.NOW_VARIABLE] = str(int(now))
    try:
        outcome = check_backup.PLUGIN.run(["--config", str(config), *args])
    finally:
        del os.environ[layout.NOW_VARIABLE]
    assert_conforms("backup", outcome.state, outcome.text)
    return outcome.state, outcome.text.splitlines()[0]


def both_targets(config: Path) -> None:
    """Yesterday on B, today on A."""
    for when in (EVEN_NOON - DAY, EVEN_NOON):
        result = drp(config, "backup", "files", now=when)
        assert result.returncode == 0, result.stderr


# --- 1. a configured path that is a symlink --------------------------------------------


def test_a_configured_path_that_is_a_symlink_backs_up_the_directory(tmp_path):
    real = make_tree(tmp_path / "srv" / "data-www", 2, 5)
    link = tmp_path / "srv" / "www"
    link.symlink_to("data-www")
    _, config = local_site(tmp_path, paths=[link])
    checked = drp(config, "config", "check")
    assert checked.returncode == 0, checked.stderr
    assert f"{link} is a symlink to {real}: its content is backed up as {link}" in checked.stdout
    both_targets(config)
    copied = newest(tmp_path / "A") / "data" / str(link)[1:]
    assert copied.is_dir()
    assert not copied.is_symlink()
    assert sorted(p.relative_to(copied) for p in copied.rglob("f*")) == sorted(
        p.relative_to(real) for p in real.rglob("f*")
    )
    assert json.loads((newest(tmp_path / "A") / "COMPLETE").read_text())["files"] == 10
    verified = drp(config, "verify", "files", "www", "--target", "A")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "intact, 10 files" in verified.stdout


def test_a_snapshot_missing_files_the_sender_listed_is_never_marked_complete(tmp_path):
    root, config_path = local_site(tmp_path, directories=2)
    config = drp_config.load(str(config_path))
    with Place(config.targets["A"]) as place:
        job = FileBackup(config.environments["www"], place, common.Clock())
        for name, step in job.steps():
            if name == "manifest":
                break
            step()
        victim = next((Path(job.partial) / "data").rglob("f0001"))
        victim.unlink()  # lost between the copy and the manifest
        with pytest.raises(Failure, match="holds 3 files but rsync's sender listed 4"):
            job.write_manifest()
    assert not list((root / "A" / "www" / "files").glob("*/COMPLETE"))


# --- 2. a same-size rewrite within the same second ---------------------------------------


def test_a_same_size_rewrite_within_the_same_second_is_never_stale(tmp_path):
    root, config = local_site(tmp_path)
    page = root / "src" / "page.html"
    page.write_text("AAAA-old-content")
    os.utime(page, ns=(EVEN_NOON * 10**9 + 100_000_000,) * 2)
    assert drp(config, "backup", "files", "--target", "A", now=EVEN_NOON).returncode == 0
    page.write_text("BBBB-new-content")  # same size, same second, 0.6 s later
    os.utime(page, ns=(EVEN_NOON * 10**9 + 700_000_000,) * 2)
    later = EVEN_NOON + 2 * DAY
    assert drp(config, "backup", "files", "--target", "A", now=later).returncode == 0
    stored = newest(root / "A") / "data" / str(page)[1:]
    assert stored.read_text() == "BBBB-new-content"
    entries = manifest.parse_manifest((newest(root / "A") / "MANIFEST").read_bytes())
    digest = {manifest.key_path(k): d for k, d in entries.items()}[str(page)[1:].encode()]
    assert digest == hashlib.sha256(b"BBBB-new-content").hexdigest().encode()
    assert drp(config, "verify", "files", "www", "--target", "A").returncode == 0


# --- 4. damaged snapshots: check_backup is never OK over what verify rejects -------------


def _empty_marker(snapshot: Path) -> None:
    (snapshot / "COMPLETE").write_text("")


def _garbage_marker(snapshot: Path) -> None:
    (snapshot / "COMPLETE").write_text("garbage\n")


def _truncated_manifest(snapshot: Path) -> None:
    text = (snapshot / "MANIFEST").read_bytes()
    (snapshot / "MANIFEST").write_bytes(text[: len(text) // 2])


def _deleted_manifest(snapshot: Path) -> None:
    (snapshot / "MANIFEST").unlink()


def _wrong_hash(snapshot: Path) -> None:
    text = (snapshot / "MANIFEST").read_bytes()
    last = text.rstrip(b"\n").rsplit(b"\t", 1)[1]
    (snapshot / "MANIFEST").write_bytes(text.replace(last, b"0" * 64))


def _deleted_data(snapshot: Path) -> None:
    shutil.rmtree(snapshot / "data")


@pytest.mark.parametrize(
    "damage",
    [_empty_marker, _garbage_marker, _truncated_manifest, _deleted_manifest, _wrong_hash,
     _deleted_data],
)  # fmt: skip
def test_check_backup_is_critical_over_a_damaged_snapshot_verify_rejects(tmp_path, damage):
    root, config = local_site(tmp_path, directories=2)
    both_targets(config)
    assert judge(config, EVEN_NOON + HOUR, "--unverified", "ok")[0] == 0
    snapshot = newest(root / "A")
    damage(snapshot)
    assert drp(config, "verify", "files", "www", "--target", "A").returncode == 1
    state, line = judge(config, EVEN_NOON + HOUR, "--unverified", "ok")
    assert state == 2, line
    assert f"www files on A: {snapshot.name} is damaged" in line
    # The damaged snapshot does not count: A has no other, so it has no good backup.
    assert "www: no complete file backup on A" in line


def test_a_corrupted_data_file_is_found_by_the_rolling_verification(tmp_path):
    root, config = local_site(tmp_path, directories=2)
    both_targets(config)
    for day in range(3):  # a daily timer: every file is read once in 3 days
        result = drp(config, "verify", "files", "--rolling", "3", now=EVEN_NOON + day * DAY)
        assert result.returncode == 0, result.stdout + result.stderr
    assert judge(config, EVEN_NOON + 2 * DAY + HOUR, "-c", "3d", "--critical-target", "4d")[0] == 0
    victim = next((newest(root / "A") / "data").rglob("f0001"))
    before = os.stat(victim)
    content = victim.read_bytes()
    victim.write_bytes(content[:-1] + b"!")  # same size and mtime: bit rot
    os.utime(victim, ns=(before.st_atime_ns, before.st_mtime_ns))
    found = []
    for day in range(3, 6):
        result = drp(config, "verify", "files", "--rolling", "3", now=EVEN_NOON + day * DAY)
        found.append(result.returncode)
        if result.returncode:
            assert "checksum mismatch" in result.stdout
            break
    assert 1 in found, "every file is read within 3 days"
    record = status.read("verify.www.A")
    assert record is not None
    assert record["result"] == "failed"
    state, line = judge(config, EVEN_NOON + 6 * DAY, "-c", "7d", "--critical-target", "8d")
    assert state == 2, line
    assert "www files on A: verification failed" in line
    assert "checksum mismatch" in line


def test_rolling_shares_cover_every_file_once(tmp_path):
    _, config = local_site(tmp_path, directories=4)
    both_targets(config)
    hashed = 0
    for day in range(5):
        result = drp(config, "verify", "files", "--target", "A", "--rolling", "5",
                     now=EVEN_NOON + day * DAY)  # fmt: skip
        assert result.returncode == 0, result.stderr
        record = status.read("verify.www.A")
        assert record is not None
        assert record["share"] == f"share {(layout.local_day(EVEN_NOON) + day) % 5 + 1}/5"
        hashed += int(record["hashed_files"])  # type: ignore[call-overload]
    assert hashed == 8


def test_verification_age_and_absence_are_reported(tmp_path):
    _, config = local_site(tmp_path)
    both_targets(config)
    state, line = judge(config, EVEN_NOON + HOUR)
    assert state == 1
    assert "www files on A: never verified" in line
    assert "www files on B: never verified" in line
    assert drp(config, "verify", "files", "www", now=EVEN_NOON + HOUR).returncode == 0
    assert judge(config, EVEN_NOON + 2 * HOUR)[0] == 0
    state, line = judge(config, EVEN_NOON + 9 * DAY, "-c", "10d", "--critical-target", "11d")
    assert state == 1
    assert "www files on A last verified 8 d 23 h ago" in line
    assert "www/verified/A=" in line


def test_a_wrong_hash_is_never_inherited_by_the_next_snapshot(tmp_path):
    root, config = local_site(tmp_path, directories=2)
    assert drp(config, "backup", "files", "--target", "A", now=EVEN_NOON).returncode == 0
    _wrong_hash(newest(root / "A"))
    result = drp(config, "backup", "files", "--target", "A", "-v", now=EVEN_NOON + 2 * DAY)
    assert result.returncode == 0, result.stderr
    assert "MANIFEST does not match the sha256 in its COMPLETE" in result.stderr
    assert "hashing every file" in result.stderr
    second = drp(config, "verify", "files", "www", "--target", "A")
    assert second.returncode == 0, second.stdout
    marker = json.loads((newest(root / "A") / "COMPLETE").read_text())
    assert marker["hashed_files"] == marker["files"] == 4


# --- 9. hard links, sparse files, xattrs, ACLs, capabilities -----------------------------


def tool(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def rich_site(tmp_path):
    """A source with a hard-linked pair, a 512 MiB sparse file, an xattr, an ACL and a
    file capability, and local targets A and B."""
    source = tmp_path / "srv" / "www"
    source.mkdir(parents=True)
    (source / "one").write_text("linked\n")
    os.link(source / "one", source / "two")
    with (source / "sparse.img").open("wb") as file:
        file.truncate(512 * 2**20)
        file.write(b"head")
    os.setxattr(source / "one", "user.origin", b"shop")
    tool("setfacl", "-m", "u:nobody:r", str(source / "one"))
    (source / "ping").write_bytes(b"\x7fELF not really")
    tool("setcap", "cap_net_raw+ep", str(source / "ping"))
    _, config = local_site(tmp_path, paths=[source])
    return tmp_path, config, source


def test_links_sparseness_xattrs_acls_and_capabilities_survive_backup_and_restore(rich_site):
    root, config, source = rich_site
    both_targets(config)
    stored = newest(root / "A") / "data" / str(source)[1:]
    assert os.stat(stored / "one").st_ino == os.stat(stored / "two").st_ino
    assert os.stat(stored / "sparse.img").st_blocks * 512 < 2**20
    assert os.getxattr(stored / "one", "user.origin") == b"shop"
    assert "user:nobody:r--" in tool("getfacl", "-p", str(stored / "one"))
    assert "cap_net_raw=ep" in tool("getcap", str(stored / "ping"))
    restored = root / "restored"
    subprocess.run(["rsync", "-aHSAX", "--numeric-ids", f"{stored}/", f"{restored}/"], check=True)
    assert os.stat(restored / "one").st_ino == os.stat(restored / "two").st_ino
    assert os.stat(restored / "sparse.img").st_blocks * 512 < 2**20
    assert (restored / "sparse.img").stat().st_size == 512 * 2**20
    assert "cap_net_raw=ep" in tool("getcap", str(restored / "ping"))
    entries = manifest.parse_manifest((newest(root / "A") / "MANIFEST").read_bytes())
    inodes = {manifest.key_path(key): manifest.key_inode(key) for key in entries}
    prefix = str(source)[1:]
    assert inodes[f"{prefix}/one".encode()] == inodes[f"{prefix}/two".encode()]


def test_verify_names_a_broken_hard_link(rich_site):
    root, config, _source = rich_site
    both_targets(config)
    stored = newest(root / "A") / "data"
    two = next(stored.rglob("two"))
    copy = two.with_name("copy")
    shutil.copy2(two, copy)
    copy.replace(two)  # same content and mtime, but no longer the same inode as "one"
    result = drp(config, "verify", "files", "www", "--target", "A")
    assert result.returncode == 1
    assert "hard link broken:" in result.stdout
    assert "/one, " in result.stdout


def test_each_preservation_can_be_switched_off(rich_site):
    root, config, source = rich_site
    with config.open("a") as file:
        file.write("\n[files]\nhard_links = false\nsparse = false\n")
    assert drp(config, "backup", "files", "--target", "A", now=EVEN_NOON).returncode == 0
    stored = newest(root / "A") / "data" / str(source)[1:]
    assert os.stat(stored / "one").st_ino != os.stat(stored / "two").st_ino
    assert os.stat(stored / "sparse.img").st_blocks * 512 >= 512 * 2**20
    assert os.getxattr(stored / "one", "user.origin") == b"shop"  # still on
    marker = json.loads((newest(root / "A") / "COMPLETE").read_text())
    assert marker["preserve"] == ["acls", "xattrs"]
