"""``drp backup db`` beside the bare ``dump | zstd`` to a file, on a real MariaDB and PostgreSQL.

PERFORMANCE.md's budget: a database backup by drp takes at most 1.05 × the time of the
bare dump tool doing the same work. The servers are the tests' own (tests/servers/),
started here on loopback and filled with a shop of about a million rows. Like with like:
drp's dump streams through ``zstd -q -c -T0`` (MariaDB's SQL, PostgreSQL's globals; the
custom-format ``pg_dump -Fc`` is stored as it comes) into ``dd conv=fsync`` on the
target, then writes its checksum file, so the bare pipeline runs the same dump tool with
the same options into a file and ends with ``sync FILE`` (an fsync of the file, as
``conv=fsync`` does); a second bare row also ends as drp's commit does, with two
``sync -f`` of the target's filesystem (the renames made durable). drp writes to one
target (``--target A``), as the bare pipeline writes one file. Each round runs all,
interleaved; medians of wall and CPU (user + system of the command and what it reaped,
from wait4). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from backup_files import measure

BIN = Path(sys.executable).parent
BUDGET = 1.05
ROOT = Path(__file__).resolve().parent.parent
COMPRESS = "zstd -q -c -T0"  # drptools.engines.common.COMPRESSOR
#: mariadb-dump's options in drp (drptools.engines.mariadb.artifacts).
MARIADB_DUMP = "--single-transaction --quick --routines --triggers --events --databases shop"
SHOP_MARIADB = """
CREATE DATABASE shop;
USE shop;
CREATE TABLE orders (id INT PRIMARY KEY, customer INT, total DECIMAL(10,2), note TEXT)
  ENGINE=InnoDB;
INSERT INTO orders SELECT seq, seq % 5000, seq / 7, CONCAT('order line ', seq, ' ', MD5(seq))
  FROM seq_1_to_{rows};
"""
SHOP_POSTGRESQL = """
CREATE DATABASE shop;
\\c shop
CREATE TABLE orders (id INT PRIMARY KEY, customer INT, total NUMERIC(10,2), note TEXT);
INSERT INTO orders SELECT n, n % 5000, n / 7.0, 'order line ' || n || ' ' || md5(n::text)
  FROM generate_series(1, {rows}) n;
