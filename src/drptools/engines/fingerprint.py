"""Database fingerprints: row counts and table checksums, from a dump and from a server.

A restore is proven by comparing what the backup holds with what the restored database
holds, table by table: ``{table: (rows, checksum)}``. Both sides are read as the dump
tool writes them: the backup's dump set is replayed as data-only text (``zstd -dc`` of a
MariaDB dump, ``pg_restore --data-only -f -`` of a PostgreSQL one) and the restored
database is dumped afresh the same way (``mariadb-dump --no-create-info``, ``pg_dump
--data-only``); one pure parser per engine turns either text into a fingerprint.

Why not the servers' own checksums: ``CHECKSUM TABLE`` hashes MariaDB's row format, which
changes with the storage engine, the version and the column layout, and PostgreSQL has no
equivalent; a dump's text is what a restore replays, the same on both sides whatever the
storage. The checksum of a table is the sum modulo 2**64 of a 64-bit BLAKE2b of each row's
text: the order of the rows does not matter (a restore may return them in another order),
while a row lost, added, changed or duplicated changes the sum. Both sides are streamed
line by line, so a 100 MB dump never sits in memory.

A text the parser does not recognise (a dump cut short, garbage) raises :class:`Damaged`
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
    from collections.abc import Callable, Iterable

    from drptools.config import Database
    from drptools.engines.common import Artifact

#: A table's fingerprint: its rows, and the sum of its rows' hashes modulo 2**64.
Fingerprint = tuple[int, int]
MODULUS = 1 << 64


class Damaged(Failure):
    """A dump's text is not what its engine's dump tool writes: cut short, or garbage."""


def row_hash(row: bytes) -> int:
    """The 64-bit hash of one row's text."""
    return int.from_bytes(hashlib.blake2b(row, digest_size=8).digest(), "big")


class Tables:
    """Fingerprints being summed, table by table, in the order the tables come."""

    def __init__(self) -> None:
        self.tables: dict[str, list[int]] = {}
        #: Whether the dump tool's last words were seen: a text cut between two
        #: statements parses, and only their absence tells that rows are missing.
        self.complete = False

    def table(self, name: str) -> list[int]:
        """The running ``[rows, checksum]`` of ``name`` (a table seen without rows: 0, 0)."""
        return self.tables.setdefault(name, [0, 0])

    def add(self, sums: list[int], row: bytes) -> None:
        sums[0] += 1
        sums[1] = (sums[1] + row_hash(row)) % MODULUS

    def result(self, end: bytes) -> dict[str, Fingerprint]:
        """The fingerprints; Damaged when the text stopped before ``end``, its last line."""
        if not self.complete:
            raise Damaged(f"the text stops before its last line ({end.decode()}…): cut short")
        return {name: (rows, checksum) for name, (rows, checksum) in self.tables.items()}


def shown(name: bytes) -> str:
    """A table name from a dump, readable whatever bytes it holds."""
    return name.decode("utf-8", errors="backslashreplace")


# --- MariaDB / MySQL --------------------------------------------------------------------

#: The comment mariadb-dump ends every dump with (the date after it).
MARIADB_END = b"-- Dump completed"
#: ``-- Dumping data for table `t``` comes before a table's rows, also for an empty one.
_MARIADB_TABLE = re.compile(rb"-- Dumping data for table `((?:[^`]|``)+)`\n?")
_MARIADB_INSERT = re.compile(rb"INSERT INTO `((?:[^`]|``)+)`(?: \([^()]*\))? VALUES ?")
#: One row: quoted strings (backslash escapes) and unquoted values without parentheses.
#: Possessive quantifiers: a damaged row fails in linear time, not by backtracking.
_MARIADB_ROW = re.compile(rb"\((?:'(?:[^'\\]++|\\.)*+'|[^'()]++)*+\)", re.DOTALL)


def mariadb_tables(lines: Iterable[bytes]) -> dict[str, Fingerprint]:
    """The fingerprint of each table in a MariaDB dump's text (``mariadb-dump`` output).

    Rows are the tuples of its ``INSERT INTO `t` VALUES (...),(...);`` statements, on one
    line (MySQL, older MariaDB) or a row per line after ``VALUES`` (MariaDB 10.11): the
    dump escapes line breaks inside values. Everything else (DDL, comments, ``LOCK
    TABLES``) is not data and is skipped. The text must reach mariadb-dump's closing
    ``-- Dump completed`` comment: a dump cut between two statements parses, and only
    that line's absence tells that tables or rows are missing.
    """
    found = Tables()
    sums: list[int] | None = None  # inside an INSERT: its table's sums
    where = ""
    for number, line in enumerate(lines, 1):
        if sums is not None:
            if not _mariadb_rows(line, 0, sums, number, where):
                sums = None
            continue
        if line.startswith(b"-- Dumping data for table "):
            heading = _MARIADB_TABLE.fullmatch(line)
            if heading is None:
                raise Damaged(f"line {number}: a garbled table heading")
            found.table(shown(heading.group(1).replace(b"``", b"`")))
        elif line.startswith(b"INSERT INTO "):
            statement = _MARIADB_INSERT.match(line)
            if statement is None:
                raise Damaged(f"line {number}: an INSERT that names no table")
            where = shown(statement.group(1).replace(b"``", b"`"))
            sums = found.table(where)
            at = statement.end()
            if at < len(line.rstrip(b"\n")) and not _mariadb_rows(line, at, sums, number, where):
                sums = None
        elif line.startswith(MARIADB_END):
            found.complete = True
    if sums is not None:
        raise Damaged(f"{where}: the dump ends inside an INSERT")
    return found.result(MARIADB_END)


