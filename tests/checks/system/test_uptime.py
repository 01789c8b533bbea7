"""check_uptime on a recorded /proc sample, and its parser."""

from __future__ import annotations

import pytest

from checks.core.errors import ParseError
from checks.system import uptime
from tests.conftest import run_on_sample
from tests.helpers.proc import read_sample


def test_parse_uptime():
    assert uptime.parse_uptime(read_sample("idle-no-swap", "uptime")) == pytest.approx(
        float(read_sample("idle-no-swap", "uptime").split()[0])
    )
    with pytest.raises(ParseError):
        uptime.parse_uptime("soon")


@pytest.mark.parametrize(
    ("args", "state", "violation"),
    [([], 1, "< 15 min"), (["-w", "5m:"], 0, ""), (["-w", "5m:", "-c", "15m:"], 2, "< 15 min"),
     (["-w", "1m:5m"], 1, "> 5 min"), (["-c", "1d:"], 2, "< 1 d")],
)  # fmt: skip
def test_uptime_on_a_recorded_sample(args, state, violation, monkeypatch):
    outcome = run_on_sample(uptime.PLUGIN, "idle-no-swap", *args, monkeypatch=monkeypatch)
    assert outcome.state == state
    assert outcome.summary.startswith("up 13 min 16 s (booted ")
    assert outcome.summary.endswith(violation)


def test_uptime_perfdata_in_seconds(monkeypatch):
    outcome = run_on_sample(uptime.PLUGIN, "idle-no-swap", monkeypatch=monkeypatch)
    seconds = read_sample("idle-no-swap", "uptime").split()[0]
    assert outcome.status_line.endswith(f"| uptime={seconds}s;900:;;0")
