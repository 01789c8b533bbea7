"""check_pgsql: whether PostgreSQL accepts a login, how fast, and how loaded it is.

Connects as the C check_pgsql does (``-H -P -d -l``, ``-o KEYWORD=VALUE``; the password
from ``PGPASSFILE``/``~/.pgpass`` or a service file, ``--service``) and runs one query
through psql (see :mod:`checks.clients.postgresql`), which judges:

- ``time``: psql's start to its answer (connection, authentication, query), ``-w``/``-c``
  in seconds with the C plugin's defaults (2 and 8);
- ``connections``: client backends in ``pg_stat_activity`` as a percentage of
  ``max_connections`` (``--warning-connections``/``--critical-connections``, default
  80 and 90); the count is in perfdata with ``max_connections`` as its maximum;
- ``database_size``: ``pg_database_size`` of the database connected to (``--*-size``,
  with units: ``10G``);
- ``longest_transaction``: the oldest open transaction of a client backend other than the
  check's own, in seconds (``--*-transaction``, with units: ``15m``);
- ``longest_idle_in_transaction``: the longest a session has sat ``idle in transaction``
  (``--*-idle-transaction``): it holds locks and stops vacuum while nobody works;
- ``waiting_locks``: lock requests not granted (``--*-locks``).

The server down, a refused login (bad password, no ``pg_hba.conf`` line) or a missing
database is CRITICAL with libpq's message, as the C plugin (so is a server that accepts
and never answers: libpq gives up a second before ``-t``); a host name that does not
resolve is UNKNOWN, as in the C plugin; a failed query (a role that
may not read ``pg_stat_activity`` of others: grant it ``pg_monitor``) is UNKNOWN.
PostgreSQL 10 or later (``backend_type``).

Deliberate differences from the C plugin 2.3.3: ``-p PASSWORD`` is refused (the password
goes in ``PGPASSFILE`` or a service file), as is ``-o password=…``; ``time`` includes psql's
own start (about 3 ms) besides the connection; the query options ``-q``/``-W``/``-C`` are
not offered (check_postgres' custom_query does that); the summary line names vigie's
metrics besides the database and the time.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import nagiosplugin

from checks.core.cli import Parser, add_thresholds
from checks.core.errors import ParseError
from checks.core.evaluate import Summary, Threshold, show
from checks.core.net import Latency, human_latency
from checks.core.runtime import Bench, Plugin
from checks.core.units import BYTES, SECONDS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from checks.clients.postgresql import Connection

#: One round trip: settings, the connected database, pg_stat_activity and pg_locks.
#: Ages are taken from clock_timestamp(), not now(): now() is this check's own transaction
#: start, older than a transaction another client began a moment later (a negative age).
QUERY = """SELECT json_build_object(
 'server_version_num', current_setting('server_version_num')::int,
 'max_connections', current_setting('max_connections')::int,
 'database', current_database(),
 'database_size', pg_database_size(current_database()),
 'connections', count(*) FILTER (WHERE backend_type = 'client backend'),
 'longest_transaction', coalesce(max(extract(epoch FROM clock_timestamp() - xact_start))
    FILTER (WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()), 0),
 'longest_idle_in_transaction', coalesce(max(extract(epoch FROM clock_timestamp() - state_change))
    FILTER (WHERE state LIKE 'idle in transaction%'), 0),
 'waiting_locks', (SELECT count(*) FROM pg_locks WHERE NOT granted)
) FROM pg_stat_activity"""

#: The numbers the query returns, each a metric but max_connections (the percentage's base).
NUMBERS = ("server_version_num", "max_connections", "database_size", "connections",
           "longest_transaction", "longest_idle_in_transaction", "waiting_locks")  # fmt: skip


class Status:
    """What the query found, as plain numbers and the database's name."""

    __slots__ = ("database", "numbers")

    def __init__(self, database: str, numbers: dict[str, float]) -> None:
        self.database, self.numbers = database, numbers

    @property
    def connections_percent(self) -> float:
        """Client backends as a percentage of ``max_connections``."""
        return 100.0 * self.numbers["connections"] / self.numbers["max_connections"]


def parse_status(document: dict[str, object]) -> Status:
    """The query's JSON object, every number checked (non-negative; a positive maximum)."""
    numbers: dict[str, float] = {}
    for name in NUMBERS:
        value = document.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ParseError(f"the server's answer has no valid {name}: {value!r}")
        numbers[name] = value
    if numbers["max_connections"] <= 0:
        raise ParseError("the server's answer has max_connections 0")
    database = document.get("database")
    if not isinstance(database, str):
        raise ParseError(f"the server's answer has no database name: {database!r}")
    return Status(database, numbers)


