"""The ``drp`` command: backups of the site, as its quality policy asks.

Every environment is copied daily, even days to target A and odd days to target B (one of
them in another datacenter), and every database is dumped every 2 hours to both. This
module only parses the command line, sets up logging and dispatches to one module per
action (:mod:`drptools.actions`), both from one table, :data:`ACTIONS`.

For cron and systemd: exit 0 when everything worked; otherwise one line per failure on
stderr and exit 1 (a backup or check failed), 2 (bad command line or configuration) or
75 (another run holds a lock: nothing was done). A successful run prints nothing unless
``-v``; under systemd (stderr is the journal) it logs one line per backup at info level,
with syslog priority prefixes, so ``journalctl -p err`` shows failures only.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from checks import __version__
from drptools.errors import Interrupted, interrupt_on_signals

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import NoReturn

    from drptools.config import Config

EXIT_USAGE = 2
EPILOG = """\
exit status: 0 ok; 1 a backup, check or verification failed; 2 bad command line or
configuration; 75 another run holds a lock (nothing was done); 128+N killed by signal N.
configuration: /etc/vigie/drp.toml (see examples/drp.toml); state and status records:
$VIGIE_STATE_DIR/drp, else /var/lib/vigie/drp."""


class Parser(argparse.ArgumentParser):
    """argparse, with bad use reported as one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        """``drp backup: invalid choice … (see drp backup --help)``, exit 2."""
        sys.stderr.write(f"{self.prog}: {message} (see {self.prog} --help)\n")
        sys.exit(EXIT_USAGE)


def _common(verbose: bool = True) -> Parser:
    """Options every action takes, also after the action's name."""
    common = Parser(add_help=False)
    common.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="configuration file (default: /etc/vigie/drp.toml)",
    )
    if verbose:
        common.add_argument(
            "-v",
            "--verbose",
            action="count",
            default=argparse.SUPPRESS,
            help="more output: -v one line per backup, -vv every command run",
        )
    return common


