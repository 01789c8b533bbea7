"""A MariaDB/MySQL replica's channels, read from its status rows, and how they are judged.

Shared by check_mysql_replication and check_mysql ``-S``. The rows are what the server
prints for ``SHOW ALL SLAVES STATUS`` (MariaDB: every connection of a multi-source
replica, columns ``Slave_*``/``Master_*``), ``SHOW REPLICA STATUS`` (MySQL ≥ 8.0.22,
``Replica_*``/``Source_*``; ``SHOW SLAVE STATUS`` is gone in 8.4) or ``SHOW SLAVE STATUS``
(older MySQL): the dialect is read from the columns, never assumed.

A channel is healthy when both threads run. A stopped thread is CRITICAL with its last
error (number and text); the IO thread ``Connecting`` (source unreachable, login refused)
is CRITICAL too. The seconds behind the source are judged only when both threads run:
NULL is "unknown", never 0, and with both threads running it is UNKNOWN.
"""

from __future__ import annotations

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Unknown, Warn

from checks.core.errors import CannotCheck, ParseError
from checks.core.evaluate import Perf, Threshold, Verdict
from checks.core.units import count_of, human_duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pymysql.connections import Connection  # type: ignore[import-untyped]

    from checks.core.ranges import Range

#: The contexts of the metrics below, for summaries that word them apart.
CONTEXTS = ("threads", "lag", "channels")
#: Column names by meaning: (MySQL ≥ 8.0.22 name, MariaDB and older MySQL name).
COLUMNS = {
    "io": ("Replica_IO_Running", "Slave_IO_Running"),
    "sql": ("Replica_SQL_Running", "Slave_SQL_Running"),
    "lag": ("Seconds_Behind_Source", "Seconds_Behind_Master"),
    "host": ("Source_Host", "Master_Host"),
    "port": ("Source_Port", "Master_Port"),
}
#: What a server that is not a replica may be, by name.
STATES = {"ok": Ok, "warning": Warn, "critical": Critical, "unknown": Unknown}


class Channel:
    """One replication channel (MariaDB: connection) of a replica, as its row says."""

    __slots__ = ("delay", "gtid", "host", "io", "io_error", "lag", "name", "port", "sql",
                 "sql_error")  # fmt: skip

    def __init__(self, name: str, io: str, sql: str, lag: float | None) -> None:
        self.name, self.io, self.sql, self.lag = name, io, sql, lag
        self.io_error = self.sql_error = self.gtid = self.host = ""
        self.port = 0
        self.delay = 0.0

    @property
    def label(self) -> str:
        """``channel 'eu'``, or ``replica`` for the default, unnamed channel."""
        return f"channel {self.name!r}" if self.name else "replica"

    @property
    def source(self) -> str:
        """``db1:3306``."""
        return f"{self.host}:{self.port}"


def _text(row: dict[str, object], name: str) -> str:
    value = row.get(name)
    return "" if value is None else str(value).strip()


def _count(row: dict[str, object], name: str, what: str) -> float | None:
    """A non-negative number of the row, None for NULL or a missing column."""
    value = row.get(name)
    if value is None or value == "":
        return None
    number = count_of(value)
    if number is None:
        raise ParseError(f"{what}: {name} is {str(value)[:40]!r}, not a number of seconds")
    return number


def parse_channel(row: dict[str, object]) -> Channel:
    """The channel one status row describes; ParseError when it is no replica status row."""
    if not isinstance(row, dict):
        raise ParseError("a replica status row is not a set of columns")
    dialect = 0 if "Replica_IO_Running" in row else 1
    columns = {meaning: names[dialect] for meaning, names in COLUMNS.items()}
    name = _text(row, "Channel_Name") or _text(row, "Connection_name")
    what = f"channel {name!r}" if name else "the replica status"
    io, sql = _text(row, columns["io"]), _text(row, columns["sql"])
    if not io or not sql:
        raise ParseError(f"{what} has no {columns['io']}/{columns['sql']} columns")
    channel = Channel(name, io, sql, _count(row, columns["lag"], what))
    channel.host, channel.port = (
        _text(row, columns["host"]),
        int(_count(row, columns["port"], what) or 0),
    )
    channel.io_error = _error(row, "Last_IO_Errno", "Last_IO_Error", what)
    channel.sql_error = _error(row, "Last_SQL_Errno", "Last_SQL_Error", what)
    channel.delay = _count(row, "SQL_Delay", what) or 0.0
    channel.gtid = _gtid(row)
    return channel


def _error(row: dict[str, object], number: str, text: str, what: str) -> str:
    """``error 1050: Table 't' already exists``, or "" when there is none."""
    code = _count(row, number, what)
    message = _text(row, text)
    if not code and not message:
        return ""
    return f"error {code:.0f}: {message}" if code else message


def _gtid(row: dict[str, object]) -> str:
    """The GTID position: MariaDB's received and applied, MySQL's retrieved and executed."""
    pairs = (("received", "Gtid_IO_Pos"), ("applied", "Gtid_Slave_Pos"),
             ("retrieved", "Retrieved_Gtid_Set"), ("executed", "Executed_Gtid_Set"))  # fmt: skip
    shown = [f"{word} {' '.join(_text(row, column).split())}" for word, column in pairs
             if _text(row, column)]  # fmt: skip
    return ", ".join(shown)


