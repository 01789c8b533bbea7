"""Telling people a backup failed: every configured notifier gets the run's error lines.

cron mails a job's stderr and systemd keeps it in the journal, but only if someone reads
root's mail or the journal. Each notifier is a module of this package with one function,
``send(notification, action, lines)``, that does nothing when ``[notification]`` does not
configure it and never raises (a notifier that fails logs why): :data:`NOTIFIERS` lists
them, and :func:`send` hands a failed run's lines to each. :mod:`~drptools.notify.mail`
is the one there is today.
"""

from __future__ import annotations

import importlib
import logging

TYPE_CHECKING = False
if TYPE_CHECKING:
    from drptools.config import Notification

#: The notifier modules, each with ``send(notification, action, lines)``.
NOTIFIERS = ("drptools.notify.mail",)


class Collector(logging.Handler):
    """Keeps the error lines of this run, for the mail."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def send(notification: Notification, action: str, lines: list[str]) -> None:
    """Hand ``lines`` (a run's failures; none: nothing to say) to every notifier."""
    if not lines:
        return
    for name in NOTIFIERS:
        importlib.import_module(name).send(notification, action, lines)
