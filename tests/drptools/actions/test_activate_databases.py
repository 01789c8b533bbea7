"""drp activate and failback with real databases: MariaDB and PostgreSQL for production
and for the DRP side, each restored with the same rows and checksums."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from drptools.config import Database
from tests.helpers.drp import (
    EVEN_NOON,
    children,
    drp,
    recovery_site,
    start_drp,
    toml,
    wait_for,
)
from tests.helpers.drp_databases import ACCOUNTS, SHOP, accounts_sum, server, shop_sum
from tests.servers.bind_zone import Zone
from tests.servers.mariadb import MariaDB
from tests.servers.postgresql import PostgreSQL

pytestmark = pytest.mark.integration

HOUR = 3600


def test_databases_go_to_the_drp_server_and_back(
    tmp_path: Path,
    bind_zone: Zone,
    mariadb_factory: Callable[[], MariaDB],
    postgresql_factory: Callable[[], PostgreSQL],
) -> None:
    production_shop, drp_shop = mariadb_factory(), mariadb_factory()
    production_accounts, drp_accounts = postgresql_factory(), postgresql_factory()
    production_shop.sql(SHOP)
    production_accounts.psql(ACCOUNTS)
    _, config = recovery_site(tmp_path, bind_zone)
    text = config.read_text() + toml({
        "environments.www.databases.shop": {"engine": "mariadb", **server(production_shop)},
        "environments.www.databases.accounts": {"engine": "postgresql",
                                                **server(production_accounts)},
        "drp.databases.mariadb": server(drp_shop),
        "drp.databases.postgresql": server(drp_accounts),
        "production.databases.mariadb": server(production_shop),
        "production.databases.postgresql": server(production_accounts),
    })  # fmt: skip
    config.write_text(text)
    dumped = drp(config, "backup", "db", now=EVEN_NOON)
    assert dumped.returncode == 0, dumped.stderr
    shop_before, accounts_before = shop_sum(production_shop), accounts_sum(production_accounts)
    drp_shop.sql("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY);")
    planned = drp(config, "activate", "--dry-run", now=EVEN_NOON + HOUR)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert shop_sum(drp_shop) == "0 0"  # the plan imported nothing
    assert "accounts" not in drp_accounts.psql("SELECT datname FROM pg_database")
    production_shop.sql("DROP DATABASE shop")  # production is lost
    production_accounts.psql("DROP DATABASE accounts")
    activated = drp(config, "activate", "--yes", "--authorized-by", "J", "--reference", "R",
                    now=EVEN_NOON + HOUR)  # fmt: skip
    assert activated.returncode == 0, activated.stdout + activated.stderr
    assert shop_sum(drp_shop) == shop_before
    assert accounts_sum(drp_accounts) == accounts_before
    # The DRP takes orders during the outage; the failback brings them home.
    drp_shop.sql("INSERT INTO orders (total, note) VALUES (42, 'during the outage')", "shop")
    drp_accounts.psql("INSERT INTO users (email, balance) VALUES ('new@example.net', 1)",
                      "accounts")  # fmt: skip
    back = drp(config, "failback", "--yes", now=EVEN_NOON + 2 * HOUR)
    assert back.returncode == 0, back.stdout + back.stderr
    assert shop_sum(production_shop) == shop_sum(drp_shop)
    assert accounts_sum(production_accounts) == accounts_sum(drp_accounts)
    assert "during the outage" in production_shop.sql("SELECT note FROM orders", "shop")


def test_a_drp_database_server_down_during_the_import_resumes_where_it_stopped(
    tmp_path: Path, bind_zone: Zone, postgresql_factory: Callable[[], PostgreSQL]
) -> None:
    from drptools import journal

    production, drp_side = postgresql_factory(), postgresql_factory()
    production.psql(ACCOUNTS.replace("2000", "300000"))  # a restore that takes a while
    _, config = recovery_site(tmp_path, bind_zone)
    config.write_text(config.read_text() + toml({
        "environments.www.databases.accounts": {"engine": "postgresql", **server(production)},
        "drp.databases.postgresql": server(drp_side),
    }))  # fmt: skip
    assert drp(config, "backup", "db", now=EVEN_NOON).returncode == 0
    before = accounts_sum(production)
    (dump,) = (tmp_path / "A").rglob("*.dump")
    from drptools.engines import versions

    server_major = versions.server_version(config_database(production, "postgresql"))
    assert versions.postgresql_dump_version(dump.read_bytes()[:4096]) == server_major
    running = start_drp(config, "activate", "--yes", "--authorized-by", "J", "--reference", "R",
                        now=EVEN_NOON + HOUR)  # fmt: skip
    # The DRP's database server goes down while pg_restore is writing into it.
    wait_for(lambda: any(name == "pg_restore" for _, name in children(running.pid)),
             timeout=60, what="pg_restore started")  # fmt: skip
    drp_side.stop()
    _, stderr = running.communicate(timeout=120)
    assert running.returncode == 1
    assert "[3/5] import www's database accounts" in stderr
    (run_id,) = list(journal.all_runs())
    ended = {r["step"]: r["result"] for r in journal.read(run_id) if r["event"] == "end"}
    # The files' lane went on to its end beside the import; nothing after them started.
    assert ended == {"verify-backup:www": "ok", "copy-files:www": "ok",
                     "verify-files:www": "ok", "import-db:www:accounts": "failed"}  # fmt: skip
    drp_side.start()
    resumed = drp(config, "activate", "--resume", run_id, "--yes", now=EVEN_NOON + HOUR + 60)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    starts = [r["step"] for r in journal.read(run_id) if r["event"] == "start"]
    assert starts.count("copy-files:www") == starts.count("verify-files:www") == 1  # not redone
    assert starts.count("import-db:www:accounts") == 2
    assert accounts_sum(drp_side) == before


def test_a_drp_database_server_that_is_down_or_older_is_named_before_anything_runs(
    tmp_path: Path, bind_zone: Zone, mariadb_factory: Callable[[], MariaDB]
) -> None:
    from drptools import journal
    from drptools.engines import versions
    from tests.servers.ports import free_port

    production = mariadb_factory()
    production.sql(SHOP)
    _, config = recovery_site(tmp_path, bind_zone)
    config.write_text(config.read_text() + toml({
        "environments.www.databases.shop": {"engine": "mariadb", **server(production)},
        # the DRP's server is down: nothing listens there
        "drp.databases.mariadb": {**server(production), "port": free_port()},
    }))  # fmt: skip
    assert drp(config, "backup", "db", now=EVEN_NOON).returncode == 0
    refused = drp(config, "activate", "--yes", "--authorized-by", "J", "--reference", "R",
                  now=EVEN_NOON + HOUR)  # fmt: skip
    assert refused.returncode == 1
    assert "the DRP's mariadb server: " in refused.stderr
    assert "Can't connect" in refused.stderr
    assert list(journal.all_runs()) == []  # refused at the plan: no step ran
    # The versions the probe compares: the real dump's header, the server's answer.
    (dump,) = (tmp_path / "A").rglob("*.sql.zst")
    header = subprocess.run(["zstd", "-dc", str(dump)], capture_output=True, check=True).stdout
    running = versions.server_version(config_database(production))
    assert versions.mariadb_dump_version(header[: versions.HEADER_BYTES]) == running
    assert versions.problem("mariadb", running, running) is None
    older = (running[0], running[1] - 1)
    assert "older than the" in str(versions.problem("mariadb", running, older))


def config_database(engine: MariaDB | PostgreSQL, kind: str = "mariadb") -> Database:
    name = "shop" if kind == "mariadb" else "accounts"
    return Database("www", name, kind, name, host=engine.host, port=engine.port,
                    user=engine.user, password_file=str(engine.password_file))  # fmt: skip