"""


def config(work: Path, database: str) -> Path:
    """A drp.toml with local targets A and B and the database ``shop`` of ``www``."""
    for name in ("A", "B", "src"):
        (work / name).mkdir(exist_ok=True)
    path = work / "drp.toml"
    path.write_text(
        f'datacenter = "dc-1"\n[targets.A]\nlocation = "{work / "A"}"\ndatacenter = "dc-1"\n'
        f'[targets.B]\nlocation = "{work / "B"}"\ndatacenter = "dc-2"\n'
        f'[environments.www]\npaths = ["{work / "src"}"]\n'
        f"[environments.www.databases.shop]\n{database}"
    )
    return path


def mariadb(stack: ExitStack, work: Path, rows: int) -> tuple[Path, str]:
    """A MariaDB with the shop; the drp configuration and the bare pipeline."""
    from tests.servers import mariadb as servers

    server, process = servers.start_server(work / "mariadb")
    stack.callback(servers.stop_servers, [process])
    server.sql(SHOP_MARIADB.format(rows=rows))
    options = work / "client.cnf"
    escaped = server.password.replace("\\", "\\\\").replace('"', '\\"')
    options.write_text(f'[client]\nuser = {server.user}\npassword = "{escaped}"\n')
    options.chmod(0o600)
    drp = config(work, f'engine = "mariadb"\nhost = "{server.host}"\nport = {server.port}\n'
                 f'user = "{server.user}"\npassword_file = "{server.password_file}"\n')  # fmt: skip
    out = work / "bare.sql.zst"
    bare = (f"mariadb-dump --defaults-extra-file={options} --host={server.host} "
            f"--protocol=TCP --port={server.port} {MARIADB_DUMP} | {COMPRESS} > {out} "
            f"&& sync {out}")  # fmt: skip
    return drp, bare


def postgresql(stack: ExitStack, work: Path, rows: int) -> tuple[Path, str]:
    """A PostgreSQL with the shop; the drp configuration and the bare pipeline."""
    from tests.servers import postgresql as servers

    binaries = servers.bin_dir()
    assert binaries is not None
    server = servers.start_server(binaries)
    stack.callback(servers.remove_server, server)
    server.psql(SHOP_POSTGRESQL.format(rows=rows))
    passfile = work / "pgpass"
    passfile.write_text(server.pgpass_line())
    passfile.chmod(0o600)
    os.environ["PGPASSFILE"] = str(passfile)
    drp = config(work, f'engine = "postgresql"\nname = "shop"\nhost = "{server.host}"\n'
                 f'port = {server.port}\nuser = "{server.user}"\n'
                 f'password_file = "{server.password_file}"\n')  # fmt: skip
    login = f"--no-password --host={server.host} --port={server.port} --username={server.user}"
    dump, globals_ = work / "bare.dump", work / "bare.globals.sql.zst"
    # pg_dump and pg_dumpall from PATH, as drp runs them (on Debian: postgresql-common's
    # pg_wrapper, a Perl script that costs about 40 ms a call, before the real tool).
    bare = (f"pg_dump --format=custom {login} --dbname=shop > {dump} && "
            f"pg_dumpall --globals-only {login} | {COMPRESS} > {globals_} && "
            f"sync {dump} {globals_}")  # fmt: skip
    return drp, bare


def run(engine: str, work: Path, rows: int, rounds: int) -> str:
    """One table row pair: the bare pipeline and drp, interleaved ``rounds`` times."""
    make = {"mariadb": mariadb, "postgresql": postgresql}[engine]
    with ExitStack() as stack:
        drp_config, bare = make(stack, work, rows)
        environment = dict(os.environ, VIGIE_STATE_DIR=str(work / "state"), TZ="UTC")
        drp = [str(BIN / "drp"), "-c", str(drp_config), "backup", "db", "--target", "A",
               "--no-prune"]  # fmt: skip
        shell = ["/bin/sh", "-c", bare]
        # drp's commit flushes the target's whole filesystem twice (``sync -f``: the renames
        # made durable, drptools.targets.Place.sync); the bare pipeline the same way:
        flushed = ["/bin/sh", "-c", f"{bare} && sync -f {work} && sync -f {work}"]
        now = int(time.time())
        samples: dict[str, list[tuple[float, float]]] = {
            "bare": [], "flushed": [], "drp": [], "plan": []
        }  # fmt: skip
        for round_ in range(rounds + 1):  # the first round warms the server's caches
            bare_run = measure(shell, environment)
            flushed_run = measure(flushed, environment)
            environment["VIGIE_DRP_NOW"] = str(now + round_ * 3600)
            drp_run = measure(drp, environment)
            plan_run = measure([*drp, "--dry-run"], environment)
            if round_:
                samples["bare"].append(bare_run)
                samples["flushed"].append(flushed_run)
                samples["drp"].append(drp_run)
                samples["plan"].append(plan_run)
        written = sum(p.stat().st_size for p in (work / "A").rglob("*") if p.is_file())
        size = written / (rounds + 1)
    wall = {name: statistics.median(w for w, _ in values) for name, values in samples.items()}
    cpu = {name: statistics.median(c for _, c in values) for name, values in samples.items()}
    ratio = wall["drp"] / wall["bare"]
    verdict = "within" if ratio <= BUDGET else "**over**"
    shown = bare.replace(str(work), "<work>")
    return (
        f"| {engine}: bare `{shlex.split(shown)[0].rsplit('/', 1)[-1]} … \\| zstd`, then "
        f"`sync FILE` | {wall['bare']:.2f} | {cpu['bare']:.2f} | 1.00 | {size / 2**20:.0f} | | |\n"
        f"| {engine}: the same, then `sync -f` of the filesystem twice, as drp's commit | "
        f"{wall['flushed']:.2f} | {cpu['flushed']:.2f} | {wall['flushed'] / wall['bare']:.3f} "
        "| | | |\n"
        f"| {engine}: `drp backup db --target A` | {wall['drp']:.2f} | {cpu['drp']:.2f} | "
        f"{ratio:.3f} | | ≤ {BUDGET}× | {verdict} |\n"
        f"| {engine}: its fixed part, `drp backup db --target A --dry-run` | {wall['plan']:.2f} "
        f"| {cpu['plan']:.2f} | | | | |"
    )


def main() -> None:
    """Start each server, fill it, measure ``--rounds`` rounds, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--engine", action="append", choices=("mariadb", "postgresql"))
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("backup_db.py needs root (it starts the servers as the tests do)")
    sys.path.insert(0, str(ROOT))
    rows = []
    for engine in args.engine or ("mariadb", "postgresql"):
        work = Path(tempfile.mkdtemp(prefix=f"vigie-bench-db-{engine}-"))
        try:
            rows.append(run(engine, work, args.rows, args.rounds))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print("\n".join([
        "# drp backup db: beside the bare dump",
        "",
        f"A shop of {args.rows} rows on a real server on loopback; {args.rounds} rounds, "
        "interleaved, after one that warms the caches; medians. Both sides end with an "
        "fsync of what they wrote (drp: `dd conv=fsync` and its checksum file; bare: "
        "`sync FILE`). drp's cost above the bare dump is mostly fixed (interpreter, "
        "configuration, plan, lock, journal, checksum file and their fsyncs): the dry-run "
        "row shows the part of it that runs no dump; the ratio falls as the dump grows.",
        "",
        "| command | wall s | CPU s | × bare (wall) | dump MiB per round | budget | verdict |",
        "|---|---:|---:|---:|---:|---|---|",
        *rows,
    ]))  # fmt: skip


if __name__ == "__main__":
    main()
