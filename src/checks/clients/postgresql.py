"""PostgreSQL for the checks: connection options, and one fixed query run through ``psql``.

check_pgsql and check_pgsql_replication take the C check_pgsql's connection options
(``-H -P -d -l``, ``-o KEYWORD=VALUE``; ``-H`` a host, an address or a unix socket
directory when it starts with ``/``) plus ``--service``, and ask the server one question
each: a single ``SELECT`` that returns one JSON document, parsed by the check's own pure
function. No password ever passes vigie: libpq reads it from ``PGPASSFILE``/``~/.pgpass``
or from the service file (``PGSERVICEFILE``/``~/.pg_service.conf``); the C plugin's
``-p PASSWORD`` and a ``password`` in ``-o`` are refused with a line saying so.

Why psql and not a Python driver (measured here, CPU of the whole process tree as a
multiple of ``python -I -c pass`` in paired runs, peak RSS): ``import psycopg`` 14.6× and
33 MiB, a ``SELECT 1`` through it 14.6× and 34 MiB; ``import pg8000`` 10.1× and 26 MiB, a
``SELECT 1`` 12.1× and 28 MiB: both alone exceed the 6× / 30 MiB budget of a service
check. Debian's psql (libpq, the C plugin's own library) answers a ``SELECT 1`` over TCP
with scram-sha-256 in 1.1× and 12 MiB (0.45× over a unix socket), so vigie's skeleton plus
psql is ≈ 5× and 14 MiB. ``/usr/bin/psql`` itself is Debian's Perl ``pg_wrapper`` (2.4× just
to start), so the newest ``/usr/lib/postgresql/<major>/bin/psql`` is run directly.

psql runs with ``-X`` (no ``~/.psqlrc``), ``-w`` (never a password prompt: a missing
password is the server's refusal, CRITICAL, not a hang), ``-A -t -q`` (the document alone)
and ``ON_ERROR_STOP``. Its exit status tells a connection failure (2: the server down, a
refused login, a missing database: CRITICAL with libpq's message, as the C plugin) from a
failed query (1 or 3: UNKNOWN, e.g. a role without ``pg_monitor``). libpq's
``connect_timeout`` is set a second below ``-t``, so a server that accepts connections and
never answers is CRITICAL (``timeout expired``), as with the C plugin.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from checks.core.cli import Parser, UsageError
from checks.core.errors import CannotCheck, ParseError, ServiceDown
from checks.core.external import run
from checks.core.net import port

#: Where Debian installs each major version's binaries.
DEBIAN_VERSIONS = "/usr/lib/postgresql"
#: The C plugin's default database, present in every cluster.
DEFAULT_DATABASE = "template1"
#: libpq keywords that carry a secret and so may not be given on the command line.
SECRET_KEYWORDS = frozenset({"password", "sslpassword"})
#: libpq's words for a host name that does not resolve.
UNRESOLVED = "could not translate host name"
#: psql's exit status when the connection to the server failed.
CONNECTION_FAILED = 2


def default_psql() -> str:
    """The newest Debian ``/usr/lib/postgresql/<major>/bin/psql``, else ``psql`` on PATH."""
    try:
        majors = [name for name in os.listdir(DEBIAN_VERSIONS) if name.isdigit()]
    except OSError:
        majors = []
    for major in sorted(majors, key=int, reverse=True):
        candidate = f"{DEBIAN_VERSIONS}/{major}/bin/psql"
        if os.access(candidate, os.X_OK):
            return candidate
    return "psql"


def keyword_value(text: str) -> tuple[str, str]:
    """An argparse type for ``-o KEYWORD=VALUE`` (a libpq connection parameter)."""
    keyword, equals, value = text.partition("=")
    keyword = keyword.strip().lower()
    if not equals or not keyword.replace("_", "").isalnum():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEYWORD=VALUE (a libpq parameter)")
    if keyword in SECRET_KEYWORDS:
        raise argparse.ArgumentTypeError(
            f"-o {keyword}=… would put a secret in the process list; put the password in "
            "PGPASSFILE (~/.pgpass) or a service file (--service)"
        )
    return keyword, value.strip()


class _RefusePassword(argparse.Action):
    """The C plugin's ``-p PASSWORD``: refused, naming where the password goes instead."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        raise UsageError(
            "-p/--password is refused: a password on the command line is visible in ps; "
            "put it in PGPASSFILE (~/.pgpass, mode 0600) or a service file (--service)"
        )


