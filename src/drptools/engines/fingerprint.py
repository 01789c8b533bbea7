"""Database fingerprints: row counts and table checksums, from a dump and from a server.

A restore is proven by comparing what the backup holds with what the restored database
holds, table by table. Both sides are read as the dump tool writes them: the backup's
dump set is replayed as data-only text (``zstd -dc`` of a MariaDB dump, ``pg_restore
--data-only -f -`` of a PostgreSQL one) and the restored database is dumped afresh the
same way (``mariadb-dump --no-create-info``, ``pg_dump --data-only``). One pure splitter
per engine turns either text into each table's rows (:func:`mariadb_rows`,
:func:`postgresql_rows`); two summaries of those rows prove a restore:

- a **digest** per table (:func:`digests`): its row count and the SHA-256 of its rows in
  the order they come. A fresh restore gives its rows back in the order they went in
  (InnoDB's primary key or insertion order, PostgreSQL's heap), so both sides' digests
  are equal, and that proves the rows at C speed: about 0.5 µs a row where hashing each
  row from Python costs 3 µs, which is what lets the proof fit an activation's budget;
- a **fingerprint** per table (:func:`fingerprints`): its row count and the sum modulo
  2**64 of a 64-bit BLAKE2b of each row. The order of the rows does not matter, while a
  row lost, added, changed or duplicated changes the sum. It is computed only when the
  digests differ (:func:`matches`): either the same rows came back in another order (the
  restore is proven all the same) or the table named, with both sides' counts and sums.

Why not the servers' own checksums: ``CHECKSUM TABLE`` hashes MariaDB's row format, which
changes with the storage engine, the version and the column layout, and PostgreSQL has no
equivalent; a dump's text is what a restore replays, the same on both sides whatever the
storage. Both sides are streamed, so a 100 MB dump never sits in memory.

A text the splitter does not recognise (a dump cut short, garbage) raises :class:`Damaged`
naming what and where; it never raises anything else.
"""

from __future__ import annotations

import hashlib
import re
import signal
import subprocess
import tempfile

from drptools import execute
from drptools.engines.common import ended, start_with_secret
from drptools.errors import Failure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping
    from typing import TypeVar

    from drptools.config import Database
    from drptools.engines.common import Artifact

    Summary = TypeVar("Summary")
    #: A table's rows in batches, as the engines' ``data_rows`` give them.
    Batches = Iterable[tuple[str, list[bytes]]]

#: A table's fingerprint: its rows, and the sum of its rows' hashes modulo 2**64.
Fingerprint = tuple[int, int]
#: A table's digest: its rows, and the SHA-256 of their texts in order, a line each.
Digest = tuple[int, bytes]
MODULUS = 1 << 64
#: Rows a batch holds at most: a table's rows never sit in memory all at once.
BATCH = 4096


class Damaged(Failure):
    """A dump's text is not what its engine's dump tool writes: cut short, or garbage."""


def fingerprints(batches: Batches) -> dict[str, Fingerprint]:
    """Each table's row count and order-independent checksum."""
    found: dict[str, Fingerprint] = {}
    blake2b = hashlib.blake2b
    for name, rows in batches:
        count, checksum = found.get(name, (0, 0))
        for row in rows:
            checksum += int.from_bytes(blake2b(row, digest_size=8).digest(), "big")
        found[name] = (count + len(rows), checksum % MODULUS)
    return found


def digests(batches: Batches) -> dict[str, Digest]:
    """Each table's row count and the SHA-256 of its rows in order (a row never holds a
    line break: both dump tools escape them, so the rows are told apart)."""
    running: dict[str, tuple[int, hashlib._Hash]] = {}
    for name, rows in batches:
        count, sha256 = running.get(name) or (0, hashlib.sha256())
        if rows:
            sha256.update(b"\n".join(rows))
            sha256.update(b"\n")
        running[name] = (count + len(rows), sha256)
    return {name: (count, sha256.digest()) for name, (count, sha256) in running.items()}


def shown(name: bytes) -> str:
    """A table name from a dump, readable whatever bytes it holds."""
    return name.decode("utf-8", errors="backslashreplace")


def cut_short(end: bytes) -> Damaged:
    """The text stopped before ``end``, the dump tool's last line: a text cut between two
    statements splits, and only that line's absence tells that rows are missing."""
    return Damaged(f"the text stops before its last line ({end.decode()}…): cut short")


# --- MariaDB / MySQL --------------------------------------------------------------------

#: The comment mariadb-dump ends every dump with (the date after it).
MARIADB_END = b"-- Dump completed"
#: ``-- Dumping data for table `t``` comes before a table's rows, also for an empty one.
_MARIADB_TABLE = re.compile(rb"-- Dumping data for table `((?:[^`]|``)+)`\n?")
_MARIADB_INSERT = re.compile(rb"INSERT INTO `((?:[^`]|``)+)`(?: \([^()]*\))? VALUES ?")
#: One row: quoted strings (backslash escapes) and unquoted values without parentheses.
#: Possessive quantifiers: a damaged row fails in linear time, not by backtracking.
_MARIADB_ROW = re.compile(rb"\((?:'(?:[^'\\]++|\\.)*+'|[^'()]++)*+\)", re.DOTALL)


