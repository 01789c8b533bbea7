"""``drp verify files|db``: prove a backup is still what was written, by its checksums.

Files: the snapshot's ``COMPLETE`` must name it and seal its ``MANIFEST`` (sha256 and
size); the full listing of ``data/`` must match the manifest (missing, unlisted, resized
or retouched files, broken hard links); and the files are hashed again (nothing is reused
here) and compared with the manifest. ``--rolling DAYS`` hashes only the day's share of
the files (a path's share is fixed by a checksum of its name, so every file is read once
in DAYS consecutive days, as restic's ``--read-data-subset``) while still checking the
marker and the whole listing: a daily timer proves every snapshot's content within DAYS
days at 1/DAYS of the cost. Each verification of files leaves a status record
(``verify.<environment>.<target>``) that check_backup judges: a failed one is critical, an
old one (no verification for longer than its ``--*-verified`` range) is reported.
Dumps: ``sha256sum -c`` of the set's ``<stamp>.sha256`` on the target, which names every
artifact that is missing or differs. Default: the newest complete backup on each target.
Exit 1 when anything differs.
"""

from __future__ import annotations

import logging
import zlib

from checks.core.units import human_bytes
from drptools import layout, manifest, status
from drptools.actions import common
from drptools.errors import Failure, Mismatch
from drptools.procedures.common import sealed_manifest
from drptools.targets import Place

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from drptools.config import Config, Database

log = logging.getLogger("drptools")
#: Problems of a failed verification kept in its status record (all are printed).
PROBLEMS_KEPT = 20


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


def in_share(path: bytes, days: int, day: int) -> bool:
    """True when ``path`` is read on ``day`` by a rolling verification over ``days`` days."""
    return zlib.crc32(path) % days == day % days


class Share:
    """Which files a verification reads: all (``days`` 1), or one day's share of them."""

    __slots__ = ("day", "days")

    def __init__(self, days: int = 1, day: int = 0) -> None:
        self.days = days
        self.day = day

    def chosen(self, keys: list[bytes]) -> list[bytes]:
        """The keys whose files are read this time."""
        if self.days == 1:
            return keys
        return [key for key in keys if in_share(manifest.key_path(key), self.days, self.day)]

    def __str__(self) -> str:
        return "every file" if self.days == 1 else f"share {self.day % self.days + 1}/{self.days}"


def verify_snapshot(
    place: Place, environment: str, wanted: str | None, share: Share | None = None
) -> tuple[str, list[str], dict[str, object]]:
    """The snapshot verified on one target, its problems (none: intact) and figures."""
    share = share or Share()
    directory = layout.files_dir(place.root, environment)
    snapshots = layout.classify_snapshots(place.listing(directory, 2) or set())
    snapshot = choose(snapshots, wanted, f"snapshot of {environment} on {place}")
    path = f"{directory}/{snapshot.name}"
    text, sealed = sealed_manifest(place, path, snapshot.stamp)
    problems = []
    if sealed is not None:
        problems.append(f"{path}: {sealed}")
    if text is None:
        return snapshot.name, problems, {}
    try:
        entries = manifest.parse_manifest(text)
    except manifest.ManifestError as error:
        return snapshot.name, [*problems, f"{path}/{layout.MANIFEST}: {error}"], {}
    data = f"{path}/{layout.DATA}"
    if place.listing(data, 0) is None:
        return snapshot.name, [*problems, f"{data} is missing"], {}
    keys, sizes = manifest.list_files(place, data)
    read = share.chosen(keys)
    hashes = manifest.hash_keys(place, data, read)
    problems += manifest.compare(
        entries, keys, {manifest.key_path(key): digest for key, digest in hashes.items()}
    )
    read_bytes = sum(manifest.key_size(key) for key in read)
    verdict = f"{len(problems)} problem(s)" if problems else "intact"
    print(
        f"{place.name}: {environment} files {snapshot.name}: {verdict}, {len(keys)} files "
        f"({human_bytes(sum(sizes))}) listed, {len(read)} ({human_bytes(read_bytes)}) hashed "
        f"({share}), checked against MANIFEST"
    )
    figures: dict[str, object] = {
        "files": len(keys),
        "bytes": sum(sizes),
        "hashed_files": len(read),
        "hashed_bytes": read_bytes,
    }
    return snapshot.name, problems, figures


def verify_files(
    config: Config, environment: str, target: str, wanted: str | None, share: Share
) -> list[str]:
    """Verify one environment's snapshot on one target, leaving a status record.

    The record of a verification that found problems lists the first of them
    (``problems``): check_backup tells a damaged snapshot from a verification that
    could not run (an unreachable target) by it.
    """
    clock = common.Clock()
    fields: dict[str, object] = {
        "what": "verify",
        "environment": environment,
        "target": target,
        "location": str(config.targets[target].location),
        "share": str(share),
        "days": share.days,
    }
    record = status.Run(status.record_name("verify", environment, target), fields, clock.started)
    try:
        with Place(config.targets[target]) as place:
            name, problems, figures = verify_snapshot(place, environment, wanted, share)
    except BaseException as error:
        record.failed(clock.finished(), str(error) or type(error).__name__)
        raise
    if problems:
        record.record.update(snapshot=name, problems=problems[:PROBLEMS_KEPT], **figures)
        record.failed(clock.finished(), f"{name}: {len(problems)} problem(s): {problems[0]}")
    else:
        record.succeeded(clock.finished(), snapshot=name, **figures)
    return [f"{target}: {problem}" for problem in problems]


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
    problems: list[str] = []
    if args.handler == "verify_files":
        day = layout.local_day(layout.now())
        share = Share(args.rolling, day) if args.rolling else Share()
        if args.snapshot and len(args.environments) != 1:
            raise Failure("--snapshot needs exactly one ENVIRONMENT")
        for environment in common.environments(config, args.environments):
            for target in common.targets(config, args.target):
                problems += verify_files(config, environment.name, target, args.snapshot, share)
    else:
        (environment,) = common.environments(config, [args.environment])
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