def _mariadb_rows(line: bytes, at: int, sums: list[int], number: int, table: str) -> bool:
    """Add the rows of ``line`` from ``at`` to ``sums``: ``(…),(…)`` then ``;`` (the
    statement ends: False) or ``,`` at the end of the line (it goes on: True).

    The hot loop of a fingerprint (one call per row with MariaDB 10.11): the hashes are
    summed locally and folded into ``sums`` once.
    """
    end = len(line) - 1 if line.endswith(b"\n") else len(line)
    match, blake2b = _MARIADB_ROW.match, hashlib.blake2b
    rows = total = 0
    while True:
        row = match(line, at, end)
        if row is None:
            raise Damaged(f"line {number} ({table}): a row is cut short or garbled at byte {at}")
        rows += 1
        total += int.from_bytes(blake2b(row.group(), digest_size=8).digest(), "big")
        at = row.end()
        separator = line[at : at + 1]
        if separator == b";" and at + 1 == end:
            going_on = False
            break
        if separator != b",":
            raise Damaged(
                f"line {number} ({table}): the INSERT is cut short or garbled at byte {at}"
            )
        at += 1
        if at == end and line.endswith(b"\n"):
            going_on = True
            break
    sums[0] += rows
    sums[1] = (sums[1] + total) % MODULUS
    return going_on


# --- PostgreSQL -------------------------------------------------------------------------

#: The comment pg_dump and pg_restore end a plain-text dump with.
POSTGRESQL_END = b"-- PostgreSQL database dump complete"
#: ``COPY name (columns) FROM stdin;``: names may be quoted (``"My table"``, ``""`` inside).
_COPY = re.compile(
    rb'COPY ((?:"(?:[^"]|"")*+"|[^\s"(])++) (?:\((?:"(?:[^"]|"")*+"|[^"()])*+\) )?FROM stdin;\n?'
)


def postgresql_tables(lines: Iterable[bytes]) -> dict[str, Fingerprint]:
    """The fingerprint of each table in a PostgreSQL dump's plain text (``pg_dump
    --data-only``, ``pg_restore --data-only -f -``).

    Rows are the lines of its ``COPY schema.table (columns) FROM stdin;`` blocks up to
    their ``\\.`` (COPY escapes line breaks, so a row is one line); the rest is skipped.
    The text must reach the closing ``-- PostgreSQL database dump complete``.
    """
    found = Tables()
    sums: list[int] | None = None
    name = ""
    for number, line in enumerate(lines, 1):
        if sums is not None:
            if line in (b"\\.\n", b"\\."):
                sums = None
            elif not line.endswith(b"\n"):
                raise Damaged(f"line {number} ({name}): the table's rows are cut short")
            else:
                found.add(sums, line[:-1])
            continue
        if line.startswith(b"COPY "):
            block = _COPY.fullmatch(line)
            if block is None:
                raise Damaged(f"line {number}: a garbled COPY")
            name = shown(block.group(1))
            sums = found.table(name)
        elif line.startswith(POSTGRESQL_END):
            found.complete = True
    if sums is not None:
        raise Damaged(f"{name}: the dump ends inside the table's rows")
    return found.result(POSTGRESQL_END)


# --- reading a dump tool's output -------------------------------------------------------


def streamed(
    source: Artifact, parse: Callable[[Iterable[bytes]], dict[str, Fingerprint]], what: str
) -> dict[str, Fingerprint]:
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
            tables = parse(process.stdout)
        except Damaged as damage:
            process.stdout.close()  # what it still writes ends it by SIGPIPE
            if execute.reap(process) not in (0, -signal.SIGPIPE):
                ended([(process, errors, what, source.cause)])
            raise Damaged(f"{what}: {damage}") from None
        finally:
            process.stdout.close()
        ended([(process, errors, what, source.cause)])
    return tables


class Contents:
    """What :func:`verify_contents` proved: the tables and their rows."""

    __slots__ = ("rows", "tables")

    def __init__(self, tables: dict[str, Fingerprint]) -> None:
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


def of_dump(database: Database, files: dict[str, str]) -> dict[str, Fingerprint]:
    """The tables of the dump set ``files`` of ``database``: what the database must hold.

    Read on its own, it can run while the same dump is being imported (a restore's
    clients are other processes), so that proving a restore costs one pass, not two.
    """
    from drptools import engines

    engine = engines.module(database)
    return streamed(
        engine.dump_data_stream(files), engine.parse_data, f"reading the dump of {database.name}"
    )


def matches(database: Database, expected: dict[str, Fingerprint]) -> Contents:
    """Prove that ``database`` holds the tables ``expected`` (see :func:`verify_contents`)."""
    from drptools import engines

    engine = engines.module(database)
    found = streamed(
        engine.data_stream(database), engine.parse_data, f"dumping {database.name}'s data"
    )
    problem = difference(expected, found)
    if problem is not None:
        raise Failure(f"{database.name} differs from its dump: {problem}")
    return Contents(found)
