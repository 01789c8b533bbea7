"""check_clock and check_procs beside Debian's C check_ntp_time and check_procs.

Same arguments, same targets, same state (PLUGINS.md: an existing service definition can
switch command and keep its arguments). check_clock and check_ntp_time ask the same real
chronyd, or the same scripted server; check_procs and the C check_procs count the same
``sleep`` processes, told apart from everything else by a unique argv[0]. The few places
where vigie deliberately judges otherwise are asserted as such at the end.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from checks.system import procs
from tests.conftest import c_plugin, executable
from tests.helpers.compat import perf_value, same_state
from tests.helpers.procs import wait_until_asleep
from tests.servers.ntp_fake import FakeNtpServer, forge
from tests.servers.ports import free_port

pytestmark = pytest.mark.integration


def both(
    name: str, c_name: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """Run the C plugin ``c_name`` and vigie's ``name`` with ``args``, C first."""
    c_result, vigie_result = (
        subprocess.run([path, *args], capture_output=True, text=True, timeout=30, check=False)
        for path in (c_plugin(c_name), executable(name))
    )
    return c_result, vigie_result


# --- check_clock and check_ntp_time -------------------------------------------------------


@pytest.mark.parametrize(
    ("thresholds", "state"),
    [(["-w", "0.5", "-c", "1"], 0), ([], 0), (["-w", "60", "-c", "120"], 0),
     (["-w", "@0:0.5", "-c", "5"], 1), (["-w", "1", "-c", "@0:0.5"], 2)],
)  # fmt: skip
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_clock_against_chronyd_same_state_as_check_ntp_time(chronyd, host, thresholds, state):
    c_result, vigie_result = both(
        "check_clock", "check_ntp_time", "-H", host, "-p", str(chronyd.port), *thresholds
    )
    same_state(c_result, vigie_result, state)
    # Tolerance: chronyd -x serves this machine's own clock, so both offsets are the
    # measurement noise of a loopback round trip: microseconds, or a few milliseconds when
    # a busy machine holds a process back between send and receive: within 5 ms.
    c_offset = perf_value(c_result.stdout, "offset")
    assert abs(c_offset) < 0.005
    assert perf_value(vigie_result.stdout, "offset") == pytest.approx(c_offset, abs=0.005)


def test_clock_family_options_same_state(chronyd):
    port = str(chronyd.port)
    same_state(*both("check_clock", "check_ntp_time", "-6", "-H", "::1", "-p", port), 0)
    same_state(*both("check_clock", "check_ntp_time", "-4", "-H", "127.0.0.1", "-p", port), 0)
    # An IPv6 address with -4 cannot be resolved: UNKNOWN for both.
    same_state(*both("check_clock", "check_ntp_time", "-4", "-H", "::1", "-p", port), 3)


def test_clock_unsynchronised_chronyd_same_state(chronyd_unsynchronised):
    args = ("-H", "127.0.0.1", "-p", str(chronyd_unsynchronised.port), "-w", "0.5", "-c", "1")
    same_state(*both("check_clock", "check_ntp_time", *args), 2)
    same_state(*both("check_clock", "check_ntp_time", *args, "-q"), 3)


@pytest.fixture
def scripted() -> Iterator[FakeNtpServer]:
    server = FakeNtpServer("127.0.0.1")
    yield server
    server.close()


