"""``drp backup files`` on an unchanged tree, beside a bare ``rsync -a --link-dest``.

PERFORMANCE.md's budget: on an unchanged tree of 100 000 small files, a snapshot by drp
(rsync, then the manifest built from the previous one without re-reading any file, the
COMPLETE marker, the flushes, the rename and the retention pass) takes at most 1.2 × the
time of the bare rsync that makes the same hard-link snapshot. Each round runs both,
interleaved so that drift of a shared machine hits both alike, each linking to its own
previous snapshot; ``sync`` runs before every measured command so neither inherits the
other's dirty pages. Prints a Markdown table (wall and CPU medians, from wait4).

The bare rsync writes its snapshots at the depth drp does (``<target>/www/files/<n>/data``):
rsync resolves the ``--link-dest`` path of every file from the root, so each directory
level costs 100 000 path lookups more (measured here: 2.7 s into ``<work>/bare/<n>``
against 3.1 s at drp's depth, same files, same machine). A second row shows that
shallow bare rsync, for the record, and a third the bare rsync with the options drp
gives it to keep a snapshot exact (``--hard-links --sparse --acls --xattrs
--numeric-ids --modify-window=-1``): what those cost is rsync's, not drp's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
BUDGET = 1.2
#: The options drp adds to keep a snapshot exact (see drptools.rsync).
EXACT = ("--hard-links", "--sparse", "--acls", "--xattrs", "--numeric-ids", "--modify-window=-1")


def make_tree(root: Path, files: int, per_directory: int = 500) -> None:
    """``files`` files of 16 to 80 bytes in directories of ``per_directory``."""
    for index in range(files):
        directory = root / f"d{index // per_directory:04}"
        if index % per_directory == 0:
            directory.mkdir(parents=True)
        (directory / f"f{index:06}").write_bytes(b"x" * (16 + index % 64))


def measure(argv: list[str], environment: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system of the command and the children it reaped) seconds."""
    subprocess.run(["sync"], check=True)
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.execve(argv[0], argv, environment)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    """Build the tree, seed both chains, measure ``--rounds`` rounds, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--dir", type=Path, help="work directory (default: a new one in /tmp)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vigie-bench-drp-", dir=args.dir))
    try:
        rows = run(work, args.files, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(rows))


def run(work: Path, files: int, rounds: int) -> list[str]:
    """The measurements, as Markdown lines."""
    source = work / "srv" / "www"
    make_tree(source, files)
    for name in ("A", "B", "bare", "bare-deep", "exact", "state"):
        (work / name).mkdir()
    config = work / "drp.toml"
    config.write_text(
        f'datacenter = "dc-1"\n[targets.A]\nlocation = "{work}/A"\ndatacenter = "dc-1"\n'
        f'[targets.B]\nlocation = "{work}/B"\ndatacenter = "dc-2"\n'
        f'[environments.www]\npaths = ["{source}"]\n'
    )
    environment = dict(os.environ, VIGIE_STATE_DIR=str(work / "state"), TZ="UTC")
    drp = [str(BIN / "drp"), "-c", str(config), "backup", "files", "--target", "A"]
    rsync = ["/usr/bin/rsync", "-a", "--relative"]
    now = int(time.time())
    # Seed: the first snapshot of each chain copies and (for drp) hashes everything.
    environment["VIGIE_DRP_NOW"] = str(now)
    seed_drp = measure(drp, environment)
    seed_rsync = measure([*rsync, str(source), f"{work}/bare/0/"], environment)
    deep = work / "bare-deep" / "www" / "files"
    (deep / "0").mkdir(parents=True)
    measure([*rsync, str(source), f"{deep}/0/data/"], environment)
    exact_chain = work / "exact" / "www" / "files"
    (exact_chain / "0").mkdir(parents=True)
    measure([*rsync, *EXACT, str(source), f"{exact_chain}/0/data/"], environment)
    samples: dict[str, list[tuple[float, float]]] = {
        "rsync": [],
        "shallow": [],
        "exact": [],
        "drp": [],
    }
    for round_ in range(1, rounds + 1):
        (deep / str(round_)).mkdir()  # drp makes its own directories too, but untimed here
        bare = [*rsync, f"--link-dest={deep}/{round_ - 1}/data", str(source),
                f"{deep}/{round_}/data/"]  # fmt: skip
        samples["rsync"].append(measure(bare, environment))
        shallow = [*rsync, f"--link-dest={work}/bare/{round_ - 1}", str(source),
                   f"{work}/bare/{round_}/"]  # fmt: skip
        samples["shallow"].append(measure(shallow, environment))
        (exact_chain / str(round_)).mkdir()
        exact = [*rsync, *EXACT, f"--link-dest={exact_chain}/{round_ - 1}/data", str(source),
                 f"{exact_chain}/{round_}/data/"]  # fmt: skip
        samples["exact"].append(measure(exact, environment))
        environment["VIGIE_DRP_NOW"] = str(now + round_ * 86400)
        samples["drp"].append(measure(drp, environment))
    wall = {name: statistics.median(w for w, _ in values) for name, values in samples.items()}
    cpu = {name: statistics.median(c for _, c in values) for name, values in samples.items()}
    ratio = wall["drp"] / wall["rsync"]
    verdict = "within" if ratio <= BUDGET else "**over**"
    return [
        "# drp backup files: unchanged tree",
        "",
        f"{files} files in {files // 500} directories on {filesystem(work)}; {rounds} rounds, "
        "interleaved; medians. Seed (first snapshot, everything copied and hashed): "
        f"drp {seed_drp[0]:.2f} s, rsync {seed_rsync[0]:.2f} s.",
        "",
        "| command | wall s | CPU s | × bare rsync (wall) | budget | verdict |",
        "|---|---:|---:|---:|---|---|",
        f"| `rsync -a --relative --link-dest=PREVIOUS` (drp's depth) | {wall['rsync']:.3f} | "
        f"{cpu['rsync']:.3f} | 1.00 | | |",
        f"| the same into `<work>/bare/<n>` (2 levels less) | {wall['shallow']:.3f} | "
        f"{cpu['shallow']:.3f} | {wall['shallow'] / wall['rsync']:.2f} | | |",
        f"| the same with drp's `-HSAX --numeric-ids --modify-window=-1` | {wall['exact']:.3f} | "
        f"{cpu['exact']:.3f} | {wall['exact'] / wall['rsync']:.2f} | | |",
        f"| `drp backup files --target A` | {wall['drp']:.3f} | {cpu['drp']:.3f} | "
        f"{ratio:.2f} | ≤ {BUDGET}× | {verdict} |",
    ]


def filesystem(path: Path) -> str:
    result = subprocess.run(
        ["findmnt", "-n", "-o", "FSTYPE", "-T", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return (result.stdout.strip() or "an unknown filesystem") + f" ({path.parent})"


if __name__ == "__main__":
    main()
