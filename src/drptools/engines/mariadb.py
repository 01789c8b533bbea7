"""The wrappers around ``mariadb-dump`` / ``mysqldump`` and ``mariadb`` / ``mysql``: dump, restore.

``--single-transaction`` dumps InnoDB tables from one consistent snapshot without locking
them; ``--routines --triggers --events`` include the stored code; ``--databases`` adds the
``CREATE DATABASE``/``USE`` a restore into an empty server needs. The user and password
reach the tool through an anonymous pipe named as its defaults file
(``--defaults-extra-file=/dev/fd/N``, which must be its first option), so they are on no
command line, in no environment and in no file on disk; the pipe is read once, by that
process. A restore is the same file through the client, ``zstd -dc FILE | mariadb``, with
the same credentials the same way: the dump's ``CREATE DATABASE`` and ``USE`` put it back
under its name (the account needs the privileges to create it and its stored code); a
drill rewrites those two lines to import it under a scratch name (:func:`restore_as`).
"""

from __future__ import annotations

import re

from drptools.engines.common import (
    DECOMPRESSOR,
    Artifact,
    Load,
    load,
    needed,
    read_password,
    run_client,
)
from drptools.errors import Failure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from drptools.config import Database

TOOLS = {"mariadb": "mariadb-dump", "mysql": "mysqldump"}
CLIENTS = {"mariadb": "mariadb", "mysql": "mysql"}
SUFFIX = ".sql.zst"


def option_value(value: str) -> str:
    """``value`` quoted for a MariaDB option file (backslash escaped, a quote it lacks)."""
    if "\n" in value or "\r" in value:
        raise Failure("a MariaDB option file cannot hold a line break in a value")
    escaped = value.replace("\\", "\\\\")
    for quote in ('"', "'"):
        if quote not in value:
            return f"{quote}{escaped}{quote}"
    raise Failure("a MariaDB option file cannot hold a value with both ' and \" in it")


def defaults_file(database: Database) -> bytes | None:
    """The ``[client]`` section with user and password, or None when neither is set."""
    lines = []
    if database.user:
        lines.append(f"user={option_value(database.user)}")
    if database.password_file:
        lines.append(f"password={option_value(read_password(database.password_file))}")
    if not lines:
        return None
    return ("[client]\n" + "\n".join(lines) + "\n").encode()


def connection(database: Database) -> tuple[str, ...]:
    """Where the server is: a socket, or host and port over TCP (none: the default)."""
    return (
        ((f"--socket={database.socket}",) if database.socket else ())
        + ((f"--host={database.host}", "--protocol=TCP") if database.host else ())
        + ((f"--port={database.port}",) if database.port else ())
    )


def artifacts(database: Database) -> list[Artifact]:
    """The dump set of a MariaDB/MySQL database: one compressed SQL file."""
    secret = defaults_file(database)
    argv = (
        TOOLS[database.engine],
        *connection(database),
        "--single-transaction",
        "--quick",
        "--routines",
        "--triggers",
        "--events",
        "--databases",
        database.name,
    )
    return [Artifact(SUFFIX, argv, compress=True, secret=secret)]


def restore(database: Database, files: Mapping[str, str]) -> None:
    """Import the dump set ``files`` into the server: ``zstd -dc FILE | mariadb``."""
    what = f"restoring {database.name} into {CLIENTS[database.engine]}"
    path = needed(files, SUFFIX, what)
    argv = (CLIENTS[database.engine], *connection(database), "--batch")
    load(Load(path, argv, decompress=True, secret=defaults_file(database)), what)


def drop(database: Database) -> None:
    """Remove the database, so that the restore that follows makes it afresh.

    Only the DRP runbooks call it, on the DRP or production side, after the plan was shown.
    """
    run_client(
        (CLIENTS[database.engine], *connection(database), "--batch",
         f"--execute=DROP DATABASE IF EXISTS `{database.name}`"),
        f"dropping {database.name} on {CLIENTS[database.engine]}",
        secret=defaults_file(database),
    )  # fmt: skip


def restore_as(database: Database, files: Mapping[str, str], dumped: str) -> None:
    """Import a dump of database ``dumped`` under ``database``'s name (a drill's scratch
    database): the dump's ``CREATE DATABASE`` and ``USE`` lines are rewritten on the way
    (:func:`renamed`), so nothing of it reaches ``dumped`` itself."""
    what = f"restoring {dumped}'s dump as {database.name} into {CLIENTS[database.engine]}"
    path = needed(files, SUFFIX, what)
    argv = (CLIENTS[database.engine], *connection(database), "--batch")
    step = Load(path, argv, decompress=True, secret=defaults_file(database))
    load(step, what, rewrite=lambda lines: renamed(lines, dumped, database.name))


def quoted(name: str) -> bytes:
    """``name`` as a MariaDB identifier: in backquotes, a backquote doubled."""
    return b"`" + name.replace("`", "``").encode() + b"`"


def renamed(lines: Iterable[bytes], dumped: str, name: str) -> Iterator[bytes]:
    """The lines of a ``--databases`` dump of ``dumped`` that select it, naming ``name``.

    mariadb-dump writes ``CREATE DATABASE /*!32312 IF NOT EXISTS*/ `db` …;`` and ``USE
    `db`;`` before the tables (and ``USE`` again before stored code); only those lines
    name the database, every other statement works in the current one. Its events are
    created disabled (:func:`disabled_event`).
    """
    old, new = quoted(dumped), quoted(name)
    use = b"USE " + old + b";"
    for line in lines:
        if line.startswith(b"CREATE DATABASE ") and old in line:
            yield line.replace(old, new, 1)
        elif line.rstrip(b"\n") == use:
            yield b"USE " + new + b";\n"
        elif line.startswith(EVENT_START) and EVENT in line:
            yield disabled_event(line)
        else:
            yield line


#: How mariadb-dump begins the line of a ``CREATE EVENT`` (version comments around it).
EVENT_START, EVENT = b"/*!50106 CREATE*/", b"/*!50106 EVENT "


def disabled_event(line: bytes) -> bytes:
    """The ``CREATE EVENT`` line with its event created ``DISABLE``: a scratch copy must
    not run the site's scheduled jobs on the DRP server (an event may name other
    databases). Only the part before ``DO`` (schedule, status, comment) is changed."""
    head, do, body = line.partition(b" DO ")
    return re.sub(rb" ENABLE(?= |$)", b" DISABLE", head, count=1) + do + body


def dump_data_stream(files: Mapping[str, str]) -> Artifact:
    """The text of a dump set, decompressed, for its fingerprint: ``zstd -dc FILE``."""
    path = needed(files, SUFFIX, "reading the dump")
    return Artifact(SUFFIX, (*DECOMPRESSOR, path), compress=False)


def data_stream(database: Database) -> Artifact:
    """The rows of the live ``database`` as mariadb-dump writes them in a backup (same
    tool, same quoting), without its schema, triggers or stored code."""
    argv = (TOOLS[database.engine], *connection(database), "--no-create-info",
            "--skip-triggers", "--single-transaction", "--quick", "--databases",
            database.name)  # fmt: skip
    return Artifact(SUFFIX, argv, compress=False, secret=defaults_file(database))


def data_rows(lines: Iterable[bytes]) -> Iterator[tuple[str, list[bytes]]]:
    """The rows of each table in a MariaDB dump's text (for
    :mod:`~drptools.engines.fingerprint`)."""
    from drptools.engines.fingerprint import mariadb_rows

    return mariadb_rows(lines)
