"""The wrappers around ``pg_dump``, ``pg_dumpall``, ``psql`` and ``pg_restore``: dump, restore.

``pg_dump -Fc`` dumps one database from one snapshot in the custom format, which is
compressed already (zlib) and which ``pg_restore`` needs as a file to restore selectively
or in parallel (``-j``), so it is stored as it comes. ``pg_dumpall --globals-only``
adds the roles and tablespaces a restore into a new server needs (it reads ``pg_authid``:
the dumping role must be a superuser; ``globals = false`` leaves it out); that one is plain
SQL and is compressed with zstd. ``-w`` makes both fail rather than wait for a password.

A restore runs the globals through ``psql`` first (a role that exists already, such as
``postgres``, is reported by psql and is not a failure), then ``pg_restore --create
--exit-on-error --jobs=N`` of the custom-format dump, connected to the ``postgres``
database, and ``ANALYZE`` of the restored database.

The password is in the environment of these processes only (``PGPASSWORD``), read from
the configured file: never on a command line. On Linux ``/proc/PID/environ`` is readable
only by the process's owner and root. (libpq's own password file cannot be an anonymous
pipe: libpq ignores it unless it is a regular file.)
"""

from __future__ import annotations

from drptools.engines.common import Artifact, Load, load, needed, read_password, run_client
from drptools.execute import last_line

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from drptools.config import Database

CONNECT_TIMEOUT = "30"
DUMP = ".dump"
GLOBALS = ".globals.sql.zst"
#: The database a restore connects to first, to create the restored one.
MAINTENANCE = "postgres"


def cause(stderr: str) -> str:
    """The line of pg_dump's (or pg_dumpall's) stderr that says why it failed.

    It ends with ``detail: Command was: COPY …`` or ``Query was: …``, which say where, not
    why: the cause is the last ``error:`` line, completed by a server's message given as a
    detail (``Error message from server: …``, when the server died mid-COPY).
    """
    lines = [" ".join(line.split()) for line in stderr.splitlines() if line.strip()]
    errors = [index for index, line in enumerate(lines) if ": error: " in line]
    if not errors:
        return last_line(stderr)
    found = lines[errors[-1]]
    for line in lines[errors[-1] + 1 :]:
        _, marker, detail = line.partition(": detail: ")
        if marker and not detail.startswith(("Command was:", "Query was:")):
            return f"{found} ({detail})"
    return found


def connection(database: Database) -> tuple[str, ...]:
    """Host (or socket directory) and port, and the role to connect as."""
    host = database.host or database.socket
    return (
        ((f"--host={host}",) if host else ())
        + ((f"--port={database.port}",) if database.port else ())
        + ((f"--username={database.user}",) if database.user else ())
    )


def environment(database: Database) -> dict[str, str]:
    """The child's extra environment: the password, and a connect timeout."""
    env = {"PGCONNECT_TIMEOUT": CONNECT_TIMEOUT}
    if database.password_file:
        env["PGPASSWORD"] = read_password(database.password_file)
    return env


def artifacts(database: Database) -> list[Artifact]:
    """The dump set of a PostgreSQL database: the custom-format dump, then the globals."""
    env = environment(database)
    # suffix, the tool and its mode, the option naming the database, compressed by zstd
    made = [(DUMP, ("pg_dump", "--format=custom"), "--dbname", False)]
    if database.globals:
        made.append((GLOBALS, ("pg_dumpall", "--globals-only"), "--database", True))
    return [
        Artifact(
            suffix,
            (*tool, "--no-password", *connection(database), f"{option}={database.name}"),
            compress=compress,
            env=env,
            cause=cause,
        )
        for suffix, tool, option, compress in made
    ]


