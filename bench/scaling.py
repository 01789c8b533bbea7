"""How a check's cost grows with the work: CPU per run against the number of items.

bench/run.py measures one invocation on this machine as it is; here the work is made to
size, in namespaces so that the machine itself is untouched: processes (sleepers in a PID
namespace with its own /proc), mounts (tmpfs in a mount namespace), network links (veth
pairs in a network namespace), snapshots and dump sets (a drp target written for the
bench), disks (a stub smartctl that finds N NVMe disks) and blocklist zones (a stub DNS
server on loopback). Each size gets its own launcher (bench/launcher.py) inside its own
namespace; every command runs ``--runs`` times, round-robin over sizes and commands, so
that drift of a shared machine hits all alike. Reported per size: the median CPU time
(user + system of the child and what it reaped, from wait4) and wall time, beside the C
plugin doing the same work where Debian ships one; per check, the cost of one more item
(the least-squares slope of CPU over size). Prints Markdown; ``--json`` also writes the
figures for bench/plot.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from dns_stub import dnsbl_server
from launcher import Launcher

BIN = Path(sys.executable).parent
C_PLUGINS = Path("/usr/lib/nagios/plugins")
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")

#: One size of one series: the launcher (inside the namespace holding the work) and the
#: commands to measure there, by label (vigie's check first, then its C twin if any).
Prepared = tuple[Launcher, dict[str, list[str]]]


class Figure:
    """What was measured of one command: per size, median CPU and wall, the states seen."""

    def __init__(self, series: str) -> None:
        self.series = series
        self.sizes: list[int] = []
        self.cpu_ms: list[float] = []
        self.wall_ms: list[float] = []
        self.states: list[str] = []


class Series:
    """A check measured at several sizes of its work, with its C twin where there is one."""

    def __init__(
        self,
        name: str,
        item: str,
        sizes: tuple[int, ...],
        prepare: Callable[[ExitStack, Path, int], Prepared],
    ) -> None:
        self.name, self.item, self.sizes, self.prepare = name, item, sizes, prepare


def environment(work: Path) -> dict[str, str]:
    """What every measured command gets: its own state directory."""
    state = work / "state"
    state.mkdir(parents=True, exist_ok=True)
    return dict(os.environ, VIGIE_STATE_DIR=str(state))


def launched(stack: ExitStack, work: Path, prefix: list[str] | None = None) -> Launcher:
    """A launcher for one size, closed (its namespace with it) when the bench ends."""
    launcher = Launcher(environment(work), prefix or [])
    stack.callback(launcher.close)
    return launcher


def processes(stack: ExitStack, work: Path, size: int) -> Prepared:
    """``size`` sleepers in a PID namespace whose /proc shows only them and the launcher."""
    launcher = launched(stack, work, ["unshare", "--mount", "--pid", "--fork", "--mount-proc"])
    launcher.run(["/bin/sh", "-c", f"i=0; while [ $i -lt {size} ]; do sleep 86400 & "
                  "i=$((i + 1)); done"])  # fmt: skip
    thresholds = ["-w", "100000", "-c", "200000"]
    return launcher, {
        "check_procs": [str(BIN / "check_procs"), *thresholds],
        "C check_procs": [str(C_PLUGINS / "check_procs"), *thresholds],
    }


def mounts(stack: ExitStack, work: Path, size: int) -> Prepared:
    """``size`` tmpfs mounts (of 1 MiB) in a private mount namespace."""
    launcher = launched(stack, work, ["unshare", "--mount", "--propagation", "private"])
    for index in range(size):
        point = work / f"m{index:05}"
        point.mkdir()
        launcher.run(["/bin/mount", "-t", "tmpfs", "-o", "size=1m", f"bench{index}", str(point)])
    also = ["--also-type", "tmpfs"]  # check_disk -A judges every mount, tmpfs too
    return launcher, {
        "check_partitions": [str(BIN / "check_partitions"), "-w", "1%", "-c", "0%", *also],
        "C check_disk -A": [str(C_PLUGINS / "check_disk"), "-w", "1%", "-c", "0%", "-A"],
        "check_inodes": [str(BIN / "check_inodes"), "-w", "1%", "-c", "0%", *also],
        "C check_disk -A -W -K": [str(C_PLUGINS / "check_disk"), "-W", "1%", "-K", "0%", "-A"],
    }


def links(stack: ExitStack, work: Path, size: int) -> Prepared:
    """``size`` links (veth pairs: this kernel has no dummy links), up, in a network
    namespace of their own."""
    namespace = f"vigie-scale-{os.getpid()}-{size}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    stack.callback(subprocess.run, ["ip", "netns", "delete", namespace], check=False)
    batch = work / "links.batch"
    batch.write_text("".join(f"link add ea{pair} type veth peer name eb{pair}\n"
                             f"link set ea{pair} up\nlink set eb{pair} up\n"
                             for pair in range(size // 2)))  # fmt: skip
    subprocess.run(["ip", "-n", namespace, "-batch", str(batch)], check=True)
    launcher = launched(stack, work, ["ip", "netns", "exec", namespace])
    return launcher, {"check_interfaces": [str(BIN / "check_interfaces"), "--sample", "0.05"]}


def snapshots(stack: ExitStack, work: Path, size: int) -> Prepared:
    """A drp target holding ``size`` hourly snapshots and ``size`` dump sets."""
    from drptools import layout, manifest

    now = time.time()
    seal_sum = hashlib.sha256(manifest.HEADER).hexdigest()
    for index in range(size):
        stamp = layout.stamp(now - index * 3600)
        snapshot = work / "A" / "www" / "files" / stamp
        (snapshot / "data").mkdir(parents=True)
        (snapshot / "MANIFEST").write_bytes(manifest.HEADER)
        seal = {"snapshot": stamp, "manifest_sha256": seal_sum,
                "manifest_bytes": len(manifest.HEADER)}  # fmt: skip
        (snapshot / "COMPLETE").write_text(json.dumps(seal) + "\n")
        dumps = work / "A" / "www" / "db" / "shop"
        dumps.mkdir(parents=True, exist_ok=True)
        (dumps / f"{stamp}.sql.zst").write_bytes(b"x")
        (dumps / f"{stamp}.sha256").write_text(f"{'0' * 64}  {stamp}.sql.zst\n")
    (work / "B").mkdir()
    config = work / "drp.toml"
    config.write_text(
        f'datacenter = "dc-1"\n[targets.A]\nlocation = "{work / "A"}"\ndatacenter = "dc-1"\n'
        f'[targets.B]\nlocation = "{work / "B"}"\ndatacenter = "dc-2"\n'
        '[environments.www]\npaths = ["/srv/www"]\n'
        '[environments.www.databases.shop]\nengine = "mariadb"\n'
    )
    return launched(stack, work), {
        "check_backup": [str(BIN / "check_backup"), "--config", str(config)]
    }


def disks(stack: ExitStack, work: Path, size: int) -> Prepared:
    """A stub smartctl whose scan finds ``size`` NVMe disks, each a healthy recorded one."""
    scan = work / "scan.txt"
    scan.write_text("".join(f"/dev/nvme{index} -d nvme # /dev/nvme{index}, NVMe device\n"
                            for index in range(size)))  # fmt: skip
    fixture = FIXTURES / "smartctl" / "text_nvme_passed_75pct_used.txt"
    stub = work / "smartctl"
    stub.write_text(
        f"#!/bin/sh\nfor arg; do [ \"$arg\" = --scan-open ] && exec cat '{scan}'; done\n"
        f"exec cat '{fixture}'\n"
    )
    stub.chmod(0o755)
    return launched(stack, work), {"check_smart": [str(BIN / "check_smart"), "--smartctl",
                                                   str(stub)]}  # fmt: skip


def zones(port: str) -> Callable[[ExitStack, Path, int], Prepared]:
    """``size`` blocklist zones asked of the stub DNS server on ``port``."""

    def prepare(stack: ExitStack, work: Path, size: int) -> Prepared:
        asked = [argument for index in range(size) for argument in ("-s", f"z{index}.test")]
        return launched(stack, work), {
            "check_dnsbl": [str(BIN / "check_dnsbl"), "-H", "192.0.2.99", "--nameserver",
                            "127.0.0.1", "--nameserver-port", port, *asked]
        }  # fmt: skip

    return prepare


def series(port: str) -> list[Series]:
    """Every scaling series, at sizes that stay cheap to build on a small machine."""
    return [
        Series("procs", "process", (1, 100, 1000, 3000), processes),
        Series("partitions and inodes", "mount", (1, 100, 300, 1000), mounts),
        Series("interfaces", "link", (2, 100, 1000), links),
        Series("backup", "snapshot and dump set", (1, 100, 1000, 10000), snapshots),
        Series("smart", "NVMe disk", (1, 10, 100), disks),
        Series("dnsbl", "zone", (1, 10, 100), zones(port)),
    ]


@contextmanager
def prepared(chosen: list[Series], root: Path) -> Iterator[dict[tuple[str, int], Prepared]]:
    """Every size of every chosen series built, and torn down afterwards."""
    with ExitStack() as stack:
        built = {}
        for each in chosen:
            for size in each.sizes:
                work = root / each.name.replace(" ", "-") / str(size)
                work.mkdir(parents=True)
                built[each.name, size] = each.prepare(stack, work, size)
        yield built


def measure(built: dict[tuple[str, int], Prepared], runs: int) -> dict[str, Figure]:
    """Median CPU and wall per (series, size, command), runs interleaved round-robin."""
    samples: dict[tuple[str, int, str], list[tuple[float, float]]] = {}
    states: dict[tuple[str, int, str], set[int]] = {}
    for (name, size), (launcher, commands) in built.items():
        for label, argv in commands.items():  # warm-up: caches, and the rates' state
            launcher.measure(argv)
            samples[name, size, label], states[name, size, label] = [], set()
    for _ in range(runs):
        for (name, size), (launcher, commands) in built.items():
            for label, argv in commands.items():
                wall, cpu, _ = launcher.measure(argv)
                samples[name, size, label].append((wall, cpu))
                code = os.waitstatus_to_exitcode(launcher.status)
                states[name, size, label].add(code if 0 <= code <= 3 else 3)
    figures: dict[str, Figure] = {}
    for (name, size, label), values in samples.items():
        figure = figures.setdefault(label, Figure(name))
        figure.sizes.append(size)
        figure.cpu_ms.append(1000 * statistics.median(cpu for _, cpu in values))
        figure.wall_ms.append(1000 * statistics.median(wall for wall, _ in values))
        figure.states.append("/".join(STATES[code] for code in sorted(states[name, size, label])))
    return figures


def per_item_us(sizes: list[int], cpu_ms: list[float]) -> float:
    """The least-squares slope of CPU over size, in microseconds per item."""
    slope = statistics.linear_regression(sizes, cpu_ms).slope
    return 1000 * slope


def cell(figure: Figure, row: int) -> str:
    """``94.5 (141) · 49 µs``: CPU and wall ms at this size, CPU per item since the last."""
    sizes, cpu, wall = figure.sizes, figure.cpu_ms, figure.wall_ms
    text = f"{cpu[row]:.1f} ({wall[row]:.0f})"
    if row:
        step = (cpu[row] - cpu[row - 1]) / (sizes[row] - sizes[row - 1])
        text += f" · {1000 * step:.0f} µs"
    return text


def report(chosen: list[Series], figures: dict[str, Figure], runs: int) -> str:
    """One Markdown table per series: vigie's checks beside their C twins."""
    lines = [
        "# Scaling: cost against the size of the work",
        "",
        f"Measured by `make bench` (`bench/scaling.py`) on {time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} CPUs shared with other work (CPU time is the figure to read; wall "
        f"time moves with the load). Each command ran {runs} times per size, interleaved; "
        "medians of CPU (user + system of the child and what it reaped, from wait4) and "
        "wall; after the dot, the CPU of one more item since the size above. Per item below "
        "each table: the least-squares slope of CPU over all sizes. The state column "
        "shows that every run judged the work (a run that gave up early would be UNKNOWN). "
        "Plot: [scaling.svg](scaling.svg).",
    ]
    for each in chosen:
        labels = [label for label, figure in figures.items() if figure.series == each.name]
        lines += ["", f"## {each.name} (per {each.item})", ""]
        heads = " | ".join(f"`{label}` CPU ms (wall) · per item" for label in labels)
        lines.append(f"| size | {heads} | states |")
        lines.append("|---:|" + "---:|" * len(labels) + "---|")
        for row, size in enumerate(each.sizes):
            cells = [cell(figures[label], row) for label in labels]
            shown = ", ".join(f"{label} {figures[label].states[row]}" for label in labels)
            lines.append(f"| {size} | " + " | ".join(cells) + f" | {shown} |")
        slopes = {label: per_item_us(figures[label].sizes, figures[label].cpu_ms)
                  for label in labels}  # fmt: skip
        lines += ["", "Per " + each.item + ": " + ", ".join(
            f"`{label}` {slope:.1f} µs" for label, slope in slopes.items()) + "."]  # fmt: skip
        twins = [(label, twin) for label in labels if not label.startswith("C ")
                 for twin in labels[labels.index(label) + 1:labels.index(label) + 2]
                 if twin.startswith("C ")]  # fmt: skip
        for label, twin in twins:
            ratio = slopes[label] / slopes[twin] if slopes[twin] > 0 else float("nan")
            lines.append(f"`{label}` per {each.item}: {ratio:.2f} × `{twin}`'s.")
    return "\n".join(lines) + "\n"


def main() -> None:
    """``make bench``'s scaling part."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--only", action="append", help="series to run (default: all)")
    parser.add_argument("--json", type=Path, help="also write the figures here, for plot.py")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("scaling.py needs root: namespaces, mounts and links")
    chosen = [each for each in series(dnsbl_server())
              if not args.only or each.name.split()[0] in args.only]  # fmt: skip
    root = Path(tempfile.mkdtemp(prefix="vigie-scale-"))
    try:
        with prepared(chosen, root) as built:
            figures = measure(built, args.runs)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        data = {label: vars(figure) for label, figure in figures.items()}
        args.json.write_text(json.dumps(data, indent=1) + "\n")
    sys.stdout.write(report(chosen, figures, args.runs))


if __name__ == "__main__":
    main()
