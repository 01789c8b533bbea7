"""``drp backup db`` against a real MariaDB and a real PostgreSQL, restored into fresh ones.

What must hold: the dump is consistent and complete (restoring it into a new server gives
the same row counts and the same table checksums, routines and roles included); it lands
on both targets, one over ssh, with a checksum file ``sha256sum -c`` accepts; a failing or
killed dump leaves nothing that counts as a dump; no password ever shows on a command line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from drptools import engines, layout
from drptools.config import Database
from drptools.errors import Failure
from drptools.execute import CommandFailed
from tests.helpers.drp import DAY, EVEN_NOON, children, drp, start_drp, wait_for, write_config
from tests.servers.mariadb import MariaDB
from tests.servers.postgresql import PostgreSQL

pytestmark = pytest.mark.integration

SHOP_SQL = """
CREATE DATABASE shop;
USE shop;
CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(80), photo BLOB) ENGINE=InnoDB;
CREATE TABLE orders (id INT PRIMARY KEY AUTO_INCREMENT, customer INT, total DECIMAL(10,2),
                     note TEXT) ENGINE=InnoDB;
CREATE TABLE audit (id INT PRIMARY KEY AUTO_INCREMENT, what VARCHAR(40)) ENGINE=InnoDB;
INSERT INTO customers SELECT seq, CONCAT('customer ', seq, ' é'), UNHEX(MD5(seq))
  FROM seq_1_to_2000;
INSERT INTO orders (customer, total, note) SELECT seq % 2000 + 1, seq / 7,
  CONCAT('line1\\nline2 ''quoted'' \\\\ ', seq) FROM seq_1_to_20000;
CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW
  INSERT INTO audit (what) VALUES (CONCAT('order ', NEW.id));
CREATE FUNCTION spend(who INT) RETURNS DECIMAL(12,2) DETERMINISTIC
  RETURN (SELECT SUM(total) FROM orders WHERE customer = who);
CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM audit;
"""
SHOP_TABLES = ("customers", "orders", "audit")


def mariadb_state(server: MariaDB) -> dict[str, str]:
    """Row counts, CHECKSUM TABLE and the stored code of ``shop``."""
    state = {}
    for table in SHOP_TABLES:
        state[f"{table} rows"] = server.sql(f"SELECT COUNT(*) FROM shop.{table}").strip()
        state[f"{table} checksum"] = server.sql(f"CHECKSUM TABLE shop.{table} EXTENDED").split()[-1]
    state["code"] = server.sql(
        "SELECT GROUP_CONCAT(name ORDER BY name) FROM ("
        " SELECT routine_name name FROM information_schema.routines WHERE routine_schema='shop'"
        " UNION SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema='shop'"
        " UNION SELECT event_name FROM information_schema.events WHERE event_schema='shop') c"
    ).strip()
    state["spend(7)"] = server.sql("SELECT shop.spend(7)").strip()
    return state


def config_for(
    tmp_path: Path, database: dict[str, object], b: str, ssh_config: Path | None = None
) -> Path:
    (tmp_path / "A").mkdir(exist_ok=True)
    (tmp_path / "src").mkdir(exist_ok=True)
    return write_config(
        tmp_path / "drp.toml",
        a=str(tmp_path / "A"),
        b=b,
        ssh_config=ssh_config,
        environments={"www": {"paths": [str(tmp_path / "src")]}},
        databases={"environments.www.databases.shop": database},
    )


def mariadb_database(server: MariaDB, **overrides: object) -> dict[str, object]:
    return {
        "engine": "mariadb",
        "host": server.host,
        "port": server.port,
        "user": server.user,
        "password_file": str(server.password_file),
        **overrides,
    }


def dump_sets(directory: Path) -> dict[str, str]:
    names = {path.name for path in directory.iterdir()} if directory.exists() else set()
    return {s.stamp: s.state for s in layout.classify_dumps(names)}


def test_mariadb_dump_to_a_local_and_an_ssh_target_restores_identically(
    tmp_path, sshd, mariadb_factory
):
    source = mariadb_factory()
    source.sql(SHOP_SQL)
    remote = tmp_path / "remote B"
    remote.mkdir()
    config = config_for(
        tmp_path, mariadb_database(source), f"{sshd.alias}:{remote}", sshd.ssh_config
    )
    result = drp(config, "backup", "db", now=EVEN_NOON)
    assert (result.returncode, result.stderr) == (0, "")
    stamp = layout.stamp(EVEN_NOON)
    for target in (tmp_path / "A", remote):
        directory = target / "www" / "db" / "shop"
        assert dump_sets(directory) == {stamp: layout.COMPLETE}
        assert sorted(p.name for p in directory.iterdir()) == [
            ".lock",
            f"{stamp}.sha256",
            f"{stamp}.sql.zst",
        ]
        checked = subprocess.run(
            ["sha256sum", "-c", "--strict", f"{stamp}.sha256"], cwd=directory,
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert checked.stdout == f"{stamp}.sql.zst: OK\n"
    assert (tmp_path / "A/www/db/shop" / f"{stamp}.sql.zst").read_bytes() == (
        remote / "www/db/shop" / f"{stamp}.sql.zst"
    ).read_bytes()
    verified = drp(config, "verify", "db", "www")
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.count(": intact, 1 file(s) match") == 2

    fresh = mariadb_factory()
    dump = tmp_path / "A/www/db/shop" / f"{stamp}.sql.zst"
    engines.restore(
        Database("www", "shop", "mariadb", "shop", socket=str(fresh.socket), user="root"),
        {".sql.zst": str(dump)},
    )
    before, after = mariadb_state(source), mariadb_state(fresh)
    assert after == before
    assert before["orders rows"] == "20000"
    assert before["code"] == "nightly,orders_audit,spend"

    (record_a, record_b) = json.loads(drp(config, "status", "--json").stdout)
    assert (record_a["what"], record_a["database"], record_a["result"]) == ("db", "shop", "ok")
    assert record_a["bytes"] == dump.stat().st_size
    assert record_b["target"] == "B"
    assert record_b["snapshot"] == stamp


PG_SQL = """
CREATE ROLE shop_reader LOGIN PASSWORD 'reader-secret';
CREATE DATABASE accounts;
\\c accounts
CREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE, balance numeric(12,2),
                    created timestamptz DEFAULT '2026-11-24 10:00+01', tags text[]);