def restore(database: Database, files: Mapping[str, str]) -> None:
    """Import the dump set ``files``: its globals with psql (if any), then pg_restore."""
    env = environment(database)
    what = f"restoring {database.name} into PostgreSQL"
    dump = needed(files, DUMP, what)
    if GLOBALS in files:
        psql = ("psql", "--no-psqlrc", "--quiet", "--no-password", *connection(database),
                f"--dbname={MAINTENANCE}")  # fmt: skip
        load(Load(files[GLOBALS], psql, decompress=True, env=env, cause=cause), what)
    pg_restore = ("pg_restore", "--create", "--exit-on-error", "--no-password",
                  f"--jobs={restore_jobs()}", *connection(database), f"--dbname={MAINTENANCE}",
                  dump)  # fmt: skip
    load(Load(dump, pg_restore, decompress=False, env=env, cause=cause), what)
    # A restored database has no planner statistics until autovacuum gets to it: the
    # first hours of the DRP would run on guesses. ANALYZE now, before it serves.
    run_client(
        ("psql", "--no-psqlrc", "--quiet", "--no-password", *connection(database),
         f"--dbname={database.name}", "--set=ON_ERROR_STOP=1", "--command=ANALYZE"),
        f"analyzing {database.name} on PostgreSQL", env=env, cause=cause,
    )  # fmt: skip


def restore_jobs() -> int:
    """pg_restore's parallel jobs: one per CPU, at most 4 (each is a server backend)."""
    import os

    return max(1, min(4, os.cpu_count() or 1))


def drop(database: Database) -> None:
    """Remove the database (its sessions ended first), so that ``pg_restore --create``
    makes it afresh. Only the DRP runbooks call it, after the plan was shown."""
    run_client(
        ("psql", "--no-psqlrc", "--quiet", "--no-password", *connection(database),
         f"--dbname={MAINTENANCE}", "--set=ON_ERROR_STOP=1",
         f'--command=DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)'),
        f"dropping {database.name} on PostgreSQL",
        env=environment(database), cause=cause,
    )  # fmt: skip


def restore_as(database: Database, files: Mapping[str, str], dumped: str) -> None:
    """Import a dump of database ``dumped`` under ``database``'s name (a drill's scratch
    database): created empty first, then ``pg_restore --dbname`` into it without
    ``--create`` (which would recreate ``dumped``) and without owners or privileges (the
    scratch copy needs no role of the dump, and the globals are not replayed: they are
    the server's, not a scratch database's)."""
    env = environment(database)
    what = f"restoring {dumped}'s dump as {database.name} into PostgreSQL"
    dump = needed(files, DUMP, what)
    run_client(
        ("psql", "--no-psqlrc", "--quiet", "--no-password", *connection(database),
         f"--dbname={MAINTENANCE}", "--set=ON_ERROR_STOP=1",
         f'--command=CREATE DATABASE "{database.name}"'),
        f"creating {database.name} on PostgreSQL", env=env, cause=cause,
    )  # fmt: skip
    pg_restore = ("pg_restore", "--exit-on-error", "--no-password", "--no-owner",
                  "--no-privileges", *connection(database), f"--dbname={database.name}",
                  dump)  # fmt: skip
    load(Load(dump, pg_restore, decompress=False, env=env, cause=cause), what)


def dump_data_stream(files: Mapping[str, str]) -> Artifact:
    """The rows of a dump set as plain text, for its fingerprint: ``pg_restore
    --data-only -f -`` (no server involved)."""
    dump = needed(files, DUMP, "reading the dump")
    return Artifact(DUMP, ("pg_restore", "--data-only", "--file=-", dump), compress=False,
                    cause=cause)  # fmt: skip


def data_stream(database: Database) -> Artifact:
    """The rows of the live ``database`` as plain text, written by the same code as
    :func:`dump_data_stream`'s (pg_dump's archiver): ``pg_dump --data-only``."""
    argv = ("pg_dump", "--data-only", "--format=plain", "--no-password",
            *connection(database), f"--dbname={database.name}")  # fmt: skip
    return Artifact(DUMP, argv, compress=False, env=environment(database), cause=cause)


def data_rows(lines: Iterable[bytes]) -> Iterator[tuple[str, list[bytes]]]:
    """The rows of each table in a PostgreSQL dump's plain text (for
    :mod:`~drptools.engines.fingerprint`)."""
    from drptools.engines.fingerprint import postgresql_rows

    return postgresql_rows(lines)
