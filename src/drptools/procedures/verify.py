"""Proving a backup on its target is still what was written: snapshots and dump sets.

``drp verify`` reports with these and leaves status records; a DRP activation runs them
before it restores anything (:mod:`drptools.procedures.restore`). Nothing here writes.
"""

from __future__ import annotations

import zlib

from checks.core.units import human_bytes
from drptools import layout, manifest
from drptools.errors import Failure
from drptools.procedures.common import sealed_manifest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from drptools.config import Database
    from drptools.targets import Place


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


class Lacking(Share):
    """The files a restore's destination does not hold already as the snapshot has them
    (same path, size and mtime to the nanosecond): those rsync will copy.

    A restore hashes those on the target before copying, so that a damaged file is found
    before it replaces a good one; every file, copied or not, is hashed again where it
    was restored and compared with the MANIFEST (:class:`~drptools.procedures.restore.
    VerifyFiles`), which proves the result. A pre-staged DRP thus reads its tree once,
    not twice, and the delta twice."""

    __slots__ = ("held",)

    def __init__(self, held: set[bytes]) -> None:
        super().__init__()
        #: :func:`manifest.key_content` of every file the destination holds.
        self.held = held

    def chosen(self, keys: list[bytes]) -> list[bytes]:
        return [key for key in keys if manifest.key_content(key) not in self.held]

    def __str__(self) -> str:
        return "the files the destination lacks"


def verify_snapshot(
    place: Place, environment: str, wanted: str | None, share: Share | None = None
) -> tuple[str, list[str], dict[str, object]]:
    """The snapshot verified on one target, its problems (none: intact) and figures
    (``summary``: the line that tells the operator)."""
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
    figures: dict[str, object] = {
        "summary": f"{place.name}: {environment} files {snapshot.name}: {verdict}, "
        f"{len(keys)} files ({human_bytes(sum(sizes))}) listed, {len(read)} "
        f"({human_bytes(read_bytes)}) hashed ({share}), checked against MANIFEST",
        "files": len(keys),
        "bytes": sum(sizes),
        "hashed_files": len(read),
        "hashed_bytes": read_bytes,
    }
    return snapshot.name, problems, figures


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


def check_dump_set(place: Place, directory: str, stamp: str) -> tuple[list[str], list[str]]:
    """The files of dump set ``stamp`` in ``directory`` that match its ``.sha256``, and a
    line for each problem (a file that differs or is missing, no file listed)."""
    result = place.check_sums(directory, stamp + layout.CHECKSUMS)
    good, bad = parse_check(result.stdout.decode(errors="replace"))
    if result.returncode and not bad:
        bad.append(f"{stamp}{layout.CHECKSUMS}: {result.stderr.strip() or 'unreadable'}")
    if not good and not bad:
        bad.append(f"{stamp}{layout.CHECKSUMS} lists no file")
    return good, bad


def verify_dump(place: Place, database: Database, wanted: str | None) -> tuple[str, list[str], str]:
    """The dump set verified on one target, its problems, and the line telling them."""
    directory = layout.dumps_dir(place.root, database.environment, database.key)
    names = place.listing(directory, 1) or set()
    dump = choose(
        layout.classify_dumps(names), wanted, f"dump of {database.environment}/{database.key} "
        f"on {place}"
    )  # fmt: skip
    good, bad = check_dump_set(place, directory, dump.stamp)
    verdict = f"{len(bad)} problem(s)" if bad else "intact"
    summary = (
        f"{place.name}: {database.environment} db {database.key} {dump.stamp}: {verdict}, "
        f"{len(good)} file(s) match {dump.stamp}{layout.CHECKSUMS}"
    )
    return dump.stamp, [f"{directory}/{line}" for line in bad], summary