def mariadb_rows(lines: Iterable[bytes]) -> Iterator[tuple[str, list[bytes]]]:
    """The rows of each table in a MariaDB dump's text (``mariadb-dump`` output).

    Rows are the tuples of its ``INSERT INTO `t` VALUES (...),(...);`` statements, on one
    line (MySQL, older MariaDB) or a row per line after ``VALUES`` (MariaDB 10.11): the
    dump escapes line breaks inside values. Everything else (DDL, comments, ``LOCK
    TABLES``) is not data and is skipped. The text must reach mariadb-dump's closing
    ``-- Dump completed`` comment.
    """
    complete = False
    batch: list[bytes] | None = None  # inside an INSERT whose rows come a line each
    where = ""
    for number, line in enumerate(lines, 1):
        if batch is not None:
            # The hot loop: a row alone on its line, as MariaDB 10.11 writes them.
            ending = line[-3:]
            if line[:1] == b"(" and ending in {b"),\n", b");\n"}:
                batch.append(line[:-2])
                going_on = ending == b"),\n"
            else:
                going_on = _mariadb_line(line, 0, batch, number, where)
            if not going_on or len(batch) >= BATCH:
                yield where, batch
                batch = [] if going_on else None
            continue
        if line.startswith(b"-- Dumping data for table "):
            heading = _MARIADB_TABLE.fullmatch(line)
            yield _mariadb_name(heading, number, "a garbled table heading"), []
        elif line.startswith(b"INSERT INTO "):
            statement = _MARIADB_INSERT.match(line)
            where = _mariadb_name(statement, number, "an INSERT that names no table")
            batch, at = [], statement.end() if statement else 0
            if at < len(line.rstrip(b"\n")) and not _mariadb_line(line, at, batch, number, where):
                yield where, batch
                batch = None
        elif line.startswith(MARIADB_END):
            complete = True
    if batch is not None:
        raise Damaged(f"{where}: the dump ends inside an INSERT")
    if not complete:
        raise cut_short(MARIADB_END)


def _mariadb_name(found: re.Match[bytes] | None, number: int, otherwise: str) -> str:
    """The table a heading or an INSERT names (its first group); Damaged if none."""
    if found is None:
        raise Damaged(f"line {number}: {otherwise}")
    return shown(found.group(1).replace(b"``", b"`"))


def _mariadb_line(line: bytes, at: int, rows: list[bytes], number: int, table: str) -> bool:
    """Append the rows of ``line`` from ``at`` to ``rows``: ``(…),(…)`` then ``;`` (the
    statement ends: False) or ``,`` at the end of the line (it goes on: True)."""
    end = len(line) - 1 if line.endswith(b"\n") else len(line)
    match = _MARIADB_ROW.match
    while True:
        row = match(line, at, end)
        if row is None:
            raise Damaged(f"line {number} ({table}): a row is cut short or garbled at byte {at}")
        rows.append(row.group())
        at = row.end()
        separator = line[at : at + 1]
        if separator == b";" and at + 1 == end:
            return False
        if separator != b",":
            raise Damaged(
                f"line {number} ({table}): the INSERT is cut short or garbled at byte {at}"
            )
        at += 1
        if at == end and line.endswith(b"\n"):
            return True


# --- PostgreSQL -------------------------------------------------------------------------

#: The comment pg_dump and pg_restore end a plain-text dump with.
POSTGRESQL_END = b"-- PostgreSQL database dump complete"
#: ``COPY name (columns) FROM stdin;``: names may be quoted (``"My table"``, ``""`` inside).
_COPY = re.compile(
    rb'COPY ((?:"(?:[^"]|"")*+"|[^\s"(])++) (?:\((?:"(?:[^"]|"")*+"|[^"()])*+\) )?FROM stdin;\n?'
)


def postgresql_rows(lines: Iterable[bytes]) -> Iterator[tuple[str, list[bytes]]]:
    """The rows of each table in a PostgreSQL dump's plain text (``pg_dump --data-only``,
    ``pg_restore --data-only -f -``).

    Rows are the lines of its ``COPY schema.table (columns) FROM stdin;`` blocks up to
    their ``\\.`` (COPY escapes line breaks, so a row is one line); the rest is skipped.
    The text must reach the closing ``-- PostgreSQL database dump complete``.
    """
    complete = False
    batch: list[bytes] | None = None  # inside a COPY block
    name = ""
    for number, line in enumerate(lines, 1):
        if batch is not None:
            if line[-1:] == b"\n" and line != b"\\.\n":
                batch.append(line[:-1])
                if len(batch) >= BATCH:
                    yield name, batch
                    batch = []
            elif line in (b"\\.\n", b"\\."):
                yield name, batch
                batch = None
            else:
                raise Damaged(f"line {number} ({name}): the table's rows are cut short")
            continue
        if line.startswith(b"COPY "):
            block = _COPY.fullmatch(line)
            if block is None:
                raise Damaged(f"line {number}: a garbled COPY")
            name = shown(block.group(1))
            batch = []
        elif line.startswith(POSTGRESQL_END):
            complete = True
    if batch is not None:
        raise Damaged(f"{name}: the dump ends inside the table's rows")
    if not complete:
        raise cut_short(POSTGRESQL_END)