def _action(
    parent: argparse._SubParsersAction[Parser], name: str, summary: str, handler: str
) -> Parser:
    parser = parent.add_parser(
        name,
        help=summary,
        description=summary,
        parents=[_common()],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser


def _environments(parser: Parser) -> None:
    parser.add_argument(
        "environments",
        nargs="*",
        metavar="ENVIRONMENT",
        help="environment(s) of the configuration (default: all)",
    )


def _target(parser: Parser, help: str) -> None:
    parser.add_argument("--target", choices=("A", "B"), help=help)


def _backup_options(parser: Parser) -> None:
    """What both backups take: a plan instead of a run, and a run without retention."""
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--no-prune", action="store_true", help="skip retention after the run")


def _days(text: str) -> int:
    """A number of days from 1 to 366 (``--rolling``)."""
    if not text.isdigit() or not 1 <= int(text) <= 366:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days from 1 to 366")
    return int(text)


def _files_options(parser: Parser) -> None:
    _environments(parser)
    _target(parser, "use this target whatever the day (default: A on even days, B on odd)")
    _backup_options(parser)


def _db_options(parser: Parser) -> None:
    _environments(parser)
    parser.add_argument(
        "--database", metavar="NAME", help="only this database (of one environment)"
    )
    _target(parser, "only this target (default: the database's targets, normally both)")
    _backup_options(parser)


def _snapshots_options(parser: Parser) -> None:
    _environments(parser)
    _target(parser, "only this target")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _verify_files_options(parser: Parser) -> None:
    _environments(parser)
    _target(parser, "only this target (default: both)")
    parser.add_argument(
        "--rolling",
        type=_days,
        metavar="DAYS",
        help="hash only today's share of the files, so that a daily run reads every file "
        "within DAYS days (the marker and the whole listing are still checked)",
    )
    parser.add_argument(
        "--snapshot", metavar="STAMP", help="this snapshot (default: the newest complete one)"
    )


def _verify_db_options(parser: Parser) -> None:
    parser.add_argument("environment", metavar="ENVIRONMENT")
    parser.add_argument("--database", metavar="NAME", help="only this database")
    _target(parser, "only this target (default: the database's targets)")
    parser.add_argument(
        "--dump", metavar="STAMP", help="this dump set (default: the newest complete one)"
    )


def _prune_options(parser: Parser) -> None:
    _environments(parser)
    _target(parser, "only this target")
    parser.add_argument("--dry-run", action="store_true", help="print what would be removed")


def _duration(text: str) -> float:
    """A positive duration with a unit (``90m``, ``4h``, ``2d``; a bare number: hours)."""
    from checks.core.units import SECONDS, scaled

    number = text.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    unit = text[len(number) :] or "h"
    try:
        value = scaled(number, unit, SECONDS)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None
    if not 0 < value <= 7 * 86400:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration from 1 s to 7 days")
    return value


def _authorize_options(parser: Parser) -> None:
    parser.add_argument("--by", metavar="NAME", help="who gave the order (the customer's name)")
    parser.add_argument("--reference", metavar="TICKET", help="the order's ticket or reference")
    parser.add_argument(
        "--valid", type=_duration, metavar="DURATION",
        help="how long it stays valid: 90m, 4h, 2d (default: [authorization] valid_hours)",
    )  # fmt: skip
    parser.add_argument("--revoke", action="store_true", help="withdraw the order in force")


def _activate_options(parser: Parser) -> None:
    _environments(parser)
    parser.add_argument(
        "--from",
        dest="source",
        choices=("A", "B"),
        help="restore from this target (default: the one with the newest complete backup)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan and run every read-only probe; change nothing",
    )
    parser.add_argument(
        "--resume", metavar="RUN_ID", help="go on with this run: skip its steps journaled done"
    )
    parser.add_argument(
        "--yes",
        action="store_true",
        help="go on without asking (needed when stdin is not a terminal)",
    )
    parser.add_argument(
        "--authorized-by",
        metavar="NAME",
        help="the customer's order, recorded as drp authorize does (with --reference)",
    )
    parser.add_argument("--reference", metavar="TICKET", help="the order's ticket or reference")


def _prestage_options(parser: Parser) -> None:
    _environments(parser)
    parser.add_argument(
        "--from",
        dest="source",
        choices=("A", "B"),
        help="from this target (default: the one with the newest complete backup)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")


def _drill_options(parser: Parser) -> None:
    _environments(parser)
    _target(parser, "restore from this target (default: the one with the newest complete backup)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")


def _failback_options(parser: Parser) -> None:
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan and run every read-only probe; change nothing",
    )
    parser.add_argument("--resume", metavar="RUN_ID", help="go on with this failback run")
    parser.add_argument("--yes", action="store_true", help="go on without asking")
    parser.add_argument(
        "--force",
        action="store_true",
        help="copy back even when production also took writes since the activation",
    )


def _event_handler_options(parser: Parser) -> None:
    """The event's macros, taken as text: :mod:`drptools.decide` reads them (a value it
    cannot read is logged as such, never an argparse error the monitoring core hides)."""
    parser.add_argument(
        "--state",
        required=True,
        metavar="STATE",
        help="$service.state$ / $SERVICESTATE$ (or $host.state$ / $HOSTSTATE$)",
    )
    parser.add_argument(
        "--state-type",
        required=True,
        metavar="TYPE",
        help="HARD or SOFT: $service.state_type$ / $SERVICESTATETYPE$",
    )
    parser.add_argument(
        "--attempt", metavar="N", help="$service.check_attempt$ / $SERVICEATTEMPT$ (logged only)"
    )
    parser.add_argument("--host", required=True, metavar="HOST", help="$host.name$ / $HOSTNAME$")
    parser.add_argument("--service", metavar="SERVICE",
                        help="$service.name$ / $SERVICEDESC$ (none: a host event)")  # fmt: skip


def _runs_options(parser: Parser) -> None:
    parser.add_argument("--show", metavar="RUN_ID", help="print the journal of this run")