class Pgsql(nagiosplugin.Resource):
    """One login and the status query."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.where = connection.where

    def probe(self) -> list[nagiosplugin.Metric]:
        """Connect, query, measure."""
        from checks.clients.postgresql import query

        document, elapsed = query(self.connection, QUERY)
        status = parse_status(document)
        self.where = self.connection.at(status.database)
        numbers = status.numbers
        return [
            nagiosplugin.Metric("time", elapsed, "s", 0, context="time"),
            nagiosplugin.Metric("connections_used", status.connections_percent, "%", 0, 100,
                                context="connections_used"),
            nagiosplugin.Metric("connections", numbers["connections"], "", 0,
                                numbers["max_connections"], context="connections"),
            nagiosplugin.Metric("database_size", numbers["database_size"], "B", 0,
                                context="database_size"),
            nagiosplugin.Metric("longest_transaction", numbers["longest_transaction"], "s", 0,
                                context="longest_transaction"),
            nagiosplugin.Metric("longest_idle_in_transaction",
                                numbers["longest_idle_in_transaction"], "s", 0,
                                context="longest_idle_in_transaction"),
            nagiosplugin.Metric("waiting_locks", numbers["waiting_locks"], "", 0,
                                context="waiting_locks"),
        ]  # fmt: skip


def worded(words: str) -> Callable[[nagiosplugin.Metric], str]:
    """A describe function: ``words`` followed by the metric's value as people read it."""
    return lambda metric: f"{words} {show(metric.value, metric.uom or '')}"


def describe_connections(metric: nagiosplugin.Metric) -> str:
    """``3 of 100 connections``."""
    return f"{metric.value:g} of {metric.max:g} connections"


def describe_locks(metric: nagiosplugin.Metric) -> str:
    """``2 waiting locks``."""
    return f"{metric.value:g} waiting lock{'' if metric.value == 1 else 's'}"


def headline(results: nagiosplugin.Results) -> str:
    """``database template1 on host port 5432 in 19 ms: 3 of 100 connections (3%), …``."""
    where = results[0].resource.where
    took = human_latency(results["time"].metric.value)
    used = show(results["connections_used"].metric.value, "%")
    details = ", ".join(
        str(results[name])
        for name in ("database_size", "longest_transaction", "longest_idle_in_transaction",
                     "waiting_locks")
    )  # fmt: skip
    return f"{where} in {took}: {results['connections']} ({used}), {details}"


class PgsqlSummary(Summary):
    """The headline when OK; every problem, worst first, after where."""

    def __init__(self) -> None:
        super().__init__(headline)

    def problem(self, results: nagiosplugin.Results) -> str:
        """Where, then the problems."""
        return f"{results[0].resource.where}: {super().problem(results)}"


def build_parser() -> Parser:
    """The C plugin's connection and time options, plus a threshold pair per metric."""
    from checks.clients.postgresql import add_connection_options

    parser = Parser(
        "check_pgsql",
        __doc__.split("\n\n")[0],
        examples=(
            "check_pgsql -H db1 -l nagios                      login and time (as the C plugin)",
            "check_pgsql -H /run/postgresql -d shop --warning-size 50G --critical-size 80G",
            "check_pgsql --service monitor --critical-idle-transaction 10m --warning-locks 5",
        ),
    )
    add_connection_options(parser)
    add_thresholds(parser, "the connection time in seconds (units: ms, s)", scale=SECONDS,
                   defaults=("2", "8"), note="C-compatible")  # fmt: skip
    add_thresholds(parser, "client connections in %% of max_connections",
                   metric="connections", defaults=("80", "90"))  # fmt: skip
    add_thresholds(parser, "the database size (units: K, M, G, T)", metric="size", scale=BYTES)
    add_thresholds(parser, "the longest open transaction (units: s, m, h)",
                   metric="transaction", scale=SECONDS)  # fmt: skip
    add_thresholds(parser, "the longest idle in transaction (units: s, m, h)",
                   metric="idle-transaction", scale=SECONDS)  # fmt: skip
    add_thresholds(parser, "the number of lock requests waiting", metric="locks")
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    from checks.clients.postgresql import Connection

    return nagiosplugin.Check(
        Pgsql(Connection(args, "vigie check_pgsql")),
        Latency("time", args.warning, args.critical,
                lambda metric: f"time {human_latency(metric.value)}"),
        Threshold("connections_used", args.warning_connections, args.critical_connections,
                  worded("connections")),
        Threshold("connections", describe=describe_connections),
        Threshold("database_size", args.warning_size, args.critical_size, worded("size")),
        Threshold("longest_transaction", args.warning_transaction, args.critical_transaction,
                  worded("longest transaction")),
        Threshold("longest_idle_in_transaction", args.warning_idle_transaction,
                  args.critical_idle_transaction, worded("idle in transaction")),
        Threshold("waiting_locks", args.warning_locks, args.critical_locks, describe_locks),
        PgsqlSummary(),
    )  # fmt: skip


PLUGIN = Plugin(
    "pgsql",
    build_parser,
    make_check,
    address=True,
    services=("vigie-pgsql",),
    nagios=("pgsql",),
    bench=(
        Bench("check_pgsql -H 127.0.0.1 -P PORT (TCP, scram)",
              ("-H", "127.0.0.1", "-P", "{pgsql_port}", "-l", "postgres"), kind="tool",
              twin="C check_pgsql -H 127.0.0.1 -P PORT"),
        Bench("check_pgsql -H SOCKETDIR -P PORT (unix socket)",
              ("-H", "{pgsql_socket}", "-P", "{pgsql_port}", "-l", "postgres"), kind="tool",
              twin="C check_pgsql -H SOCKETDIR -P PORT"),
        Bench("check_pgsql -H 127.0.0.1 -P PORT (beside check_postgres backends)",
              ("-H", "127.0.0.1", "-P", "{pgsql_port}", "-l", "postgres"), kind="tool",
              twin="check_postgres_backends -H 127.0.0.1 -p PORT"),
    ),
)  # fmt: skip
main = PLUGIN.main
