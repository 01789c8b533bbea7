"""Invocation cost of vigie's checks, beside the bare interpreter and the C plugins.

A monitoring engine starts a check thousands of times an hour, so the figure that matters
is one whole invocation: interpreter start, imports, work, exit. Each command runs
``--runs`` times, round-robin with the others so that drift of a shared machine hits all
alike; per command the median wall time, the median CPU time (user + system of the child,
from wait4) and the peak RSS are reported, with CPU as a multiple of the floor
(``python -I -c pass`` of the same interpreter, measured in the same run) against the
budgets of ../shared/design/PERFORMANCE.md. Writes a Markdown table.
"""

from __future__ import annotations

import argparse
import atexit
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from checks.registry import plugins

BIN = Path(sys.executable).parent
C_PLUGINS = Path("/usr/lib/nagios/plugins")
SMART_FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "smartctl"
SHARED_FIXTURES = Path(
    os.environ.get("VIGIE_FIXTURES") or Path(__file__).resolve().parents[2] / "shared" / "fixtures"
)
OWN_FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
STUBS = Path(tempfile.mkdtemp(prefix="vigie-bench-stubs-"))


def ssh_banner_server() -> int:
    """A loopback TCP server that greets like OpenSSH, for check_ssh; returns its port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            connection, _ = listener.accept()
            with connection:
                connection.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
                connection.recv(256)

    threading.Thread(target=serve, daemon=True).start()
    return int(listener.getsockname()[1])


SSH_PORT = str(ssh_banner_server())


def chronyd() -> str:
    """A real chronyd serving NTP on loopback for check_clock (as root); returns its port."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = str(probe.getsockname()[1])
    probe.close()
    if os.geteuid() != 0 or not Path("/usr/sbin/chronyd").exists():
        return port  # nothing answers: the check_clock cases then measure a timeout
    (STUBS / "chrony.conf").write_text(
        f"local stratum 8\nport {port}\nbindaddress 127.0.0.1\nallow 127.0.0.1\ncmdport 0\n"
        f"pidfile {STUBS / 'chronyd.pid'}\ndriftfile {STUBS / 'drift'}\n"
    )
    server = subprocess.Popen(
        ["/usr/sbin/chronyd", "-x", "-d", "-u", "root", "-f", str(STUBS / "chrony.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(server.terminate)
    time.sleep(1)
    return port


NTP_PORT = chronyd()


def backup_config() -> str:
    """A drp configuration with two empty local targets, for check_backup."""
    for name in ("A", "B"):
        (STUBS / name).mkdir()
    path = STUBS / "drp.toml"
    path.write_text(
        f'datacenter = "dc-1"\n[targets.A]\nlocation = "{STUBS / "A"}"\ndatacenter = "dc-1"\n'
        f'[targets.B]\nlocation = "{STUBS / "B"}"\ndatacenter = "dc-2"\n'
        '[environments.www]\npaths = ["/srv/www"]\n'
        '[environments.www.databases.shop]\nengine = "mariadb"\n'
    )
    return str(path)


def stub_smartctl(fixture: str) -> str:
    """A smartctl that prints a recorded output: no SMART disk on the bench machine."""
    path = STUBS / f"smartctl-{fixture}"
    path.write_text(f"#!/bin/sh\ncat '{SMART_FIXTURES / fixture}'\n")
    path.chmod(0o755)
    return str(path)


def stub_gluster(pool: str) -> str:
    """A gluster CLI answering from captures, for check_glusterfs: no glusterd here.

    ``healthy``: the 4-brick replicated volumes of the shared status capture, and a clean
    ``heal info summary`` of GlusterFS 10.3 for each.
    """
    assert pool == "healthy", pool
    answers = {
        "volume_info": OWN_FIXTURES / "glusterfs" / "volume_info_xml_of_status_all_detail.xml",
        "volume_status": SHARED_FIXTURES / "glusterfs" / "volume_status_all_detail_4bricks_online"
        ".xml",
        "volume_heal": OWN_FIXTURES
        / "glusterfs"
        / "volume_heal_info_summary_xml_10.3_gv0_clean.xml",
    }
    path = STUBS / f"gluster-{pool}"
    cases = "".join(f"    \"{key}\") cat '{answer}';;\n" for key, answer in answers.items())
    path.write_text(f'#!/bin/sh\ncase "$3_$4" in\n{cases}esac\n')
    path.chmod(0o755)
    return str(path)


def stub_crm_mon(fixture: str) -> str:
    """A crm_mon that prints a capture, for check_hacluster: no cluster here."""
    path = STUBS / f"crm_mon-{fixture}"
    path.write_text(f"#!/bin/sh\ncat '{SHARED_FIXTURES / 'pacemaker' / fixture}'\n")
    path.chmod(0o755)
    return str(path)


#: ``{tool:what}`` Bench arguments of the cluster checks: a stub tool answering from captures.
STUBBED_CLUSTER_TOOLS = {"gluster": stub_gluster, "crm_mon": stub_crm_mon}


# C plugins beside which vigie's checks are measured (the "twin" of a check's Bench).
C_CASES: dict[str, list[str]] = {
    "C check_load -w 5,4,3 -c 10,8,6": ["check_load", "-w", "5,4,3", "-c", "10,8,6"],
    "C check_swap -w 50% -c 25%": ["check_swap", "-w", "50%", "-c", "25%"],
    "C check_disk -w 10% -c 5% -p /": ["check_disk", "-w", "10%", "-c", "5%", "-p", "/"],
    "C check_disk -W 10% -K 5% -p /": ["check_disk", "-W", "10%", "-K", "5%", "-p", "/"],
    "C check_ping -H 127.0.0.1 -w 100,20% -c 500,60% -p 1": ["check_ping", "-H", "127.0.0.1",
        "-w", "100,20%", "-c", "500,60%", "-p", "1"],
    "C check_ssh -H 127.0.0.1 -p PORT": ["check_ssh", "-H", "127.0.0.1", "-p", SSH_PORT],
    "C check_procs -w 500 -c 1000": ["check_procs", "-w", "500", "-c", "1000"],
    "C check_ntp_time -H 127.0.0.1 -p PORT": ["check_ntp_time", "-H", "127.0.0.1", "-p",
        NTP_PORT, "-w", "0.5", "-c", "1"],
}  # fmt: skip
# (label, argv, budget: CPU multiple of the floor or None, RSS budget MiB or None, C twin)
BUDGETS = {"local": (3.5, 20), "tool": (6.0, 30)}  # tool: runs a tool or talks to a server


def argument(text: str) -> str:
    """A Bench argument with what the bench set up filled in."""
    if text == "{ssh_port}":
        return SSH_PORT
    if text == "{ntp_port}":
        return NTP_PORT
    if text == "{backup_config}":
        return backup_config()
    if text.startswith("{smartctl:"):
        return stub_smartctl(text[len("{smartctl:") : -1])
    tool, colon, fixture = text.strip("{}").partition(":")
    if colon and text.startswith("{") and tool in STUBBED_CLUSTER_TOOLS:
        return STUBBED_CLUSTER_TOOLS[tool](fixture)
    return text


def cases() -> list[tuple[str, list[str], tuple[float, float] | None, str | None]]:
    """The floor, nagiosplugin's import, then every check's Bench cases, each C twin first."""
    found: list[tuple[str, list[str], tuple[float, float] | None, str | None]] = [
        ("floor: python -I -c pass", [sys.executable, "-I", "-c", "pass"], None, None),
        ("python -I -c 'import nagiosplugin'", [sys.executable, "-I", "-c",
         "import nagiosplugin"], None, None),
    ]  # fmt: skip
    for plugin in plugins():
        for case in plugin.bench:
            if case.twin and case.twin not in [label for label, _, _, _ in found]:
                tool, *arguments = C_CASES[case.twin]
                found.append((case.twin, [str(C_PLUGINS / tool), *arguments], None, None))
            argv = [str(BIN / plugin.executable), *map(argument, case.arguments)]
            found.append((case.label, argv, BUDGETS[case.kind], case.twin))
    return found


CASES = cases()
SUITE = ("vigie run (whole local suite, one process)", [str(BIN / "vigie"), "run"])


def measure(argv: list[str], environment: dict[str, str]) -> tuple[float, float, float]:
    """One run of ``argv``: wall seconds, CPU seconds, peak RSS in MiB."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: quiet, then exec
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.execve(argv[0], argv, environment)
    _, _, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def bench(cases: list[tuple[str, list[str]]], runs: int) -> dict[str, tuple[float, float, float]]:
    """Median wall, median CPU, peak RSS per case, runs interleaved round-robin."""
    environment = dict(os.environ, VIGIE_STATE_DIR=tempfile.mkdtemp(prefix="vigie-bench-"))
    samples: dict[str, list[tuple[float, float, float]]] = {label: [] for label, _ in cases}
    for _, argv in cases:  # warm-up: caches, and the checks' state for their rates
        measure(argv, environment)
    for _ in range(runs):
        for label, argv in cases:
            samples[label].append(measure(argv, environment))
    shutil.rmtree(environment["VIGIE_STATE_DIR"], ignore_errors=True)
    return {
        label: (
            statistics.median(wall for wall, _, _ in values),
            statistics.median(cpu for _, cpu, _ in values),
            max(rss for _, _, rss in values),
        )
        for label, values in samples.items()
    }


def machine() -> str:
    """What the figures were measured on."""
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    plugins = subprocess.run(
        [str(C_PLUGINS / "check_load"), "-V"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return (
        f"{time.strftime('%Y-%m-%d')}, Python {platform.python_version()} ({sys.executable}), "
        f"Linux {platform.release()}, {os.cpu_count()} × {model}; C plugins: {plugins}"
    )


def report(results: dict[str, tuple[float, float, float]], runs: int) -> str:
    """The Markdown page."""
    floor_cpu = results[CASES[0][0]][1]
    lines = [
        "# vigie invocation cost",
        "",
        f"Measured by `make bench` (`bench/run.py`) on {machine()}.",
        f"Each command ran {runs} times, interleaved; medians of wall and CPU time "
        '(user + system, from wait4), the highest peak RSS. "× floor" is CPU time over that '
        "of `python -I -c pass` measured in the same run; budgets from PERFORMANCE.md. "
        "The checks with rates run with `--sample 0.05` and a state directory, as they do "
        "in production when the previous run's reading is usable.",
        "",
        "| command | wall ms | CPU ms | × floor | × C twin | peak RSS MiB | budget | verdict |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for label, _, budget, twin in CASES:
        if label not in results:
            continue
        wall, cpu, rss = results[label]
        ratio = cpu / floor_cpu
        twin_ratio = f"{cpu / results[twin][1]:.1f}" if twin in results else ""
        if budget is None:
            budget_text, verdict = "", ""
        else:
            budget_text = f"≤ {budget[0]}× · ≤ {budget[1]} MiB"
            verdict = "within" if ratio <= budget[0] and rss <= budget[1] else "**over**"
        lines.append(
            f"| `{label}` | {wall * 1000:.1f} | {cpu * 1000:.1f} | {ratio:.2f} | {twin_ratio} "
            f"| {rss:.1f} | {budget_text} | {verdict} |"
        )
    label = SUITE[0]
    if label in results:
        wall, cpu, rss = results[label]
        verdict = "within" if wall <= 1.0 and rss <= 40 else "**over**"
        lines.append(
            f"| `{label}` | {wall * 1000:.1f} | {cpu * 1000:.1f} | {cpu / floor_cpu:.2f} | "
            f"| {rss:.1f} | ≤ 1 s wall · ≤ 40 MiB | {verdict} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """``make bench``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--output", type=Path, help="write the Markdown here (default: stdout)")
    args = parser.parse_args()
    cases = [(label, argv) for label, argv, _, _ in CASES if Path(argv[0]).exists()]
    try:
        results = bench(cases, args.runs)
        results.update(bench([SUITE], max(args.runs // 3, 5)))
    finally:
        shutil.rmtree(STUBS, ignore_errors=True)
    text = report(results, args.runs)
    if args.output:
        args.output.write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