def _status_options(parser: Parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the records as JSON")


#: The groups of two-word actions (``drp backup KIND``): summary, title and metavar of
#: their second word.
GROUPS = {
    "config": ("check the configuration file", "actions", "ACTION"),
    "backup": ("make a backup: files (daily) or db (every 2 hours)", "kinds", "KIND"),
    "verify": ("re-check a backup against its checksums", "kinds", "KIND"),
}
#: The one registration of every action, as pip's ``commands_dict``: its handler name ->
#: the words that name it, the module whose ``main(config, args)`` runs it (imported only
#: when chosen), its summary, and its options. The parser and the dispatcher both read it.
ACTIONS: dict[str, tuple[tuple[str, ...], str, str, Callable[[Parser], None] | None]] = {
    "config_check": (
        ("config", "check"),
        "drptools.actions.config_check",
        "validate the configuration and the files it names (secrets, paths)",
        None,
    ),
    "backup_files": (
        ("backup", "files"),
        "drptools.actions.backup_files",
        "hard-link snapshot of each environment's paths, to A on even days, B on odd days "
        "(days since 1970-01-01 by the local date)",
        _files_options,
    ),
    "backup_db": (
        ("backup", "db"),
        "drptools.actions.backup_db",
        "consistent, compressed, checksummed dump of each database, to its targets",
        _db_options,
    ),
    "snapshots": (
        ("snapshots",),
        "drptools.actions.snapshots",
        "list file snapshots and dumps on each target: complete, partial or in progress",
        _snapshots_options,
    ),
    "verify_files": (
        ("verify", "files"),
        "drptools.actions.verify",
        "hash the files of a snapshot and compare them with its manifest",
        _verify_files_options,
    ),
    "verify_db": (
        ("verify", "db"),
        "drptools.actions.verify",
        "check a dump set's files against its sha256 file",
        _verify_db_options,
    ),
    "prune": (
        ("prune",),
        "drptools.actions.prune",
        "apply retention: keep the newest complete backups, remove older ones and leftovers",
        _prune_options,
    ),
    "authorize": (
        ("authorize",),
        "drptools.actions.authorize",
        "record the customer's order to activate the DRP (who, reference, until when); "
        "without options, show it",
        _authorize_options,
    ),
    "activate": (
        ("activate",),
        "drptools.actions.activate",
        "bring the environments up on the DRP server from their backups and switch the DNS "
        "to it, on the customer's order (drp authorize)",
        _activate_options,
    ),
    "prestage": (
        ("prestage",),
        "drptools.actions.prestage",
        "refresh the DRP server from the newest complete backups (files and databases; no "
        "DNS, no service touched), so that an activation moves only the delta",
        _prestage_options,
    ),
    "failback": (
        ("failback",),
        "drptools.actions.failback",
        "return the environments from the DRP server to production: maintenance, files and "
        "databases back, verification, DNS back",
        _failback_options,
    ),
    "event_handler": (
        ("event-handler",),
        "drptools.actions.event_handler",
        "Icinga's or Nagios' event handler: on a HARD CRITICAL of production, notify, "
        "pre-stage, and activate as [automation] allows; returns at once",
        _event_handler_options,
    ),
    "drill": (
        ("drill",),
        "drptools.actions.drill",
        "restore the newest backups into scratch copies (a directory, <database>_drill "
        "databases), verify them against the MANIFEST and the dumps' rows, remove them and "
        "record the RPO and the RTO estimate; no DNS, production or DRP-served data touched",
        _drill_options,
    ),
    "runs": (
        ("runs",),
        "drptools.actions.runs",
        "list the runbook runs (activate, failback) and where each stands, for --resume",
        _runs_options,
    ),
    "status": (
        ("status",),
        "drptools.actions.status",
        "show the last run of every backup",
        _status_options,
    ),
}
#: Handler name -> module, from :data:`ACTIONS`.
HANDLERS = {handler: row[1] for handler, row in ACTIONS.items()}


def build_parser() -> Parser:
    """``drp`` and its actions, from :data:`ACTIONS`."""
    parser = Parser(
        prog="drp",
        description="Backups of the site as its quality policy asks: files daily to A (even "
        "days) or B (odd days), databases every 2 hours to both.",
        parents=[_common()],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"drp (vigie {__version__})")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    groups: dict[str, argparse._SubParsersAction[Parser]] = {}
    for handler, (words, _, summary, options) in ACTIONS.items():
        parent = actions
        if len(words) > 1:
            if words[0] not in groups:
                group_summary, title, metavar = GROUPS[words[0]]
                group = _action(actions, words[0], group_summary, "")
                groups[words[0]] = group.add_subparsers(title=title, metavar=metavar, required=True)
            parent = groups[words[0]]
        action = _action(parent, words[-1], summary, handler)
        if options is not None:
            options(action)
    return parser


#: Actions whose failures are mailed (``[notification]``).
NOTIFIED = ("backup_files", "backup_db")


#: syslog priorities of the log levels (sd-daemon(3) prefixes).
JOURNAL_PRIORITIES = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}


