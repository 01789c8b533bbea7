"""check_procs: the /proc parsers against ps on a recorded /proc, the check on it, and live.

``fixtures/procs/sample-debian12`` is a /proc recorded with ``ps`` output of the same
processes taken right after (see its README): the parsers must read what ps read. The live
tests start processes with a unique argv[0] so that their counts are exact.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings

from checks.core.errors import ParseError
from checks.core.runtime import Outcome
from checks.system import procs
from tests.conftest import executable
from tests.helpers.contract import assert_conforms, run_installed
from tests.helpers.mutations import damaged, every_damage_answers_cleanly, parses_or_refuses
from tests.helpers.procs import wait_until_asleep

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "procs"
SAMPLE = SAMPLES / "sample-debian12"
TICKS = 100  # of the machine that recorded the sample (README)


def ps_rows() -> dict[int, dict[str, str]]:
    """The recorded ``ps -o pid,ppid,stat,uid,rss,vsz,pcpu,etimes,comm,args``, by pid."""
    header, *lines = (SAMPLES / "sample-debian12.ps.txt").read_text().splitlines()
    comm_at = header.index("COMMAND")
    args_at = header.index("COMMAND", comm_at + 1)
    rows = {}
    for line in lines:
        pid, ppid, stat, uid, rss, vsz, pcpu, etimes = line[:comm_at].split()
        rows[int(pid)] = {
            "ppid": ppid, "stat": stat, "uid": uid, "rss": rss, "vsz": vsz, "pcpu": pcpu,
            "etimes": etimes, "comm": line[comm_at:args_at].rstrip(), "args": line[args_at:],
        }  # fmt: skip
    return rows


PS = ps_rows()


def sample_process(pid: int) -> procs.Process:
    process = procs.parse_stat((SAMPLE / str(pid) / "stat").read_text())
    process.uid, rss = procs.parse_status((SAMPLE / str(pid) / "status").read_text())
    process.rss = process.rss if rss is None else rss
    raw = (SAMPLE / str(pid) / "cmdline").read_bytes()
    process.args = procs.command_line(raw, process.comm, process.state)
    return process


# --- the parsers, against ps ------------------------------------------------------------------


@pytest.mark.parametrize("pid", sorted(PS))
def test_parsers_read_what_ps_read(pid):
    row = PS[pid]
    process = sample_process(pid)
    uptime = float((SAMPLE / "uptime").read_text().split()[0])
    metrics = procs.measure(process, uptime, TICKS)
    assert process.pid == pid
    assert process.comm[:15] == row["comm"]  # ps cuts the column at 15 characters
    assert process.state == row["stat"][0]
    assert process.ppid == int(row["ppid"])
    assert process.uid == int(row["uid"])
    assert process.args == row["args"]
    assert metrics["rss"] == int(row["rss"]) * 1024
    assert metrics["vsz"] == int(row["vsz"]) * 1024
    # ps ran a moment after the files were copied: its %CPU has one decimal, ages whole s.
    assert metrics["cpu"] == pytest.approx(float(row["pcpu"]), abs=0.15)
    assert metrics["elapsed"] == pytest.approx(int(row["etimes"]), abs=1.5)


def test_command_name_with_spaces_and_parentheses():
    process = procs.parse_stat((SAMPLE / "1297" / "stat").read_text())
    assert (process.comm, process.state, process.ppid) == ("my (odd) proc)", "S", 1)


def test_kernel_threads_carry_the_kernel_flag():
    assert procs.parse_stat((SAMPLE / "2" / "stat").read_text()).flags & procs.KERNEL_THREAD
    assert not procs.parse_stat((SAMPLE / "1291" / "stat").read_text()).flags & procs.KERNEL_THREAD


@pytest.mark.parametrize(
    ("raw", "state", "shown"),
    [(b"sleep\x00300\x00", "S", "sleep 300"),
     (b"", "S", "[kthreadd]"),
     (b"", "Z", "[kthreadd] <defunct>"),
     (b"a b\x00c\x00\x00", "R", "a b c"),
     (b"sh\x00-c\x00a\nb\tc\x00", "S", "sh -c a b?c"),
     (b"caf\xc3\xa9\x00\xff\x00", "S", "café \ufffd")],
)  # fmt: skip
def test_command_line_as_ps_shows_it(raw, state, shown):
    assert procs.command_line(raw, "kthreadd", state) == shown


@pytest.mark.parametrize(
    "text",
    ["", "1234", "1234 (sleep)", "x (sleep) S 1 2 3", "1 (a) Q " + "0 " * 30,
     "1 (a) S " + "x " * 30, "(a) S " + "0 " * 30],
)  # fmt: skip
def test_stat_garbage_is_refused(text):
    with pytest.raises(ParseError):
        procs.parse_stat(text)


@pytest.mark.parametrize(
    "text", ["", "Name:\tx\n", "Uid:\t0\n", "Uid:\ta b c d\n", "Uid:\t0 0 0 0\nVmRSS:\t12 MB\n"]
)
def test_status_garbage_is_refused(text):
    with pytest.raises(ParseError):
        procs.parse_status(text)


CASES = [(procs.parse_stat, "1297/stat"), (procs.parse_stat, "1344/stat"),
         (procs.parse_status, "1303/status"), (procs.parse_status, "1344/status")]  # fmt: skip


@pytest.mark.parametrize(("parse", "name"), CASES, ids=[name for _, name in CASES])
def test_damaged_files_parse_or_are_refused(parse, name):
    @settings(max_examples=200, deadline=None)
    @given(damaged((SAMPLE / name).read_text()))
    def check(text: str) -> None:
        parses_or_refuses(parse, text)

    check()


# --- the check on the recorded /proc ---------------------------------------------------------


def on_sample(monkeypatch: pytest.MonkeyPatch, *args: str, root: Path = SAMPLE) -> Outcome:
    monkeypatch.setenv("VIGIE_PROC_ROOT", str(root))
    return procs.PLUGIN.run(list(args))


@pytest.mark.parametrize(
    ("args", "state", "summary"),
    [([], 0, "11 processes, 1 zombie"),
     (["-C", "sleep"], 0, "4 processes (command name 'sleep')"),
     (["-a", "vigie-fixture-sleeper", "-w", "2", "-c", "5"], 1,
      "3 processes > 2 (args containing 'vigie-fixture-sleeper')"),
     (["-a", "vigie-fixture-sleeper", "-c", "4:"], 2,
      "3 processes < 4 (args containing 'vigie-fixture-sleeper')"),
     (["--regex", "^vigie-fixture-(sleeper|hog)", "-w", "3:3"], 0,
      "3 processes (args matching '^vigie-fixture-(sleeper|hog)')"),
     (["-C", "my (odd) proc)", "-c", "1:1"], 0, "1 process (command name 'my (odd) proc)')"),
     (["-u", "nobody"], 0, "1 process (user nobody (65534))"),
     (["-u", "65534", "-C", "sleep", "-w", "0"], 1,
      "1 process > 0 (command name 'sleep', user nobody (65534))"),
     (["-s", "Z"], 0, "1 process, 1 zombie (state Z)"),
     (["-s", "DR", "-c", "1:"], 2, "0 processes < 1 (state DR)"),
     (["-p", "1301", "--critical-zombies", "0"], 2, "1 zombie > 0 (parent 1301)"),
     (["-k"], 0, "9 processes, 1 zombie (no kernel threads)"),
     (["-a", "[kthreadd]"], 0, "1 process (args containing '[kthreadd]')"),
     (["-a", "<defunct>"], 0, "1 process, 1 zombie (args containing '<defunct>')"),
     (["-r", "50000"], 0, "1 process (RSS >= 48.8 MiB)")],
)  # fmt: skip
def test_check_on_the_recorded_proc(monkeypatch, args, state, summary):
    outcome = on_sample(monkeypatch, *args)
    assert (outcome.state, outcome.summary) == (state, summary), outcome.text
    assert_conforms("procs", outcome.state, outcome.text)


def test_per_process_rss_names_the_culprit(monkeypatch):
    outcome = on_sample(monkeypatch, "--warning-rss", "32M", "--critical-rss", "1G")
    assert outcome.state == 1
    assert outcome.summary == "RSS > 32 MiB: 1 of 11 processes (python3 pid 1301 77.3 MiB)"
    assert "rss_max=81063936B;33554432;1073741824;0" in outcome.text


def test_c_metric_rss_is_in_kib(monkeypatch):
    outcome = on_sample(monkeypatch, "-m", "RSS", "-w", "50000", "-c", "100000", "-C", "python3")
    assert outcome.state == 1
    assert outcome.summary.startswith("RSS > 48.8 MiB: 1 of 2 processes (python3 pid 1301")
    assert "procs=2;;;0" in outcome.text  # -w/-c judge RSS here, not the count


def test_elapsed_names_at_most_three_and_counts_all(monkeypatch):
    outcome = on_sample(monkeypatch, "--critical-elapsed", "10m")
    assert outcome.state == 2
    assert outcome.summary.startswith("age > 10 min: 3 of 11 processes (process_api pid 1 49 min")
    assert outcome.summary.endswith(")")


def test_cpu_is_lifetime_percent(monkeypatch):
    outcome = on_sample(monkeypatch, "-m", "CPU", "-w", "0.5", "-c", "50")
    assert outcome.state == 1
    assert outcome.summary.startswith("CPU > 0.5%: 1 of 11 processes (python3 pid 1301 0.8%)")


def test_verbose_lists_every_matched_process(monkeypatch):
    outcome = on_sample(monkeypatch, "-a", "vigie-fixture-sleeper", "-v")
    lines = outcome.text.splitlines()
    assert lines[-1].startswith("pid 1295 S sleep: RSS 1.7 MiB, CPU 0%, age 5.9 s: ")
    assert lines[-1].endswith(": vigie-fixture-sleeper 1000")
    assert len(lines) == 1 + 2 + 3


@pytest.mark.parametrize(
    "args",
    [["-m", "RSS", "--warning-rss", "1G", "-w", "5"], ["-s", "Ss"], ["-s", ""],
     ["-u", "no-such-user-x"], ["--regex", "("], ["-w", "5:2"], ["-p", "x"], ["-r", "-5"],
     ["-m", "MEM"]],
)  # fmt: skip
def test_bad_use_is_unknown(monkeypatch, args):
    outcome = on_sample(monkeypatch, *args)
    assert outcome.state == 3, outcome.text
    assert "see check_procs --help" in outcome.summary


def test_empty_proc_is_unknown(monkeypatch, tmp_path):
    (tmp_path / "uptime").write_text("1.0 1.0\n")
    outcome = on_sample(monkeypatch, root=tmp_path)
    assert (outcome.state, outcome.summary) == (3, f"no process could be read in {tmp_path}")


def test_damaged_proc_answers_cleanly(monkeypatch, tmp_path):
    root = tmp_path / "proc"
    shutil.copytree(SAMPLE, root)
    original = (SAMPLE / "1297" / "stat").read_text()

    def run_on(text: str) -> Outcome:
        (root / "1297" / "stat").write_text(text)
        return on_sample(monkeypatch, "-u", "root", root=root)

    every_damage_answers_cleanly("procs", run_on, original, examples=60, slow=True)


# --- live ---------------------------------------------------------------------------------------


@pytest.fixture
def sleepers():
    """Three ``sleep`` processes whose argv[0] is unique to this test."""
    tag = f"vigie-test-{uuid.uuid4().hex[:12]}"
    started = [subprocess.Popen([tag, "120"], executable="/bin/sleep") for _ in range(3)]
    wait_until_asleep(started)
    yield tag, started
    for process in started:
        process.kill()
        process.wait()


def test_live_count_and_disappearance(sleepers):
    tag, started = sleepers
    outcome = procs.PLUGIN.run(["-C", "sleep", "-a", tag, "-w", "3:3", "-c", "1:"])
    assert (outcome.state, outcome.summary) == (
        0,
        f"3 processes (command name 'sleep', args containing '{tag}')",
    )
    for process in started:
        process.kill()
        process.wait()
    outcome = procs.PLUGIN.run(["-C", "sleep", "-a", tag, "-c", "1:"])
    assert outcome.state == 2


def test_live_values_agree_with_ps(sleepers):
    tag, started = sleepers
    outcome = procs.PLUGIN.run(["-a", tag, "-v"])
    table = subprocess.run(
        ["ps", "-o", "pid=,stat=,rss=,args=", "-p", ",".join(str(p.pid) for p in started)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for line in table.splitlines():
        pid, stat, rss, args = line.split(None, 3)
        assert f"pid {pid} {stat[0]} sleep: RSS " in outcome.text
        assert args == f"{tag} 120"
        assert int(rss) > 0


def test_live_zombie():
    parent = subprocess.Popen(
        [sys.executable, "-c", "import os, time\nif os.fork() == 0: os._exit(0)\ntime.sleep(60)"]
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            outcome = procs.PLUGIN.run(["-p", str(parent.pid), "--warning-zombies", "0"])
            if outcome.state or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert (outcome.state, outcome.summary) == (1, f"1 zombie > 0 (parent {parent.pid})")
        assert procs.PLUGIN.run(["-p", str(parent.pid), "-s", "Z", "-c", "1:1"]).state == 0
    finally:
        parent.kill()
        parent.wait()


def test_live_rss_of_a_big_process():
    tag = f"vigie-test-hog-{uuid.uuid4().hex[:8]}"
    hog = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nb = bytearray(48 << 20)\nb[::4096] = b'x' * len(b[::4096])\n"
         "print('ready', flush=True)\ntime.sleep(60)", tag],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert hog.stdout is not None
        assert hog.stdout.readline() == "ready\n"
        outcome = procs.PLUGIN.run(["-a", tag, "--warning-rss", "32M", "--critical-rss", "1G"])
        assert outcome.state == 1, outcome.text
        assert outcome.summary.startswith("RSS > 32 MiB: 1 of 1 processes (python")
    finally:
        hog.kill()
        hog.wait()


def test_never_counts_itself_nor_its_shell():
    tag = f"vigie-test-self-{uuid.uuid4().hex[:8]}"
    check = executable("check_procs")
    alone = subprocess.run(
        [check, "-a", tag, "-c", "0"], capture_output=True, text=True, check=False
    )
    assert (alone.returncode, alone.stdout.split(" |")[0]) == (
        0,
        f"PROCS OK - 0 processes (args containing '{tag}')",
    )
    # "; true" keeps the shell alive as the parent, its command line holding the tag.
    shell = subprocess.run(
        ["sh", "-c", f"{check} -a {tag} -c 0; true"], capture_output=True, text=True, check=False
    )
    assert shell.returncode == 0, shell.stdout


def test_other_runs_of_this_check_are_not_counted():
    me = procs.Myself()
    script = b"/usr/lib/vigie/plugins/check_procs"
    twin = procs.parse_stat(f"4242 ({me.comm}) S 1 " + "0 " * 40)
    assert me.runs_the_same_program(
        twin, me.program[0] + b"\0" + b"/x/" + me.program[1] + b"\0-a\0x"
    )
    assert not me.runs_the_same_program(twin, b"/usr/bin/other\0" + script)
    stranger = procs.parse_stat("4243 (sleep) S 1 " + "0 " * 40)
    assert not me.runs_the_same_program(stranger, me.program[0] + b"\0" + me.program[1])


def test_live_run_as_a_process_keeps_the_contract():
    run_installed("procs", "-k", "-w", "100000")
