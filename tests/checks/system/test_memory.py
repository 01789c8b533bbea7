"""check_memory on recorded /proc samples, and the /proc/meminfo parser."""

from __future__ import annotations

import pytest

from checks.core.errors import ParseError
from checks.system import _meminfo, memory
from tests.conftest import run_on_sample
from tests.helpers.proc import read_sample


def test_meminfo_in_bytes():
    fields = _meminfo.parse_meminfo(read_sample("idle-no-swap", "meminfo"))
    assert fields["MemTotal"] == 24684084 * 1024
    assert fields["HugePages_Total"] == 0  # counts, not kB, stay as they are


@pytest.mark.parametrize("text", ["", "MemFree: 10 kB", "MemTotal: lots kB"])
def test_meminfo_refuses_garbage(text):
    with pytest.raises(ParseError):
        _meminfo.parse_meminfo(text)


def test_memory_page_cache_is_not_used_but_tmpfs_is():
    usage = memory.memory_usage(
        _meminfo.parse_meminfo(read_sample("memory-22g-in-tmpfs", "meminfo"))
    )
    assert usage["available"] == 1140432 * 1024
    assert usage["used"] / usage["total"] == pytest.approx(0.954, abs=0.001)


def test_memory_estimate_before_memavailable_existed():
    usage = memory.memory_usage(
        {"MemTotal": 1000, "MemFree": 100, "Buffers": 50, "Cached": 400, "Shmem": 150}
    )
    assert usage["available"] == 400


@pytest.mark.parametrize(
    ("sample", "args", "state", "summary"),
    [("idle-no-swap", [], 0, "RAM used 1.1% (254.2 MiB of 23.5 GiB), 23.3 GiB available"),
     ("memory-22g-in-tmpfs", [], 2, "RAM used 95.4% > 95%"),
     ("memory-22g-in-tmpfs", ["-c", "99"], 1, "RAM used 95.4% > 90%"),
     ("memory-22g-in-tmpfs", ["-c", "99", "--critical-available", "2G:"], 2,
      "available 1.1 GiB < 2 GiB, RAM used 95.4% > 90%")],
)  # fmt: skip
def test_memory_on_recorded_samples(sample, args, state, summary, monkeypatch):
    outcome = run_on_sample(memory.PLUGIN, sample, *args, monkeypatch=monkeypatch)
    assert (outcome.state, outcome.summary) == (state, summary)
