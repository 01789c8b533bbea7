"""What the procedures share: the clock of a run, retention after it, its status record."""

from __future__ import annotations

import logging
import time

from drptools import layout, manifest, status
from drptools.errors import Failure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from drptools.targets import Place

log = logging.getLogger("drptools")

#: The status record's field for retention that failed after the backup was committed.
PRUNE_ERROR = "prune_error"


class RetentionFailed(Failure):
    """Retention failed after the backup was committed: the backup stands, the run fails."""


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


def retention(prune: Callable[[], list[str]]) -> dict[str, object]:
    """Run ``prune`` after a committed backup: its lines are logged, its failure returned.

    By then the backup is done. A snapshot that retention cannot remove is a problem of
    the target, not a missing backup: recorded as the backup's failure, it made
    check_backup call the target as old as its previous success. So a failure comes back
    as ``{PRUNE_ERROR: reason}``, a figure of the run, which :func:`recorded` records
    beside ``ok`` and still ends the run with exit 1.
    """
    try:
        lines = prune()
    except Failure as failure:
        return {PRUNE_ERROR: str(failure)}
    for line in lines:
        log.info("%s", line)
    return {}


def recorded(
    name: str, fields: dict[str, object], clock: Clock, body: Callable[[], dict[str, object]]
) -> dict[str, object]:
    """Run ``body`` with a status record: running, then ok with its figures, or failed.

    The record is written only once the local lock is held (the caller's job), so that a
    run refused for a busy lock never overwrites the record of the run that holds it.
    Figures with a :data:`PRUNE_ERROR` (see :func:`retention`) are recorded ok, then
    raise :class:`RetentionFailed`.
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
    if figures.get(PRUNE_ERROR):
        raise RetentionFailed(
            f"retention failed after snapshot {figures.get('snapshot')} was committed"
            f" (recorded ok): {figures[PRUNE_ERROR]}"
        )
    return figures


def sealed_manifest(place: Place, snapshot: str, stamp: str) -> tuple[bytes | None, str | None]:
    """The ``MANIFEST`` text of a snapshot directory (None: missing), and why its
    ``COMPLETE`` does not vouch for it (None: it does).

    The one reading of a seal on a target: the next backup before it inherits hashes,
    ``drp verify`` before it trusts the manifest.
    """
    import hashlib

    text = place.read(f"{snapshot}/{layout.MANIFEST}")
    marker = place.read(f"{snapshot}/{layout.MARKER}") or b""
    digest = hashlib.sha256(text).hexdigest() if text is not None else None
    return text, manifest.marker_problem(marker, stamp, digest, len(text or b""))
