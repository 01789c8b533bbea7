"""check_postfix: a Postfix server's queues and its SMTP service.

The queues come from ``postqueue -j`` (Postfix ≥ 3.1: one JSON object per message, with
``queue_name`` and ``arrival_time``), run with ``-c DIR`` for the instance of
``--config-dir`` (a multi-instance setup). Counted: the messages in each queue
(``maildrop``, ``incoming``, ``active``, ``deferred``, ``hold``; any other queue Postfix
names is counted in the total), the total and the age of the oldest message. Each takes
thresholds: ``--warning-deferred``/``--critical-deferred``, ``--warning-total``, …
``--warning-age``/``--critical-age`` (seconds, or with a unit: ``4h``). No threshold, no
alert. postqueue failing (Postfix not installed, an unreadable queue) is UNKNOWN with its
words; it needs no rights normally (``--sudo`` if a site restricts it).

The SMTP part (:mod:`checks.mail._smtp`) takes check_smtp's options with their meaning:
``-H -p -4 -6 -e -F -S -D -w -c``: greeting 220, EHLO, with ``-S`` STARTTLS and a verified
handshake, ``-D warn[,crit]`` certificate days, ``-w/-c`` the response time. Deliberate
differences from check_smtp: a greeting other than 220 (554: service refused) is
CRITICAL (C: WARNING); ``-S`` verifies the certificate (C never does; ``--insecure`` to
skip, ``--ca-file`` for a private CA); ``-C`` (SMTP commands), ``-R``, ``-A/-U/-P`` (a
password on the command line) and ``-L`` are not taken. ``--no-smtp`` judges the queue only.
"""

from __future__ import annotations

import argparse
import json
import time

import nagiosplugin

from checks.core import external
from checks.core.cli import Parser, add_thresholds
from checks.core.errors import CannotCheck, ParseError
from checks.core.evaluate import Threshold, show
from checks.core.output import screen
from checks.core.runtime import Bench, Plugin
from checks.core.units import SECONDS
from checks.mail._smtp import (
    MailServer,
    MailSummary,
    add_no_smtp_option,
    add_smtp_options,
    smtp_contexts,
)

#: Postfix's queues, in the order mail moves through them (hold: set aside by the admin).
QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")
SUDOERS = "nagios ALL=(root) NOPASSWD: /usr/sbin/postqueue -j, /usr/sbin/postqueue -c * -j"


class Queue:
    """Messages per queue and the arrival time of the oldest (None: the queue is empty)."""

    __slots__ = ("counts", "oldest")

    def __init__(self, counts: dict[str, int], oldest: float | None) -> None:
        self.counts, self.oldest = counts, oldest

    @property
    def total(self) -> int:
        """Every message, in whichever queue."""
        return sum(self.counts.values())


def parse_postqueue(text: str) -> Queue:
    """The queue that ``postqueue -j`` printed: one JSON object per line, per message.

    Every line must be an object with a string ``queue_name`` and a numeric
    ``arrival_time``; anything else is a ParseError naming the line.
    """
    counts = dict.fromkeys(QUEUES, 0)
    oldest: float | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            raise ParseError(
                f"postqueue -j line {number} is not JSON: {screen(line[:60])!r}"
            ) from None
        if not isinstance(message, dict):
            raise ParseError(f"postqueue -j line {number} is not a JSON object")
        name, arrival = message.get("queue_name"), message.get("arrival_time")
        if not isinstance(name, str) or not name:
            raise ParseError(f"postqueue -j line {number} has no queue_name")
        if isinstance(arrival, bool) or not isinstance(arrival, int | float):
            raise ParseError(f"postqueue -j line {number} has no numeric arrival_time")
        counts[name] = counts.get(name, 0) + 1
        oldest = arrival if oldest is None else min(oldest, arrival)
    return Queue(counts, oldest)


