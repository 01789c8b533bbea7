"""``drp status``: the last run of every backup, from the status records.

One row per record (files per environment and target, db per database and target): its
result, when it started, how long it took, what it wrote, the last successful run when
the latest failed, and the error. ``--json`` prints the records as stored.
"""

from __future__ import annotations

import json
import logging
import time

from checks.core.units import human_bytes, human_duration
from drptools import layout, status
from drptools.actions import common

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from drptools.config import Config

log = logging.getLogger("drptools")


def _when(seconds: object) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def row(record: dict[str, object], now: float) -> list[str]:
    """The cells of one record."""
    what = str(record.get("what", "?"))
    if record.get("database"):
        what += f" {record['database']}"
    started, finished = record.get("started"), record.get("finished")
    took = (
        human_duration(finished - started)
        if isinstance(started, int | float) and isinstance(finished, int | float)
        else "-"
    )
    limit = status.settings.limits.get(str(record.get("what")), float("inf"))
    result = status.judged(record, now, limit)
    size = record.get("bytes")
    last_ok = record.get("last_ok")
    last = ""
    if result != status.OK and isinstance(last_ok, dict):
        last_started = last_ok.get("started")
        if isinstance(last_started, int | float):
            last = f"last ok {human_duration(now - last_started)} ago"
    return [
        str(record.get("environment", "?")),
        what,
        str(record.get("target", "?")),
        result,
        _when(started),
        took,
        str(record.get("files", "-")) if result == status.OK else "-",
        human_bytes(size) if isinstance(size, int) and result == status.OK else "-",
        " ".join(part for part in (last, str(record.get("error") or "")) if part),
    ]


def table(rows: list[list[str]]) -> str:
    """Aligned columns, the last one (the error) free."""
    header = ["ENVIRONMENT", "WHAT", "TARGET", "RESULT", "STARTED", "TOOK", "FILES", "SIZE", ""]
    return common.columns([header, *rows])


def main(config: Config, args: argparse.Namespace) -> int:
    """Print the records; exit 0, or 1 when some cannot be read (judging is check_backup's).

    Records that cannot be read are named on stderr, never left out silently: one of them
    may be the failed run.
    """
    problems: list[str] = []
    records = status.read_all(problems)
    if args.json:
        print(json.dumps(records, indent=1, sort_keys=True))
    elif records:
        now = layout.now()
        print(table([row(record, now) for record in records]))
    elif not problems:
        print(f"no backup has run yet (no status records in {status.state_dir()})")
    for problem in problems:
        log.error("%s", problem)
    return 1 if problems else 0
