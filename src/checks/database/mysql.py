"""check_mysql: whether a MariaDB/MySQL server accepts a login, and how loaded it is.

Connects (see :mod:`checks.clients.mysql` for the options, the same as the C plugin's),
reads ``SHOW GLOBAL STATUS`` and ``max_connections``, and judges: the connection time,
the uptime, the threads connected and running, the connections in use as a percentage of
``max_connections`` (default warning 80%, critical 90%), and the rates of queries
(``Questions``), slow queries and aborted connection attempts per second. The server
down, not answering within ``-t``, or refusing the login or the database is CRITICAL with
the server's own message, as in the C plugin; ``-n`` makes a refused login OK.

Rates come from the counters the previous run stored (:mod:`checks.core.statefile`, one
state per server), so they cover the whole check interval, not the lifetime averages the
C plugin prints (``Queries per second avg``); without a usable reading the check samples
for ``--sample`` seconds. A server restart discards the stored reading: when a counter or
``Uptime`` is lower than stored, the check samples afresh; when the server restarted and
has been up longer than the stored ``Uptime`` (so nothing went down), the uptime gained
is shorter than the time elapsed and the rates are taken since the restart.

C compatibility: ``-H -P -s -d -u -f -g -l -C -D -a -k -L -n`` as in check_mysql 2.3.3;
``-S`` (check the replica threads) with ``-w``/``-c`` on the seconds behind the source,
as the C plugin (``-w``/``-c`` without ``-S`` are refused rather than ignored); the rest
of replication is judged by check_mysql_replication. ``-p PASSWORD`` is refused (use an
options file). The perfdata are vigie's own (one label per judged value, rates per
second) rather than the C plugin's raw counters.
"""

from __future__ import annotations

import argparse
import time

import nagiosplugin
from nagiosplugin.state import Ok

from checks.core import statefile
from checks.core.cli import Parser, UsageError, add_thresholds
from checks.core.errors import ParseError
from checks.core.evaluate import Summary, Threshold, Verdict, show
from checks.core.net import Latency, human_latency
from checks.core.runtime import Bench, Plugin
from checks.core.units import SECONDS, count_of, human_duration, human_number

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pymysql.connections import Connection  # type: ignore[import-untyped]

#: The ``SHOW GLOBAL STATUS`` counters whose rates are judged: status name → metric.
RATES = {"Questions": "queries", "Slow_queries": "slow_queries",
         "Aborted_connects": "aborted_connects"}  # fmt: skip
#: Only the values judged: the whole status is some 600 rows that PyMySQL would decode in
#: Python, which doubled a check's CPU time.
STATUS_QUERY = "SHOW GLOBAL STATUS WHERE Variable_name IN ({})".format(
    ", ".join(f"'{name}'" for name in ("Uptime", "Threads_connected", "Threads_running", *RATES))
)
#: Seconds an ``Uptime`` may lag the time elapsed before the server counts as restarted.
RESTART_SLACK = 2.0


class ServerStatus:
    """The judged values of ``SHOW GLOBAL STATUS`` and ``max_connections``."""

    __slots__ = ("counters", "max_connections", "threads_connected", "threads_running", "uptime")

    def __init__(
        self,
        uptime: float,
        threads_connected: float,
        threads_running: float,
        max_connections: float,
        counters: dict[str, float],
    ) -> None:
        self.uptime, self.max_connections = uptime, max_connections
        self.threads_connected, self.threads_running = threads_connected, threads_running
        self.counters = counters

    @property
    def connections_percent(self) -> float:
        """Threads connected as a share of ``max_connections``."""
        return 100.0 * self.threads_connected / self.max_connections


def parse_status(status: dict[str, str], variables: dict[str, str]) -> ServerStatus:
    """The values judged, from ``SHOW GLOBAL STATUS`` and ``SHOW GLOBAL VARIABLES`` rows.

    Raises ParseError naming the first missing or non-numeric value.
    """

    def number(rows: dict[str, str], name: str, what: str) -> float:
        text = rows.get(name)
        if text is None:
            raise ParseError(f"{what} has no {name}")
        value = count_of(text)
        if value is None:
            raise ParseError(f"{what}: {name} is {text[:40]!r}, not a count")
        return value

    shown = "SHOW GLOBAL STATUS"
    max_connections = number(variables, "max_connections", "SHOW GLOBAL VARIABLES")
    if max_connections < 1:
        raise ParseError("SHOW GLOBAL VARIABLES: max_connections is 0")
    counters = {name: number(status, name, shown) for name in ("Uptime", *RATES)}
    return ServerStatus(
        counters["Uptime"],
        number(status, "Threads_connected", shown),
        number(status, "Threads_running", shown),
        max_connections,
        counters,
    )


