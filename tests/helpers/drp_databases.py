"""The databases of the DRP tests: production's shop (MariaDB) and accounts (PostgreSQL),
how drp.toml reaches a test server, and the rows and checksums compared across sides."""

from __future__ import annotations

from tests.servers.mariadb import MariaDB
from tests.servers.postgresql import PostgreSQL

SHOP = """
CREATE DATABASE shop;
USE shop;
CREATE TABLE orders (id INT PRIMARY KEY AUTO_INCREMENT, total DECIMAL(10,2), note TEXT);
INSERT INTO orders (total, note) SELECT seq / 7, CONCAT('order ', seq, ' é') FROM seq_1_to_3000;
"""
ACCOUNTS = """
CREATE DATABASE accounts;
\\c accounts
CREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE, balance numeric(12,2));
INSERT INTO users (email, balance) SELECT 'u' || n || '@example.net', n * 1.5
  FROM generate_series(1, 2000) n;
"""


def server(engine: object) -> dict[str, object]:
    """A ``[*.databases.ENGINE]`` table reaching the test server ``engine``."""
    assert isinstance(engine, MariaDB | PostgreSQL)
    return {"host": engine.host, "port": engine.port, "user": engine.user,
            "password_file": str(engine.password_file)}  # fmt: skip


def shop_sum(database: MariaDB) -> str:
    """Rows and CHECKSUM TABLE of the orders."""
    count = database.sql("SELECT COUNT(*) FROM orders", "shop").strip()
    return f"{count} {database.sql('CHECKSUM TABLE orders', 'shop').split()[-1]}"


def accounts_sum(database: PostgreSQL) -> str:
    return database.psql(
        "SELECT count(*) || ' ' || md5(string_agg(id || email || balance, ',' ORDER BY id)) "
        "FROM users", "accounts",
    ).strip()  # fmt: skip