@pytest.mark.parametrize(
    ("reply", "args", "state"),
    [({"offset": 0.2}, [], 0),
     ({"offset": 0.7}, [], 1),
     ({"offset": -0.7}, [], 1),
     ({"offset": 3.0}, [], 2),
     ({"offset": -3.0}, [], 2),
     ({"offset": -300.0}, ["-w", "60", "-c", "120"], 2),
     ({"offset": 90.0}, ["-w", "60", "-c", "120"], 1),
     ({"offset": 0.7}, ["-w", "0.5:", "-c", "1"], 0),
     ({"leap": 3}, [], 2),
     ({"leap": 3}, ["-q"], 3),
     ({"kiss": b"DENY"}, [], 2),
     ({"kiss": b"RATE"}, ["-q"], 3)],
)  # fmt: skip
def test_clock_against_a_scripted_server_same_state(scripted, reply, args, state):
    scripted.reply = lambda request: forge(request, **reply)
    thresholds = args if {"-w", "-c"} & set(args) else ["-w", "0.5", "-c", "1", *args]
    c_result, vigie_result = both(
        "check_clock", "check_ntp_time", "-H", "127.0.0.1", "-p", str(scripted.port), *thresholds
    )
    same_state(c_result, vigie_result, state)
    if "offset" in reply:
        # Tolerance: the server forges its clock at reply time; the loopback round trip
        # and the two plugins' own clock readings differ by well under 10 ms.
        expected = reply["offset"]
        assert perf_value(c_result.stdout, "offset") == pytest.approx(expected, abs=0.01)
        assert perf_value(vigie_result.stdout, "offset") == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize("silence", ["no server", "silent server"])
def test_clock_no_answer_is_critical_for_both(scripted, silence):
    port = free_port(kind=socket.SOCK_DGRAM) if silence == "no server" else scripted.port
    scripted.reply = lambda request: None
    c_result, vigie_result = both(
        "check_clock", "check_ntp_time", "-H", "127.0.0.1", "-p", str(port), "-t", "2"
    )
    same_state(c_result, vigie_result, 2)


def test_clock_deliberate_difference_stratum_16(scripted):
    """check_ntp_time takes an offset from a stratum 16 server whose leap indicator is 0;
    vigie refuses it: stratum 16 is RFC 5905's "unsynchronised", whatever the LI says."""
    scripted.reply = lambda request: forge(request, stratum=16)
    c_result, vigie_result = both(
        "check_clock", "check_ntp_time", "-H", "127.0.0.1", "-p", str(scripted.port)
    )
    assert (c_result.returncode, vigie_result.returncode) == (0, 2)
    assert "stratum 16" in vigie_result.stdout


def test_clock_deliberate_difference_default_thresholds(scripted):
    """Without -w/-c check_ntp_time allows 60 s (warning) and 120 s; vigie 0.5 s and 1 s."""
    scripted.reply = lambda request: forge(request, offset=5.0)
    c_result, vigie_result = both(
        "check_clock", "check_ntp_time", "-H", "127.0.0.1", "-p", str(scripted.port)
    )
    assert (c_result.returncode, vigie_result.returncode) == (0, 2)


# --- check_procs ------------------------------------------------------------------------------


