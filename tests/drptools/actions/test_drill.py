"""drp drill with real backups (``drp backup``), a real MariaDB and a real PostgreSQL: it
passes and records RPO and RTO, a tampered snapshot or a cut dump makes it fail naming
what, and its scratch directory and databases are gone afterwards in every case."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from drptools import journal, status
from tests.helpers.drp import (
    EVEN_NOON,
    children,
    drp,
    held_lock,
    local_site,
    start_drp,
    toml,
    wait_for,
)
from tests.helpers.drp_databases import ACCOUNTS, SHOP
from tests.servers.mariadb import MariaDB
from tests.servers.postgresql import PostgreSQL
from tests.servers.sshd import Sshd

pytestmark = pytest.mark.integration

HOUR = 3600
#: What the DRP server serves already: a drill must never touch it.
SERVED = "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, note TEXT);" \
    "INSERT INTO shop.orders VALUES (1, 'served by the DRP');"  # fmt: skip


def server(engine: MariaDB | PostgreSQL, kind: str | None = None) -> dict[str, object]:
    table: dict[str, object] = {"host": engine.host, "port": engine.port, "user": engine.user,
                                "password_file": str(engine.password_file)}  # fmt: skip
    return {"engine": kind, **table} if kind else table


class Site:
    """Production's files and databases backed up to A; the DRP's database servers."""

    def __init__(self, root: Path, production: MariaDB, drp_side: MariaDB,
                 postgresql: PostgreSQL, sshd: Sshd | None = None) -> None:  # fmt: skip
        production.sql(SHOP)
        postgresql.psql(ACCOUNTS)
        drp_side.sql(SERVED)
        self.production, self.drp_side, self.postgresql = production, drp_side, postgresql
        _, self.config = local_site(root, directories=3)
        self.scratch = root / "scratch"
        (root / "drp").mkdir()
        drp_server: dict[str, object] = {"location": str(root / "drp"), "datacenter": "dc-3"}
        drill: dict[str, object] = {"scratch": str(self.scratch)}
        if sshd is not None:  # the DRP server over ssh, the drill's files there
            drp_server.update(location=f"{sshd.alias}:{root / 'drp'}",
                              ssh_config=str(sshd.ssh_config))  # fmt: skip
            drill["on"] = "drp"
        self.config.write_text(self.config.read_text() + toml({
            "environments.www.databases.shop": server(production, "mariadb"),
            "environments.www.databases.accounts": server(postgresql, "postgresql"),
            "drp": drp_server,
            "drp.databases.mariadb": server(drp_side),
            "drp.databases.postgresql": server(postgresql),
            "drill": drill,
        }))  # fmt: skip
        for kind in ("files", "db"):
            made = drp(self.config, "backup", kind, "--target", "A", now=EVEN_NOON)
            assert made.returncode == 0, made.stderr
        self.snapshot = next(p for p in (root / "A/www/files").iterdir() if p.name[0].isdigit())
        self.dumps = root / "A" / "www" / "db"

    def drill(self, *args: str) -> tuple[int, str, dict[str, object] | None]:
        ran = drp(self.config, "-v", "drill", *args, now=EVEN_NOON + HOUR)
        return ran.returncode, ran.stdout + ran.stderr, status.read("drill.www.A")

    def assert_clean(self) -> None:
        """No scratch directory, no scratch database; what the DRP serves untouched."""
        assert list(self.scratch.iterdir()) == []
        assert "_drill" not in self.drp_side.sql("SHOW DATABASES")
        assert "_drill" not in self.postgresql.psql("SELECT datname FROM pg_database")
        assert self.drp_side.sql("SELECT note FROM shop.orders").strip() == "served by the DRP"
        assert self.production.sql("SELECT COUNT(*) FROM shop.orders").strip() == "3000"
        assert not list((self.scratch.parent / "drp").iterdir())


@pytest.fixture
def site(
    tmp_path: Path,
    mariadb_factory: Callable[[], MariaDB],
    postgresql_factory: Callable[[], PostgreSQL],
) -> Site:
    return Site(tmp_path, mariadb_factory(), mariadb_factory(), postgresql_factory())


def test_a_drill_restores_proves_and_records_rpo_and_rto(site: Site) -> None:
    planned = drp(site.config, "drill", "--dry-run", now=EVEN_NOON + HOUR)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "import www's database shop" in planned.stdout
    assert status.read("drill.www.A") is None
    code, output, record = site.drill()
    assert code == 0, output
    assert record is not None
    assert set(record) == {
        "what", "environment", "target", "run", "started", "finished", "result", "problems",
        "snapshot", "dumps", "data_time", "rpo_seconds", "rto_estimate_seconds", "parts",
        "files", "bytes", "rows",
    }  # fmt: skip
    assert (record["what"], record["environment"], record["target"]) == ("drill", "www", "A")
    assert (record["result"], record["problems"]) == ("ok", [])
    assert record["snapshot"] == site.snapshot.name
    dumps = record["dumps"]
    assert isinstance(dumps, dict)
    assert set(dumps) == {"shop", "accounts"}
    assert record["rpo_seconds"] == HOUR  # the backups of noon, drilled at one
    parts = record["parts"]
    assert isinstance(parts, dict)
    assert set(parts) == {"files", "db:shop", "db:accounts", "verify"}
    files, databases = parts["files"] + parts["verify"], parts["db:shop"] + parts["db:accounts"]
    assert record["rto_estimate_seconds"] == pytest.approx(max(files, databases), abs=0.01)
    assert (record["files"], record["rows"]) == (6, 5000)
    assert isinstance(record["bytes"], int)
    assert record["bytes"] > 0
    assert isinstance(record["run"], str)
    assert journal.succeeded(journal.read(record["run"]))
    assert "drp drill www: ok, 6 files and 5000 rows" in output
    site.assert_clean()


def test_a_file_changed_after_its_manifest_fails_the_drill_naming_it(site: Site) -> None:
    """Same size, same mtime: only the content's hash against the MANIFEST can tell."""
    (changed,) = [p for p in site.snapshot.rglob("f0001") if "d0001" in str(p)]
    held = changed.stat()
    size = held.st_size
    changed.unlink()  # a new inode: the other snapshots' hard links keep their bytes
    changed.write_bytes(b"tampered after the MANIFEST".ljust(size, b"!")[:size])
    os.utime(changed, ns=(held.st_atime_ns, held.st_mtime_ns))
    os.chmod(changed, held.st_mode)
    code, output, record = site.drill()
    assert code == 1, output
    assert record is not None
    assert record["result"] == "failed"
    problems = record["problems"]
    assert isinstance(problems, list)
    assert [problem for problem in problems if problem.startswith("checksum mismatch:")] == [
        f"checksum mismatch: {changed.relative_to(site.snapshot / 'data')}"
    ], problems
    site.assert_clean()


