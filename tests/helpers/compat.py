"""What the side-by-side tests share: comparing vigie's check with the C plugin's."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import c_plugin, executable


def both(name: str, *args: str) -> tuple[subprocess.CompletedProcess[str], ...]:
    """Run the C plugin and vigie's ``name`` with ``args`` on this machine, C first."""
    return tuple(
        subprocess.run([path, *args], capture_output=True, text=True, timeout=60, check=False)
        for path in (c_plugin(name), executable(name))
    )


def same_state(
    c_result: subprocess.CompletedProcess[str],
    vigie_result: subprocess.CompletedProcess[str],
    state: int,
) -> None:
    """Both exited with ``state``; the message shows both outputs when not."""
    assert (c_result.returncode, vigie_result.returncode) == (state, state), (
        c_result.stdout,
        vigie_result.stdout,
    )


def perf_value(output: str, label: str) -> float:
    """The value of perfdata ``label`` in a plugin's output."""
    match = re.search(rf"(?:^|[ |]){re.escape(label)}=([-\d.]+)", output)
    assert match, f"no {label}= in {output!r}"
    return float(match[1])
