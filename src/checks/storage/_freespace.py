"""Free space or free inodes of each mount, judged as check_disk judges them.

check_partitions and check_inodes share everything but the quantity they read from
``statvfs``, so the judging and the wording live here once (check_disk's options, which
they share too, in :mod:`checks.storage._disk_options`):

* A :class:`Quantity` turns a ``statvfs`` result into *used* and *size*. Space: used is
  ``(f_blocks - f_bfree) × f_frsize`` and free is ``f_bavail × f_frsize``, what an
  unprivileged process may still write, and size is used + free, so blocks reserved for
  root count neither as free nor in the size: percentages are those of ``df`` and of
  check_disk. Inodes: used is ``f_files - f_ffree`` of ``f_files`` (check_disk's count).
* A :class:`Condition` is one threshold on one quantity: a free share (``-w 10%``: alert
  when at most 10% is free, the bound included as in check_disk), a free amount (``-w
  500`` in ``-u`` units, or ``-w 2G``), or a guidelines range on the used share
  (``--warning-used 90``). Percentages are compared unrounded; check_disk rounds the used
  share up to a whole percent first, so at a boundary it alerts up to one point sooner
  (and, for amounts, up to one unit sooner, as it truncates to whole units).
* A mount that does not answer ``statvfs`` in time (a dead NFS server, a hung FUSE
  daemon), or answers with an error (stale handle, transport not connected), takes the
  ``--stale`` state (default CRITICAL: processes touching it hang or fail); the others
  are still judged.

Perfdata keeps check_disk's form so that existing graphs continue: one item per mount,
labelled with the mount point, valued *used* with the maximum *size*; the warning and
critical ranges are those of the first threshold on that quantity, translated to used.
"""

from __future__ import annotations

import errno
import logging
import math
import os
from collections.abc import Callable, Sequence

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Warn

from checks.core.errors import CannotCheck
from checks.core.evaluate import STATES, Perf, Summary, Verdict, show
from checks.core.output import STATE_NAMES
from checks.core.ranges import Range
from checks.core.runtime import doing, remaining
from checks.core.threads import answer_each_within
from checks.core.units import human_number
from checks.storage._mounts import (
    Selection,
    Target,
    printable,
    read_mounts,
    select,
)

log = logging.getLogger(__name__)

#: Errors of a mount whose server or daemon is gone; other errors are UNKNOWN.
BROKEN = frozenset({
    errno.ESTALE, errno.ENOTCONN, errno.EIO, errno.EHOSTDOWN, errno.EHOSTUNREACH,
    errno.ETIMEDOUT, errno.ECONNABORTED, errno.ENODEV,
})  # fmt: skip


class Usage:
    """Used and size of one quantity on one mount (bytes or inodes)."""

    __slots__ = ("size", "used")

    def __init__(self, used: int, size: int) -> None:
        self.used, self.size = used, size

    @property
    def free(self) -> int:
        """What is left: size - used."""
        return self.size - self.used

    def percent(self, amount: float) -> float:
        """``amount`` as a share of the size."""
        return 100.0 * amount / self.size


def _space(result: os.statvfs_result) -> Usage | None:
    # gnulib's guard, kept by check_disk: a BSD f_bavail above f_bfree is a negative number.
    available = 0 if result.f_bavail > result.f_bfree else result.f_bavail
    used = (result.f_blocks - result.f_bfree) * result.f_frsize
    size = used + available * result.f_frsize
    return Usage(used, size) if result.f_blocks and size else None


def _inodes(result: os.statvfs_result) -> Usage | None:
    if not result.f_files:  # btrfs, vfat…: inodes are made on demand, there is no count
        return None
    return Usage(result.f_files - result.f_ffree, result.f_files)


def _count(value: float) -> str:
    return human_number(value, 0)


class Quantity:
    """What is read from ``statvfs`` and how it is worded.

    ``noun`` prefixes the free/used words (``inodes free 4%``); ``unmeasurable`` is the
    state and words for a mount named with ``-p`` that has no such quantity.
    """

    def __init__(
        self,
        noun: str,
        uom: str,
        measure: Callable[[os.statvfs_result], Usage | None],
        amount: Callable[[float], str],
        unmeasurable: tuple[int, str],
    ) -> None:
        self.noun, self.uom, self.measure, self.amount = noun, uom, measure, amount
        self.unmeasurable = unmeasurable

    def words(self, what: str) -> str:
        """``free`` or ``inodes free``."""
        return f"{self.noun} {what}".strip()


SPACE = Quantity("", "B", _space, lambda value: show(value, "B"), (3, "reports no size"))
INODES = Quantity("inodes", "", _inodes, _count, (0, "has no fixed number of inodes"))

#: What a condition reads from a :class:`Usage`, and the unit its range is written in.
MEASURES = {
    "free_percent": (lambda usage: usage.percent(usage.free), "%"),
    "free": (lambda usage: usage.free, ""),
    "used_percent": (lambda usage: usage.percent(usage.used), "%"),
}