class PostfixQueue:
    """Reads the queue with postqueue and turns it into metrics."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.tool = external.Tool(args.postqueue, args.sudo, "check_postfix")
        self.arguments = ["-c", args.config_dir, "-j"] if args.config_dir else ["-j"]

    def __call__(self) -> list[nagiosplugin.Metric]:
        """One postqueue run; its failure is UNKNOWN with its first line of complaint."""
        done = self.tool.run(self.arguments, "listing the queue with postqueue -j")
        if done.returncode:
            complaint = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
            raise CannotCheck(f"postqueue {' '.join(self.arguments)} failed: {complaint}")
        queue = parse_postqueue(done.stdout)
        age = 0.0 if queue.oldest is None else max(time.time() - queue.oldest, 0.0)
        metrics = [nagiosplugin.Metric(name, count, min=0, context=name)
                   for name, count in queue.counts.items() if name in QUEUES]  # fmt: skip
        return [
            *metrics,
            nagiosplugin.Metric("total", queue.total, min=0, context="total"),
            nagiosplugin.Metric("oldest_age", age, "s", 0, context="oldest_age"),
        ]


def queue_headline(results: nagiosplugin.Results) -> str:
    """``3 messages queued (deferred 2, hold 1), the oldest 4 min old``."""
    total = results["total"].metric.value
    if not total:
        return "queue empty"
    parts = [f"{name} {results[name].metric.value}" for name in QUEUES
             if results[name].metric.value]  # fmt: skip
    oldest = show(results["oldest_age"].metric.value, "s")
    return f"{total} messages queued ({', '.join(parts)}), the oldest {oldest} old"


def queue_contexts(args: argparse.Namespace) -> list[nagiosplugin.Context]:
    """A Threshold per queue, for the total and for the oldest message's age."""
    contexts: list[nagiosplugin.Context] = [
        Threshold(
            name,
            getattr(args, f"warning_{name}"),
            getattr(args, f"critical_{name}"),
            describe=lambda metric: f"{metric.value} {metric.name}",
        )
        for name in QUEUES
    ]
    contexts.append(
        Threshold(
            "total",
            args.warning_total,
            args.critical_total,
            describe=lambda metric: f"{metric.value} messages queued",
        )
    )
    contexts.append(
        Threshold(
            "oldest_age",
            args.warning_age,
            args.critical_age,
            describe=lambda m: f"the oldest message {show(m.value, 's')} old",
        )
    )
    return contexts


def build_parser() -> Parser:
    """check_postfix's options: the queue's, then check_smtp's for the SMTP part."""
    parser = Parser(
        "check_postfix",
        __doc__.split("\n\n")[0],
        examples=(
            "check_postfix -H mail.example.org --warning-deferred 50 --critical-deferred 200",
            "check_postfix -H 127.0.0.1 -S -D 30,7 --warning-age 4h --critical-age 1d",
            "check_postfix --no-smtp --config-dir /etc/postfix-out --warning-total 1000",
        ),
    )
    queue = parser.add_argument_group("queue (postqueue -j)")
    queue.add_argument(
        "--config-dir",
        metavar="DIR",
        help="the Postfix instance's configuration directory (postqueue -c DIR)",
    )
    for name in QUEUES:
        add_thresholds(queue, f"the messages in the {name} queue", metric=name)
    add_thresholds(queue, "the messages in all queues", metric="total")
    add_thresholds(queue, "the age of the oldest message (units: s, m, h, d)",
                   metric="age", scale=SECONDS)  # fmt: skip
    external.add_tool_options(parser, "postqueue", SUDOERS)
    add_no_smtp_option(parser)
    add_smtp_options(parser)
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    return nagiosplugin.Check(
        MailServer(args, PostfixQueue(args)),
        *queue_contexts(args),
        *smtp_contexts(args),
        MailSummary(queue_headline),
    )


PLUGIN = Plugin(
    "postfix",
    build_parser,
    make_check,
    address=True,
    services=("vigie-postfix",),
    nagios=("postfix",),
    bench=(
        Bench("check_postfix -H 127.0.0.1 -p PORT (stub postqueue)",
              ("-H", "127.0.0.1", "-p", "{smtp_port}", "--postqueue", "{postqueue}"),
              kind="tool", twin="C check_smtp -H 127.0.0.1 -p PORT"),
    ),
)  # fmt: skip
main = PLUGIN.main
