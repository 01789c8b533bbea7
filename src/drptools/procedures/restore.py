"""The steps that bring an environment up on the DRP server from its backups, proven.

A DRP activation (:mod:`drptools.actions.activate`) is a runbook (:mod:`drptools.runbook`)
of these steps, per environment, in this order:

1. :class:`VerifyBackup`: the chosen snapshot's seal and listing against its MANIFEST,
   the sha256 of every file the DRP server lacks (:class:`~drptools.procedures.verify.
   Lacking`), and each dump set against its ``.sha256``, on the target, before anything
   is copied (a restore of a damaged backup is the worst way to learn of it);
2. :class:`CopyFiles`: rsync from the target's snapshot to the DRP server, as the backup
   took it (``-a -H -A -X -S --numeric-ids``, times to the nanosecond), ``--delete``
   within the environment's paths, so a pre-staged DRP moves only the delta;
3. :class:`ImportDatabase`: the dump set fetched next to drp, checked again, imported
   into the DRP server's database server (the engine's ``restore``), and every table's
   rows and checksum proven against the dump (:mod:`drptools.engines.fingerprint`);
4. :class:`VerifyFiles`: the files on the DRP server listed and hashed again and
   compared with the MANIFEST: the restore proves it restored what the backup holds (a
   file unchanged since the last proof, ctime included, keeps that proof's hash:
   :mod:`drptools.verified`);
5. :class:`SwitchDns`: the environment's names moved from production's addresses to the
   DRP's by compare-and-swap, then proven on every authoritative server.

The choice of backups is made once, when the runbook is built, and journaled with it
(:func:`choose_backups`), so a resumed run restores the same snapshot and dumps.
"""

from __future__ import annotations

import logging
import os
import time

from drptools import layout, manifest, rsync
from drptools.config.model import Location, Target
from drptools.errors import Failure
from drptools.procedures.common import sealed_manifest
from drptools.procedures.verify import Lacking, check_dump_set, verify_dump, verify_snapshot
from drptools.runbook import Progress, Step
from drptools.targets import Place

TYPE_CHECKING = False
if TYPE_CHECKING:
    from drptools.config import Config, Database, Environment
    from drptools.config.model import DrpServer, Side

log = logging.getLogger("drptools")


def drp_place(config: Config) -> Place:
    """The DRP server as a place commands run on (locally or over ssh)."""
    side = _required_drp(config)
    return Place(Target("drp", side.location, side.datacenter, side.ssh_config))


def target_place(config: Config, name: str) -> Place:
    """Backup target ``name`` as the DRP server reaches it (``[drp.targets.X]``)."""
    side = _required_drp(config)
    location, ssh_config = side.targets[name]
    return Place(Target(name, location, config.targets[name].datacenter, ssh_config))


def _required_drp(config: Config) -> DrpServer:
    if config.drp is None:
        raise Failure(f"{config.source} has no [drp] section: where would the DRP run?")
    return config.drp


def _under(root: str, path: str) -> str:
    """Absolute ``path`` of an environment under a side's ``root``."""
    return os.path.normpath(f"{root}/{path}")


# --- choosing the backups ---------------------------------------------------------------


def choose_backups(config: Config, environment: Environment, only: str | None) -> dict[str, object]:
    """The newest complete snapshot of ``environment`` on either target (or on ``only``),
    and with it the newest complete dump set of each database on that target: the
    parameters of its steps, journaled. Failure when no target has a complete one."""
    found = []
    problems = []
    for name in [only] if only else sorted(config.targets):
        try:
            with target_place(config, name) as place:
                directory = layout.files_dir(place.root, environment.name)
                snapshot = layout.latest_complete(
                    layout.classify_snapshots(place.listing(directory, 2) or set())
                )
                if snapshot is None:
                    problems.append(f"{name}: no complete snapshot of {environment.name}")
                    continue
                dumps = {}
                for database in environment.databases:
                    names = place.listing(
                        layout.dumps_dir(place.root, environment.name, database.key)
                    )
                    dump = layout.latest_complete(layout.classify_dumps(names or set()))
                    if dump is None:
                        raise Failure(f"no complete dump of {database.key}")
                    dumps[database.key] = dump.stamp
        except Failure as failure:
            problems.append(f"{name}: {failure}")
            continue
        found.append((snapshot.stamp, name, dumps))
    if not found:
        raise Failure(f"no usable backup of {environment.name}: {'; '.join(problems)}")
    stamp, name, dumps = max(found)  # the newest data; on a tie, B (the other datacenter)
    return {"target": name, "snapshot": stamp, "dumps": dumps}


