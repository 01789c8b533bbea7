"""check_qmail: a qmail server's queue (qmail-qstat) and its SMTP service.

``qmail-qstat`` prints exactly two lines, ``messages in queue: N`` and ``messages in
queue but not yet preprocessed: M``; both are judged: ``--warning-queue``/
``--critical-queue`` on N, ``--warning-unprocessed``/``--critical-unprocessed`` on M (a
growing M means qmail-send is not keeping up, or not running). No threshold, no alert.
qmail-qstat reads /var/qmail/queue, which only root and the qmail users may: ``--sudo``
runs it through ``sudo -n`` (sudoers line in ``--help``), ``--qmail-qstat PATH`` names it
when it is not in /var/qmail/bin or on PATH. Its failure or other output is UNKNOWN.

The SMTP part is check_postfix's (:mod:`checks.mail._smtp`): ``-H -p -4 -6 -e -F -S -D
-w -c`` with check_smtp's meaning (greeting 220, EHLO, STARTTLS, certificate days,
response time); ``--no-smtp`` judges the queue only.
"""

from __future__ import annotations

import argparse
import os

import nagiosplugin

from checks.core import external
from checks.core.cli import Parser, add_thresholds
from checks.core.errors import CannotCheck, ParseError
from checks.core.evaluate import Threshold
from checks.core.output import screen
from checks.core.runtime import Bench, Plugin
from checks.mail._smtp import (
    MailServer,
    MailSummary,
    add_no_smtp_option,
    add_smtp_options,
    smtp_contexts,
)

QSTAT = "/var/qmail/bin/qmail-qstat"
SUDOERS = f"nagios ALL=(root) NOPASSWD: {QSTAT}"
#: The two lines of qmail-qstat, by the metric each gives.
LINES = {
    "queue": "messages in queue: ",
    "unprocessed": "messages in queue but not yet preprocessed: ",
}


def parse_qstat(text: str) -> dict[str, int]:
    """The two counts qmail-qstat printed, by metric name; ParseError for anything else."""
    found: dict[str, int] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        for name, start in LINES.items():
            value = line.removeprefix(start).strip()
            if line.startswith(start) and value.isascii() and value.isdigit():
                if name in found:
                    raise ParseError(f"qmail-qstat printed {start.strip()!r} twice")
                found[name] = int(value)
                break
        else:
            raise ParseError(f"qmail-qstat printed an unexpected line: {screen(line[:60])!r}")
    missing = [LINES[name].strip() for name in LINES if name not in found]
    if missing:
        raise ParseError(f"qmail-qstat did not print {' or '.join(map(repr, missing))}")
    return found


class QmailQueue:
    """Runs qmail-qstat and turns its two counts into metrics."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.tool = external.Tool(args.qmail_qstat, args.sudo, "check_qmail")

    def __call__(self) -> list[nagiosplugin.Metric]:
        """One qmail-qstat run; a failing one is UNKNOWN with its complaint."""
        done = self.tool.run([], "counting the queue with qmail-qstat")
        if done.returncode:
            complaint = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
            raise CannotCheck(f"qmail-qstat failed: {complaint}")
        counts = parse_qstat(done.stdout)
        return [nagiosplugin.Metric(name, counts[name], min=0, context=name) for name in LINES]


def queue_headline(results: nagiosplugin.Results) -> str:
    """``12 messages in queue, 0 not yet preprocessed``."""
    queued, unprocessed = (results[name].metric.value for name in LINES)
    return f"{queued} messages in queue, {unprocessed} not yet preprocessed"


def default_qstat() -> str:
    """qmail's own path when it is there, else the name, looked up on PATH."""
    return QSTAT if os.path.exists(QSTAT) else "qmail-qstat"


def build_parser() -> Parser:
    """check_qmail's options: the queue's, then check_smtp's for the SMTP part."""
    parser = Parser(
        "check_qmail",
        __doc__.split("\n\n")[0],
        examples=(
            "check_qmail -H mail.example.org --warning-queue 100 --critical-queue 500",
            "check_qmail --no-smtp --sudo --critical-unprocessed 50",
        ),
    )
    queue = parser.add_argument_group("queue (qmail-qstat)")
    add_thresholds(queue, "the messages in the queue", metric="queue")
    add_thresholds(queue, "the messages not yet preprocessed", metric="unprocessed")
    external.add_tool_options(parser, "qmail-qstat", SUDOERS)
    parser.set_defaults(qmail_qstat=default_qstat())
    add_no_smtp_option(parser)
    add_smtp_options(parser)
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    return nagiosplugin.Check(
        MailServer(args, QmailQueue(args)),
        Threshold("queue", args.warning_queue, args.critical_queue,
                  describe=lambda metric: f"{metric.value} messages in queue"),
        Threshold("unprocessed", args.warning_unprocessed, args.critical_unprocessed,
                  describe=lambda metric: f"{metric.value} not yet preprocessed"),
        *smtp_contexts(args),
        MailSummary(queue_headline),
    )  # fmt: skip


PLUGIN = Plugin(
    "qmail",
    build_parser,
    make_check,
    address=True,
    services=("vigie-qmail",),
    nagios=("qmail",),
    bench=(
        Bench("check_qmail -H 127.0.0.1 -p PORT (stub qmail-qstat)",
              ("-H", "127.0.0.1", "-p", "{smtp_port}", "--qmail-qstat", "{qmail_qstat}"),
              kind="tool", twin="C check_smtp -H 127.0.0.1 -p PORT"),
    ),
)  # fmt: skip
main = PLUGIN.main