class _JournalFormatter(logging.Formatter):
    """``<3>drp: …``: journald reads the priority from the prefix (sd-daemon(3))."""

    def format(self, record: logging.LogRecord) -> str:
        return f"<{JOURNAL_PRIORITIES.get(record.levelno, 3)}>drp: {record.getMessage()}"


def _stderr_is_journal() -> bool:
    """True when systemd connected stderr to the journal (``$JOURNAL_STREAM``)."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    device, _, inode = stream.partition(":")
    try:
        status = os.fstat(2)
    except OSError:
        return False
    return f"{status.st_dev}:{status.st_ino}" == f"{device}:{inode}"


def setup_logging(verbose: int) -> None:
    """One line per record on stderr; quiet on success unless -v or under systemd."""
    journal = _stderr_is_journal()
    handler = logging.StreamHandler(sys.stderr)
    if journal:
        handler.setFormatter(_JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("drp: %(message)s"))
    default = logging.INFO if journal else logging.WARNING
    level = (default, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logger = logging.getLogger("drptools")
    logger.handlers[:] = [handler]
    logger.setLevel(level if verbose else default)
    logger.propagate = False


def _interrupted(interruption: Interrupted) -> int:
    """Stop what still runs, say why, and exit 128 + the signal's number."""
    from drptools.execute import stop_children

    stop_children()
    logging.getLogger("drptools").error("%s", interruption)
    return 128 + interruption.signum


def load_config(path: str) -> Config:
    """The validated configuration; ConfigError explains."""
    from drptools import config

    return config.load(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, dispatch, and turn every failure into one line and an exit code."""
    args = build_parser().parse_args(argv)
    setup_logging(getattr(args, "verbose", 0))
    interrupt_on_signals()
    try:
        return _run(args)
    except Interrupted as interruption:  # while the config loads, or the mail is sent
        return _interrupted(interruption)


def _run(args: argparse.Namespace) -> int:
    """Load the configuration and run the action, mailing the failures of backups."""
    import importlib

    from drptools import status
    from drptools.config import DEFAULT_PATH, ConfigError, status_gid

    log = logging.getLogger("drptools")
    module = importlib.import_module(ACTIONS[args.handler][1])
    run: Callable[[Config, argparse.Namespace], int] = module.main
    try:
        config = load_config(getattr(args, "config", DEFAULT_PATH))
        gid = status_gid(config)
    except ConfigError as error:
        if args.handler == "config_check":
            for problem in error.problems:
                sys.stderr.write(f"drp: {error.source}: {problem}\n")
        else:
            log.error("%s", error.one_line())
        return EXIT_USAGE
    status.configure(gid, {kind: minutes * 60.0 for kind, minutes in config.limits.items()})
    if args.handler not in NOTIFIED:
        return _dispatch(run, config, args)
    from drptools import notify

    collector = notify.Collector()
    log.addHandler(collector)
    try:
        return _dispatch(run, config, args)
    finally:
        log.removeHandler(collector)
        action = args.handler.replace("_", " ")
        notify.send(config.notification, action, collector.lines)


def _dispatch(
    run: Callable[[Config, argparse.Namespace], int], config: Config, args: argparse.Namespace
) -> int:
    """Run the action; every failure becomes one logged line and an exit code."""
    from drptools.errors import Failure

    log = logging.getLogger("drptools")
    try:
        return run(config, args)
    except Failure as failure:
        log.error("%s", failure)
        return failure.exit_code
    except Interrupted as interruption:  # here, so that the mail tells it
        return _interrupted(interruption)
    except BrokenPipeError:  # `drp snapshots | head`
        return 0
