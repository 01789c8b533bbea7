"""Which server version a dump came from, which one would import it, and whether that fits.

An activation must not find out in the middle of a two-hour import that the DRP's
database server cannot read the dump: a PostgreSQL server older than the one dumped
(``pg_restore`` refuses archives of a newer format, and newer SQL fails), or a MariaDB
older than production's (syntax and collations it does not know). The pre-flight probe
reads the version from the dump's first bytes on the backup target (MariaDB's header
comment ``-- Server version``; the custom-format archive header of PostgreSQL, whose
layout depends on the archive version it starts with) and asks the DRP's server its own,
and a server older than the dump's is a problem named in the plan.
"""

from __future__ import annotations

import re

from drptools import execute
from drptools.errors import Failure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from drptools.config import Database

#: The file of a dump set that carries the version, per engine (else ``.sql.zst``).
MAIN_SUFFIX = {"postgresql": ".dump"}
#: Bytes of a dump's beginning that hold its version (both formats: well under 1 KiB).
HEADER_BYTES = 4096
_MARIADB_HEADER = re.compile(rb"^-- Server version\s+(\d+)\.(\d+)", re.MULTILINE)
_NUMBER = re.compile(r"(\d+)(?:\.(\d+))?")


def mariadb_dump_version(text: bytes) -> tuple[int, int] | None:
    """(major, minor) of the server a mariadb-dump/mysqldump came from, or None."""
    found = _MARIADB_HEADER.search(text)
    return (int(found[1]), int(found[2])) if found else None


def postgresql_dump_version(header: bytes) -> tuple[int, int] | None:
    """(major, 0) of the server a ``pg_dump -Fc`` archive came from, or None.

    The archive starts ``PGDMP``, its format version (three bytes), the sizes of an int
    and an offset, the format; then the compression (an int up to archive 1.14, one byte
    from 1.15), the dump's time (seven ints, from 1.4), and three strings: the database,
    the server's version, pg_dump's version. An int is a sign byte and ``int size``
    little-endian bytes; a string its length as an int, then its bytes.
    """
    if not header.startswith(b"PGDMP") or len(header) < 11:
        return None
    version = (header[5], header[6], header[7])
    int_size, position = header[8], 11
    if not 1 <= int_size <= 8 or version < (1, 10, 0):
        return None  # older archives carry no server version

    def read_int() -> int:
        nonlocal position
        end = position + 1 + int_size
        if end > len(header):
            raise IndexError
        value = int.from_bytes(header[position + 1 : end], "little")
        sign, position = header[position], end
        return -value if sign else value

    try:
        if version >= (1, 15, 0):
            position += 1
        else:
            read_int()
        for _ in range(7):
            read_int()
        for field in range(2):
            length = read_int()
            if length < 0 or position + length > len(header):
                return None
            text = header[position : position + length]
            position += length
            if field == 1:
                return _major(text.decode("ascii", "replace"))
    except IndexError:
        return None
    return None


def _major(text: str) -> tuple[int, int] | None:
    """``15.18 (Debian …)`` -> (15, 0); ``9.6.24`` -> (9, 6): majors as PostgreSQL counts them."""
    found = _NUMBER.match(text.strip())
    if not found:
        return None
    major = int(found[1])
    return (major, int(found[2] or 0)) if major < 10 else (major, 0)


def dump_version(engine: str, header: bytes) -> tuple[int, int] | None:
    """The dumped server's version from the first bytes of the dump's main file."""
    if engine == "postgresql":
        return postgresql_dump_version(header)
    return mariadb_dump_version(header)


def server_version(database: Database) -> tuple[int, int]:
    """The version of the server ``database`` is on, asked over its connection.

    Failure (CommandFailed) when it cannot be reached with the configured credentials.
    """
    if database.engine == "postgresql":
        from drptools.engines import postgresql

        argv = ("psql", "--no-psqlrc", "--no-align", "--tuples-only", "--no-password",
                *postgresql.connection(database), f"--dbname={postgresql.MAINTENANCE}",
                "--command=SHOW server_version")  # fmt: skip
        result = execute.run(argv, "asking PostgreSQL its version",
                             extra_env=postgresql.environment(database),
                             cause=postgresql.cause)  # fmt: skip
        text = result.stdout.decode(errors="replace")
        found = _major(text)
    else:
        from drptools.engines import common, mariadb

        secret = mariadb.defaults_file(database)
        descriptor = common.pipe_secret(secret) if secret is not None else None
        argv = common.with_defaults_file(
            (mariadb.CLIENTS[database.engine], *mariadb.connection(database), "--batch",
             "--skip-column-names", "--execute=SELECT VERSION()"), descriptor,
        )  # fmt: skip
        try:
            result = execute.run(argv, f"asking {database.engine} its version",
                                 pass_fds=() if descriptor is None else (descriptor,))  # fmt: skip
        finally:
            if descriptor is not None:
                import os

                os.close(descriptor)
        text = result.stdout.decode(errors="replace")
        number = _NUMBER.match(text.strip())
        found = (int(number[1]), int(number[2] or 0)) if number else None
    if found is None:
        raise Failure(f"the {database.engine} server answered {text.strip()[:60]!r}, not a version")
    return found


def shown(version: tuple[int, int]) -> str:
    """``10.11``, or ``15`` for a PostgreSQL major."""
    return f"{version[0]}.{version[1]}" if version[1] else str(version[0])


def problem(engine: str, dumped: tuple[int, int] | None, server: tuple[int, int]) -> str | None:
    """Why a server of version ``server`` cannot take a dump of ``dumped`` (None: it can)."""
    if dumped is None or server >= dumped:
        return None
    return (
        f"the DRP's {engine} server is {shown(server)}, older than the {shown(dumped)} "
        "the dump was made on: it may not import it (upgrade it first)"
    )