def parse_channels(rows: list[dict[str, object]], wanted: str | None = None) -> list[Channel]:
    """Every channel of the rows, or only ``wanted`` (CannotCheck when it is not there)."""
    if not isinstance(rows, list):
        raise ParseError("the replica status is not a list of rows")
    channels = [parse_channel(row) for row in rows]
    if wanted is None:
        return channels
    chosen = [channel for channel in channels if channel.name == wanted]
    if not chosen:
        names = ", ".join(repr(channel.name) for channel in channels) or "none"
        raise CannotCheck(f"no replication channel {wanted!r} (channels: {names})")
    return chosen


def status_query(version: str) -> str:
    """The statement listing every channel on a server of ``version`` (``SELECT VERSION()``)."""
    if "mariadb" in version.lower():
        return "SHOW ALL SLAVES STATUS"
    try:
        major, minor, patch = (
            int(part) for part in version.split("-", maxsplit=1)[0].split(".")[:3]
        )
    except ValueError:
        return "SHOW REPLICA STATUS"  # a version we cannot read: the current statement
    return "SHOW REPLICA STATUS" if (major, minor, patch) >= (8, 0, 22) else "SHOW SLAVE STATUS"


def read_channels(connection: Connection, wanted: str | None = None) -> list[Channel]:
    """The channels of the server on ``connection`` (all, or ``wanted``)."""
    from checks.clients import mysql

    rows = mysql.query(connection, status_query(connection.get_server_info()))
    return parse_channels(rows, wanted)


def add_channel_option(container: argparse._ActionsContainer) -> None:
    """``--connection NAME``: judge only one channel of a multi-source replica."""
    container.add_argument("--connection", metavar="NAME",
                           help="only this replication channel (MariaDB connection name, "
                           "MySQL channel; default: every channel)")  # fmt: skip


def metrics(channels: list[Channel]) -> list[nagiosplugin.Metric]:
    """A ``threads`` metric per channel, its lag when both threads run; ``channels`` if none."""
    if not channels:
        return [nagiosplugin.Metric("channels", 0, context="channels")]
    found = []
    for channel in channels:
        suffix = f"_{channel.name}" if channel.name else ""
        found.append(nagiosplugin.Metric(f"threads{suffix}", channel, context="threads"))
        if channel.io == "Yes" and channel.sql == "Yes":
            lag = channel.lag
            found.append(nagiosplugin.Metric(f"lag{suffix}", -1.0 if lag is None else lag, "s",
                                             context="lag"))  # fmt: skip
    return found


def thread_problems(channel: Channel) -> list[str]:
    """What is wrong with the channel's threads, each with its last error; [] if both run."""
    problems = []
    if channel.io != "Yes":
        how = {"Connecting": "connecting to", "No": "stopped, source"}.get(
            channel.io, f"{channel.io[:20]!r}, source"
        )
        error = f" ({channel.io_error})" if channel.io_error else ""
        problems.append(f"IO thread {how} {channel.source}{error}")
    if channel.sql != "Yes":
        error = f" ({channel.sql_error})" if channel.sql_error else ""
        problems.append(f"SQL thread stopped{error}")
    return problems


class Threads(nagiosplugin.Context):
    """A channel's IO and SQL threads: CRITICAL unless both run, with their last errors."""

    def __init__(self) -> None:
        super().__init__("threads", result_cls=Verdict)

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """Both ``Yes``: OK; a thread stopped or connecting: CRITICAL."""
        return Verdict(Critical if thread_problems(metric.value) else Ok, None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``replica of db1:3306 running``, ``channel 'eu': SQL thread stopped (error …)``."""
        channel: Channel = metric.value
        problems = thread_problems(channel)
        if problems:
            return f"{channel.label}: {'; '.join(problems)}"
        return f"{channel.label} of {channel.source} running"


class Lag(Threshold):
    """Seconds behind the source (``-w``/``-c``); unknown (NULL) while running: UNKNOWN."""

    def __init__(self, warning: Range | None, critical: Range | None) -> None:
        super().__init__("lag", warning, critical)

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """Judged against the ranges, once known."""
        if metric.value < 0:
            return Verdict(Unknown, f"{_of(metric)}: seconds behind the source unknown "
                           "(NULL) though both threads run", metric)  # fmt: skip
        return super().evaluate(metric, resource)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``replica 12 s behind``, ``channel 'eu' 3 min 20 s behind``."""
        return f"{_of(metric)} {human_duration(metric.value)} behind"

    def performance(  # type: ignore[override]
        self, metric: nagiosplugin.Metric, resource: object
    ) -> Perf | None:
        """No perfdata for an unknown lag (it is not 0)."""
        return None if metric.value < 0 else super().performance(metric, resource)


def _of(metric: nagiosplugin.Metric) -> str:
    name = metric.name.partition("_")[2]
    return f"channel {name!r}" if name else "replica"


class NoChannel(nagiosplugin.Context):
    """A server that replicates from no source: ``state`` (UNKNOWN unless told otherwise)."""

    def __init__(self, state: str) -> None:
        super().__init__("channels", result_cls=Verdict)
        self.state = STATES[state]

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """The configured state."""
        return Verdict(self.state, None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """What was found."""
        return "not a replica (no replication channel)"


def contexts(warning: Range | None, critical: Range | None,
             not_replica: str) -> list[nagiosplugin.Context]:  # fmt: skip
    """The contexts judging :func:`metrics`."""
    return [Threads(), Lag(warning, critical), NoChannel(not_replica)]
