"""The /proc parsers of the system checks, fed damaged copies of real samples."""

from __future__ import annotations

import pytest

from checks.system import _meminfo, cpu, load, swap, uptime
from tests.conftest import PROC_SAMPLES
from tests.helpers.mutations import every_damage_parses_or_refuses

CASES = [
    (load.parse_loadavg, "load-8-busy-loops-2-cpus/loadavg"),
    (load.count_online_cpus, "idle-no-swap/stat"),
    (cpu.parse_stat_cpu, "cpu-busy-after/stat"),
    (_meminfo.parse_meminfo, "memory-22g-in-tmpfs/meminfo"),
    (swap.parse_swaps, "swap-half-used-256m/swaps"),
    (swap.parse_vmstat, "swap-thrashing-after/vmstat"),
    (uptime.parse_uptime, "idle-no-swap/uptime"),
]


@pytest.mark.parametrize(("parse", "sample"), CASES, ids=[sample for _, sample in CASES])
def test_damaged_samples_parse_or_are_refused(parse, sample):
    every_damage_parses_or_refuses(parse, (PROC_SAMPLES / sample).read_text(), examples=150)
