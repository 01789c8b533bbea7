"""What check_backup and check_drp share: facts judged by a fixed state, and drp's locks.

Both checks read what ``drp`` leaves behind (status records, locks, journals) and report
facts that are not measurements ("never verified", "the DRP server is unreachable"):
each is a metric of value 0 whose context gives it the state an option chose.
"""

from __future__ import annotations

import os

import nagiosplugin

from checks.core.evaluate import STATES, Perf, Verdict


def locked(path: str) -> bool:
    """True when a drp run holds the flock ``path`` (tested with a shared, non-waiting lock)."""
    import fcntl

    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def finding(text: str, kind: str) -> nagiosplugin.Metric:
    """A fact worded ``text``, judged by the context ``kind``."""
    return nagiosplugin.Metric(text, 0, context=kind)


class Finding(nagiosplugin.Context):
    """A fact with a fixed state (an option's, or CRITICAL for what cannot be let pass)."""

    def __init__(self, name: str, code: int) -> None:
        super().__init__(name, result_cls=Verdict)
        self.code = code

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """The configured state, worded by the finding itself."""
        return Verdict(STATES[self.code], None, metric)

    def performance(self, metric: nagiosplugin.Metric, resource: object) -> Perf | None:
        """Findings are not measurements."""
        return None

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """The finding's text."""
        return str(metric.name)
