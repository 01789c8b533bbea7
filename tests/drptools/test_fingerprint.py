"""Database fingerprints: the parsers on real dumps from real servers and on damaged text,
and verify_contents proving (or refusing) a restore."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drptools.config import Database
from drptools.engines import fingerprint
from drptools.engines import mariadb as mariadb_engine
from drptools.engines import postgresql as postgresql_engine
from drptools.errors import Failure
from tests.helpers.drp import EVEN_NOON, drp, local_site
from tests.servers.mariadb import MariaDB
from tests.servers.postgresql import PostgreSQL

#: Values that break naive parsing: quotes, backslashes, parentheses, commas, semicolons,
#: line breaks, tabs, NULL, binary bytes; a duplicate row; an empty table.
SHOP = r"""
CREATE DATABASE shop;
USE shop;
CREATE TABLE orders (id INT, note TEXT, price DECIMAL(8,2), blob_ LONGBLOB);
INSERT INTO orders VALUES (1, 'it''s (a) test, ok;', 1.5, NULL),
  (2, 'back\\slash \'quote\' ),(', -2, UNHEX('00FF275C28')),
  (3, 'line\nbreak\ttab', NULL, ''), (3, 'line\nbreak\ttab', NULL, '');
INSERT INTO orders SELECT seq + 10, CONCAT('row ', seq, ' é'), seq / 7, NULL FROM seq_1_to_2500;
CREATE TABLE `we``ird (name)` (v VARCHAR(10));
INSERT INTO `we``ird (name)` VALUES ('x');
CREATE TABLE empty_one (id INT);
CREATE EVENT tidy ON SCHEDULE EVERY 1 HOUR DO DELETE FROM orders WHERE id < 0;
CREATE VIEW cheap AS SELECT id, note FROM orders WHERE price < 1;
"""
ACCOUNTS = r"""
CREATE DATABASE accounts;
\c accounts
CREATE TABLE users (id int, email text, note text, raw bytea);
INSERT INTO users VALUES (1, 'a@example.net', E'tab\there\nnew line \\ back', '\x00ff'),
  (2, 'b@example.net', NULL, NULL), (2, 'b@example.net', NULL, NULL);
INSERT INTO users SELECT n + 10, 'u' || n || '@example.net', 'é (' || n || ')', NULL
  FROM generate_series(1, 2000) n;
CREATE SCHEMA "Odd schema";
CREATE TABLE "Odd schema"."My ""odd"" table" ("a col" int);
INSERT INTO "Odd schema"."My ""odd"" table" VALUES (7);
CREATE TABLE empty_one (id int);
"""


def mariadb_tables(lines: Iterable[bytes]) -> dict[str, fingerprint.Fingerprint]:
    """The fingerprint of each table of a MariaDB dump's text."""
    return fingerprint.fingerprints(fingerprint.mariadb_rows(lines))


def postgresql_tables(lines: Iterable[bytes]) -> dict[str, fingerprint.Fingerprint]:
    """The fingerprint of each table of a PostgreSQL dump's text."""
    return fingerprint.fingerprints(fingerprint.postgresql_rows(lines))


def connection(server: MariaDB | PostgreSQL, engine: str) -> dict[str, object]:
    return {"engine": engine, "host": server.host, "port": server.port, "user": server.user,
            "password_file": str(server.password_file)}  # fmt: skip


def live(server: MariaDB | PostgreSQL, engine: str, name: str) -> Database:
    return Database("www", name, engine, name, host=server.host, port=server.port,
                    user=server.user, password_file=str(server.password_file))  # fmt: skip


def backed_up(tmp_path: Path, key: str, table: dict[str, object]) -> dict[str, str]:
    """``drp backup db`` of database ``key`` to target A: its dump set (suffix -> path)."""
    _, config = local_site(tmp_path, databases={f"environments.www.databases.{key}": table})
    result = drp(config, "backup", "db", "--target", "A", now=EVEN_NOON)
    assert result.returncode == 0, result.stderr
    directory = tmp_path / "A" / "www" / "db" / key
    (checksums,) = directory.glob("*.sha256")
    stamp = checksums.name.removesuffix(".sha256")
    return {
        path.name[len(stamp) :]: str(path)
        for path in directory.iterdir()
        if path.name.startswith(stamp) and path != checksums
    }


