"""Small state kept between runs of a check, for rates of kernel counters.

CPU time and swap pages are counters; a rate needs two readings. A check first looks for
the reading its previous run stored: when it is from this boot and between ``sample`` and
:data:`MAX_AGE` seconds old, the rate covers the whole interval between two runs of the
monitoring engine, at no cost. Otherwise the check takes two readings ``sample`` seconds
apart. Either way the newest reading is stored for the next run, written atomically
(temporary file, then rename) so concurrent runs never read half a file.

State lives in ``$VIGIE_STATE_DIR``, else ``/var/lib/vigie``, else
``$XDG_STATE_HOME/vigie`` (``~/.local/state/vigie``); when none is writable the check
simply samples.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

from checks.core import procfs
from checks.core.cli import Parser, seconds
from checks.core.files import replace_atomically
from checks.core.runtime import doing

#: Oldest stored reading a rate may start from, in seconds.
MAX_AGE = 1800.0
#: The system-wide state directory, after ``$VIGIE_STATE_DIR``.
SYSTEM_DIR = "/var/lib/vigie"


def add_sample_option(parser: Parser, what: str = "", shortest: float | None = None) -> None:
    """``--sample SECONDS`` (default 1): the sampling time of :func:`counters` (``what``:
    of which readings, worded into the help; ``shortest``: as given to :func:`counters`)."""
    usable = f"; a previous run's reading is used from {shortest:g} s old" if shortest else ""
    parser.add_argument(
        "--sample",
        type=seconds,
        default=1.0,
        metavar="SECONDS",
        help=f"sampling time{what} when no reading from a previous run is usable "
        f"(default: %(default)g{usable})",
    )


def state_dir() -> str | None:
    """The first usable state directory, created if missing; None when none is writable."""
    xdg = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local/state")
    for candidate in (os.environ.get("VIGIE_STATE_DIR"), SYSTEM_DIR, f"{xdg}/vigie"):
        if not candidate:
            continue
        try:
            os.makedirs(candidate, mode=0o755, exist_ok=True)
        except OSError:
            continue
        if os.access(candidate, os.W_OK | os.X_OK):
            return candidate
    return None


def load(name: str) -> dict[str, object] | None:
    """The state stored under ``name``, or None if there is none or it is unreadable."""
    directory = state_dir()
    if directory is None:
        return None
    try:
        with open(os.path.join(directory, f"{name}.json"), encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def save(name: str, data: dict[str, object]) -> None:
    """Store ``data`` under ``name`` atomically; a failure only costs the next run a sample."""
    directory = state_dir()
    if directory is None:
        return
    try:
        replace_atomically(os.path.join(directory, f"{name}.json"), json.dumps(data))
    except OSError as error:
        import logging  # only on this path: logging costs a check ~4 ms to import

        logging.getLogger(__name__).info("cannot store state %s in %s: %s", name, directory, error)


def boot_id() -> str:
    """This boot's identity: counters from another boot restarted at zero."""
    return procfs.read("sys/kernel/random/boot_id").strip()


class Interval:
    """Two readings of the same counters and the seconds between them."""

    __slots__ = ("after", "before", "how", "seconds")

    def __init__(
        self, before: dict[str, float], after: dict[str, float], seconds: float, how: str
    ) -> None:
        self.before, self.after, self.seconds, self.how = before, after, seconds, how

    def rate(self, key: str) -> float:
        """Increase of counter ``key`` per second."""
        return (self.after[key] - self.before[key]) / self.seconds

    def delta(self, key: str) -> float:
        """Increase of counter ``key`` over the interval."""
        return self.after[key] - self.before[key]


def counters(
    name: str, read: Callable[[], dict[str, float]], sample: float, shortest: float | None = None
) -> Interval:
    """Readings of ``read()`` over the interval since the previous run, or over ``sample`` s.

    By default a previous reading younger than ``sample`` is not used: a per-second rate
    of rare events (errors, restarts) over a fraction of a second says little. Figures
    that stay meaningful over short intervals (shares of CPU time) pass ``shortest``: a
    previous reading is then used from ``shortest`` seconds old, and a younger one is
    waited for until it is that old, so that a run soon after another never samples for a
    whole ``sample``.
    """
    now, values, boot = time.monotonic(), read(), boot_id()
    previous = load(name)
    save(name, {"boot": boot, "time": now, "values": values})
    usable = _usable(previous, boot, now, values, sample if shortest is None else 0.0)
    if usable is not None:
        age, before = usable
        if shortest is None:
            return Interval(before, values, age, f"over the last {age:.0f} s")
        if age < shortest:
            taken = now - age
            with doing(f"waiting for the previous {name} reading to be {shortest:g} s old"):
                time.sleep(shortest - age)
            now, values = time.monotonic(), read()
            save(name, {"boot": boot, "time": now, "values": values})
            age = now - taken
        return Interval(before, values, age, f"over the last {_span(age)} s")
    with doing(f"sampling {name} for {sample:g} s"):
        time.sleep(sample)
    later_time, later = time.monotonic(), read()
    save(name, {"boot": boot, "time": later_time, "values": later})
    return Interval(values, later, later_time - now, f"over {sample:g} s")


def _span(seconds: float) -> str:
    """Seconds as the interval's wording shows them: tenths below 10 s (``0.3``), else whole."""
    return f"{seconds:.1f}" if seconds < 10 else f"{seconds:.0f}"


def _usable(
    previous: dict[str, object] | None,
    boot: str,
    now: float,
    values: dict[str, float],
    min_age: float,
) -> tuple[float, dict[str, float]] | None:
    """The previous reading and its age, if it is from this boot, fresh, and not ahead."""
    if not previous or previous.get("boot") != boot:
        return None
    taken, before = previous.get("time"), previous.get("values")
    if not isinstance(taken, int | float) or not isinstance(before, dict):
        return None
    age = now - taken
    if not min_age <= age <= MAX_AGE or set(before) != set(values):
        return None
    if any(not isinstance(before[key], int | float) or before[key] > values[key] for key in values):
        return None
    return age, before
