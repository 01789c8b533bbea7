"""check_mysql_replication: whether a MariaDB/MySQL replica applies what its source writes.

For every replication channel (MariaDB's multi-source connections, MySQL's channels; or
only ``--connection NAME``): the IO thread (receiving from the source) and the SQL thread
(applying) must both run, else CRITICAL with the thread's last error number and text;
``-w``/``-c`` judge the seconds behind the source (``Seconds_Behind_Master``/``_Source``),
which is NULL, never 0, when a thread is stopped. The GTID position (received and
applied, or MySQL's retrieved and executed sets) is shown with ``-v``. A server with no
channel is UNKNOWN (it is not a replica: probably the wrong host), or ``--not-replica``
STATE (e.g. ``ok`` for a primary that may become a replica).

The status comes from ``SHOW ALL SLAVES STATUS`` on MariaDB, ``SHOW REPLICA STATUS`` on
MySQL ≥ 8.0.22 (``SHOW SLAVE STATUS`` is gone in 8.4) and ``SHOW SLAVE STATUS`` before;
the user needs the ``REPLICATION CLIENT`` privilege (MariaDB ≥ 10.5.9: ``SLAVE MONITOR``).
Connection options: those of check_mysql (``-H -P -s -d -u -f -g -l …``, C-compatible,
``-p`` refused). The C ``check_mysql -S`` checks a replica too: it calls a server with no
channel WARNING (``No slaves defined``), which check_mysql ``-S`` keeps; this check says
UNKNOWN unless told.
"""

from __future__ import annotations

import argparse

import nagiosplugin

from checks.core.cli import Parser, add_thresholds
from checks.core.evaluate import Summary
from checks.core.runtime import Bench, Plugin
from checks.core.units import SECONDS
from checks.database import _mysql_replication as replication


class Replica(nagiosplugin.Resource):
    """The replica's channels, read over one connection."""

    def __init__(self, args: argparse.Namespace) -> None:
        from checks.clients import mysql

        self.args = args
        self.target = mysql.target(args)
        self.where = self.target.where
        self.channels: list[replication.Channel] = []

    def probe(self) -> list[nagiosplugin.Metric]:
        """Connect, read every channel's status, close."""
        from checks.clients import mysql

        with mysql.session(self.target, self.args.timeout) as connection:
            self.channels = replication.read_channels(connection, self.args.connection)
        return replication.metrics(self.channels)


class ReplicaSummary(Summary):
    """``127.0.0.1 port 3307: replica of 127.0.0.1:3306 running, 0 s behind``."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """Where, then each channel with its lag."""
        where = results[0].resource.where
        return f"{where}: {', '.join(str(result) for result in results)}"

    def problem(self, results: nagiosplugin.Results) -> str:
        """Where, then every problem."""
        return f"{results[0].resource.where}: {super().problem(results)}"

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        """Each channel's GTID position and configured delay."""
        lines = super().verbose(results)
        for channel in results[0].resource.channels:
            if channel.gtid:
                lines.append(f"{channel.label}: GTID {channel.gtid}")
            if channel.delay:
                lines.append(f"{channel.label}: delayed by {channel.delay:g} s (MASTER_DELAY)")
        return lines


def build_parser() -> Parser:
    """check_mysql_replication's options: check_mysql's connection, lag, channel."""
    from checks.clients import mysql

    parser = Parser(
        "check_mysql_replication",
        __doc__.split("\n\n")[0],
        examples=(
            "check_mysql_replication -H db2 -f /etc/nagios/mysql.cnf -w 60 -c 300",
            "check_mysql_replication -H db2 -f FILE --connection eu   one channel only",
            "check_mysql_replication -H db1 -f FILE --not-replica ok  a primary is fine too",
        ),
    )
    mysql.add_connection_options(parser)
    replication.add_channel_option(parser)
    add_thresholds(parser, "the seconds behind the source (units: s, m, h)", scale=SECONDS,
                   defaults=("300", "1800"))  # fmt: skip
    parser.add_argument("--not-replica", choices=tuple(replication.STATES), default="unknown",
                        metavar="STATE", help="state of a server with no replication channel: "
                        "ok, warning, critical, unknown (default: %(default)s)")  # fmt: skip
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    return nagiosplugin.Check(
        Replica(args),
        *replication.contexts(args.warning, args.critical, args.not_replica),
        ReplicaSummary(),
    )


PLUGIN = Plugin(
    "mysql_replication",
    build_parser,
    make_check,
    address=True,
    services=("vigie-mysql-replication",),
    nagios=("mysql-replication",),
    bench=(
        Bench("check_mysql_replication -H 127.0.0.1 -P PORT -f FILE",
              ("-H", "127.0.0.1", "-P", "{mysql_replica_port}", "-f", "{mysql_options}"),
              kind="tool", twin="C check_mysql -S -H 127.0.0.1 -P PORT -f FILE"),
    ),
)  # fmt: skip
main = PLUGIN.main
