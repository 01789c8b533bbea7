"""vigie and the C monitoring-plugins side by side: same arguments, same state.

PLUGINS.md promises that an existing service definition can switch command and keep its
arguments. Each case runs Debian's C plugin and vigie's on the same machine with the same
arguments and asserts the same exit state; the measured numbers must agree within the
tolerance stated per check (both read the same kernel files a few milliseconds apart).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import c_plugin
from tests.helpers.compat import both, perf_value, same_state

pytestmark = pytest.mark.integration


# --- check_load -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def some_load():
    """A busy process until the 1-minute load is clearly above zero, for stable states."""
    busy = subprocess.Popen(["sh", "-c", "while :; do :; done"])
    try:
        deadline = time.monotonic() + 40
        while float(Path("/proc/loadavg").read_text().split()[0]) < 0.2:
            assert time.monotonic() < deadline, "load did not rise above 0.2"
            time.sleep(0.5)
        yield
    finally:
        busy.kill()
        busy.wait()


@pytest.mark.parametrize(
    ("args", "state"),
    [(["-w", "1000,1000,1000", "-c", "2000,2000,2000"], 0),
     (["-w", "0.05,1000,1000", "-c", "2000,2000,2000"], 1),
     (["-w", "0.05", "-c", "0.1"], 2),
     (["-r", "-w", "1000", "-c", "2000"], 0),
     (["-r", "-w", "0.01,1000,1000", "-c", "1000"], 1),
     (["--percpu", "--warning=0.01", "--critical=0.02"], 2)],
)  # fmt: skip
def test_check_load_same_state_as_the_c_plugin(args, state, some_load):
    c_result, vigie_result = both("check_load", *args)
    c_after = subprocess.run(
        [c_plugin("check_load"), *args], capture_output=True, text=True, timeout=30, check=False
    )
    same_state(c_result, vigie_result, state)
    # The kernel recomputes the averages every 5 s and a step can move load1 by more than
    # any fixed tolerance on a busy machine; the runs take milliseconds, so vigie's value
    # lies between the C plugin's readings just before and just after it (0.01: rounding).
    for label in ("load1", "load5", "load15"):
        readings = (perf_value(c_result.stdout, label), perf_value(c_after.stdout, label))
        assert (
            min(readings) - 0.01 <= perf_value(vigie_result.stdout, label) <= max(readings) + 0.01
        )


# --- check_swap -------------------------------------------------------------------------


MIB = 1024 * 1024


def swap_devices() -> list[str]:
    return Path("/proc/swaps").read_text().splitlines()[1:]


@pytest.fixture
def swapfile(tmp_path):
    """A 64 MiB swap file, active for the test (needs root, as swapon does)."""
    if os.geteuid() != 0:
        pytest.skip("swapon needs root")
    path = Path("/var/tmp") / f"vigie-test-swap-{os.getpid()}"
    subprocess.run(["fallocate", "-l", "64M", str(path)], check=True)
    path.chmod(0o600)
    subprocess.run(["mkswap", "-q", str(path)], check=True)
    subprocess.run(["swapon", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["swapoff", str(path)], check=True)
        path.unlink()


def swap_free_bytes() -> int:
    fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    return int(fields["SwapFree"].split()[0]) * 1024


@pytest.mark.parametrize(
    ("args", "state"),
    [(["-w", "20%", "-c", "10%"], 0),
     (["-w", "100%", "-c", "10%"], 1),  # at most 100% free: always true, bound included
     (["-w", "70000000", "-c", "1000"], 1),
     (["--warning=50%", "--critical=100%"], 3),  # critical above warning: refused by both
     (["-w", "99%", "-c", "0%", "-a"], 0)],
)  # fmt: skip
def test_check_swap_same_state_as_the_c_plugin(args, state, swapfile):
    c_result, vigie_result = both("check_swap", *args)
    assert (c_result.returncode, vigie_result.returncode) == (state, state), (
        c_result.stdout,
        vigie_result.stdout,
    )
    if state != 3:
        # Tolerance: the C plugin (2.3.3) truncates swap sizes to whole MiB and counts
        # SwapCached (0 on an unused swap file) as free; vigie reports the kernel's bytes.
        assert perf_value(vigie_result.stdout, "free") == pytest.approx(
            perf_value(c_result.stdout, "swap"), abs=MIB
        )


def test_check_swap_byte_bounds_agree_with_the_c_plugin(swapfile):
    # Thresholds 2 MiB either side of the free amount, beyond the C plugin's MiB rounding.
    free = swap_free_bytes()
    for critical, state in ((free + 2 * MIB, 2), (free - 2 * MIB, 1)):
        warning = str(free + 4 * MIB)
        c_result, vigie_result = both("check_swap", "-w", warning, "-c", str(critical))
        assert (c_result.returncode, vigie_result.returncode) == (state, state), (
            critical,
            c_result.stdout,
            vigie_result.stdout,
        )


@pytest.mark.parametrize(("args", "state"), [([], 2), (["-n", "ok"], 0), (["-n", "warning"], 1)])
def test_check_swap_without_swap_same_state_as_the_c_plugin(args, state):
    if swap_devices():
        pytest.skip("this machine has swap configured")
    c_result, vigie_result = both("check_swap", "-w", "50%", "-c", "25%", *args)
    assert (c_result.returncode, vigie_result.returncode) == (state, state)