class Chosen:
    """What one environment is restored from: the target, the snapshot, the dump sets."""

    __slots__ = ("_entries", "_size", "dumps", "environment", "snapshot", "target")

    def __init__(self, environment: Environment, parameters: dict[str, object]) -> None:
        self.environment = environment
        self.target = str(parameters["target"])
        self.snapshot = str(parameters["snapshot"])
        dumps = parameters.get("dumps")
        self.dumps: dict[str, str] = dict(dumps) if isinstance(dumps, dict) else {}
        self._entries: dict[bytes, bytes] | None = None
        self._size: int | None = None

    def size(self, config: Config) -> int | None:
        """The snapshot's bytes, from its MANIFEST on its target (read once); None when
        it cannot be read (the plan then shows no size, the probes say why)."""
        if self._size is None:
            try:
                with target_place(config, self.target) as place:
                    self._size = _size(self.entries(place))
            except Failure:
                return None
        return self._size

    def entries(self, place: Place) -> dict[bytes, bytes]:
        """The snapshot's sealed MANIFEST on ``place`` (its target), read once: a complete
        snapshot never changes, and the plan, the probes and the steps all need it.
        Failure when it is not sealed."""
        if self._entries is None:
            path = self.snapshot_dir(place)
            text, problem = sealed_manifest(place, path, self.snapshot)
            if problem is not None or text is None:
                raise Failure(f"{path} on {place}: {problem or 'no MANIFEST'}")
            self._entries = manifest.parse_manifest(text)
        return self._entries

    def snapshot_dir(self, place: Place) -> str:
        return f"{layout.files_dir(place.root, self.environment.name)}/{self.snapshot}"

    def data_time(self) -> float:
        """When the snapshot's data is from (its stamp)."""
        return layout.parse_stamp(self.snapshot) or 0.0


def _size(entries: dict[bytes, bytes]) -> int:
    return sum(manifest.key_size(key) for key in entries)


# --- the steps --------------------------------------------------------------------------


class VerifyBackup(Step):
    """The snapshot and the dump sets, proven against their checksums on the target."""

    kind = "verify-backup"
    lane = "files"

    def __init__(self, config: Config, chosen: Chosen) -> None:
        self.config, self.chosen = config, chosen
        environment = chosen.environment.name
        self.name = f"verify-backup:{environment}"
        self.title = f"verify {environment}'s backup {chosen.snapshot} on {chosen.target}"

    def describe(self) -> list[str]:
        lines = [f"snapshot {self.chosen.snapshot}: seal and listing of every file, sha256 of "
                 "those the DRP server lacks (all are hashed there after the copy)"]  # fmt: skip
        lines += [f"dump set {key} {stamp}: sha256" for key, stamp in self.chosen.dumps.items()]
        return lines

    def probe(self) -> list[str]:
        try:
            with target_place(self.config, self.chosen.target) as place:
                self.chosen.entries(place)
        except Failure as failure:
            return [str(failure)]
        return []

    def run(self, progress: Progress) -> dict[str, object]:
        problems = []
        side = _required_drp(self.config)
        environment = self.chosen.environment
        with drp_place(self.config) as drp:
            held = listing_below(drp, side.location.path, environment.paths)
        lacking = Lacking({manifest.key_content(key) for key in held})
        with target_place(self.config, self.chosen.target) as place:
            _, found, figures = verify_snapshot(
                place, environment.name, self.chosen.snapshot, lacking
            )
            problems += found
            for database in environment.databases:
                stamp = self.chosen.dumps.get(database.key)
                _, bad, _ = verify_dump(place, database, stamp)
                problems += bad
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise Failure(f"the backup is not intact: {problems[0]}{more}")
        return {"files": figures.get("files"), "hashed_files": figures.get("hashed_files"),
                "hashed_bytes": figures.get("hashed_bytes")}  # fmt: skip


