"""drp activate: the DRP brought up from the backups, proven, and the DNS moved to it.

A site of local roots in a temporary directory (production's files, targets A and B, the
DRP root) and a real BIND primary and secondary of a TSIG-protected zone; drp runs as a
process, as an on-call engineer runs it.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from drptools import dns as switch
from drptools import journal
from drptools.config.model import Dns
from tests.helpers.drp import (
    DRP_ADDRESSES,
    EVEN_NOON,
    drp,
    make_tree,
    recovery_site,
    toml,
    tree_digest,
    webhook_receiver,
    write_config,
)
from tests.servers.bind_zone import KEY_NAME, PRIMARY, PRODUCTION, SECONDARY, ZONE, Zone
from tests.servers.sshd import Sshd

pytestmark = pytest.mark.integration

WWW = f"www.{ZONE}"


@pytest.fixture
def site(tmp_path: Path, bind_zone: Zone) -> tuple[Path, Path, Zone]:
    root, config = recovery_site(tmp_path, bind_zone)
    return root, config, bind_zone


def dns_of(zone: Zone) -> Dns:
    return Dns(ZONE, PRIMARY, KEY_NAME, str(zone.key_file), {}, port=zone.port)


def test_activation_restores_the_files_and_moves_the_dns(site: tuple[Path, Path, Zone]) -> None:
    root, config, zone = site
    before = tree_digest(root / "src")
    shutil.rmtree(root / "src")  # production is gone
    done = drp(config, "activate", "--yes", "--authorized-by", "Jane Doe", "--reference", "C-1",
               now=EVEN_NOON + 3600)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    restored = root / "drp" / str(root / "src").lstrip("/")
    assert tree_digest(restored) == before
    drp_addresses = switch.Addresses.of(DRP_ADDRESSES)
    for server in (PRIMARY, SECONDARY):
        assert switch.held(dns_of(zone), server, WWW) == drp_addresses
    assert "DRP active: run activate-" in done.stdout
    (run_id,) = list(journal.all_runs())
    steps = [r["step"] for r in journal.read(run_id) if r["event"] == "end"]
    assert steps == ["verify-backup:www", "copy-files:www", "verify-files:www", "switch-dns:www"]


def test_without_an_order_nothing_changes(site: tuple[Path, Path, Zone]) -> None:
    root, config, zone = site
    before = (tree_digest(root / "drp"), switch.serial(dns_of(zone), PRIMARY))
    refused = drp(config, "activate", "--yes", now=EVEN_NOON + 3600)
    assert refused.returncode == 1
    assert "no authorisation: the DRP is activated only on the customer's order" in refused.stderr
    assert (tree_digest(root / "drp"), switch.serial(dns_of(zone), PRIMARY)) == before


def test_the_dry_run_prints_the_plan_and_changes_nothing(site: tuple[Path, Path, Zone]) -> None:
    root, config, zone = site
    before = (tree_digest(root / "drp"), tree_digest(root / "A"),
              switch.serial(dns_of(zone), PRIMARY))  # fmt: skip
    planned = drp(config, "activate", "--dry-run", now=EVEN_NOON + 3600)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    lines = planned.stdout.splitlines()
    assert lines[0].startswith("1/4 verify www's backup ")
    assert any(line.startswith("2/4 copy www's files from A to the DRP server (") for line in lines)
    assert f"    {WWW}: 192.0.2.10, 2001:db8::10 -> 203.0.113.20, 2001:db8::20" in "\n".join(lines)
    assert lines[-1] == "authorisation: none recorded (drp authorize)"
    after = (tree_digest(root / "drp"), tree_digest(root / "A"),
             switch.serial(dns_of(zone), PRIMARY))  # fmt: skip
    assert after == before
    assert not list(journal.all_runs())


def test_a_stale_dns_value_stops_before_anything_is_copied(site: tuple[Path, Path, Zone]) -> None:
    root, config, _ = site
    text = config.read_text().replace(f'"{PRODUCTION}"', '"198.51.100.99"')
    config.write_text(text)
    refused = drp(config, "activate", "--yes", "--authorized-by", "J", "--reference", "R",
                  now=EVEN_NOON + 3600)  # fmt: skip
    assert refused.returncode == 1
    assert "holds 192.0.2.10, 2001:db8::10, not the expected 198.51.100.99" in refused.stderr
    assert not os.listdir(root / "drp")


def test_killed_during_the_copy_it_resumes_without_redoing_finished_steps(
    site: tuple[Path, Path, Zone],
) -> None:
    import signal
    import subprocess
    import time

    from tests.conftest import executable

    root, config, _ = site
    shutil.rmtree(root / "src")
    # An rsync that waits on the copy of files, so that drp is killed mid-step.
    stubs = root / "stubs"
    stubs.mkdir()
    real = shutil.which("rsync")
    (stubs / "rsync").write_text(
        f'#!/bin/sh\ncase "$*" in *--relative*) touch {root}/copying; sleep 60;; esac\n'
        f'exec {real} "$@"\n'
    )
    (stubs / "rsync").chmod(0o755)
    environment = dict(os.environ, PATH=f"{stubs}:{os.environ['PATH']}",
                       VIGIE_DRP_NOW=str(EVEN_NOON + 3600))  # fmt: skip
    process = subprocess.Popen(
        [executable("drp"), "-c", str(config), "activate", "--yes", "--authorized-by", "J",
         "--reference", "R"], env=environment, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (root / "copying").exists():
        assert time.monotonic() < deadline, "the copy never started"
        assert process.poll() is None, "drp ended before the copy"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    (run_id,) = list(journal.all_runs())
    assert [(r["event"], r.get("step")) for r in journal.read(run_id)][-1] == (
        "start", "copy-files:www",
    )  # fmt: skip
    listed = drp(config, "runs")
    assert f"{run_id}  " in listed.stdout
    assert "unfinished (killed, or running)  copy-files:www" in listed.stdout
    resumed = drp(config, "activate", "--resume", run_id, "--yes", now=EVEN_NOON + 3700)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    records = journal.read(run_id)
    starts = [r["step"] for r in records if r["event"] == "start"]
    assert starts.count("verify-backup:www") == 1  # done before the kill: not redone
    assert starts.count("copy-files:www") == 2
    assert "[1/4] verify www's backup" in resumed.stdout
    assert "done in an earlier attempt of this run" in resumed.stdout
    assert " ok " in drp(config, "runs").stdout


def test_an_activation_from_a_remote_unprivileged_target_gives_modes_and_owners_back(
    tmp_path: Path, sshd_user: Sshd
) -> None:
    """Target B over a real sshd as an account that is not root: the snapshot keeps modes
    and owners in xattrs (--fake-super), and the restore reads them back."""
    source = make_tree(tmp_path / "src", 2, 2)
    secret = source / "secret.key"
    secret.write_text("key")
    secret.chmod(0o400)
    os.chown(secret, 33, 33)
    (source / "d0000").chmod(0o555)
    (tmp_path / "A").mkdir()
    (tmp_path / "drp").mkdir()
    config = write_config(
        tmp_path / "drp.toml", a=str(tmp_path / "A"),
        b=f"{sshd_user.alias}:{sshd_user.directory / 'backup B'}",
        ssh_config=sshd_user.ssh_config, environments={"www": {"paths": [str(source)]}},
    )  # fmt: skip
    config.write_text(config.read_text() + toml({
        "drp": {"location": str(tmp_path / "drp"), "datacenter": "dc-3"},
    }))  # fmt: skip
    assert drp(config, "backup", "files", "--target", "B", now=EVEN_NOON).returncode == 0
    originals = {path: path.lstat() for path in [source, *source.rglob("*")]}
    contents = tree_digest(source)
    (source / "d0000").chmod(0o755)
    shutil.rmtree(source)
    done = drp(config, "activate", "--from", "B", "--yes", "--authorized-by", "J",
               "--reference", "R", now=EVEN_NOON + 60)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    restored = tmp_path / "drp" / str(source).lstrip("/")
    assert tree_digest(restored) == contents
    for path, original in originals.items():
        copy = (restored / path.relative_to(source)).lstat()
        assert stat.S_IMODE(copy.st_mode) == stat.S_IMODE(original.st_mode), path
        assert (copy.st_uid, copy.st_gid) == (original.st_uid, original.st_gid), path


def test_the_runbook_is_announced_by_webhook_and_a_dead_receiver_changes_nothing(
    site: tuple[Path, Path, Zone],
) -> None:
    _, config, _ = site
    text = config.read_text()
    with webhook_receiver() as (url, received):
        config.write_text(text + f'\n[notification]\nwebhook_url = "{url}"\nrunbook_steps = true\n')
        done = drp(config, "activate", "--yes", "--authorized-by", "J", "--reference", "R",
                   now=EVEN_NOON + 3600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    subjects = [str(notice["subject"]) for notice in received]
    assert subjects[0].endswith(" started")
    assert subjects[-1].endswith(" complete")
    assert len(subjects) == 2 + 4  # the start, each of the four steps, the end
    # A receiver that is gone: the notices fail, are journaled, and the run goes on.
    config.write_text(text + '\n[notification]\nwebhook_url = "http://127.0.0.1:9/hook"\n')
    again = drp(config, "activate", "--yes", now=EVEN_NOON + 3700)
    assert again.returncode == 0, again.stderr
    assert "cannot post" in again.stderr
    run_id = sorted(journal.all_runs())[-1]
    notices = [r for r in journal.read(run_id) if r["event"] == "notice"]
    assert notices
    assert all(notice["failed"] for notice in notices)


def test_the_site_is_fetched_from_the_drp_under_its_name_before_the_dns_moves(
    site: tuple[Path, Path, Zone],
) -> None:
    """[sites.www]: the page the restored files serve, fetched at the DRP's site_address
    with the site's Host; a page without the expected text stops the run before the DNS."""
    from tests.servers.nginx import virtual_host

    root, config, zone = site
    restored = root / "drp" / str(root / "src").lstrip("/") / "d0000"
    restored.mkdir(parents=True)  # nginx is configured before the files come back
    text = config.read_text()
    with virtual_host(root / "nginx", restored, WWW) as port:
        url = f"http://{WWW}:{port}/f0000"

        def activate(contains: str, now: float) -> tuple[str, list[str]]:
            pinned = text.replace("[drp]\n", '[drp]\nsite_address = "127.0.0.1"\n')
            config.write_text(pinned + toml({"sites.www": {"url": url, "contains": contains}}))
            done = drp(config, "activate", "--yes", "--authorized-by", "J", "--reference", "R",
                       now=now)  # fmt: skip
            run_id = sorted(journal.all_runs())[-1]
            ends = [str(r["step"]) for r in journal.read(run_id) if r["event"] == "end"]
            return done.stdout + done.stderr, ends

        said, ends = activate("no such text", EVEN_NOON + 3600)
        assert f"{url} from 127.0.0.1: the page does not hold 'no such text'" in said
        assert "switch-dns:www" not in ends
        production = switch.Addresses.of([PRODUCTION, "2001:db8::10"])
        assert switch.held(dns_of(zone), PRIMARY, WWW) == production
        said, ends = activate("0 0 ", EVEN_NOON + 3700)
        assert ends[-2:] == ["verify-site:www:drp", "switch-dns:www"], said


def test_a_drp_server_without_room_for_the_snapshot_is_named_in_the_plan(tmp_path: Path) -> None:
    """The DRP root on a 1 MiB tmpfs, a 3 MiB snapshot: refused before anything is copied."""
    import subprocess

    source = tmp_path / "src"
    source.mkdir()
    (source / "big").write_bytes(os.urandom(3 * 1024 * 1024))
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    small = tmp_path / "drp"
    small.mkdir()
    config = write_config(
        tmp_path / "drp.toml", a=str(tmp_path / "A"), b=str(tmp_path / "B"),
        environments={"www": {"paths": [str(source)]}},
    )  # fmt: skip
    config.write_text(config.read_text() + toml({
        "drp": {"location": str(small), "datacenter": "dc-3"},
    }))  # fmt: skip
    assert drp(config, "backup", "files", "--target", "A", now=EVEN_NOON).returncode == 0
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], check=True)
    try:
        planned = drp(config, "activate", "--dry-run", now=EVEN_NOON + 60)
    finally:
        subprocess.run(["umount", str(small)], check=True)
    assert planned.returncode == 1
    assert f"the DRP server has room for 1 MiB under {small}, the snapshot holds 3 MiB" \
        in planned.stdout + planned.stderr  # fmt: skip
