"""drp failback: what the DRP server took back to production, with no split brain."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from drptools import dns as switch
from drptools import journal
from drptools.config.model import Dns
from tests.helpers.drp import EVEN_NOON, drp, recovery_site, toml, tree_digest
from tests.servers.bind_zone import KEY_NAME, PRIMARY, PRODUCTION, SECONDARY, ZONE, Zone
from tests.servers.icinga_api import HOST, IcingaApi

pytestmark = pytest.mark.integration

HOUR = 3600


@pytest.fixture
def active(tmp_path: Path, bind_zone: Zone) -> tuple[Path, Path, Zone, Path, Path]:
    """A site whose production was lost and whose DRP is active: (root, config, zone,
    production's tree, its copy on the DRP server)."""
    root, config = recovery_site(tmp_path, bind_zone)
    production = root / "src"
    shutil.rmtree(production)
    done = drp(config, "activate", "--yes", "--authorized-by", "J", "--reference", "R",
               now=EVEN_NOON + HOUR)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return root, config, bind_zone, production, root / "drp" / str(production).lstrip("/")


def addresses(zone: Zone, server: str) -> switch.Addresses:
    config = Dns(ZONE, PRIMARY, KEY_NAME, str(zone.key_file), {}, port=zone.port)
    return switch.held(config, server, f"www.{ZONE}")


def test_failback_brings_the_drp_writes_home_and_the_dns_back(
    active: tuple[Path, Path, Zone, Path, Path],
) -> None:
    root, config, zone, production, on_drp = active
    (on_drp / "d0000" / "written-during-the-outage").write_text("order 42")
    (on_drp / "d0001" / "f0000").unlink()
    planned = drp(config, "failback", "--dry-run", now=EVEN_NOON + 2 * HOUR)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert not production.exists()  # the plan changed nothing
    assert not (root / "maintenance").exists()
    done = drp(config, "failback", "--yes", now=EVEN_NOON + 2 * HOUR)
    assert done.returncode == 0, done.stdout + done.stderr
    assert tree_digest(production) == tree_digest(on_drp)
    assert (production / "d0000" / "written-during-the-outage").read_text() == "order 42"
    assert not (production / "d0001" / "f0000").exists()
    back = switch.Addresses.of([PRODUCTION, "2001:db8::10"])
    assert addresses(zone, PRIMARY) == back
    assert addresses(zone, SECONDARY) == back
    assert not (root / "maintenance").exists()  # maintenance on, then off again
    (run_id,) = [run for run in journal.all_runs() if run.startswith("failback-")]
    ended = [r["step"] for r in journal.read(run_id) if r["event"] == "end"]
    assert ended == ["guard:www", "maintenance-on", "copy-back:www", "verify-copy-back:www",
                     "switch-dns:www", "maintenance-off"]  # fmt: skip


def test_a_split_brain_is_refused_naming_what_would_be_overwritten(
    active: tuple[Path, Path, Zone, Path, Path],
) -> None:
    root, config, zone, production, on_drp = active
    (on_drp / "d0000" / "drp-side").write_text("a")
    shutil.copytree(on_drp, production)  # production came back and took writes too
    (production / "d0002" / "prod-side").write_text("b")
    refused = drp(config, "failback", "--yes", now=EVEN_NOON + 2 * HOUR)
    assert refused.returncode == 1
    assert "split brain: production took writes since the activation" in refused.stderr
    assert "d0002/prod-side" in refused.stderr
    assert (production / "d0002" / "prod-side").exists()
    assert not (root / "maintenance").exists()
    assert addresses(zone, PRIMARY) == switch.Addresses.of(["203.0.113.20", "2001:db8::20"])
    forced = drp(config, "failback", "--yes", "--force", now=EVEN_NOON + 2 * HOUR)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert not (production / "d0002" / "prod-side").exists()


def test_without_an_activation_there_is_nothing_to_bring_back(
    tmp_path: Path, bind_zone: Zone
) -> None:
    _, config = recovery_site(tmp_path, bind_zone)
    refused = drp(config, "failback", "--yes", now=EVEN_NOON + HOUR)
    assert refused.returncode == 1
    assert "no activation in force here" in refused.stderr


def test_icinga_hears_of_it_comments_and_a_downtime_during_the_failback(
    tmp_path: Path, bind_zone: Zone, icinga_api: IcingaApi
) -> None:
    root, config = recovery_site(tmp_path, bind_zone)
    text = config.read_text() + toml({"notification": {
        "icinga_url": icinga_api.url, "icinga_credentials": str(icinga_api.credentials),
        "icinga_ca_file": str(icinga_api.ca_file), "icinga_host": HOST,
    }})  # fmt: skip
    config.write_text(text)
    shutil.rmtree(root / "src")
    done = drp(config, "activate", "--yes", "--authorized-by", "J", "--reference", "R",
               now=EVEN_NOON + HOUR)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    comments = [str(c["text"]) for c in icinga_api.objects("comments") if c["author"] == "drp"]
    assert any(comment.startswith("DRP activate run activate-") and " started" in comment
               for comment in comments)  # fmt: skip
    assert any(" complete" in comment for comment in comments)
    back = drp(config, "failback", "--yes", now=EVEN_NOON + 2 * HOUR)
    assert back.returncode == 0, back.stdout + back.stderr
    (run_id,) = [run for run in journal.all_runs() if run.startswith("failback-")]
    ends = {r["step"]: r.get("details") for r in journal.read(run_id) if r["event"] == "end"}
    assert ends["maintenance-on"] == {"icinga_downtime": "done"}
    assert ends["maintenance-off"] == {"icinga_downtime": "done"}
    assert [d for d in icinga_api.objects("downtimes") if d["author"] == "drp"] == []
    # A host Icinga does not know: the notice fails (2.13 answers HTTP 500), the run goes on.
    config.write_text(text.replace(f'icinga_host = "{HOST}"', 'icinga_host = "nowhere"'))
    again = drp(config, "activate", "--yes", now=EVEN_NOON + 3 * HOUR)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Icinga has no host 'nowhere' (HTTP 500)" in again.stderr