INSERT INTO users (email, balance, tags)
  SELECT 'user' || n || '@example.net', n * 1.5, ARRAY['t' || n % 7, 'é''"\\']
  FROM generate_series(1, 5000) AS n;
CREATE TABLE ledger (id bigserial PRIMARY KEY, user_id int REFERENCES users, amount numeric,
                     payload bytea);
INSERT INTO ledger (user_id, amount, payload)
  SELECT n % 5000 + 1, n / 3.0, decode(md5(n::text), 'hex') FROM generate_series(1, 30000) n;
CREATE FUNCTION total(uid int) RETURNS numeric LANGUAGE sql AS
  'SELECT sum(amount) FROM ledger WHERE user_id = uid';
GRANT SELECT ON users TO shop_reader;
"""


def postgresql_state(server: PostgreSQL) -> dict[str, str]:
    state = {}
    for table, order in (("users", "id"), ("ledger", "id")):
        state[f"{table} rows"] = server.psql(f"SELECT count(*) FROM {table}", "accounts").strip()
        state[f"{table} md5"] = server.psql(
            f"SELECT md5(string_agg(t::text, '|' ORDER BY {order})) FROM {table} t", "accounts"
        ).strip()
    state["total(42)"] = server.psql("SELECT total(42)", "accounts").strip()
    state["reader grants"] = server.psql(
        "SELECT string_agg(privilege_type, ',') FROM information_schema.role_table_grants "
        "WHERE grantee = 'shop_reader'",
        "accounts",
    ).strip()
    return state


def test_postgresql_dump_and_globals_restore_identically(tmp_path, postgresql_factory):
    source = postgresql_factory()
    source.psql(PG_SQL)
    (tmp_path / "B").mkdir()
    database = {
        "engine": "postgresql",
        "name": "accounts",
        "host": source.host,
        "port": source.port,
        "user": source.user,
        "password_file": str(source.password_file),
    }
    config = config_for(tmp_path, database, str(tmp_path / "B"))
    result = drp(config, "backup", "db", now=EVEN_NOON)
    assert (result.returncode, result.stderr) == (0, "")
    stamp = layout.stamp(EVEN_NOON)
    directory = tmp_path / "B" / "www" / "db" / "shop"
    assert sorted(p.name for p in directory.iterdir()) == [
        ".lock", f"{stamp}.dump", f"{stamp}.globals.sql.zst", f"{stamp}.sha256",
    ]  # fmt: skip
    assert drp(config, "verify", "db", "www", "--target", "B").returncode == 0

    fresh = postgresql_factory()
    globals_sql = subprocess.run(
        ["zstd", "-dc", str(directory / f"{stamp}.globals.sql.zst")],
        capture_output=True, check=True, text=True,
    ).stdout  # fmt: skip
    assert "CREATE ROLE shop_reader;" in globals_sql
    into = Database(
        "www",
        "shop",
        "postgresql",
        "accounts",
        host=fresh.host,
        port=fresh.port,
        user=fresh.user,
        password_file=str(fresh.password_file),
    )
    engines.restore(  # "role postgres already exists", said by psql, is fine
        into,
        {
            ".dump": str(directory / f"{stamp}.dump"),
            ".globals.sql.zst": str(directory / f"{stamp}.globals.sql.zst"),
        },
    )
    assert fresh.psql("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'shop_reader'") == "t\n"
    before, after = postgresql_state(source), postgresql_state(fresh)
    assert after == before
    assert (before["users rows"], before["ledger rows"], before["reader grants"]) == (
        "5000",
        "30000",
        "SELECT",
    )


def big_mariadb(server: MariaDB) -> None:
    server.sql(
        "CREATE DATABASE shop; USE shop; CREATE TABLE big (id INT PRIMARY KEY, pad TEXT);"
        "INSERT INTO big SELECT seq, REPEAT(MD5(seq), 12) FROM seq_1_to_400000;"
    )


def test_no_command_line_ever_shows_a_password(tmp_path, mariadb, postgresql):
    big_mariadb(mariadb)
    (tmp_path / "B").mkdir()
    config = config_for(tmp_path, mariadb_database(mariadb), str(tmp_path / "B"))
    config.write_text(
        config.read_text()
        + '\n[environments.www.databases.accounts]\nengine = "postgresql"\nname = "postgres"\n'
        f'host = "{postgresql.host}"\nport = {postgresql.port}\nuser = "postgres"\n'
        f'password_file = "{postgresql.password_file}"\n'
    )
    secrets = [mariadb.password.encode(), postgresql.password.encode()]
    process = start_drp(config, "backup", "db", now=EVEN_NOON)
    seen_tools: set[bytes] = set()
    while process.poll() is None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                argv = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            tool = os.path.basename(argv.split(b"\0")[0])
            if tool in (b"mariadb-dump", b"pg_dump", b"pg_dumpall", b"zstd", b"dd"):
                seen_tools.add(tool)
                for secret in secrets:
                    assert secret not in argv, argv
                if tool == b"mariadb-dump":  # the password is in the pipe, not the environment
                    with open(f"/proc/{entry}/environ", "rb") as file:
                        assert mariadb.password.encode() not in file.read()
    _, stderr = process.communicate()
    assert process.returncode == 0, stderr
    assert {b"mariadb-dump", b"zstd", b"dd"} <= seen_tools
    stamp = layout.stamp(EVEN_NOON)
    for key in ("shop", "accounts"):
        assert dump_sets(tmp_path / "A/www/db" / key) == {stamp: layout.COMPLETE}


def test_a_dump_that_fails_leaves_nothing_that_counts(tmp_path, mariadb):
    mariadb.sql("CREATE DATABASE shop;")
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not the password\n")
    wrong.chmod(0o600)
    (tmp_path / "B").mkdir()
    config = config_for(
        tmp_path, mariadb_database(mariadb, password_file=str(wrong)), str(tmp_path / "B")
    )
    result = drp(config, "backup", "db", now=EVEN_NOON)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 2  # one per target
    assert lines[0].startswith("drp: backup db www/shop to A failed: dumping www/shop: exited 2: ")
    assert "Access denied for user 'vigie'" in lines[0]
    for target in ("A", "B"):
        directory = tmp_path / target / "www/db/shop"
        assert sorted(p.name for p in directory.iterdir()) == [".lock"]
    records = json.loads(drp(config, "status", "--json").stdout)
    assert [r["result"] for r in records] == ["failed", "failed"]


def test_a_dump_killed_mid_stream_leaves_nothing_that_counts(tmp_path, mariadb):
    big_mariadb(mariadb)
    (tmp_path / "B").mkdir()
    config = config_for(tmp_path, mariadb_database(mariadb), str(tmp_path / "B"))
    assert drp(config, "backup", "db", now=EVEN_NOON).returncode == 0
    later = EVEN_NOON + 7200
    process = start_drp(config, "backup", "db", now=later)
    dump_pid = wait_for(
        lambda: next((p for p, name in children(process.pid) if name == "mariadb-dump"), None),
        what="mariadb-dump to start",
    )
    partial = tmp_path / "A/www/db/shop" / f"{layout.stamp(later)}.sql.zst.partial"
    wait_for(lambda: partial.exists() and partial.stat().st_size > 0, what="data to flow")
    os.kill(dump_pid, signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "dumping www/shop: killed by SIGKILL" in stderr
    for target in ("A", "B"):
        directory = tmp_path / target / "www/db/shop"
        assert dump_sets(directory) == {layout.stamp(EVEN_NOON): layout.COMPLETE}
        assert not list(directory.glob("*.partial"))


def test_dry_run_shows_the_plan_and_no_secret(tmp_path, mariadb):
    mariadb.sql("CREATE DATABASE shop;")
    (tmp_path / "B").mkdir()
    config = config_for(tmp_path, mariadb_database(mariadb), str(tmp_path / "B"))
    result = drp(config, "backup", "db", "--dry-run", now=EVEN_NOON)
    assert result.returncode == 0, result.stderr
    stamp = layout.stamp(EVEN_NOON)
    assert result.stdout.splitlines()[:2] == [
        f"would dump www/shop (mariadb) as {stamp} to A, B",
        f"  mariadb-dump --defaults-extra-file=/dev/fd/N --host=127.0.0.1 --protocol=TCP "
        f"--port={mariadb.port} --single-transaction --quick --routines --triggers --events "
        f"--databases shop | zstd -q -c -T0  > {stamp}.sql.zst",
    ]
    assert mariadb.password not in result.stdout
    assert not (tmp_path / "A" / "www").exists()


def test_a_retention_failure_after_a_dump_is_not_a_failed_backup(tmp_path, mariadb):
    mariadb.sql("CREATE DATABASE shop;")
    (tmp_path / "B").mkdir()
    config = config_for(tmp_path, mariadb_database(mariadb, targets=["A"]), str(tmp_path / "B"))
    directory = tmp_path / "A" / "www" / "db" / "shop"
    directory.mkdir(parents=True)
    leftover = directory / f"{layout.stamp(EVEN_NOON - DAY)}.sql.zst{layout.PARTIAL}"
    leftover.write_bytes(b"left by a killed run")
    subprocess.run(["chattr", "+i", str(leftover)], check=True)  # even root cannot remove it
    try:
        result = drp(config, "backup", "db", now=EVEN_NOON)
    finally:
        subprocess.run(["chattr", "-i", str(leftover)], check=True)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "retention failed after dump" in result.stderr
    assert "Operation not permitted" in result.stderr
    assert dump_sets(directory)[layout.stamp(EVEN_NOON)] == layout.COMPLETE
    (record,) = json.loads(drp(config, "status", "--json").stdout)
    assert (record["result"], record["snapshot"]) == ("ok", layout.stamp(EVEN_NOON))
    assert "Operation not permitted" in record["prune_error"]


def test_a_restore_names_what_is_missing_or_what_failed(tmp_path, mariadb):
    into = Database("www", "shop", "mariadb", "shop", socket=str(mariadb.socket), user="root")
    with pytest.raises(Failure, match=r"restoring shop into mariadb: the dump set has no \.sql"):
        engines.restore(into, {})
    broken = tmp_path / "broken.sql.zst"
    broken.write_bytes(subprocess.run(
        ["zstd", "-q", "-c"], input=b"CREATE TABLE nowhere.t (i INT);\n", capture_output=True,
        check=True,
    ).stdout)  # fmt: skip
    with pytest.raises(CommandFailed, match="restoring shop into mariadb"):
        engines.restore(into, {".sql.zst": str(broken)})
    empty = tmp_path / "empty.sql.zst"
    empty.write_bytes(b"not zstd")
    with pytest.raises(CommandFailed, match="decompressing"):
        engines.restore(into, {".sql.zst": str(empty)})


def test_the_debug_log_names_the_password_variable_masked(tmp_path, postgresql):
    database = {
        "engine": "postgresql",
        "name": "postgres",
        "host": postgresql.host,
        "port": postgresql.port,
        "user": postgresql.user,
        "password_file": str(postgresql.password_file),
        "globals": False,
    }
    (tmp_path / "B").mkdir()
    config = config_for(tmp_path, database, str(tmp_path / "B"))
    result = drp(config, "-vv", "backup", "db", "--target", "A", now=EVEN_NOON)
    assert result.returncode == 0, result.stderr
    assert "running: PGCONNECT_TIMEOUT=*** PGPASSWORD=*** " in result.stderr
    assert postgresql.password not in result.stderr
