"""check_pgsql_replication: PostgreSQL streaming replication, seen from either side.

One query through psql (connection options as check_pgsql: ``-H -P -d -l -o``,
``--service``; see :mod:`checks.clients.postgresql`) answers whichever role the server
has, read from ``pg_is_in_recovery()``; ``--role primary|standby`` makes the other role
CRITICAL (a failover the monitoring did not follow).

On a primary (``pg_stat_replication``, ``pg_replication_slots``):

- standbys streaming, fewer than ``--standbys N`` (default 1; 0 accepts none) CRITICAL;
  a base backup running (``pg_basebackup``: its walsenders in state ``backup`` and named
  ``pg_basebackup``) is no standby and is left out;
- each standby (by ``application_name``, ``@client`` added when two share one): a state
  other than ``streaming`` (startup, catchup, backup) WARNING; how far its write, flush and
  replay positions trail the primary's in bytes and seconds (perfdata), its replay judged
  by ``--*-lag-bytes`` and ``--*-lag`` (seconds). PostgreSQL shows NULL lag times once a
  standby has caught up on an idle primary: that is no lag, and counts as 0;
- each replication slot: inactive (no consumer) ``--inactive-slot`` (default warning);
  ``wal_status`` (13+) ``unreserved`` WARNING (its WAL is about to go) and ``lost``
  CRITICAL (it is gone: the standby must be rebuilt); the WAL it retains in bytes
  (``--*-slot-bytes``), and ``safe_wal_size`` in perfdata where the server limits it.

On a standby, from its own connection alone (``pg_stat_wal_receiver``):

- the WAL receiver: none CRITICAL (not streaming: the primary unreachable, or
  ``primary_conninfo`` wrong), another status than ``streaming`` WARNING;
- receive lag in bytes (the end of WAL the primary last reported against what was
  received) and replay lag in bytes (received but not yet replayed), both judged by
  ``--*-lag-bytes``;
- replay delay in seconds, judged by ``--*-lag``: the age of the last replayed commit
  while received WAL waits for replay, and 0 when everything received is replayed, so an
  idle primary (no commit for hours) does not read as a standby hours behind. When WAL
  waits and nothing was replayed since the standby started (no commit time to compare
  with), the delay is the time since it started: an upper bound, never a false 0.

PostgreSQL 10 or later. The monitoring role needs ``pg_monitor`` to see the positions.
There is no C plugin for replication; check_postgres' ``replicate_row`` and
``hot_standby_delay`` need both servers and write to the primary, this needs one
read-only connection.
"""

from __future__ import annotations

import argparse
import math

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Warn

from checks.core.cli import Parser, add_thresholds, state
from checks.core.errors import ParseError
from checks.core.evaluate import STATES, Summary, Threshold, Verdict, show
from checks.core.output import screen
from checks.core.ranges import Range
from checks.core.runtime import Bench, Plugin
from checks.core.units import BYTES, SECONDS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from checks.clients.postgresql import Connection

#: Both roles in one round trip; ``pg_current_wal_lsn()`` only where it works (a primary).
#: Slots come as whole rows (``to_jsonb``), so 13+'s ``wal_status`` is there when it exists.
QUERY = """WITH position AS (
  SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn() END AS lsn
)
SELECT json_build_object(
 'server_version_num', current_setting('server_version_num')::int,
 'in_recovery', pg_is_in_recovery(),
 'standbys', (SELECT coalesce(json_agg(json_build_object(
     'name', application_name, 'client', coalesce(host(client_addr), 'local'),
     'state', state, 'sync_state', sync_state,
     'write_bytes', pg_wal_lsn_diff(p.lsn, write_lsn),
     'flush_bytes', pg_wal_lsn_diff(p.lsn, flush_lsn),
     'replay_bytes', pg_wal_lsn_diff(p.lsn, replay_lsn),
     'write_lag', extract(epoch FROM write_lag),
     'flush_lag', extract(epoch FROM flush_lag),
     'replay_lag', extract(epoch FROM replay_lag)) ORDER BY application_name, pid), '[]')
   FROM pg_stat_replication, position p
   WHERE state <> 'backup' AND application_name <> 'pg_basebackup'),
 'slots', (SELECT coalesce(json_agg(to_jsonb(s) || jsonb_build_object(
     'retained_bytes', pg_wal_lsn_diff(coalesce(p.lsn, pg_last_wal_receive_lsn()),
                                       s.restart_lsn)) ORDER BY s.slot_name), '[]')
   FROM pg_replication_slots s, position p),
 'receiver', (SELECT json_build_object('status', status, 'sender', sender_host,
     'receive_bytes', pg_wal_lsn_diff(latest_end_lsn, pg_last_wal_receive_lsn()),
     'last_message_age', extract(epoch FROM now() - last_msg_receipt_time))
   FROM pg_stat_wal_receiver),
 'replay_bytes', pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()),
 'last_replay_age', extract(epoch FROM now() - pg_last_xact_replay_timestamp()),
 'server_age', extract(epoch FROM now() - pg_postmaster_start_time())
)"""