def rates(interval: statefile.Interval) -> tuple[dict[str, float], str]:
    """Per-second rates of :data:`RATES` over ``interval``, and the words for the period.

    A server whose ``Uptime`` grew less than the time elapsed restarted in between: its
    counters started again at zero, so the rates are taken over its uptime.
    """
    before, after = interval.before, interval.after
    gained = after["Uptime"] - before["Uptime"]
    if gained + RESTART_SLACK >= interval.seconds:
        seconds, how = interval.seconds, interval.how
        return {metric: interval.delta(name) / seconds for name, metric in RATES.items()}, how
    uptime = after["Uptime"]
    how = f"since the server's restart {human_duration(uptime)} ago"
    if uptime <= 0:
        return dict.fromkeys(RATES.values(), 0.0), how
    return {metric: after[name] / uptime for name, metric in RATES.items()}, how


def state_name(where: str) -> str:
    """The state file of one server: ``mysql-127.0.0.1-port-3306``."""
    return "mysql-" + "".join(char if char.isalnum() or char in ".-" else "-" for char in where)


class Mysql(nagiosplugin.Resource):
    """One login: its time, the server's status, and counter rates since the last run."""

    def __init__(self, args: argparse.Namespace) -> None:
        from checks.clients import mysql

        self.args = args
        self.target = mysql.target(args)
        self.where = self.target.where
        self.version = ""
        self.period = ""

    def probe(self) -> list[nagiosplugin.Metric]:
        """Connect, read the status (twice when sampling), close."""
        from checks.clients import mysql

        mysql.client()  # imported before the clock starts: the time is the server's
        started = time.monotonic()
        try:
            with mysql.session(self.target, self.args.timeout) as connection:
                elapsed = time.monotonic() - started
                self.version = connection.get_server_info()
                status, interval = self._status(connection)
                replica = self._replica(connection)
        except mysql.AccessDenied as refused:
            if not self.args.ignore_auth:
                raise
            return [nagiosplugin.Metric("login", refused.reason, context="login")]
        per_second, self.period = rates(interval)
        return [
            nagiosplugin.Metric("time", elapsed, "s", 0, context="time"),
            nagiosplugin.Metric("uptime", status.uptime, "s", 0, context="uptime"),
            nagiosplugin.Metric("threads_connected", status.threads_connected, "", 0,
                                status.max_connections, context="threads_connected"),
            nagiosplugin.Metric("threads_running", status.threads_running, "", 0,
                                context="threads_running"),
            nagiosplugin.Metric("connections", status.connections_percent, "%", 0, 100,
                                context="connections"),
            *(nagiosplugin.Metric(name, value, "", 0, context=name)
              for name, value in per_second.items()),
            *replica,
        ]  # fmt: skip

    def _status(self, connection: Connection) -> tuple[ServerStatus, statefile.Interval]:
        """The latest status, and the counters' interval since the stored or a sampled one."""
        from checks.clients import mysql

        variables = mysql.name_values(connection, "SHOW GLOBAL VARIABLES LIKE 'max_connections'")
        latest: list[ServerStatus] = []

        def read() -> dict[str, float]:
            rows = mysql.name_values(connection, STATUS_QUERY)
            latest.append(parse_status(rows, variables))
            return latest[-1].counters

        interval = statefile.counters(state_name(self.where), read, self.args.sample)
        return latest[-1], interval

    def _replica(self, connection: Connection) -> list[nagiosplugin.Metric]:
        """With ``-S``: the replication channels' metrics (see check_mysql_replication)."""
        if not self.args.check_slave:
            return []
        from checks.database import _mysql_replication as replication

        return replication.metrics(replication.read_channels(connection, self.args.connection))


def describe_rate(metric: nagiosplugin.Metric) -> str:
    """``12.3 queries/s``, ``slow queries 0.2/s``."""
    if metric.name == "queries":
        return f"{human_number(metric.value)} queries/s"
    return f"{metric.name.replace('_', ' ')} {human_number(metric.value)}/s"


def describe(metric: nagiosplugin.Metric) -> str:
    """``up 3 d 4 h``, ``threads connected 12``, ``connections 8% of max_connections``."""
    if metric.name == "uptime":
        return f"up {human_duration(metric.value)}"
    if metric.name == "connections":
        return f"connections {show(metric.value, '%')} of max_connections"
    return f"{metric.name.replace('_', ' ')} {human_number(metric.value)}"


