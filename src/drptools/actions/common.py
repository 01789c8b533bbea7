"""What the actions share: the clock of a run, choosing environments, recording a run."""

from __future__ import annotations

import logging
import time

from drptools import layout, status
from drptools.errors import BadUse, Failure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from drptools.config import Config, Database, Environment

log = logging.getLogger("drptools")


class Clock:
    """A run's start (``VIGIE_DRP_NOW`` in tests) and its finish, measured monotonically."""

    def __init__(self) -> None:
        self.started = layout.now()
        self._monotonic = time.monotonic()

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self._monotonic

    def finished(self) -> float:
        """The start plus the time elapsed."""
        return self.started + self.elapsed()


def environments(config: Config, names: Sequence[str]) -> list[Environment]:
    """The environments named (all when none are); BadUse names an unknown one."""
    if not names:
        return list(config.environments.values())
    unknown = [name for name in names if name not in config.environments]
    if unknown:
        raise BadUse(
            f"no environment {unknown[0]!r} in {config.source} "
            f"(configured: {', '.join(config.environments)})"
        )
    return [config.environments[name] for name in dict.fromkeys(names)]


def database(environment: Environment, key: str) -> Database:
    """The database ``key`` of ``environment``; BadUse if it has none of that name."""
    for candidate in environment.databases:
        if candidate.key == key:
            return candidate
    known = ", ".join(db.key for db in environment.databases) or "none"
    raise BadUse(f"environment {environment.name!r} has no database {key!r} (configured: {known})")


def targets(config: Config, chosen: str | None) -> list[str]:
    """Both targets, or the one chosen with ``--target``."""
    return [chosen] if chosen else list(config.targets)


def recorded(
    name: str, fields: dict[str, object], clock: Clock, body: Callable[[], dict[str, object]]
) -> dict[str, object]:
    """Run ``body`` with a status record: running, then ok with its figures, or failed.

    The record is written only once the local lock is held (the caller's job), so that a
    run refused for a busy lock never overwrites the record of the run that holds it.
    """
    record = status.Run(name, fields, clock.started)
    try:
        figures = body()
    except Failure as failure:
        record.failed(clock.finished(), str(failure))
        raise
    except BaseException as error:  # interrupted (SIGTERM) or a bug: still leave a record
        record.failed(clock.finished(), f"{type(error).__name__}: {error}".rstrip(": "))
        raise
    record.succeeded(clock.finished(), **figures)
    return figures
