"""``drp runs``: every journaled runbook run (activate, failback …) and where it stands.

A run's id names its journal; ``--resume RUN_ID`` goes on with one that failed or was
stopped. ``--show RUN_ID`` prints its journal's records, one line each.
"""

from __future__ import annotations

import time

from drptools import journal
from drptools.actions import common

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from drptools.config import Config


def standing(records: list[dict[str, object]]) -> tuple[str, str]:
    """A run's state (``ok``, ``failed``, ``stopped``, ``unfinished``) and its last step."""
    last_step = next((str(r["step"]) for r in reversed(records) if "step" in r), "-")
    finished = journal.finish(records)
    if finished is not None and records.index(finished) >= _last_begin_or_resume(records):
        return str(finished.get("result")), last_step
    final = records[-1]
    if final.get("event") == "stop":
        return f"stopped by {final.get('signal')}", last_step
    return "unfinished (killed, or running)", last_step


def _last_begin_or_resume(records: list[dict[str, object]]) -> int:
    return max(i for i, r in enumerate(records) if r.get("event") in ("begin", "resume"))


def _when(seconds: object) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def main(config: Config, args: argparse.Namespace) -> int:
    """``drp runs [--show RUN_ID]``."""
    if args.show:
        for record in journal.read(args.show):
            fields = {k: v for k, v in record.items() if k not in ("run", "time", "event")}
            print(f"{_when(record.get('time'))}  {record.get('event')}  {fields}")
        return 0
    rows = [("RUN", "STARTED", "STATE", "LAST STEP")]
    for run_id in journal.all_runs():
        records = journal.read(run_id)
        state, step = standing(records)
        rows.append((run_id, _when(records[0].get("time")), state, step))
    if len(rows) == 1:
        print("no runbook has run yet")
        return 0
    print(common.columns(rows))
    return 0
