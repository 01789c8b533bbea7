"""Backups written by an account that is not root, as a backup server's dedicated one is.

Root ignores file modes; an ordinary account does not, and a source's modes are the
service's, not the backup's: a 0000 file copied as it is cannot be hashed by the account
that wrote it, a 0555 directory cannot be emptied by it, and a source file drp itself
cannot read must not cost the whole backup. What must hold, over a real sshd logging in
as the unprivileged ``vigie-drp-test``:

- the snapshot's own files stay readable and its directories writable by that account
  (rsync ``--fake-super`` on the receiving side keeps the real modes, owners and devices
  in ``user.rsync.*`` xattrs), ``drp verify`` finds it intact, and a restore with
  ``--fake-super`` on the sending side gives the real modes and owners back;
- retention removes snapshots holding read-only directories (older drp wrote them), and a
  retention failure after a committed snapshot leaves the backup recorded as ok;
- a source file that drp cannot read is a warning naming it, recorded in the status, and
  the rest of the snapshot is committed; a target without user xattrs is one clear line.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from drptools import layout, rsync
from drptools.config import Location, Target
from drptools.targets import Place
from tests.helpers.drp import DAY, EVEN_NOON, drp, make_tree, write_config
from tests.servers.loopfs import MountNamespace
from tests.servers.sshd import UNPRIVILEGED, Sshd, unprivileged_account

pytestmark = pytest.mark.integration

#: drp run as the unprivileged account needs an interpreter that account may execute; the
#: tests' own lives under /root (mode 0700), Debian's is in /usr/bin. drp needs only the
#: standard library, so ``src`` on its path is enough.
SYSTEM_PYTHON = "/usr/bin/python3"
SOURCE_TREE = Path(__file__).resolve().parents[2] / "src"
RUN_DRP = "import sys; sys.path[:0] = [sys.argv.pop(1)]; sys.argv[0] = 'drp'; " + (
    "from drptools.cli import main; sys.exit(main())"
)


def status_record(config: Path, state: Path | None = None) -> dict[str, object]:
    """The one status record, from ``drp status --json`` (in ``state`` if given)."""
    state_dir = str(state) if state else os.environ["VIGIE_STATE_DIR"]
    (record,) = json.loads(drp(config, "status", "--json", VIGIE_STATE_DIR=state_dir).stdout)
    assert isinstance(record, dict)
    return record


def complete_snapshots(files: Path) -> list[str]:
    entries = {p.name for p in files.iterdir()}
    entries |= {f"{p.name}/{g.name}" for p in files.iterdir() if p.is_dir() for g in p.iterdir()}
    return [s.name for s in layout.classify_snapshots(entries) if s.state == layout.COMPLETE]


def awkward_source(root: Path) -> Path:
    """A tree with a 0000 file (owned by someone else), a 0555 directory and a 0000 one."""
    source = make_tree(root / "srv" / "www", 2, 2)
    secret = source / "secret.key"
    secret.write_text("mode 0000: not even its owner reads it\n")
    os.chown(secret, 4321, 4321)
    secret.chmod(0)
    locked = source / "releases"
    (locked / "v1").mkdir(parents=True)
    (locked / "v1" / "index.html").write_text("released\n")
    (locked / "v1").chmod(0o555)
    locked.chmod(0o555)
    (source / "sealed").mkdir()
    (source / "sealed" / "nothing-to-see").write_text("sealed\n")
    (source / "sealed").chmod(0)
    return source


@pytest.fixture
def unprivileged_site(tmp_path: Path, sshd_user: Sshd) -> tuple[Path, Path, Path]:
    """Target A local, target B over ssh as ``vigie-drp-test`` in a directory it owns."""
    source = awkward_source(tmp_path)
    (tmp_path / "A").mkdir()
    remote = sshd_user.directory / "backup B"  # a space: remote paths are quoted right
    config = write_config(
        tmp_path / "drp.toml",
        a=str(tmp_path / "A"),
        b=f"{sshd_user.alias}:{remote}",
        ssh_config=sshd_user.ssh_config,
        environments={"www": {"paths": [str(source)]}},
        retention={"files": 1},
    )
    return config, source, remote


def test_source_modes_do_not_lock_the_account_out_and_a_restore_gives_them_back(
    unprivileged_site, sshd_user, tmp_path
):
    config, source, remote = unprivileged_site
    result = drp(config, "backup", "files", "--target", "B", now=EVEN_NOON)
    assert (result.returncode, result.stderr) == (0, "")
    assert status_record(config)["result"] == "ok"
    verified = drp(config, "verify", "files", "www", "--target", "B")
    assert verified.returncode == 0, verified.stderr
    assert "intact, 7 files" in verified.stdout
    # The real modes live in xattrs; the account can read and write its own snapshot.
    data = remote / "www" / "files" / layout.stamp(EVEN_NOON) / "data"
    copied = data / str(source)[1:]
    assert stat.S_IMODE((copied / "secret.key").stat().st_mode) & 0o600 == 0o600
    assert stat.S_IMODE((copied / "releases").stat().st_mode) & 0o700 == 0o700
    # Restoring as root, with --fake-super on the target's (sending) side, as README says.
    restored = tmp_path / "restored"
    restored.mkdir()
    shell = f"ssh -F {sshd_user.ssh_config}"
    subprocess.run(
        ["rsync", "-a", "--numeric-ids", "-M--fake-super", "-e", shell,
         f"{sshd_user.alias}:{data}/", f"{restored}/"],
        check=True,
    )  # fmt: skip
    back = restored / str(source)[1:]
    for path in ("secret.key", "releases", "releases/v1", "sealed", "d0001/f0001"):
        original, copy = (source / path).lstat(), (back / path).lstat()
        assert stat.S_IMODE(copy.st_mode) == stat.S_IMODE(original.st_mode), path
        assert (copy.st_uid, copy.st_gid) == (original.st_uid, original.st_gid), path
    assert (back / "secret.key").read_text() == (source / "secret.key").read_text()


def test_retention_removes_read_only_directories_it_wrote(unprivileged_site):
    config, _source, remote = unprivileged_site
    files = remote / "www" / "files"
    assert drp(config, "backup", "files", "--target", "B", now=EVEN_NOON).returncode == 0
    # As a snapshot written before drp kept modes in xattrs: read-only directories.
    old = files / layout.stamp(EVEN_NOON) / "data"
    for directory in sorted(old.rglob("*"), reverse=True):
        if directory.is_dir():
            directory.chmod(0o555)
    second = drp(config, "backup", "files", "--target", "B", now=EVEN_NOON + 2 * DAY)
    assert (second.returncode, second.stderr) == (0, ""), second.stderr
    assert sorted(p.name for p in files.iterdir() if p.name != ".lock") == [
        layout.stamp(EVEN_NOON + 2 * DAY)
    ]
    record = status_record(config)
    assert (record["result"], record.get("prune_error")) == ("ok", None)


def test_a_retention_failure_is_not_a_failed_backup(unprivileged_site):
    config, _source, remote = unprivileged_site
    files = remote / "www" / "files"
    assert drp(config, "backup", "files", "--target", "B", now=EVEN_NOON).returncode == 0
    # Something the account cannot remove: root's directory inside the old snapshot.
    foreign = files / layout.stamp(EVEN_NOON) / "data" / "root-owned"
    foreign.mkdir()
    (foreign / "file").write_text("root's\n")
    second = drp(config, "backup", "files", "--target", "B", now=EVEN_NOON + 2 * DAY)
    assert second.returncode == 1
    assert second.stderr.count("\n") == 1, second.stderr
    assert "retention failed" in second.stderr
    assert "Permission denied" in second.stderr
    new = layout.stamp(EVEN_NOON + 2 * DAY)
    assert new in complete_snapshots(files)
    record = status_record(config)
    assert record["result"] == "ok"
    assert record["error"] is None
    assert "Permission denied" in str(record["prune_error"])
    assert isinstance(record["last_ok"], dict)
    assert record["last_ok"]["snapshot"] == new
    # What rm left is a leftover the next retention retries, not an "incomplete" snapshot
    # that a person must look at (drp never removes those).
    left = f"{layout.stamp(EVEN_NOON)}{layout.PARTIAL}"
    assert sorted(p.name for p in files.iterdir() if p.name != ".lock") == [left, new]
    shutil.rmtree(files / left / "data" / "root-owned")
    pruned = drp(config, "prune", "--target", "B")
    assert (pruned.returncode, pruned.stderr) == (0, "")
    assert pruned.stdout == f"removed B:{files}/{left} (left by an interrupted run)\n"
    assert sorted(p.name for p in files.iterdir() if p.name != ".lock") == [new]


def test_place_remove_restores_write_permission_on_directories_first(sshd_user):
    remote = sshd_user.directory / "doomed"
    tree = remote / "a" / "b"
    subprocess.run(sshd_user.ssh("mkdir", "-p", str(tree / "c")), check=True)
    subprocess.run(sshd_user.ssh("touch", str(tree / "c" / "f"), str(tree / "g")), check=True)
    subprocess.run(
        sshd_user.ssh("chmod", "0", str(tree / "c"), ";", "chmod", "555", str(tree), str(remote)),
        check=True,
    )
    target = Target("B", Location(str(sshd_user.directory), sshd_user.alias), "dc-2",
                    str(sshd_user.ssh_config))  # fmt: skip
    with Place(target) as place:
        assert place.uid == unprivileged_account().pw_uid
        place.remove([str(remote), str(sshd_user.directory / "never existed")])
    assert not remote.exists()


# --- drp itself not root ----------------------------------------------------------------


@pytest.fixture
def account_dir() -> Iterator[Path]:
    """A directory the unprivileged account owns, in a world-traversable one of /tmp."""
    if os.geteuid() != 0:
        pytest.skip("running drp as another account needs root")
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"{SYSTEM_PYTHON} is needed to run drp as {UNPRIVILEGED}")
    account = unprivileged_account()
    root = Path(tempfile.mkdtemp(prefix="vigie-drp-", dir="/tmp"))
    try:
        root.chmod(0o755)
        own = root / "own"
        own.mkdir()
        os.chown(own, account.pw_uid, account.pw_gid)
        yield own
    finally:
        shutil.rmtree(root)


def drp_as_account(
    config: Path, *args: str, now: float, state: Path, namespace: MountNamespace | None = None
) -> subprocess.CompletedProcess[str]:
    """``drp -c config ARGS`` run as ``vigie-drp-test`` (in ``namespace`` if given)."""
    argv = ["runuser", "-u", UNPRIVILEGED, "--", SYSTEM_PYTHON, "-I", "-c", RUN_DRP,
            str(SOURCE_TREE), "-c", str(config), *args]  # fmt: skip
    environment = dict(
        os.environ, TZ="Europe/Paris", VIGIE_DRP_NOW=str(int(now)), VIGIE_STATE_DIR=str(state)
    )
    return subprocess.run(
        namespace.command(*argv) if namespace else argv,
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        check=False,
    )


def account_site(own: Path, targets: Path) -> tuple[Path, Path]:
    """A source drp as the account reads but for one root file, local targets in ``targets``."""
    source = make_tree(own / "src", 1, 2)
    for name in ("A", "B"):
        (targets / name).mkdir(exist_ok=True)
    config = write_config(
        own / "drp.toml",
        a=str(targets / "A"),
        b=str(targets / "B"),
        environments={"www": {"paths": [str(source)]}},
    )
    account = unprivileged_account()
    for path in (own / "src", *(own / "src").rglob("*"), *targets.iterdir()):
        os.chown(path, account.pw_uid, account.pw_gid)
    unreadable = source / "d0000" / "root only"
    unreadable.write_text("root's\n")
    unreadable.chmod(0o600)
    return config, unreadable


def test_a_source_file_drp_cannot_read_is_a_warning_not_a_lost_backup(account_dir):
    config, unreadable = account_site(account_dir, account_dir)
    state = account_dir / "state"
    result = drp_as_account(config, "backup", "files", now=EVEN_NOON, state=state)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("drp: ")
    assert "could not be read" in result.stderr
    assert str(unreadable) in result.stderr
    files = account_dir / "A" / "www" / "files"
    assert complete_snapshots(files) == [layout.stamp(EVEN_NOON)]
    copied = files / layout.stamp(EVEN_NOON) / "data" / str(unreadable.parent)[1:]
    assert sorted(p.name for p in copied.iterdir()) == ["f0000", "f0001"]
    record = status_record(config, state)
    assert record["result"] == "ok"
    assert record["unreadable_files"] == 1
    assert record["unreadable"] == [str(unreadable)]
    assert record["files"] == 2


def test_a_target_without_user_xattrs_is_one_clear_line(account_dir):
    namespace = MountNamespace(account_dir.parent)
    try:
        targets = account_dir.parent / "ramfs"
        targets.mkdir()
        namespace.run("mount", "-t", "ramfs", "vigie-no-xattrs", str(targets))
        namespace.run("chmod", "755", str(targets))
        for name in ("A", "B"):
            namespace.run("install", "-d", "-o", UNPRIVILEGED, str(targets / name))
        config, _ = account_site(account_dir, account_dir)
        config.write_text(config.read_text().replace(str(account_dir / "A"), str(targets / "A")))
        state = account_dir / "state"
        result = drp_as_account(
            config, "backup", "files", now=EVEN_NOON, state=state, namespace=namespace
        )
    finally:
        namespace.close()
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "has no user extended attributes" in result.stderr, result.stderr
    assert str(targets / "A") in result.stderr


# --- the parsing, as pure functions -------------------------------------------------------

OPEN_FAILED = 'rsync: [sender] send_files failed to open "{}": Permission denied (13)'
SUMMARY = (
    "rsync error: some files/attrs were not transferred (see previous errors) (code 23) "
    "at main.c(1394) [sender=3.5.0]"
)


def test_only_files_rsync_could_not_open_are_unreadable():
    names = ["/srv/a", '/srv/with "quotes" and: colon']
    said = "\n".join([*(OPEN_FAILED.format(name) for name in names), SUMMARY]) + "\n"
    assert rsync.unreadable(said) == names
    other = 'rsync: [sender] change_dir "/srv/gone" failed: No such file or directory (2)'
    assert rsync.unreadable(f"{OPEN_FAILED.format('/srv/a')}\n{other}\n{SUMMARY}\n") is None
    assert rsync.unreadable(SUMMARY) is None
    denied_dir = 'rsync: [sender] opendir "/srv/private" failed: Permission denied (13)'
    assert rsync.unreadable(denied_dir) is None


def test_a_missing_xattr_support_is_named_as_such():
    said = (
        'rsync: [generator] failed to write xattr user.rsync.%stat for "/b/www": '
        "Operation not supported (95)\n" + SUMMARY
    )
    assert rsync.cause(said).startswith("the target filesystem has no user extended attributes")


def test_fake_super_is_asked_of_the_receiving_side_only():
    arguments = rsync.snapshot_arguments(["/srv"], "host:/b/", fake_super=True)
    assert "--remote-option=--fake-super" in arguments
    assert "--fake-super" not in arguments
    assert "--remote-option=--fake-super" not in rsync.snapshot_arguments(["/srv"], "host:/b/")