# --- reading a dump tool's output -------------------------------------------------------


def streamed(source: Artifact, parse: Callable[[Iterable[bytes]], Summary], what: str) -> Summary:
    """``parse`` of what ``source``'s command prints, read as it comes.

    When the command fails its failure wins (CommandFailed says why, the parser only
    that the text stopped); a parser that gives up stops the command.
    """
    with tempfile.TemporaryFile() as errors:
        process = start_with_secret(
            source.argv, source.secret, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=errors, extra_env=source.env,
        )  # fmt: skip
        assert process.stdout is not None
        try:
            summary = parse(process.stdout)
        except Damaged as damage:
            process.stdout.close()  # what it still writes ends it by SIGPIPE
            if execute.reap(process) not in (0, -signal.SIGPIPE):
                ended([(process, errors, what, source.cause)])
            raise Damaged(f"{what}: {damage}") from None
        finally:
            process.stdout.close()
        ended([(process, errors, what, source.cause)])
    return summary


class Contents:
    """What :func:`verify_contents` proved: the tables and their rows."""

    __slots__ = ("rows", "tables")

    def __init__(self, tables: Mapping[str, tuple[int, object]]) -> None:
        self.tables = tables
        self.rows = sum(rows for rows, _ in tables.values())

    def __str__(self) -> str:
        return f"{len(self.tables)} table(s), {self.rows} row(s) match the dump"


def difference(expected: dict[str, Fingerprint], found: dict[str, Fingerprint]) -> str | None:
    """The first table (by name) that differs between two fingerprints, said; None: same."""
    for name in sorted(expected.keys() | found.keys()):
        if name not in found:
            rows, _ = expected[name]
            return f"table {name} ({rows} rows in the dump) is missing"
        if name not in expected:
            return f"table {name} ({found[name][0]} rows) is not in the dump"
        if expected[name] != found[name]:
            (rows, checksum), (got_rows, got_checksum) = expected[name], found[name]
            return (
                f"table {name}: the dump holds {rows} rows (checksum {checksum:016x}), "
                f"the database {got_rows} (checksum {got_checksum:016x})"
            )
    return None


def verify_contents(database: Database, files: dict[str, str]) -> Contents:
    """Prove that ``database`` (on its server) holds the rows of the dump set ``files``.

    Failure names the first table that differs (rows and checksums of both), is missing
    or is extra; Damaged or CommandFailed when either side cannot be read to its end.
    """
    return matches(database, of_dump(database, files))


class Expected:
    """What a dump set holds, as :func:`of_dump` read it: each table's digest, and the
    dump set, read again for the fingerprints should a digest differ."""

    __slots__ = ("files", "tables")

    def __init__(self, files: dict[str, str], tables: dict[str, Digest]) -> None:
        self.files, self.tables = files, tables


def _dump_side(
    database: Database, files: dict[str, str], summary: Callable[[Batches], Summary]
) -> Summary:
    """``summary`` of the rows of the dump set ``files`` of ``database``."""
    from drptools import engines

    engine = engines.module(database)
    return streamed(engine.dump_data_stream(files), lambda text: summary(engine.data_rows(text)),
                    f"reading the dump of {database.name}")  # fmt: skip


def _database_side(database: Database, summary: Callable[[Batches], Summary]) -> Summary:
    """``summary`` of the rows ``database`` holds on its server, dumped afresh."""
    from drptools import engines

    engine = engines.module(database)
    return streamed(engine.data_stream(database), lambda text: summary(engine.data_rows(text)),
                    f"dumping {database.name}'s data")  # fmt: skip


def of_dump(database: Database, files: dict[str, str]) -> Expected:
    """The tables of the dump set ``files`` of ``database``: what the database must hold.

    Read on its own, it can run while the same dump is being imported (a restore's
    clients are other processes), so that proving a restore costs one pass, not two.
    """
    return Expected(files, _dump_side(database, files, digests))


def matches(database: Database, expected: Expected) -> Contents:
    """Prove that ``database`` holds the tables ``expected`` (see :func:`verify_contents`).

    The digests first; where they differ, both sides are read again for their
    fingerprints, which either prove the same rows in another order or name the table.
    """
    found = _database_side(database, digests)
    if found == expected.tables:
        return Contents(found)
    problem = difference(_dump_side(database, expected.files, fingerprints),
                         _database_side(database, fingerprints))  # fmt: skip
    if problem is not None:
        raise Failure(f"{database.name} differs from its dump: {problem}")
    return Contents(found)