class CopyFiles(Step):
    """rsync of the snapshot's environment paths from the target to the DRP server."""

    kind = "copy-files"
    lane = "files"

    def __init__(self, config: Config, chosen: Chosen) -> None:
        self.config, self.chosen = config, chosen
        environment = chosen.environment.name
        self.name = f"copy-files:{environment}"
        self.title = f"copy {environment}'s files from {chosen.target} to the DRP server"

    def size(self) -> int | None:
        return self.chosen.size(self.config)

    def describe(self) -> list[str]:
        side = _required_drp(self.config)
        return [
            f"{path} -> {_under(str(side.location), path)} on the DRP server (rsync; what "
            "the snapshot does not hold is deleted there)"
            for path in self.chosen.environment.paths
        ]

    def probe(self) -> list[str]:
        side = _required_drp(self.config)
        location, _ = side.targets[self.chosen.target]
        if side.location.is_remote and location.is_remote:
            return [
                f"both the DRP server ({side.location}) and target {self.chosen.target} "
                f"({location}) are remote: run drp on the DRP server"
            ]
        try:
            with target_place(self.config, self.chosen.target) as source:
                self.chosen.entries(source)  # sealed, or nothing is copied from it
        except Failure as failure:
            return [str(failure)]
        try:
            with drp_place(self.config) as place:
                if place.listing(side.location.path, 0) is None:
                    return [f"the DRP root {side.location} does not exist"]
                return self._room(place, side.location.path)
        except Failure as failure:
            return [f"the DRP server: {failure}"]

    def _room(self, place: Place, root: str) -> list[str]:
        """Whether the DRP's filesystem holds the snapshot: free space, plus what the
        environment's paths hold there already (rsync replaces it)."""
        from checks.core.units import human_bytes

        size = self.size() or 0
        paths = [_under(root, path) for path in self.chosen.environment.paths]
        room = place.free_bytes(root) + place.used_bytes(paths)
        if room >= size:
            return []
        return [f"the DRP server has room for {human_bytes(room)} under {root}, the snapshot "
                f"holds {human_bytes(size)}: free space there first"]  # fmt: skip

    def run(self, progress: Progress) -> dict[str, object]:
        side = _required_drp(self.config)
        with (
            target_place(self.config, self.chosen.target) as source,
            drp_place(self.config) as destination,
        ):
            data = f"{self.chosen.snapshot_dir(source)}/{layout.DATA}"
            remote = source if source.remote else destination
            argv = rsync.restore_arguments(
                source.rsync_path(data), self.chosen.environment.paths,
                destination.rsync_path(side.location.path), shell=remote.rsync_shell(),
                preserve=self.config.preserve, fake_super=source.remote and source.uid != 0,
            )  # fmt: skip
            what = f"copying {self.chosen.environment.name} from {source} to the DRP server"
            copy = rsync.snapshot(argv, what)
        size = self.size() or 0
        # What a pre-staged DRP already held is what rsync did not have to send.
        return {"bytes": size, "data_time": self.chosen.data_time(), "moved": copy.transferred,
                "in_place": max(size - copy.transferred, 0)}  # fmt: skip


class VerifyFiles(Step):
    """The environment's files on the DRP server, listed, hashed and compared with the
    MANIFEST: proof that the restore holds what the backup holds."""

    kind = "verify-files"
    lane = "files"

    def __init__(self, config: Config, chosen: Chosen) -> None:
        self.config, self.chosen = config, chosen
        environment = chosen.environment.name
        self.name = f"verify-files:{environment}"
        self.title = f"verify {environment}'s files on the DRP server against the MANIFEST"

    def run(self, progress: Progress) -> dict[str, object]:
        with target_place(self.config, self.chosen.target) as source:
            entries = self.chosen.entries(source)
        from drptools import verified

        side = _required_drp(self.config)
        environment = self.chosen.environment
        with drp_place(self.config) as place:
            keys = listing_below(place, side.location.path, environment.paths)
            hashes, stamps, read = verified.hashes(
                place, side.location.path, environment.name, environment.paths, keys
            )
        found = manifest.compare(
            entries, keys, {manifest.key_path(key): digest for key, digest in hashes.items()}
        )
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise Failure(f"the DRP server's files differ from the MANIFEST: {found[0]}{more}")
        verified.remember(environment.name, stamps)
        return {"files": len(keys), "bytes": _size(entries), "hashed_files": read}


