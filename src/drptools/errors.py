"""What makes a ``drp`` action fail, as exceptions the CLI turns into one line and an exit code.

:class:`Failure` and its kinds end a run with exit 1 (2 for :class:`BadUse`, 75 for
:class:`LockBusy`); the message is the whole line an operator reads in cron's mail or the
journal, so it says what was being done and why it did not work.
"""

from __future__ import annotations

import signal


class Failure(Exception):  # noqa: N818 - the base of what makes an action fail
    """An action could not do its work (exit 1)."""

    exit_code = 1


class BadUse(Failure):
    """A command line naming something the configuration does not have (exit 2)."""

    exit_code = 2


class LockBusy(Failure):
    """Another run holds the lock: nothing was done, try again later (exit 75, EX_TEMPFAIL)."""

    exit_code = 75


class Mismatch(Failure):
    """``drp verify`` found files or dumps that differ from their checksums (exit 1)."""


class Interrupted(BaseException):
    """SIGTERM, SIGINT or SIGHUP: stop, leaving only partials, and say so (exit 128+N).

    A BaseException, so that no ``except Exception`` on the way swallows it; a runbook
    journals it before it goes on up.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def interrupt_on_signals() -> None:
    """Make SIGTERM, SIGINT and SIGHUP raise :class:`Interrupted` in the main thread."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _interrupt)
