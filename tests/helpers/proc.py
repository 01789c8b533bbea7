"""Recorded /proc samples (tests/fixtures/proc) and the state a previous run left."""

from __future__ import annotations

import json
import time

from tests.conftest import PROC_SAMPLES


def store_previous_reading(state_dir, name, sample, values, age):
    """Write the state a previous run would have left, ``age`` seconds ago."""
    boot = (PROC_SAMPLES / sample / "sys/kernel/random/boot_id").read_text().strip()
    state_dir.mkdir(parents=True, exist_ok=True)
    record = {"boot": boot, "time": time.monotonic() - age, "values": values}
    (state_dir / f"{name}.json").write_text(json.dumps(record))


def read_sample(sample, name):
    return (PROC_SAMPLES / sample / name).read_text()