class Condition:
    """One threshold: ``range`` on the free share, free amount or used share of a quantity."""

    __slots__ = ("limit", "measure", "quantity")

    def __init__(self, quantity: Quantity, measure: str, limit: Range) -> None:
        self.quantity, self.measure, self.limit = quantity, measure, limit

    def violation(self, usage: Usage) -> str | None:
        """``free 4.2% <= 5%`` when the threshold alerts, else None."""
        read, unit = MEASURES[self.measure]
        value = read(usage)
        if not self.limit.alerts(value):
            return None

        def word(number: float) -> str:
            return show(number, "%") if unit else self.quantity.amount(number)

        what = self.quantity.words("used" if self.measure == "used_percent" else "free")
        return f"{what} {word(value)} {self.limit.violation(value, word)}"

    def on_used(self, usage: Usage) -> Range:
        """This threshold as a range on the used amount, for perfdata."""
        size = usage.size
        affine = {
            "free_percent": (-size / 100.0, size),
            "free": (-1.0, size),
            "used_percent": (size / 100.0, 0.0),
        }[self.measure]

        def image(bound: float) -> float:
            if math.isinf(bound):
                return bound if affine[0] > 0 else -bound
            return affine[0] * bound + affine[1]

        low, high = sorted((image(self.limit.start), image(self.limit.end)))
        # Used amounts are whole numbers: round the bounds inwards when that keeps a range.
        if math.isfinite(low) and math.isfinite(high) and math.ceil(low) <= math.floor(high):
            low, high = math.ceil(low), math.floor(high)
        elif math.isfinite(low):
            low = math.ceil(low)
        elif math.isfinite(high):
            high = math.floor(high)
        return Range(low, high, inside=self.limit.inside)


class Reading:
    """One target's answer: its statvfs result, or the state and words of its failure."""

    __slots__ = ("failure", "result", "target")

    def __init__(
        self,
        target: Target,
        result: os.statvfs_result | None = None,
        failure: tuple[int, str] | None = None,
    ) -> None:
        self.target, self.result, self.failure = target, result, failure


def _probe(target: Target) -> os.statvfs_result:
    """statvfs of the target's mount; a ``-p`` path below it must exist (check_disk's rule)."""
    assert target.mount is not None
    if target.path is not None:
        os.stat(target.path)
    return os.statvfs(target.mount.path)


class Filesystems(nagiosplugin.Resource):
    """The selected mounts, read with statvfs away from the main thread, within a deadline."""

    def __init__(
        self, choice: Selection, quantity: Quantity, mount_timeout: float, stale: int
    ) -> None:
        self.choice, self.quantity = choice, quantity
        self.mount_timeout, self.stale = mount_timeout, stale
        self.readings: dict[str, Reading] = {}

    def probe(self) -> list[nagiosplugin.Metric]:
        """One metric per judged mount: used amount of the quantity, or its failure."""
        mounts = read_mounts()
        targets = select(mounts, self.choice)
        if not targets:
            raise CannotCheck(f"no mount to judge: all {len(mounts)} are excluded or pseudo")
        reachable = [target for target in targets if target.mount is not None]
        for target in reachable:
            assert target.mount is not None
            log.info("judging %s: %s on %s", target.label, target.mount.fs_type,
                     printable(target.mount.source))  # fmt: skip
        timeout = min(self.mount_timeout, 0.8 * (remaining() or math.inf))
        with doing(f"waiting for statvfs of {len(reachable)} mounts"):
            answers = answer_each_within(_probe, reachable, timeout)
        answered = dict(zip((id(target) for target in reachable), answers, strict=True))
        metrics = []
        for target in targets:
            reading: Reading | None = Reading(target, failure=(2, "is not mounted"))
            if target.mount is not None:
                reading = self._reading(target, answered[id(target)], timeout)
            if reading is None:
                continue
            self.readings[target.label] = reading
            metrics.append(self._metric(reading))
        if not metrics:
            raise CannotCheck(f"no mount to judge among {len(targets)} selected (see -vv)")
        return metrics

    def _reading(self, target: Target, answer: object, timeout: float) -> Reading | None:
        """What the answer means for this target; None to leave it out."""
        if answer is None:
            waited = human_number(timeout, 1)
            return Reading(target, failure=(self.stale, f"did not answer within {waited} s"))
        if isinstance(answer, OSError):
            failure = self._failure(target, answer)
            return None if failure is None else Reading(target, failure=failure)
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, os.statvfs_result)
        if self.quantity.measure(answer) is None and not target.explicit:
            log.info("%s left out: it %s", target.label, self.quantity.unmeasurable[1])
            return None
        return Reading(target, answer)

    def _failure(self, target: Target, error: OSError) -> tuple[int, str] | None:
        """State and words of a failed statvfs; None leaves out a mount nobody named.

        A missing ``-p`` path is CRITICAL, as in check_disk; a broken mount takes the
        ``--stale`` state; any other error (permission denied on another user's FUSE
        mount) is UNKNOWN for a named mount and leaves an unnamed one out.
        """
        reason = error.strerror or str(error)
        if error.errno in (errno.ENOENT, errno.ENOTDIR) and target.path is not None:
            return 2, f"(-p {printable(target.path)}): {reason}"
        if error.errno in BROKEN:
            return self.stale, reason
        if target.explicit:
            return 3, reason
        log.info("%s left out: %s", target.label, reason)
        return None

    def _metric(self, reading: Reading) -> nagiosplugin.Metric:
        label = reading.target.label
        usage = self.quantity.measure(reading.result) if reading.result else None
        if usage is None:
            return nagiosplugin.Metric(label, 0, context="unjudged")
        return nagiosplugin.Metric(
            label, usage.used, self.quantity.uom, 0, usage.size, context="filesystem"
        )


