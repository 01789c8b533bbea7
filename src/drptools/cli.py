"""The ``drp`` command: backups of the site, as its quality policy asks.

Every environment is copied daily, even days to target A and odd days to target B (one of
them in another datacenter), and every database is dumped every 2 hours to both. This
module only parses the command line, sets up logging and dispatches to one module per
action (:mod:`drptools.actions`).

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
import signal
import sys

from checks import __version__

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
    parent: argparse._SubParsersAction[Parser],
    name: str,
    summary: str,
    handler: str,
    description: str | None = None,
) -> Parser:
    parser = parent.add_parser(
        name,
        help=summary,
        description=description or summary,
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


def build_parser() -> Parser:
    """``drp`` and its actions."""
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

    config = _action(actions, "config", "check the configuration file", "")
    config_actions = config.add_subparsers(title="actions", metavar="ACTION", required=True)
    _action(
        config_actions,
        "check",
        "validate the configuration and the files it names (secrets, paths)",
        "config_check",
    )

    backup = _action(actions, "backup", "make a backup: files (daily) or db (every 2 hours)", "")
    kinds = backup.add_subparsers(title="kinds", metavar="KIND", required=True)
    files = _action(
        kinds,
        "files",
        "hard-link snapshot of each environment's paths, to A on even days, B on odd days "
        "(days since 1970-01-01 by the local date)",
        "backup_files",
    )
    _environments(files)
    _target(files, "use this target whatever the day (default: A on even days, B on odd)")
    _backup_options(files)
    db = _action(
        kinds,
        "db",
        "consistent, compressed, checksummed dump of each database, to its targets",
        "backup_db",
    )
    _environments(db)
    db.add_argument("--database", metavar="NAME", help="only this database (of one environment)")
    _target(db, "only this target (default: the database's targets, normally both)")
    _backup_options(db)

    snapshots = _action(
        actions,
        "snapshots",
        "list file snapshots and dumps on each target: complete, partial or in progress",
        "snapshots",
    )
    _environments(snapshots)
    _target(snapshots, "only this target")
    snapshots.add_argument("--json", action="store_true", help="print JSON")

    verify = _action(actions, "verify", "re-check a backup against its checksums", "")
    verify_kinds = verify.add_subparsers(title="kinds", metavar="KIND", required=True)
    verify_files = _action(
        verify_kinds,
        "files",
        "hash the files of a snapshot and compare them with its manifest",
        "verify_files",
    )
    _environments(verify_files)
    _target(verify_files, "only this target (default: both)")
    verify_files.add_argument(
        "--rolling",
        type=_days,
        metavar="DAYS",
        help="hash only today's share of the files, so that a daily run reads every file "
        "within DAYS days (the marker and the whole listing are still checked)",
    )
    verify_files.add_argument(
        "--snapshot", metavar="STAMP", help="this snapshot (default: the newest complete one)"
    )
    verify_db = _action(
        verify_kinds, "db", "check a dump set's files against its sha256 file", "verify_db"
    )
    verify_db.add_argument("environment", metavar="ENVIRONMENT")
    verify_db.add_argument("--database", metavar="NAME", help="only this database")
    _target(verify_db, "only this target (default: the database's targets)")
    verify_db.add_argument(
        "--dump", metavar="STAMP", help="this dump set (default: the newest complete one)"
    )

    prune = _action(
        actions,
        "prune",
        "apply retention: keep the newest complete backups, remove older ones and leftovers",
        "prune",
    )
    _environments(prune)
    _target(prune, "only this target")
    prune.add_argument("--dry-run", action="store_true", help="print what would be removed")

    status = _action(actions, "status", "show the last run of every backup", "status")
    status.add_argument("--json", action="store_true", help="print the records as JSON")
    return parser


#: Actions whose failures are mailed (``[notification]``).
NOTIFIED = ("backup_files", "backup_db")
HANDLERS = {
    "config_check": "drptools.actions.config_check",
    "backup_files": "drptools.actions.backup_files",
    "backup_db": "drptools.actions.backup_db",
    "snapshots": "drptools.actions.snapshots",
    "verify_files": "drptools.actions.verify",
    "verify_db": "drptools.actions.verify",
    "prune": "drptools.actions.prune",
    "status": "drptools.actions.status",
}


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


class Interrupted(BaseException):
    """SIGTERM or SIGINT: stop, leaving only partials, and say so."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted(signum)


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
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _interrupt)
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
    module = importlib.import_module(HANDLERS[args.handler])
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