def test_a_cut_dump_with_matching_checksums_fails_the_drill_naming_it(site: Site) -> None:
    (dump,) = (site.dumps / "shop").glob("*.sql.zst")
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    checksums = dump.with_name(dump.name.removesuffix(".sql.zst") + ".sha256")
    checksums.write_text(f"{hashlib.sha256(dump.read_bytes()).hexdigest()}  {dump.name}\n")
    code, output, record = site.drill()
    assert code == 1, output
    assert record is not None
    assert record["result"] == "failed"
    problems = record["problems"]
    assert isinstance(problems, list)
    assert any(dump.name in problem or "orders" in problem for problem in problems), problems
    site.assert_clean()


def test_a_cut_postgresql_dump_is_found_by_the_import_or_the_fingerprint(site: Site) -> None:
    (dump,) = (site.dumps / "accounts").glob("*.dump")
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size * 2 // 3])
    checksums = dump.with_name(dump.name.removesuffix(".dump") + ".sha256")
    lines = [line for line in checksums.read_text().splitlines() if dump.name not in line]
    lines.append(f"{hashlib.sha256(dump.read_bytes()).hexdigest()}  {dump.name}")
    checksums.write_text("\n".join(lines) + "\n")
    code, output, record = site.drill()
    assert code == 1, output
    assert record is not None
    problems = record["problems"]
    assert isinstance(problems, list)
    assert any("accounts" in problem for problem in problems), problems
    site.assert_clean()


def test_an_interrupted_drill_still_cleans_up_and_records_it(site: Site) -> None:
    """SIGTERM while the import waits on a scratch table someone holds locked."""
    blocker = subprocess.Popen(
        ["mariadb", "--no-defaults", f"--socket={site.drp_side.socket}", "-u", "root", "-e",
         "CREATE DATABASE shop_drill; CREATE TABLE shop_drill.t (i INT); "
         "LOCK TABLES shop_drill.t WRITE; SELECT SLEEP(60);"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        tables = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'shop_drill'"
        wait_for(lambda: site.drp_side.sql(tables).strip() == "1", what="the blocker's table")
        running = start_drp(site.config, "drill", now=EVEN_NOON + HOUR)
        wait_for(lambda: any(name == "mariadb" for _, name in children(running.pid)),
                 what="the drill's client waiting on the lock")  # fmt: skip
        running.send_signal(signal.SIGTERM)
        time.sleep(0.5)
    finally:
        blocker.kill()
        blocker.wait()
    _, errors = running.communicate(timeout=60)
    assert running.returncode == 128 + signal.SIGTERM, errors
    record = status.read("drill.www.A")
    assert record is not None
    assert record["result"] == "failed"
    assert "Interrupted" in str(record["problems"])
    site.assert_clean()


def test_a_second_drill_is_refused_while_one_runs(site: Site) -> None:
    with held_lock(Path(os.environ["VIGIE_STATE_DIR"]) / "drp" / "locks" / "drill.lock"):
        code, output, record = site.drill()
    assert code == 75, output
    assert record is None
    assert not site.scratch.exists()  # refused before it made anything


def test_a_drill_needs_the_drp_section(tmp_path: Path) -> None:
    _, config = local_site(tmp_path)
    refused = drp(config, "drill")
    assert refused.returncode == 2
    assert "no [drp] section" in refused.stderr


def test_a_drill_on_the_drp_server_restores_its_files_there(
    tmp_path: Path,
    sshd: Sshd,
    mariadb_factory: Callable[[], MariaDB],
    postgresql_factory: Callable[[], PostgreSQL],
) -> None:
    site = Site(tmp_path, mariadb_factory(), mariadb_factory(), postgresql_factory(), sshd)
    code, output, record = site.drill()
    assert code == 0, output
    assert record is not None
    assert (record["result"], record["files"], record["rows"]) == ("ok", 6, 5000)
    assert "on the DRP server" in drp(site.config, "drill", "--dry-run").stdout
    site.assert_clean()
    staging = Path(os.environ["VIGIE_STATE_DIR"]) / "drp" / "staging" / "drill"
    assert list(staging.iterdir()) == []  # the dump sets fetched here are gone too