def test_a_mariadb_dump_and_its_restore_have_one_fingerprint(
    tmp_path: Path, mariadb_factory: Callable[[], MariaDB]
) -> None:
    server = mariadb_factory()
    server.sql(SHOP)
    files = backed_up(tmp_path, "shop", connection(server, "mariadb"))
    expected = fingerprint.streamed(
        mariadb_engine.dump_data_stream(files), mariadb_tables, "reading"
    )
    assert {name: rows for name, (rows, _) in expected.items()} == {
        "orders": 2504, "we`ird (name)": 1, "empty_one": 0
    }  # fmt: skip
    contents = fingerprint.verify_contents(live(server, "mariadb", "shop"), files)
    assert (len(contents.tables), contents.rows) == (3, 2505)
    # Rows given back in another order than the dump's: the digests differ, the
    # fingerprints read then prove the same rows.
    reordered = fingerprint.of_dump(live(server, "mariadb", "shop"), files)
    reordered.tables["orders"] = (2504, bytes(32))
    assert fingerprint.matches(live(server, "mariadb", "shop"), reordered).rows == 2505
    # The same dump imported under another name, beside the original, proves the same.
    scratch = live(server, "mariadb", "shop_drill")
    mariadb_engine.restore_as(scratch, files, "shop")
    assert fingerprint.verify_contents(scratch, files).rows == 2505
    events = "SELECT event_schema, status FROM information_schema.events ORDER BY 1"
    assert server.sql(events).split() == ["shop", "ENABLED", "shop_drill", "DISABLED"]
    views = "SELECT view_definition FROM information_schema.views WHERE table_schema = 'shop_drill'"
    assert "`shop_drill`.`orders`" in server.sql(views)  # the dump names no database
    assert "`shop`." not in server.sql(views)
    server.sql("UPDATE orders SET note = 'changed' WHERE id = 2", "shop_drill")
    with pytest.raises(
        Failure,
        match=r"shop_drill differs from its dump: table orders: "
        r"the dump holds 2504 rows \(checksum [0-9a-f]{16}\), the database 2504",
    ):
        fingerprint.verify_contents(scratch, files)
    server.sql("DELETE FROM orders WHERE id = 3 LIMIT 1", "shop_drill")
    with pytest.raises(Failure, match="the database 2503"):
        fingerprint.verify_contents(scratch, files)
    server.sql("DROP TABLE empty_one", "shop_drill")
    with pytest.raises(Failure, match=r"table empty_one \(0 rows in the dump\) is missing"):
        fingerprint.verify_contents(scratch, files)
    mariadb_engine.drop(scratch)
    assert "shop_drill" not in server.sql("SHOW DATABASES")
    assert fingerprint.verify_contents(live(server, "mariadb", "shop"), files).rows == 2505


def test_a_postgresql_dump_and_its_restore_have_one_fingerprint(
    tmp_path: Path, postgresql_factory: Callable[[], PostgreSQL]
) -> None:
    server = postgresql_factory()
    server.psql(ACCOUNTS)
    files = backed_up(tmp_path, "accounts", connection(server, "postgresql"))
    expected = fingerprint.streamed(
        postgresql_engine.dump_data_stream(files), postgresql_tables, "reading"
    )
    assert {name: rows for name, (rows, _) in expected.items()} == {
        "public.users": 2003, '"Odd schema"."My ""odd"" table"': 1, "public.empty_one": 0
    }  # fmt: skip
    assert fingerprint.verify_contents(live(server, "postgresql", "accounts"), files).rows == 2004
    scratch = live(server, "postgresql", "accounts_drill")
    postgresql_engine.restore_as(scratch, files, "accounts")
    assert fingerprint.verify_contents(scratch, files).rows == 2004
    server.psql("UPDATE users SET note = 'x' WHERE id = 1", "accounts_drill")
    with pytest.raises(Failure, match=r"accounts_drill differs from its dump: table public\.users"):
        fingerprint.verify_contents(scratch, files)
    server.psql("CREATE TABLE added (id int)", "accounts_drill")
    with pytest.raises(Failure, match=r"table public.added \(0 rows\) is not in the dump"):
        fingerprint.verify_contents(scratch, files)
    postgresql_engine.drop(scratch)
    assert "accounts_drill" not in server.psql("SELECT datname FROM pg_database")


