"""check_swap on recorded /proc samples: free space, rates, per device."""

from __future__ import annotations

import re

import pytest

from checks.system import swap
from tests.conftest import run_on_sample
from tests.helpers.proc import read_sample, store_previous_reading


def test_parse_swaps_and_vmstat():
    assert swap.parse_swaps(read_sample("swap-half-used-256m", "swaps")) == [
        ("/tmp/swapf", 262140 * 1024, 121548 * 1024)
    ]
    assert swap.parse_swaps(read_sample("idle-no-swap", "swaps")) == []
    assert swap.parse_vmstat(read_sample("swap-thrashing-after", "vmstat")) == {
        "pswpin": 370698,
        "pswpout": 413673,
    }


@pytest.mark.parametrize(
    ("text", "metric", "printed"),
    [("20%", "free_percent", "@~:20"), ("1000000", "free", "@~:1000000"),
     ("512M", "free", "@~:536870912"), ("0%", "free_percent", "@~:0")],
)  # fmt: skip
def test_c_free_thresholds_become_inclusive_ranges(text, metric, printed):
    judged, limit = swap.free_threshold(text)
    assert (judged, str(limit)) == (metric, printed)


@pytest.mark.parametrize("text", ["abc", "101%", "-5%", "10X", "20 %%"])
def test_bad_free_thresholds_are_refused(text):
    with pytest.raises(Exception, match=repr(text).replace("%", "%")):
        swap.free_threshold(text)


@pytest.mark.parametrize(
    ("sample", "args", "state", "summary_start"),
    [("idle-no-swap", [], 2, "no swap is configured"),
     ("idle-no-swap", ["-n", "ok"], 0, "no swap is configured"),
     ("idle-no-swap", ["--no-swap", "warning"], 1, "no swap is configured"),
     ("swap-half-used-256m", [], 0, "swap 46.4% used (137.3 MiB free of 256 MiB)"),
     ("swap-half-used-256m", ["-w", "60%", "-c", "10%"], 1, "swap free 53.6% <= 60%"),
     ("swap-half-used-256m", ["-w", "200M", "-c", "100M"], 1, "swap free 137.3 MiB <= 200 MiB"),
     ("swap-thrashing-after", [], 2, "swap free 12% <= 25%"),
     ("swap-thrashing-after", ["-w", "10%", "-c", "5%"], 0, "swap 88% used")],
)  # fmt: skip
def test_swap_space_on_recorded_samples(sample, args, state, summary_start, monkeypatch):
    outcome = run_on_sample(swap.PLUGIN, sample, *args, "--sample", "0.01", monkeypatch=monkeypatch)
    assert outcome.state == state
    assert outcome.summary.startswith(summary_start)


def test_swap_rates_over_the_interval_since_the_previous_run(isolated_state, monkeypatch):
    before = swap.parse_vmstat(read_sample("swap-thrashing-before", "vmstat"))
    store_previous_reading(isolated_state, "swap", "swap-thrashing-after", before, age=4)
    outcome = run_on_sample(
        swap.PLUGIN, "swap-thrashing-after", "-w", "10%", "-c", "5%",
        "--warning-rate", "1000", "--critical-rate", "40000", monkeypatch=monkeypatch,
    )  # fmt: skip
    assert outcome.state == 2
    # The rates' digits depend on how long after "4 s ago" the run starts (a loaded
    # machine: 4.003 s gave 49897); their value is held to 1% below.
    assert re.fullmatch(
        r"swap in 49\d\d\d pages/s > 40000, swap out 46\d\d\d pages/s > 40000 over the last 4 s",
        outcome.summary,
    )
    rate_in = re.search(r"swap_in=([\d.]+);1000;40000;0", outcome.status_line)
    assert rate_in is not None
    assert float(rate_in[1]) == pytest.approx((370698 - 170978) / 4, rel=0.01)


def test_swap_per_device_with_allswaps(monkeypatch):
    outcome = run_on_sample(
        swap.PLUGIN, "swap-half-used-256m", "-a", "--sample", "0.01", monkeypatch=monkeypatch
    )
    assert "swapf_free_percent=53.63241%;@~:50;@~:25;0;100" in outcome.status_line
    assert "OK: swapf free 53.6%" in outcome.text


def test_swap_refuses_critical_looser_than_warning(monkeypatch):
    outcome = run_on_sample(
        swap.PLUGIN, "swap-half-used-256m", "-w", "10%", "-c", "20%", monkeypatch=monkeypatch
    )
    assert outcome.state == 3
    assert "warning (10%) should leave more swap free than critical (20%)" in outcome.summary