def listing_below(place: Place, root: str, paths: tuple[str, ...]) -> list[bytes]:
    """Listing keys of the regular files below each of ``paths`` under ``root``, their
    paths relative to ``root`` as a snapshot's MANIFEST has them."""
    records = []
    for path in paths:
        relative = path.strip("/").encode()
        if place.listing(_under(root, path), 0) is None:
            continue  # not there (yet, or any more): no file below it
        output = place.list_files(_under(root, path), manifest.LISTING_FORMAT)
        records += [relative + b"/" + record for record in output.split(b"\0") if record]
    keys, _ = manifest.parse_listing(b"".join(record + b"\0" for record in records))
    return keys


class ImportDatabase(Step):
    """A dump set fetched next to drp, its checksums checked, imported on the DRP side."""

    kind = "import-db"
    lane = "databases"

    def __init__(self, config: Config, chosen: Chosen, database: Database, staging: str) -> None:
        self.config, self.chosen, self.database = config, chosen, database
        self.stamp = chosen.dumps[database.key]
        self.staging = staging
        self._bytes: int | None = None
        self.name = f"import-db:{database.environment}:{database.key}"
        self.title = f"import {database.environment}'s database {database.key} ({self.stamp})"

    def _server(self) -> Database:
        side = _required_drp(self.config)
        server = side.databases.get(self.database.engine)
        if server is None:
            raise Failure(f"[drp.databases.{self.database.engine}] is not configured")
        return server.database(self.database)

    def size(self) -> int | None:
        """The dump set's bytes on the target (what is fetched and imported)."""
        if self._bytes is None:
            try:
                with target_place(self.config, self.chosen.target) as place:
                    source = layout.dumps_dir(
                        place.root, self.database.environment, self.database.key
                    )
                    records = place.list_files(source, "%f/%s\\0").split(b"\0")
            except Failure:
                return None
            sizes = [record.rpartition(b"/") for record in records if record]
            self._bytes = sum(int(size) for name, _, size in sizes
                              if name.startswith(self.stamp.encode()))  # fmt: skip
        return self._bytes

    def describe(self) -> list[str]:
        return [f"dump set {self.stamp} from {self.chosen.target}, replacing "
                f"{self.database.name} on the DRP's {self.database.engine} server; then every "
                "table's rows and checksum proven against the dump"]  # fmt: skip

    def probe(self) -> list[str]:
        """The DRP's server up, and not older than the one the dump was made on."""
        from drptools.engines import versions

        try:
            server = self._server()
            running = versions.server_version(server)
            with target_place(self.config, self.chosen.target) as place:
                source = layout.dumps_dir(place.root, self.database.environment, self.database.key)
                suffix = versions.MAIN_SUFFIX.get(self.database.engine, ".sql.zst")
                header = place.head(f"{source}/{self.stamp}{suffix}", versions.HEADER_BYTES,
                                    decompress=suffix.endswith(".zst"))  # fmt: skip
        except Failure as failure:
            return [f"the DRP's {self.database.engine} server: {failure}"]
        found = versions.problem(
            self.database.engine, versions.dump_version(self.database.engine, header), running
        )
        return [found] if found else []

    def run(self, progress: Progress) -> dict[str, object]:
        from concurrent.futures import ThreadPoolExecutor

        from drptools import engines
        from drptools.engines import fingerprint

        directory = os.path.join(self.staging, self.database.environment, self.database.key)
        files = fetch_dump_set(
            self.config, self.chosen.target, self.database, self.stamp, directory
        )
        target = self._server()
        engines.drop(target)
        # The clients stop at the first error, but a dump can be whole and still not
        # land whole: every table's rows and checksum are proven against the dump itself,
        # the dump's side read while the clients import it.
        started = time.monotonic()
        with ThreadPoolExecutor(1) as reader:
            expected = reader.submit(fingerprint.of_dump, target, files)
            engines.restore(target, files)
            imported = time.monotonic()
            contents = fingerprint.matches(target, expected.result())
        size = sum(os.path.getsize(path) for path in files.values())
        # What the proof costs beside the import, journaled for whoever plans the RTO.
        return {"bytes": size, "data_time": layout.parse_stamp(self.stamp) or 0.0,
                "tables": len(contents.tables), "rows": contents.rows,
                "import_seconds": round(imported - started, 3),
                "proof_seconds": round(time.monotonic() - imported, 3)}  # fmt: skip