def test_a_cut_dump_is_named() -> None:
    lines = [b"-- Dumping data for table `t`\n", b"INSERT INTO `t` VALUES (1,'a'),(2,'b"]
    with pytest.raises(fingerprint.Damaged, match=r"line 2 \(t\): a row is cut short"):
        mariadb_tables(lines)
    with pytest.raises(fingerprint.Damaged, match=r"public\.t: the dump ends inside"):
        postgresql_tables([b"COPY public.t (a) FROM stdin;\n", b"1\n"])
    with pytest.raises(fingerprint.Damaged, match="rows are cut short"):
        postgresql_tables([b"COPY public.t (a) FROM stdin;\n", b"1"])


def mariadb(*lines: bytes) -> dict[str, fingerprint.Fingerprint]:
    """The fingerprint of a MariaDB dump of ``lines``, its closing line added."""
    return mariadb_tables([*lines, b"-- Dump completed on 2026-12-02  4:00:00\n"])


def postgresql(*lines: bytes) -> dict[str, fingerprint.Fingerprint]:
    return postgresql_tables([*lines, b"-- PostgreSQL database dump complete\n"])


def test_the_checksum_ignores_the_order_of_rows_but_counts_duplicates() -> None:
    one = mariadb(b"INSERT INTO `t` VALUES (1,'a'),(2,'b');\n")
    assert one == mariadb(
        b"INSERT INTO `t` VALUES (2,'b');\n", b"INSERT INTO `t` VALUES (1,'a');\n"
    )
    assert mariadb(b"INSERT INTO `t` VALUES\n", b"(2,'b'),\n", b"(1,'a');\n") == one
    doubled = mariadb(b"INSERT INTO `t` VALUES (1,'a'),(1,'a'),(2,'b');")
    assert doubled["t"][0] == 3
    assert doubled != one
    rows = [b"COPY s.t (a) FROM stdin;\n", b"1\tx\n", b"2\ty\n", b"\\.\n"]
    assert postgresql(*rows) == postgresql(rows[0], rows[2], rows[1], rows[3])
    assert fingerprint.difference({"t": (1, 5)}, {"t": (1, 5)}) is None


def test_the_digest_follows_the_rows_in_order_however_they_are_split() -> None:
    rows = [b"(%d,'r%d')" % (n, n) for n in range(fingerprint.BATCH * 2 + 5)]
    whole = b"INSERT INTO `t` VALUES " + b",".join(rows) + b";\n"
    per_line = [b"INSERT INTO `t` VALUES\n", *(row + b",\n" for row in rows[:-1]),
                rows[-1] + b";\n"]  # fmt: skip
    halves = [b"INSERT INTO `t` VALUES " + b",".join(rows[:100]) + b";\n",
              b"INSERT INTO `t` VALUES " + b",".join(rows[100:]) + b";\n"]  # fmt: skip
    end = b"-- Dump completed on 2026-12-02  4:00:00\n"
    (digest,) = {
        tuple(fingerprint.digests(fingerprint.mariadb_rows([*text, end])).items())
        for text in ([whole], per_line, halves)
    }
    assert digest[0][1][0] == len(rows)
    copy = [b"COPY s.t (a) FROM stdin;\n", *(row + b"\n" for row in rows), b"\\.\n",
            b"-- PostgreSQL database dump complete\n"]  # fmt: skip
    assert fingerprint.digests(fingerprint.postgresql_rows(copy)) == {"s.t": digest[0][1]}
    swapped = [*per_line[:1], per_line[2], per_line[1], *per_line[3:], end]
    assert fingerprint.digests(fingerprint.mariadb_rows(swapped)) != dict(digest)
    assert mariadb_tables(swapped) == mariadb_tables([*per_line, end])


