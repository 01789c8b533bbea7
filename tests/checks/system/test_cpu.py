"""check_cpu on recorded /proc samples, and its parser of /proc/stat."""

from __future__ import annotations

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
