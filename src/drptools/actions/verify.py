"""``drp verify files|db``: prove a backup is still what was written, by its checksums.

Files: the snapshot's ``MANIFEST`` must match the sha256 its ``COMPLETE`` marker recorded,
and every regular file in it is hashed again (nothing is reused here) and compared with
the manifest: missing, changed, unlisted or corrupted files are named, one per line.
Dumps: ``sha256sum -c`` of the set's ``<stamp>.sha256`` on the target, which names every
artifact that is missing or differs. Default: the newest complete backup on each target.
Exit 1 when anything differs.
"""

from __future__ import annotations

import hashlib
import json
import logging

from checks.core.units import human_bytes
from drptools import layout, manifest
from drptools.actions import common
from drptools.errors import Failure, Mismatch
from drptools.targets import Place

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from drptools.config import Config, Database

log = logging.getLogger("drptools")


def choose(snapshots: list[layout.Snapshot], wanted: str | None, what: str) -> layout.Snapshot:
    """The snapshot (or dump set) named ``wanted``, or the newest complete one."""
    if wanted is None:
        latest = layout.latest_complete(snapshots)
        if latest is None:
            raise Failure(f"no complete {what}")
        return latest
    for snapshot in snapshots:
        if wanted in (snapshot.name, snapshot.stamp):
            if snapshot.state != layout.COMPLETE:
                raise Failure(f"{what} {wanted} is {snapshot.state}, not complete")
            return snapshot
    raise Failure(f"no {what} {wanted}")


def verify_snapshot(place: Place, environment: str, wanted: str | None) -> list[str]:
    """Every problem of one snapshot on one target (empty: it is intact)."""
    directory = layout.files_dir(place.root, environment)
    snapshots = layout.classify_snapshots(place.listing(directory, 2) or set())
    snapshot = choose(snapshots, wanted, f"snapshot of {environment} on {place}")
    path = f"{directory}/{snapshot.name}"
    text = place.read(f"{path}/{layout.MANIFEST}")
    if text is None:
        return [f"{path}/{layout.MANIFEST} is missing"]
    problems = []
    try:
        marker = json.loads(place.read(f"{path}/{layout.MARKER}") or b"")
    except ValueError:
        marker = {}
    if (
        not isinstance(marker, dict)
        or marker.get("manifest_sha256") != hashlib.sha256(text).hexdigest()
    ):
        problems.append(f"{path}/{layout.MANIFEST} does not match the sha256 in its COMPLETE")
    try:
        entries = manifest.parse_manifest(text)
    except manifest.ManifestError as error:
        return [*problems, f"{path}/{layout.MANIFEST}: {error}"]
    data = f"{path}/{layout.DATA}"
    keys, sizes = manifest.list_files(place, data)
    hashes = manifest.hash_files(place, data, [manifest.key_path(key) for key in keys])
    problems += manifest.compare(entries, keys, hashes)
    size = sum(sizes)
    verdict = f"{len(problems)} problem(s)" if problems else "intact"
    print(
        f"{place.name}: {environment} files {snapshot.name}: {verdict}, "
        f"{len(keys)} files ({human_bytes(size)}) checked against MANIFEST"
    )
    return problems


def parse_check(output: str) -> tuple[list[str], list[str]]:
    """Files ``sha256sum -c`` found good, and its lines about the others."""
    good, bad = [], []
    for line in output.splitlines():
        name, _, verdict = line.rpartition(": ")
        if not name:
            continue
        if verdict == "OK":
            good.append(name)
        else:
            bad.append(line)
    return good, bad


def verify_dump(place: Place, database: Database, wanted: str | None) -> list[str]:
    """Every problem of one dump set on one target."""
    directory = layout.dumps_dir(place.root, database.environment, database.key)
    names = place.listing(directory, 1) or set()
    dump = choose(
        layout.classify_dumps(names), wanted, f"dump of {database.environment}/{database.key} "
        f"on {place}"
    )  # fmt: skip
    result = place.run(
        ["sha256sum", "-c", "--strict", dump.stamp + layout.CHECKSUMS],
        f"checking {directory}/{dump.stamp}{layout.CHECKSUMS} on {place}",
        cwd=directory,
        ok=(0, 1),
    )
    good, bad = parse_check(result.stdout.decode(errors="replace"))
    if result.returncode and not bad:
        bad.append(f"{dump.stamp}{layout.CHECKSUMS}: {result.stderr.strip() or 'unreadable'}")
    if not good and not bad:
        bad.append(f"{dump.stamp}{layout.CHECKSUMS} lists no file")
    verdict = f"{len(bad)} problem(s)" if bad else "intact"
    print(
        f"{place.name}: {database.environment} db {database.key} {dump.stamp}: {verdict}, "
        f"{len(good)} file(s) match {dump.stamp}{layout.CHECKSUMS}"
    )
    return [f"{directory}/{line}" for line in bad]


def main(config: Config, args: argparse.Namespace) -> int:
    """Verify on each chosen target; print every problem; exit 1 if any."""
    (environment,) = common.environments(config, [args.environment])
    problems: list[str] = []
    if args.handler == "verify_files":
        for target in common.targets(config, args.target):
            with Place(config.targets[target]) as place:
                problems += [f"{target}: {p}" for p in verify_snapshot(
                    place, environment.name, args.snapshot
                )]  # fmt: skip
    else:
        databases = (
            [common.database(environment, args.database)]
            if args.database
            else list(environment.databases)
        )
        if not databases:
            raise Failure(f"environment {environment.name!r} has no databases")
        for database in databases:
            for target in database.targets:
                if args.target and target != args.target:
                    continue
                with Place(config.targets[target]) as place:
                    problems += [f"{target}: {p}" for p in verify_dump(place, database, args.dump)]
    for problem in problems:
        print(f"  {problem}")
    if problems:
        raise Mismatch(f"verify: {len(problems)} problem(s) found; listed above")
    return 0
