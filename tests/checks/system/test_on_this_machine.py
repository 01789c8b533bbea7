"""The local system checks, live on this machine."""

from __future__ import annotations

import pytest

from checks.system import cpu, load, memory, swap, uptime


@pytest.mark.parametrize("check", [load, cpu, memory, swap, uptime])
def test_live_on_this_machine(check):
    outcome = check.PLUGIN.run(["--sample", "0.2"] if check in (cpu,) else [])
    assert outcome.state in (0, 1, 2), outcome.text
    assert outcome.status_line.startswith(f"{check.PLUGIN.name.upper()} ")
    assert " | " in outcome.status_line or "no swap" in outcome.status_line
