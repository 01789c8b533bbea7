"""The ways a check stops before it can judge, each with the state it stands for.

Gather and parse code raises these; :mod:`checks.core.runtime` turns them into one status
line. They live apart from the runtime so that pure parsers can raise them without
importing anything else.
"""

from __future__ import annotations


class CannotCheck(Exception):  # noqa: N818 - named for what the operator reads, like the state
    """Judging is impossible (missing tool, permission denied, garbage data): UNKNOWN."""

    state = 3


class ParseError(CannotCheck):
    """Tool or service output that does not have the documented format: UNKNOWN."""


class ServiceDown(Exception):  # noqa: N818
    """The checked service itself does not answer (refused, closed, no such host): CRITICAL."""

    state = 2


class TimedOut(BaseException):
    """The check's ``-t`` expired.

    A BaseException, like KeyboardInterrupt, so that a broad ``except Exception`` in gather
    code cannot swallow the timeout and let the check hang on.
    """
