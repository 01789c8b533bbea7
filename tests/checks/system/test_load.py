"""check_load on recorded /proc samples, and its parsers."""

from __future__ import annotations

import pytest

from checks.core.errors import ParseError
from checks.system import load
from tests.conftest import PROC_SAMPLES, run_on_sample
from tests.helpers.proc import read_sample


def test_parse_loadavg_and_cpu_count():
    assert load.parse_loadavg(read_sample("load-8-busy-loops-2-cpus", "loadavg")) == (
        6.35,
        2.13,
        0.77,
    )
    assert load.count_online_cpus(read_sample("idle-no-swap", "stat")) == 2


@pytest.mark.parametrize("text", ["", "abc def ghi", "1.0 2.0", "-1 0 0 1/2 3"])
def test_parse_loadavg_refuses_garbage(text):
    with pytest.raises(ParseError):
        load.parse_loadavg(text)


@pytest.mark.parametrize(
    ("sample", "args", "state", "summary"),
    [("idle-no-swap", [], 0, "load average 0.36, 0.14, 0.06 (0.18, 0.07, 0.03 per CPU, 2 CPUs)"),
     ("load-8-busy-loops-2-cpus", [], 1, "load1 per CPU 3.17 > 2"),
     ("load-8-busy-loops-2-cpus", ["-w", "5,4,3", "-c", "10,8,6"], 1, "load1 6.35 > 5"),
     ("load-8-busy-loops-2-cpus", ["-w", "5,4,3", "-c", "6,8,6"], 2, "load1 6.35 > 6"),
     ("load-8-busy-loops-2-cpus", ["-r", "-w", "3", "-c", "4"], 1, "load1 per CPU 3.17 > 3"),
     ("idle-no-swap", ["-w", "@0:1"], 1, "load1 0.36 inside 0..1, load5 0.14 inside 0..1, "
      "load15 0.06 inside 0..1")],
)  # fmt: skip
def test_load_on_recorded_samples(sample, args, state, summary, monkeypatch):
    outcome = run_on_sample(load.PLUGIN, sample, *args, monkeypatch=monkeypatch)
    assert (outcome.state, outcome.summary) == (state, summary)


def test_load_default_perfdata_has_the_c_plugins_labels(monkeypatch):
    outcome = run_on_sample(load.PLUGIN, "idle-no-swap", monkeypatch=monkeypatch)
    assert outcome.status_line.endswith(
        "| load1=0.36;;;0 load5=0.14;;;0 load15=0.06;;;0 scaled_load1=0.18;2;4;0 "
        "scaled_load5=0.07;1.5;3;0 scaled_load15=0.03;1;2;0"
    )


def test_load_lists_the_busiest_processes_with_n(monkeypatch):
    outcome = load.PLUGIN.run(["-n", "3"])
    busiest = [line for line in outcome.text.splitlines() if line.startswith("busiest: ")]
    assert 1 <= len(busiest) <= 3
    assert all("% CPU pid " in line for line in busiest)


def test_process_cpu_from_its_stat_line():
    stat_dir = PROC_SAMPLES / "pid-stat"
    name, percent = load.parse_process_cpu((stat_dir / "init").read_text(), 100, 1000.24)
    assert name == "process_api"
    assert percent == pytest.approx(100 * 4.39 / 1000.0)  # utime 103 + stime 336 ticks
    name, _ = load.parse_process_cpu(
        (stat_dir / "name-with-spaces-and-parens").read_text(), 100, 1e6
    )
    assert name == "a) b (c"