class Sleepers:
    """Three ``sleep`` processes with argv[0] ``tag``, and a parent with one zombie child."""

    def __init__(self) -> None:
        self.tag = f"vigie-cmp-{uuid.uuid4().hex[:12]}"
        self.sleeps = [
            subprocess.Popen([self.tag, "300"], executable="/bin/sleep") for _ in range(3)
        ]
        wait_until_asleep(self.sleeps)
        self.zombie_parent = subprocess.Popen(
            [sys.executable, "-c", "import os, time\nif os.fork() == 0: os._exit(0)\n"
             "print(flush=True)\ntime.sleep(300)"],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        assert self.zombie_parent.stdout is not None
        self.zombie_parent.stdout.readline()
        deadline = time.monotonic() + 10
        while (
            "procs=1;" not in procs.PLUGIN.run(["-p", str(self.zombie_parent.pid), "-s", "Z"]).text
        ):
            assert time.monotonic() < deadline, "the child did not become a zombie"
            time.sleep(0.01)

    def stop(self) -> None:
        for process in (*self.sleeps, self.zombie_parent):
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def sleepers() -> Iterator[Sleepers]:
    started = Sleepers()
    yield started
    started.stop()


def procs_cases(tag: str, zombie_parent: int) -> list[tuple[list[str], int]]:
    return [
        (["-a", tag], 0),
        (["-a", tag, "-w", "2", "-c", "5"], 1),
        (["-a", tag, "-w", "2", "-c", "2"], 2),
        (["-a", tag, "-c", "4:"], 2),
        (["-C", "sleep", "-a", tag, "-w", "3:3", "-c", "1:"], 0),
        (["-C", "sleep", "-a", tag, "-w", "4:", "-c", "1:"], 1),
        (["--argument-array", tag, "--warning=@3:3"], 1),
        ([f"--ereg-argument-array=^{tag} 30+$", "-c", "3:3"], 0),
        (["-a", tag, "-u", "root", "-w", "2"], 1),
        (["-a", tag, "-u", "0", "-c", "3"], 0),
        (["-a", tag, "-s", "S", "-c", "2"], 2),  # the sleeps' whole ps STAT is "S"
        (["-a", tag, "-s", "RD", "-c", "1:"], 2),
        (["-s", "Z", "-p", str(zombie_parent), "-w", "0", "-c", "2"], 1),
        (["-p", str(zombie_parent), "-c", "1:1"], 0),
        (["-k", "-a", tag, "-c", "2"], 2),
        (["-m", "RSS", "-a", tag, "-w", "1", "-c", "1000000"], 1),
        (["-m", "VSZ", "-a", tag, "-w", "1", "-c", "2"], 2),
        (["-m", "CPU", "-a", tag, "-w", "50", "-c", "90"], 0),
        (["-m", "ELAPSED", "-a", tag, "-w", "3600", "-c", "7200"], 0),
        (["-m", "ELAPSED", "-a", tag, "-w", "@0:3600"], 1),
        (["-C", f"no-such-{tag[-8:]}", "-c", "1:"], 2),
        (["-w", "5:2"], 3),
        (["--ereg-argument-array=(", "-a", tag], 3),
        (["-u", "no-such-user-vigie"], 3),
        (["-m", "MEM"], 3),
    ]


def test_procs_same_state_as_the_c_plugin(sleepers):
    for args, state in procs_cases(sleepers.tag, sleepers.zombie_parent.pid):
        c_result, vigie_result = both("check_procs", "check_procs", *args)
        same_state(c_result, vigie_result, state)
        if state != 3:
            # Exact: the filters select processes that neither start nor end meanwhile.
            assert perf_value(vigie_result.stdout, "procs") == perf_value(
                c_result.stdout, "procs"
            ), (args, c_result.stdout, vigie_result.stdout)


def test_procs_whole_machine_count_is_close(sleepers):
    # Tolerance: the C plugin also counts the ps it runs; other processes of this machine
    # may start or end between the two runs.
    c_result, vigie_result = both("check_procs", "check_procs", "-w", "100000")
    same_state(c_result, vigie_result, 0)
    difference = perf_value(c_result.stdout, "procs") - perf_value(vigie_result.stdout, "procs")
    assert -5 <= difference <= 5


def test_procs_deliberate_difference_several_state_letters(sleepers):
    """-s DR: vigie counts processes running or in disk wait; the C plugin 2.3 looks for the
    option inside ps's STAT column ("R", "Ss", "S<l" …), where "DR" never appears."""
    busy = subprocess.Popen([sleepers.tag, "-c", "while :; do :; done"], executable="/bin/sh")
    try:
        time.sleep(0.2)
        args = ("-a", f"{sleepers.tag} -c", "-s", "DR", "-c", "1:")
        c_result, vigie_result = both("check_procs", "check_procs", *args)
        assert (c_result.returncode, vigie_result.returncode) == (2, 0)
        # One letter means the same to both (the busy loop is "R", without flags).
        same_state(*both("check_procs", "check_procs", *args[:3], "R", "-c", "1:1"), 0)
    finally:
        busy.kill()
        busy.wait()
