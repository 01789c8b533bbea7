"""Telling people: a backup failed, an activation was authorised, a runbook went on.

cron mails a job's stderr and systemd keeps it in the journal, but only if someone reads
root's mail or the journal. Each notifier is a module of this package with one function,
``send(notification, subject, lines)``, that does nothing when ``[notification]`` does not
configure it and never raises (a notifier that fails logs why and returns it): :data:`NOTIFIERS`
lists them (:mod:`~drptools.notify.mail`, :mod:`~drptools.notify.webhook`,
:mod:`~drptools.notify.icinga`), :func:`notice`
hands a notice to each and :func:`send` words a failed run's lines as one.
"""

from __future__ import annotations

import importlib
import logging
import socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from drptools.config import Notification

#: The notifier modules, each with ``send(notification, action, lines)``.
NOTIFIERS = ("drptools.notify.mail", "drptools.notify.webhook", "drptools.notify.icinga")


class Collector(logging.Handler):
    """Keeps the error lines of this run, for the mail."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def notice(notification: Notification, subject: str, lines: list[str]) -> list[str]:
    """Hand the notice ``subject`` with its ``lines`` to every notifier; what failed."""
    failures = []
    for name in NOTIFIERS:
        failure = importlib.import_module(name).send(notification, subject, lines)
        if failure:
            failures.append(failure)
    return failures


def send(notification: Notification, action: str, lines: list[str]) -> None:
    """Tell of ``lines``, a run's failures (none: nothing to say)."""
    if not lines:
        return
    body = [f"drp {action} on {socket.gethostname()} failed:", ""]
    body += [f"  {line}" for line in lines]
    body += ["", "Details: drp status, drp snapshots, journalctl -u 'vigie-drp-*'."]
    notice(notification, f"{action} failed ({len(lines)} problem(s))", body)
