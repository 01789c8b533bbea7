"""check_cpu on recorded /proc samples, and its parser of /proc/stat."""

from __future__ import annotations

import re
import time

import pytest

from checks.core.errors import ParseError
from checks.system import cpu
from tests.conftest import run_on_sample
from tests.helpers.proc import read_sample, store_previous_reading


def test_cpu_percentages_between_two_readings():
    before = cpu.parse_stat_cpu(read_sample("cpu-busy-before", "stat"))
    after = cpu.parse_stat_cpu(read_sample("cpu-busy-after", "stat"))
    shares = cpu.percentages(before, after)
    assert shares["user"] == pytest.approx(100 * 604 / 605)
    assert shares["used"] == pytest.approx(100.0)
    assert sum(
        shares[key] for key in ("user", "system", "iowait", "steal", "idle")
    ) == pytest.approx(100)


@pytest.mark.parametrize("text", ["", "intr 1 2 3", "cpu  a b c d", "cpu  1 2"])
def test_parse_stat_refuses_garbage(text):
    with pytest.raises(ParseError):
        cpu.parse_stat_cpu(text)


def test_cpu_counters_that_did_not_move_are_a_parse_error():
    values = cpu.parse_stat_cpu(read_sample("idle-no-swap", "stat"))
    with pytest.raises(ParseError, match="did not advance"):
        cpu.percentages(values, values)


def test_cpu_uses_the_previous_runs_reading(isolated_state, monkeypatch):
    before = cpu.parse_stat_cpu(read_sample("cpu-busy-before", "stat"))
    store_previous_reading(isolated_state, "cpu", "cpu-busy-after", before, age=60)
    started = time.monotonic()
    outcome = run_on_sample(cpu.PLUGIN, "cpu-busy-after", monkeypatch=monkeypatch)
    assert time.monotonic() - started < 0.5  # no sampling wait
    assert outcome.state == 2
    assert outcome.summary.startswith("CPU used 100% > 95%")
    assert outcome.summary.endswith("over the last 60 s")


def test_cpu_samples_when_there_is_no_previous_reading(monkeypatch):
    started = time.monotonic()
    outcome = cpu.PLUGIN.run(["--sample", "0.3"])
    assert 0.3 <= time.monotonic() - started < 2
    assert outcome.state in (0, 1, 2)
    assert "over 0.3 s" in outcome.summary


def test_a_recent_reading_is_judged_over_the_interval_it_has(isolated_state, monkeypatch):
    """A reading younger than --sample (default 1 s) but 0.1 s old is used, not resampled."""
    before = cpu.parse_stat_cpu(read_sample("cpu-busy-before", "stat"))
    store_previous_reading(isolated_state, "cpu", "cpu-busy-after", before, age=0.3)
    started = time.monotonic()
    outcome = run_on_sample(cpu.PLUGIN, "cpu-busy-after", monkeypatch=monkeypatch)
    assert time.monotonic() - started < 0.5  # neither the 1 s sample nor any wait
    assert outcome.state == 2
    assert re.search(r"over the last 0\.[34] s$", outcome.summary), outcome.summary


def test_a_reading_younger_than_the_shortest_interval_is_waited_for(isolated_state, monkeypatch):
    before = cpu.parse_stat_cpu(read_sample("cpu-busy-before", "stat"))
    store_previous_reading(isolated_state, "cpu", "cpu-busy-after", before, age=0.02)
    started = time.monotonic()
    outcome = run_on_sample(cpu.PLUGIN, "cpu-busy-after", monkeypatch=monkeypatch)
    took = time.monotonic() - started
    assert cpu.SHORTEST - 0.02 <= took < 0.5, took  # up to 0.1 s old, not a whole second
    assert outcome.summary.startswith("CPU used 100% > 95%")
    assert re.search(r"over the last 0\.[12] s$", outcome.summary), outcome.summary


def test_the_help_states_the_shortest_interval_judged():
    outcome = cpu.PLUGIN.run(["--help"])
    assert "a previous run's reading is used from 0.1 s old" in " ".join(outcome.text.split())
