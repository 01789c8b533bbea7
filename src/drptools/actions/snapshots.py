"""``drp snapshots``: what each target holds, and in which state.

For every environment on every target: its file snapshots and its databases' dump sets,
oldest first, each ``complete``, ``partial`` (left by an interrupted run: never used as a
base, resumed or pruned by the next run), ``in progress`` (a run holds the target's lock
right now) or ``incomplete`` (a final name without ``COMPLETE``: drp never makes one, so
someone must look). Complete snapshots show the figures of their ``COMPLETE`` marker.
"""

from __future__ import annotations

import json
import logging
import time

from checks.core.units import human_bytes
from drptools import layout
from drptools.actions import common
from drptools.errors import Failure
from drptools.targets import Place

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping

    from drptools.config import Config, Environment

log = logging.getLogger("drptools")


def parse_markers(output: bytes) -> dict[str, dict[str, object]]:
    """Snapshot directory → its ``COMPLETE`` content, from ``find -printf '%P\\0' -exec cat``.

    A marker that is not JSON maps to an empty dict (the snapshot still lists, unfigured).
    """
    markers: dict[str, dict[str, object]] = {}
    rest = output
    while rest:
        path, _, rest = rest.partition(b"\0")
        text, _, rest = rest.partition(b"\n")
        try:
            content = json.loads(text)
        except ValueError:
            content = {}
        markers[path.decode(errors="replace").split("/")[0]] = (
            content if isinstance(content, dict) else {}
        )
    return markers


def parse_sizes(output: bytes) -> dict[str, int]:
    """Name → size from ``find -printf '%P\\t%s\\0'``."""
    sizes = {}
    for record in output.split(b"\0"):
        name, _, size = record.rpartition(b"\t")
        if name and size.isdigit():
            sizes[name.decode(errors="replace")] = int(size)
    return sizes


def survey(place: Place, environment: Environment) -> list[dict[str, object]]:
    """Rows for one environment on one target: file snapshots, then dumps."""
    rows: list[dict[str, object]] = []
    directory = layout.files_dir(place.root, environment.name)
    entries = place.listing(directory, 2)
    if entries is not None:
        running = place.is_locked(f"{directory}/{layout.LOCK}")
        markers = parse_markers(
            place.run(
                ["find", directory, "-mindepth", "2", "-maxdepth", "2", "-name", layout.MARKER,
                 "-printf", "%P\\0", "-exec", "cat", "{}", ";"],
                f"reading the COMPLETE markers of {directory} on {place}",
            ).stdout
        )  # fmt: skip
        for snapshot in layout.classify_snapshots(entries, running):
            marker = markers.get(snapshot.name, {}) if snapshot.state == layout.COMPLETE else {}
            rows.append(_row(place, environment.name, "files", snapshot, marker))
    for database in environment.databases:
        if place.name not in database.targets:
            continue
        directory = layout.dumps_dir(place.root, environment.name, database.key)
        names = place.listing(directory, 1)
        if names is None:
            continue
        running = place.is_locked(f"{directory}/{layout.LOCK}")
        sizes = parse_sizes(
            place.run(
                ["find", directory, "-mindepth", "1", "-maxdepth", "1", "-type", "f",
                 "-printf", "%P\\t%s\\0"],
                f"listing {directory} on {place}",
            ).stdout
        )  # fmt: skip
        for dump in layout.classify_dumps(names, running):
            members = layout.dump_members(names, dump.stamp)
            size = sum(sizes.get(name, 0) for name in members)
            artifacts = [name for name in members if not name.endswith(layout.CHECKSUMS)]
            figures = {"files": len(artifacts), "bytes": size}
            rows.append(_row(place, environment.name, f"db {database.key}", dump, figures))
    return rows


def _row(
    place: Place,
    environment: str,
    kind: str,
    snapshot: layout.Snapshot,
    figures: Mapping[str, object],
) -> dict[str, object]:
    return {
        "target": place.name,
        "environment": environment,
        "kind": kind,
        "name": snapshot.name,
        "state": snapshot.state,
        "time": snapshot.time,
        "files": figures.get("files"),
        "bytes": figures.get("bytes"),
    }


def table(rows: list[dict[str, object]]) -> str:
    """Aligned columns for people."""
    header = ("TARGET", "ENVIRONMENT", "KIND", "NAME", "STATE", "DATA FROM", "FILES", "SIZE")
    cells = [header]
    for row in rows:
        seconds = row["time"]
        when = (
            time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(seconds))
            if isinstance(seconds, float)
            else "-"
        )
        size = row["bytes"]
        cells.append(
            (
                str(row["target"]),
                str(row["environment"]),
                str(row["kind"]),
                str(row["name"]),
                str(row["state"]),
                when,
                "-" if row["files"] is None else str(row["files"]),
                human_bytes(size) if isinstance(size, int) else "-",
            )
        )
    return common.columns(cells)


def main(config: Config, args: argparse.Namespace) -> int:
    """Print every target's snapshots; exit 1 if a target could not be read."""
    rows: list[dict[str, object]] = []
    failed = 0
    environments = common.environments(config, args.environments)
    for target in common.targets(config, args.target):
        try:
            with Place(config.targets[target]) as place:
                for environment in environments:
                    rows += survey(place, environment)
        except Failure as failure:
            log.error("cannot list target %s: %s", target, failure)
            failed = 1
    if args.json:
        print(json.dumps(rows, indent=1))
    elif rows:
        print(table(rows))
    else:
        print("no snapshots or dumps on the target(s)")
    return failed