class Login(nagiosplugin.Context):
    """``-n``: a refused login still shows the server is there: OK, with its message."""

    def __init__(self) -> None:
        super().__init__("login", result_cls=Verdict)

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """Always OK: the server answered, which is all ``-n`` asks."""
        return Verdict(Ok, None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """The server's refusal, as it said it."""
        return f"the server answered (login refused, ignored by -n: {metric.value})"


class MysqlSummary(Summary):
    """``MariaDB 10.11.19 on db1 port 3306 in 2.7 ms: up 3 d, threads connected 5, …``."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """Version, where, and every value."""
        resource: Mysql = results[0].resource
        if "login" in results:
            return f"{resource.where}: {results['login']}"
        took = human_latency(results["time"].metric.value)
        parts = ", ".join(
            str(results[name])
            for name in ("uptime", "threads_connected", "threads_running", "connections")
        )
        rates_text = ", ".join(str(results[name]) for name in RATES.values())
        from checks.database._mysql_replication import CONTEXTS

        replica = [str(result) for result in results if result.metric.context in CONTEXTS]
        return (
            f"{product(resource.version)} on {resource.where} in {took}: {parts}, "
            f"{rates_text} {resource.period}" + "".join(f", {text}" for text in replica)
        )

    def problem(self, results: nagiosplugin.Results) -> str:
        """Where, then every problem."""
        return f"{results[0].resource.where}: {super().problem(results)}"


def product(version: str) -> str:
    """``MariaDB 10.11.6`` or ``MySQL 8.0.36`` from the server's version string.

    MariaDB before 11 prefixes its version with ``5.5.5-`` for old replication clients.
    """
    number = version.removeprefix("5.5.5-").split("-", 1)[0]
    return f"MariaDB {number}" if "mariadb" in version.lower() else f"MySQL {number}"


def build_parser() -> Parser:
    """check_mysql's options: the C plugin's, and thresholds for each value."""
    from checks.clients import mysql

    parser = Parser(
        "check_mysql",
        __doc__.split("\n\n")[0],
        examples=(
            "check_mysql -H db1 -f /etc/nagios/mysql.cnf      login from the options file",
            "check_mysql -s /run/mysqld/mysqld.sock -u nagios  local socket (unix_socket auth)",
            "check_mysql -H db1 -f FILE --warning-slow-queries 1 --critical-connections 95",
            "check_mysql -H db2 -f FILE -S -w 60 -c 300        also the replica, as the C -S",
        ),
    )
    mysql.add_connection_options(parser)
    parser.add_argument("-n", "--ignore-auth", action="store_true",
                        help="OK when the server refuses the login: check it answers "
                        "(C-compatible)")  # fmt: skip
    replica = parser.add_argument_group("replica (C-compatible -S -w -c)")
    replica.add_argument("-S", "--check-slave", action="store_true",
                         help="also judge the replica threads and lag "
                         "(not a replica: WARNING, as the C plugin)")  # fmt: skip
    from checks.database import _mysql_replication as replication

    replication.add_channel_option(replica)
    add_thresholds(replica, "the seconds behind the source, with -S (units: s, m, h)",
                   scale=SECONDS, note="C-compatible")  # fmt: skip
    values = parser.add_argument_group("thresholds")
    add_thresholds(values, "the connection time (units: ms, s)", metric="time", scale=SECONDS)
    add_thresholds(values, "the uptime (e.g. 600: warns after a restart; units: s, m, h, d)",
                   metric="uptime", scale=SECONDS)  # fmt: skip
    add_thresholds(values, "threads connected", metric="threads-connected")
    add_thresholds(values, "threads running", metric="threads-running")
    add_thresholds(values, "connections in %% of max_connections", metric="connections",
                   defaults=("80", "90"))  # fmt: skip
    for name in RATES.values():
        add_thresholds(values, f"{name.replace('_', ' ')} per second",
                       metric=name.replace("_", "-"))  # fmt: skip
    statefile.add_sample_option(parser, " of the status counters")
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    if not args.check_slave and (args.warning or args.critical):
        raise UsageError("-w/-c judge the seconds behind the source and need -S "
                         "(see --help; check_mysql_replication judges replicas)")  # fmt: skip
    contexts: list[nagiosplugin.Context] = [
        Latency("time", args.warning_time, args.critical_time),
        Threshold("uptime", args.warning_uptime, args.critical_uptime, describe),
        Threshold("threads_connected", args.warning_threads_connected,
                  args.critical_threads_connected, describe),
        Threshold("threads_running", args.warning_threads_running,
                  args.critical_threads_running, describe),
        Threshold("connections", args.warning_connections, args.critical_connections, describe),
        *(Threshold(name, getattr(args, f"warning_{name}"), getattr(args, f"critical_{name}"),
                    describe_rate) for name in RATES.values()),
        Login(),
    ]  # fmt: skip
    if args.check_slave:
        from checks.database import _mysql_replication as replication

        contexts += replication.contexts(args.warning, args.critical, not_replica="warning")
    return nagiosplugin.Check(Mysql(args), *contexts, MysqlSummary())


PLUGIN = Plugin(
    "mysql",
    build_parser,
    make_check,
    address=True,
    services=("vigie-mysql",),
    nagios=("mysql",),
    bench=(
        Bench("check_mysql -H 127.0.0.1 -P PORT -f FILE --sample 0.05",
              ("-H", "127.0.0.1", "-P", "{mysql_port}", "-f", "{mysql_options}", "--sample",
               "0.05"),
              kind="tool", twin="C check_mysql -H 127.0.0.1 -P PORT -f FILE"),
    ),
)  # fmt: skip
main = PLUGIN.main