class FreeContext(nagiosplugin.Context):
    """Judge a mount against every condition; CRITICAL ones first, then WARNING ones."""

    def __init__(
        self, quantity: Quantity, warning: Sequence[Condition], critical: Sequence[Condition]
    ) -> None:
        super().__init__("filesystem", result_cls=Verdict)
        self.quantity, self.warning, self.critical = quantity, warning, critical

    def evaluate(self, metric: nagiosplugin.Metric, resource: Filesystems) -> Verdict:
        """The worst level with a violated condition, naming every violation at it."""
        result = resource.readings[metric.name].result
        assert result is not None
        usage = self.quantity.measure(result)
        assert usage is not None
        for level, conditions in ((Critical, self.critical), (Warn, self.warning)):
            broken = [
                why
                for condition in conditions
                if (measured := condition.quantity.measure(result)) is not None
                and (why := condition.violation(measured)) is not None
            ]
            if broken:
                amounts = (
                    f"{self.quantity.amount(usage.free)} free of {self.quantity.amount(usage.size)}"
                )
                return Verdict(level, f"{', '.join(broken)} ({amounts})", metric)
        return Verdict(Ok, describe_free(self.quantity, usage), metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """The mount point."""
        return str(metric.name)

    def performance(self, metric: nagiosplugin.Metric, resource: Filesystems) -> Perf:
        """check_disk's item: used, with the first ranges on this quantity, 0 and size."""
        usage = Usage(int(metric.value), int(metric.max))
        warning, critical = (
            next(
                (each.on_used(usage) for each in conditions if each.quantity is self.quantity),
                None,
            )
            for conditions in (self.warning, self.critical)
        )
        return Perf(metric.name, metric.value, metric.uom or "", warning, critical, 0, metric.max)


def describe_free(quantity: Quantity, usage: Usage) -> str:
    """``77.2% free (78.3 GiB of 101.5 GiB)``."""
    share = show(usage.percent(usage.free), "%")
    amounts = f"{quantity.amount(usage.free)} of {quantity.amount(usage.size)}"
    return f"{share} {quantity.words('free')} ({amounts})"


class Unjudged(nagiosplugin.Context):
    """A target that could not be measured: the state its reading carries."""

    def __init__(self, quantity: Quantity) -> None:
        super().__init__("unjudged", result_cls=Verdict)
        self.quantity = quantity

    def evaluate(self, metric: nagiosplugin.Metric, resource: Filesystems) -> Verdict:
        """A failure's state and words, or the quantity's for a mount without it."""
        reading = resource.readings[metric.name]
        code, words = reading.failure or self.quantity.unmeasurable
        if reading.failure is None and reading.target.mount is not None:
            words = f"{words} ({reading.target.mount.fs_type})"
        return Verdict(STATES[code], words, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """The mount point or path."""
        return str(metric.name)

    def performance(self, metric: nagiosplugin.Metric, resource: Filesystems) -> None:
        """Nothing was measured, so no perfdata."""


class FreeSummary(Summary):
    """``/ 77.2% free (…)``; with several mounts, how many and the one with least free."""

    def __init__(self, errors_only: bool) -> None:
        super().__init__(long_output=True)
        self.errors_only = errors_only

    def ok(self, results: nagiosplugin.Results) -> str:
        """The single mount, or the count and the least free mount."""
        judged = [result for result in results.results if result.metric.context == "filesystem"]
        if len(results.results) == 1 or not judged:
            return ", ".join(str(result) for result in results.results)
        tightest = min(judged, key=lambda result: 1 - result.metric.value / result.metric.max)
        return f"{len(results.results)} filesystems OK, least free: {tightest}"

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        """One line per mount (with -e only those with a problem)."""
        return [
            f"{STATE_NAMES[result.state.code]}: {result}"
            for result in results.results
            if not (self.errors_only and result.state == Ok)
        ]