def add_connection_options(parser: Parser) -> None:
    """The C check_pgsql's connection options, ``--service`` and ``--psql``."""
    group = parser.add_argument_group("connection (C check_pgsql-compatible)")
    group.add_argument(
        "-H", "--hostname", metavar="HOST",
        help="server name or address, or a unix socket directory starting with / "
        "(default: libpq's, the local socket)",
    )  # fmt: skip
    group.add_argument("-P", "--port", type=port, help="TCP port (default: 5432)")
    group.add_argument(
        "-d", "--database", metavar="NAME",
        help=f"database to connect to (default: {DEFAULT_DATABASE}, or the service's)",
    )  # fmt: skip
    group.add_argument("-l", "--logname", metavar="USER", help="login (role) name")
    group.add_argument(
        "-p", "--password", action=_RefusePassword, nargs=0,
        help="refused (the C plugin's password option would show it in ps): the password "
        "goes in PGPASSFILE (~/.pgpass) or a service file",
    )  # fmt: skip
    group.add_argument(
        "-o", "--option", type=keyword_value, action="append", default=[],
        metavar="KEYWORD=VALUE",
        help="a libpq connection parameter, e.g. sslmode=require (repeatable; never password)",
    )  # fmt: skip
    group.add_argument(
        "--service", metavar="NAME",
        help="a service of PGSERVICEFILE (~/.pg_service.conf): host, port, user, password",
    )  # fmt: skip
    group.add_argument(
        "--psql", metavar="PATH",
        help="the psql program (default: the newest /usr/lib/postgresql/*/bin/psql)",
    )  # fmt: skip


def quoted(value: str) -> str:
    """A value in a libpq conninfo string: single quotes, backslash escapes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Connection:
    """Where to connect and as whom, from the parsed options; never holds a password."""

    def __init__(self, args: argparse.Namespace, application: str) -> None:
        self.host: str | None = args.hostname
        self.port: int | None = args.port
        self.database: str | None = args.database
        if self.database is None and not args.service:
            self.database = DEFAULT_DATABASE
        self.user: str | None = args.logname
        self.service: str | None = args.service
        self.options: list[tuple[str, str]] = args.option
        self.psql: str = args.psql or default_psql()
        self.application = application
        # libpq gives up a second before -t, so that a server that accepts and never
        # answers is CRITICAL (libpq's "timeout expired", as the C plugin's CRITICAL on
        # timeout) rather than the check's own UNKNOWN timeout; libpq's minimum is 2 s.
        self.connect_timeout = int(args.timeout - 1) if args.timeout >= 3 else None

    @property
    def conninfo(self) -> str:
        """The libpq connection string psql gets as its database argument."""
        pairs = [
            ("service", self.service),
            ("host", self.host),
            ("port", None if self.port is None else str(self.port)),
            ("dbname", self.database),
            ("user", self.user),
            ("application_name", self.application),
            (
                "connect_timeout",
                None if self.connect_timeout is None else str(self.connect_timeout),
            ),
            *self.options,
        ]
        return " ".join(f"{key}={quoted(value)}" for key, value in pairs if value is not None)

    @property
    def where(self) -> str:
        """``database template1 on 127.0.0.1 port 5432``, for the status line."""
        return self.at(self.database or "of the service")

    def at(self, database: str) -> str:
        """Where, naming ``database`` (the one the server says it connected to)."""
        return f"database {database} on {self.server}"

    @property
    def server(self) -> str:
        """``127.0.0.1 port 5432``, ``/run/postgresql``, ``service monitor``."""
        server = self.host or (f"service {self.service}" if self.service else "the local socket")
        return f"{server} port {self.port}" if self.port else server


def connection_error(stderr: str) -> str:
    """libpq's message on one line, without psql's prefix and its help sentences."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    kept = [line for line in lines if not line.startswith("Is the server running")]
    text = "; ".join(kept or lines or ["psql exited without a message"])
    return text.removeprefix("psql: error: ").replace("FATAL:  ", "FATAL: ")


def parse_document(text: str) -> dict[str, object]:
    """The JSON object psql printed for the check's query; anything else is a ParseError."""
    stripped = text.strip()
    if not stripped:
        raise ParseError("psql printed nothing for the query")
    try:
        document = json.loads(stripped)
    except ValueError as error:
        raise ParseError(f"psql's answer is not JSON ({error}): {stripped[:60]!r}") from None
    if not isinstance(document, dict):
        raise ParseError(f"psql's answer is not a JSON object: {stripped[:60]!r}")
    return document


def query(connection: Connection, sql: str) -> tuple[dict[str, object], float]:
    """Run ``sql`` (one SELECT of one JSON value) and return the document and the seconds
    from starting psql to its answer (connection, authentication and query)."""
    argv = [connection.psql, "-X", "-w", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
            "-d", connection.conninfo, "-c", sql]  # fmt: skip
    started = time.monotonic()
    done = run(argv, f"querying PostgreSQL ({connection.where})")
    elapsed = time.monotonic() - started
    if done.returncode == CONNECTION_FAILED:
        message = connection_error(done.stderr)
        if message.startswith(UNRESOLVED):  # a wrong -H, UNKNOWN as in the C plugins
            raise CannotCheck(message)
        raise ServiceDown(f"no connection to {connection.where}: {message}")
    if done.returncode:
        message = connection_error(done.stderr)
        raise CannotCheck(f"the query failed on {connection.where}: {message}")
    return parse_document(done.stdout), elapsed