ROLES = ("primary", "standby")
#: ``wal_status`` of a slot whose WAL is going (WARNING) or gone (CRITICAL).
SLOT_WAL_STATES = {"unreserved": Warn, "lost": Critical}
LAG_KINDS = ("write", "flush", "replay")


# --- the query's answer, as plain values ----------------------------------------------------


def _number(row: dict[str, object], key: str, where: str, *, nullable: bool = True) -> float:
    """A finite number of ``row``, NULL as 0 when ``nullable``; negative clamped to 0
    (a position read a moment before another can trail it by a record)."""
    value = row.get(key)
    if value is None and nullable:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ParseError(f"{where}: {key} is not a number: {value!r}")
    return max(float(value), 0.0)


def _text(row: dict[str, object], key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise ParseError(f"{where}: {key} is not a text: {value!r}")
    return value


def _rows(document: dict[str, object], key: str) -> list[dict[str, object]]:
    rows = document.get(key)
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ParseError(f"the server's answer has no list of {key}: {str(rows)[:60]!r}")
    return rows


class Standby:
    """A row of ``pg_stat_replication``: who, state, and how far behind (bytes, seconds)."""

    __slots__ = ("bytes", "client", "label", "name", "seconds", "state", "sync_state")

    def __init__(self, row: dict[str, object]) -> None:
        where = "a standby of pg_stat_replication"
        self.name = _text(row, "name", where) or "(unnamed)"
        self.client = _text(row, "client", where)
        self.state = _text(row, "state", self.name)
        sync = row.get("sync_state")
        self.sync_state = sync if isinstance(sync, str) else ""
        self.bytes = {kind: _number(row, f"{kind}_bytes", self.name) for kind in LAG_KINDS}
        self.seconds = {kind: _number(row, f"{kind}_lag", self.name) for kind in LAG_KINDS}
        self.label = self.name


class Slot:
    """A row of ``pg_replication_slots``: name, whether used, the WAL it holds."""

    __slots__ = ("active", "kind", "name", "retained", "safe_wal_size", "wal_status")

    def __init__(self, row: dict[str, object]) -> None:
        self.name = _text(row, "slot_name", "a replication slot")
        self.kind = _text(row, "slot_type", self.name)
        active = row.get("active")
        if not isinstance(active, bool):
            raise ParseError(f"slot {self.name}: active is not true or false: {active!r}")
        self.active = active
        wal_status = row.get("wal_status")
        self.wal_status = wal_status if isinstance(wal_status, str) else None
        self.retained = _number(row, "retained_bytes", f"slot {self.name}")
        safe = row.get("safe_wal_size")
        self.safe_wal_size = None if safe is None else _number(row, "safe_wal_size", self.name)


class Receiver:
    """The standby's WAL receiver (``pg_stat_wal_receiver``), or its absence."""

    __slots__ = ("last_message_age", "receive_bytes", "sender", "status")

    def __init__(self, row: dict[str, object]) -> None:
        self.status = _text(row, "status", "the WAL receiver")
        sender = row.get("sender")
        self.sender = sender if isinstance(sender, str) else None
        self.receive_bytes = _number(row, "receive_bytes", "the WAL receiver")
        age = row.get("last_message_age")
        self.last_message_age = None if age is None else _number(row, "last_message_age", "")


class Replication:
    """One server's side of replication: its role and what it sees of its peers."""

    def __init__(self, document: dict[str, object]) -> None:
        role = document.get("in_recovery")
        if not isinstance(role, bool):
            raise ParseError(f"the server's answer has no in_recovery: {role!r}")
        self.role = ROLES[role]
        self.version = int(_number(document, "server_version_num", "the server", nullable=False))
        self.standbys = [Standby(row) for row in _rows(document, "standbys")]
        names = [standby.name for standby in self.standbys]
        for standby in self.standbys:
            if names.count(standby.name) > 1:
                standby.label = f"{standby.name}@{standby.client}"
        self.slots = [Slot(row) for row in _rows(document, "slots")]
        receiver = document.get("receiver")
        if receiver is not None and not isinstance(receiver, dict):
            raise ParseError(f"the server's answer has a bad receiver: {str(receiver)[:60]!r}")
        self.receiver = None if receiver is None else Receiver(receiver)
        self.replay_bytes = _number(document, "replay_bytes", "the standby")
        self.replay_delay = 0.0  # caught up: however old the last commit is (idle primary)
        if self.replay_bytes > 0 and document.get("last_replay_age") is not None:
            self.replay_delay = _number(document, "last_replay_age", "the standby")
        elif self.replay_bytes > 0:
            # Nothing replayed since the server started while WAL waits: it has waited at
            # most that long; saying 0 would hide a standby held back since its start.
            self.replay_delay = _number(document, "server_age", "the standby")


def parse_replication(document: dict[str, object]) -> Replication:
    """The query's JSON object as a :class:`Replication`; a ParseError for anything else."""
    return Replication(document)


# --- gathering ------------------------------------------------------------------------------


class PgsqlReplication(nagiosplugin.Resource):
    """One connection, one query; metrics for the role the server has."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.where = connection.server
        self.replication: Replication | None = None

    def probe(self) -> list[nagiosplugin.Metric]:
        """Query, then the metrics of a primary or of a standby."""
        from checks.clients.postgresql import query

        document, _ = query(self.connection, QUERY)
        replication = self.replication = parse_replication(document)
        metrics = [nagiosplugin.Metric("role", replication.role, context="role")]
        if replication.role == "primary":
            metrics += self._primary(replication)
        else:
            metrics += self._standby(replication)
        return metrics

    @staticmethod
    def _primary(replication: Replication) -> list[nagiosplugin.Metric]:
        streaming = sum(standby.state == "streaming" for standby in replication.standbys)
        metrics = [nagiosplugin.Metric("standbys", streaming, "", 0, context="standbys")]
        for standby in replication.standbys:
            label = standby.label
            metrics.append(nagiosplugin.Metric(f"{label} state", standby, context="standby"))
            for kind in LAG_KINDS:
                context = "lag_bytes" if kind == "replay" else "bytes"
                metrics.append(
                    nagiosplugin.Metric(
                        f"{label} {kind}_lag_bytes", standby.bytes[kind], "B", 0, context=context
                    )
                )
            for kind in LAG_KINDS:
                context = "lag" if kind == "replay" else "seconds"
                metrics.append(
                    nagiosplugin.Metric(
                        f"{label} {kind}_lag", standby.seconds[kind], "s", 0, context=context
                    )
                )
        for slot in replication.slots:
            metrics.append(nagiosplugin.Metric(f"slot {slot.name}", slot, context="slot"))
            metrics.append(
                nagiosplugin.Metric(
                    f"slot {slot.name} retained_bytes", slot.retained, "B", 0, context="slot_bytes"
                )
            )
            if slot.safe_wal_size is not None:
                metrics.append(nagiosplugin.Metric(
                    f"slot {slot.name} safe_wal_size", slot.safe_wal_size, "B", 0,
                    context="bytes"))  # fmt: skip
        return metrics

    @staticmethod
    def _standby(replication: Replication) -> list[nagiosplugin.Metric]:
        receiver = replication.receiver
        metrics = [nagiosplugin.Metric("receiver", receiver, context="receiver")]
        receive_bytes = receiver.receive_bytes if receiver else 0.0
        metrics += [
            nagiosplugin.Metric("receive_lag_bytes", receive_bytes, "B", 0, context="lag_bytes"),
            nagiosplugin.Metric("replay_lag_bytes", replication.replay_bytes, "B", 0,
                                context="lag_bytes"),
            nagiosplugin.Metric("replay_delay", replication.replay_delay, "s", 0, context="lag"),
        ]  # fmt: skip
        if receiver and receiver.last_message_age is not None:
            metrics.append(
                nagiosplugin.Metric(
                    "last_message_age", receiver.last_message_age, "s", 0, context="seconds"
                )
            )
        return metrics


# --- judging --------------------------------------------------------------------------------


class Role(nagiosplugin.Context):
    """The role the server has, CRITICAL when ``--role`` expects the other."""

    def __init__(self, expected: str | None) -> None:
        super().__init__("role", result_cls=Verdict)
        self.expected = expected

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """CRITICAL on a role other than ``--role``."""
        if self.expected and metric.value != self.expected:
            return Verdict(Critical, f"(expected {self.expected})", metric)
        return Verdict(Ok, None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``primary`` or ``standby``."""
        return f"is a {metric.value}"


class StandbyState(nagiosplugin.Context):
    """A standby's ``state``: anything but ``streaming`` is WARNING (it is not yet in sync)."""

    def __init__(self) -> None:
        super().__init__("standby", result_cls=Verdict)

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """OK streaming, WARNING otherwise."""
        standby: Standby = metric.value
        if standby.state != "streaming":
            return Verdict(Warn, "(not streaming)", metric)
        return Verdict(Ok, None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``standby walreceiver (127.0.0.1) streaming async``."""
        standby: Standby = metric.value
        sync = f" {standby.sync_state}" if standby.sync_state else ""
        return screen(f"standby {standby.name} ({standby.client}) {standby.state}{sync}")


class SlotState(nagiosplugin.Context):
    """A slot unused (``--inactive-slot``) or whose WAL is going or gone (``wal_status``)."""

    def __init__(self, inactive: int) -> None:
        super().__init__("slot", result_cls=Verdict)
        self.inactive = STATES[inactive]

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """The worst of inactivity and ``wal_status``; the hint always says both."""
        slot: Slot = metric.value
        levels = [Ok]
        words = ["active" if slot.active else "inactive (no standby uses it)"]
        if not slot.active:
            levels.append(self.inactive)
        if slot.wal_status:
            words.append(f"WAL {slot.wal_status}")
            levels.append(SLOT_WAL_STATES.get(slot.wal_status, Ok))
        return Verdict(nagiosplugin.state.worst(levels), ", ".join(words), metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``slot standby1 (physical)``; the hint adds its use and WAL state."""
        slot: Slot = metric.value
        return screen(f"slot {slot.name} ({slot.kind})")


class ReceiverState(nagiosplugin.Context):
    """A standby's WAL receiver: none CRITICAL, not ``streaming`` WARNING."""

    def __init__(self) -> None:
        super().__init__("receiver", result_cls=Verdict)

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """OK while streaming."""
        receiver: Receiver | None = metric.value
        if receiver is None:
            return Verdict(Critical, "(not streaming from a primary)", metric)
        if receiver.status != "streaming":
            return Verdict(Warn, "(not streaming)", metric)
        return Verdict(Ok, None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``WAL receiver streaming from 10.0.0.1`` or ``no WAL receiver``."""
        receiver: Receiver | None = metric.value
        if receiver is None:
            return "no WAL receiver"
        sender = f" from {receiver.sender}" if receiver.sender else ""
        return screen(f"WAL receiver {receiver.status}{sender}")


def describe_standbys(metric: nagiosplugin.Metric) -> str:
    """``1 standby streaming``, ``0 standbys streaming``."""
    return f"{metric.value:g} standby{'' if metric.value == 1 else 's'} streaming"


def spoken(metric: nagiosplugin.Metric) -> str:
    """``walreceiver replay lag 1.2 KiB``: the label in words (the unit says bytes), the value."""
    words = metric.name.removesuffix("_bytes").replace("_", " ")
    return f"{words} {show(metric.value, metric.uom or '')}"


def headline(results: nagiosplugin.Results) -> str:
    """``primary on host port 5432: 1 standby streaming, …`` or the standby's summary."""
    resource: PgsqlReplication = results[0].resource
    replication = resource.replication
    assert replication is not None  # a headline only follows a successful probe
    if replication.role == "primary":
        parts = [str(results["standbys"])]
        for standby in replication.standbys:
            replay = show(standby.bytes["replay"], "B")
            parts.append(
                f"{standby.label} replay {replay} behind, {show(standby.seconds['replay'], 's')}"
            )
        parts += [str(results[f"slot {slot.name}"]) for slot in replication.slots]
    else:
        parts = [str(results["receiver"])] + [
            str(results[name]) for name in ("receive_lag_bytes", "replay_lag_bytes", "replay_delay")
        ]
    return screen(f"{replication.role} on {resource.where}: {', '.join(parts)}")


class ReplicationSummary(Summary):
    """The headline when OK; where, then every problem, worst first."""

    def __init__(self) -> None:
        super().__init__(headline)

    def problem(self, results: nagiosplugin.Results) -> str:
        """Where, then the problems."""
        resource: PgsqlReplication = results[0].resource
        return f"{resource.where}: {super().problem(results)}"


def build_parser() -> Parser:
    """check_pgsql's connection options, the role, the standbys expected, lag and slots."""
    from checks.clients.postgresql import add_connection_options

    parser = Parser(
        "check_pgsql_replication",
        __doc__.split("\n\n")[0],
        examples=(
            "check_pgsql_replication -H db1 -l nagios --standbys 2 --warning-lag 30s",
            "check_pgsql_replication -H db2 --role standby --critical-lag-bytes 1G",
            "check_pgsql_replication -H db1 --critical-slot-bytes 20G --inactive-slot critical",
        ),
    )
    add_connection_options(parser)
    parser.add_argument("--role", choices=ROLES,
                        help="CRITICAL unless the server has this role")  # fmt: skip
    parser.add_argument(
        "--standbys", type=int, default=1, metavar="N",
        help="on a primary, CRITICAL with fewer than N standbys streaming (default: 1)",
    )  # fmt: skip
    add_thresholds(parser, "the replay lag in seconds (a primary's standbys; a standby's "
                   "replay delay; units: s, m, h)", metric="lag", short=True,
                   scale=SECONDS)  # fmt: skip
    add_thresholds(parser, "the replay lag in bytes (and a standby's receive lag; units: K, M, "
                   "G)", metric="lag-bytes", scale=BYTES)  # fmt: skip
    add_thresholds(parser, "the WAL a slot retains (units: K, M, G)", metric="slot-bytes",
                   scale=BYTES)  # fmt: skip
    parser.add_argument(
        "--inactive-slot", type=state, default=1, metavar="STATE",
        help="the state of a slot nobody uses: ok, warning, critical (default: warning)",
    )  # fmt: skip
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    from checks.clients.postgresql import Connection

    if args.standbys < 0:
        from checks.core.cli import UsageError

        raise UsageError(f"--standbys {args.standbys}: give 0 or more")
    return nagiosplugin.Check(
        PgsqlReplication(Connection(args, "vigie check_pgsql_replication")),
        Role(args.role),
        Threshold("standbys", None, Range(args.standbys, math.inf, text=f"{args.standbys}:"),
                  describe_standbys),
        StandbyState(),
        Threshold("lag_bytes", args.warning_lag_bytes, args.critical_lag_bytes,
                  spoken),
        Threshold("lag", args.warning_lag, args.critical_lag, spoken),
        Threshold("bytes", describe=spoken),
        Threshold("seconds", describe=spoken),
        SlotState(args.inactive_slot),
        Threshold("slot_bytes", args.warning_slot_bytes, args.critical_slot_bytes,
                  spoken),
        ReceiverState(),
        ReplicationSummary(),
    )  # fmt: skip


PLUGIN = Plugin(
    "pgsql_replication",
    build_parser,
    make_check,
    address=True,
    services=("vigie-pgsql-replication",),
    nagios=("pgsql-replication",),
    bench=(
        Bench("check_pgsql_replication -H 127.0.0.1 -P PORT (primary, 1 standby)",
              ("-H", "127.0.0.1", "-P", "{pgsql_port}", "-l", "postgres"), kind="tool",
              twin="C check_pgsql -H 127.0.0.1 -P PORT"),
        Bench("check_pgsql_replication -H 127.0.0.1 -P PORT (standby)",
              ("-H", "127.0.0.1", "-P", "{pgsql_standby_port}", "-l", "postgres"), kind="tool",
              twin="check_postgres_hot_standby_delay (primary and standby)"),
    ),
)  # fmt: skip
main = PLUGIN.main