def test_a_dump_cut_between_two_statements_is_cut_short() -> None:
    """Its text parses to the end, but the dump tool's closing line is not there."""
    with pytest.raises(fingerprint.Damaged, match=r"before its last line \(-- Dump completed"):
        mariadb_tables([b"INSERT INTO `t` VALUES (1);\n"])
    with pytest.raises(fingerprint.Damaged, match="PostgreSQL database dump complete"):
        postgresql_tables([b"COPY s.t (a) FROM stdin;\n", b"1\n", b"\\.\n"])


MARIADB_SAMPLE = (
    b"-- Dumping data for table `orders`\n--\n\nLOCK TABLES `orders` WRITE;\n"
    b"INSERT INTO `orders` VALUES (1,'it\\'s (a) test, ok;',1.50,NULL),"
    b"(2,'back\\\\slash ),(',-2.00,'\\0\xff\\'\\\\('),(3,'line\\nbreak\\ttab',NULL,'');\n"
    b"UNLOCK TABLES;\n-- Dumping data for table `t2`\n--\n\nINSERT INTO `t2` VALUES\n"
    b"(1,'a\\'(',NULL),\n(2,'b',0x00),\n(3,'c);',NULL);\n-- Dump completed on 2026-12-02\n"
)
POSTGRESQL_SAMPLE = (
    b"COPY public.users (id, email, note) FROM stdin;\n1\ta@example.net\ttab\\there\n"
    b"2\tb@example.net\t\\N\n\\.\n\nSELECT pg_catalog.setval('public.s', 2, true);\n"
    b"--\n-- PostgreSQL database dump complete\n--\n"
)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_damaged_dumps_raise_damaged_or_parse(data: st.DataObject) -> None:
    for sample, parse in ((MARIADB_SAMPLE, mariadb_tables),
                          (POSTGRESQL_SAMPLE, postgresql_tables)):  # fmt: skip
        cut = data.draw(st.integers(0, len(sample)))
        at = data.draw(st.integers(0, len(sample)))
        inserted = data.draw(st.binary(max_size=8))
        for damaged in (sample[:cut], sample[:at] + inserted + sample[at + 1 :]):
            try:
                tables = parse(damaged.splitlines(keepends=True))
            except fingerprint.Damaged:
                continue
            assert all(rows >= 0 and 0 <= sum_ < 2**64 for rows, sum_ in tables.values())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=60), max_size=12))
def test_garbage_never_crashes_the_parsers(lines: list[bytes]) -> None:
    for parse in (mariadb_tables, postgresql_tables):
        prefixed = [b"INSERT INTO `t` VALUES " + line for line in lines] + lines
        for text in (lines, prefixed, [b"COPY a.b FROM stdin;\n", *lines]):
            with contextlib.suppress(fingerprint.Damaged):
                parse(text)


def test_the_dump_is_renamed_only_where_it_names_the_database() -> None:
    lines = [b"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop` /*!40100 DEFAULT */;\n",
             b"USE `shop`;\n", b"INSERT INTO `t` VALUES ('USE `shop`;');\n"]  # fmt: skip
    assert list(mariadb_engine.renamed(lines, "shop", "shop_drill")) == [
        b"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop_drill` /*!40100 DEFAULT */;\n",
        b"USE `shop_drill`;\n",
        lines[2],
    ]


def test_the_events_of_a_renamed_dump_are_created_disabled() -> None:
    event = (b"/*!50106 CREATE*/ /*!50117 DEFINER=`root`@`localhost`*/ /*!50106 EVENT `nightly` "
             b"ON SCHEDULE EVERY 1 DAY STARTS '2026-12-02 04:40:33' ON COMPLETION NOT PRESERVE "
             b"ENABLE DO DELETE FROM audit WHERE note = ' ENABLE ' */ ;;\n")  # fmt: skip
    (renamed,) = mariadb_engine.renamed([event], "shop", "shop_drill")
    assert renamed == event.replace(b"PRESERVE ENABLE DO", b"PRESERVE DISABLE DO")
    already = event.replace(b"ENABLE DO", b"DISABLE ON SLAVE DO")
    assert list(mariadb_engine.renamed([already], "shop", "shop_drill")) == [already]