def fetch_dump_set(
    config: Config, target: str, database: Database, stamp: str, directory: str
) -> dict[str, str]:
    """Dump set ``stamp`` of ``database`` fetched from ``target`` into ``directory`` (made
    0700) and checked there against its ``.sha256``: its files by suffix, as the engines'
    ``restore`` takes them. Failure when it is not intact once here."""
    from drptools import execute

    os.makedirs(directory, mode=0o700, exist_ok=True)
    with target_place(config, target) as place:
        source = layout.dumps_dir(place.root, database.environment, database.key)
        members = layout.dump_members(place.listing(source) or set(), stamp)
        argv = ("rsync", "-a", *place.rsync_shell(), "--",
                *(place.rsync_path(f"{source}/{name}") for name in members),
                directory + "/")  # fmt: skip
        execute.run(argv, f"fetching dump set {stamp} from {place}")
    with Place(Target("staging", Location(directory), "", None)) as here:
        _, bad = check_dump_set(here, directory, stamp)
    if bad:
        raise Failure(f"the fetched dump set {stamp} is not intact: {bad[0]}")
    return dump_files(directory, stamp)


def dump_files(directory: str, stamp: str) -> dict[str, str]:
    """The files of dump set ``stamp`` in ``directory``, by suffix (its ``.sha256`` left
    out), as the engines' ``restore`` takes them."""
    return {
        name[len(stamp) :]: os.path.join(directory, name)
        for name in sorted(os.listdir(directory))
        if name.startswith(stamp) and not name.endswith(layout.CHECKSUMS)
    }


class SwitchDns(Step):
    """The environment's names moved from one side's addresses to the other's, proven on
    every authoritative server. ``ends_outage``: the RTO clock stops when it is done."""

    kind = "switch-dns"
    ends_outage = True

    def __init__(self, config: Config, environment: str, old: Side, new: Side) -> None:
        if config.dns is None:
            raise Failure(f"{config.source} has no [dns] section")
        self.dns, self.environment = config.dns, environment
        self.names = config.dns.records.get(environment, ())
        self.old, self.new = old, new
        self.name = f"switch-dns:{environment}"
        side = "the DRP server's" if new.name == "drp" else f"{new.name}'s"
        self.title = f"switch {environment}'s DNS to {side} addresses"

    def describe(self) -> list[str]:
        from drptools import dns

        old, new = dns.Addresses.of(self.old.addresses), dns.Addresses.of(self.new.addresses)
        return [f"{name}: {old} -> {new} (compare-and-swap at {self.dns.primary}, then proven "
                "on every authoritative server)" for name in self.names]  # fmt: skip

    def probe(self) -> list[str]:
        """The prerequisite-only update for each name (or already switched), and the TTL."""
        from drptools import dns

        old, new = dns.Addresses.of(self.old.addresses), dns.Addresses.of(self.new.addresses)
        problems = []
        for name in self.names:
            try:
                held = dns.held(self.dns, self.dns.primary, name)
                if held == new:
                    continue
                dns.precheck(self.dns, name, old)
            except Failure as failure:
                problems.append(str(failure))
                continue
            if held.ttl is not None and held.ttl > self.dns.ttl_warning:
                log.warning(
                    "%s: TTL %d s is above ttl_warning_seconds (%d): resolvers may keep the old "
                    "address that long after the switch", name, held.ttl, self.dns.ttl_warning,
                )  # fmt: skip
        return problems

    def done(self) -> bool:
        from drptools import dns

        new = dns.Addresses.of(self.new.addresses)
        return all(dns.held(self.dns, self.dns.primary, name) == new for name in self.names)

    def run(self, progress: Progress) -> dict[str, object]:
        from drptools import dns

        old, new = dns.Addresses.of(self.old.addresses), dns.Addresses.of(self.new.addresses)
        serials = [dns.swap(self.dns, name, old, new, ttl=self.dns.ttl_warning)
                   for name in self.names]  # fmt: skip
        proven = dns.prove(self.dns, self.names, new, max(serials, default=0))
        return {"names": list(self.names), "servers": proven, "old": str(old), "new": str(new)}
