"""The steps of a restore drill: the newest backups restored into scratch copies, proven.

A drill (:mod:`drptools.actions.drill`) restores one environment exactly as an
activation would, but only into places that nobody serves from, so that it can run every
week without an order and without anyone noticing:

1. :class:`DrillFiles`: rsync of the snapshot's paths from the target into a scratch
   directory (a fresh one per drill, under ``[drill] scratch``, on this machine or with
   ``[drill] on = "drp"`` on the DRP server; :class:`Scratch`);
2. :class:`DrillDatabase`: each dump set fetched into it, checked against its
   ``.sha256``, and imported into a scratch database on the DRP's database server for
   its engine, named ``<database>_drill`` (:data:`SCRATCH_SUFFIX`): never the database
   the DRP serves, nor production's;
3. :class:`DrillVerify`: the scratch files listed, hashed and compared with the
   MANIFEST, and each scratch database's rows compared with its dump's, table by table
   (:mod:`drptools.engines.fingerprint`).

Each step's time is measured by the runbook: their sum is what an activation would need
for the same data, the drill's RTO estimate. No step touches DNS, production, or the DRP
server's files. Removing the scratch copies is :func:`clean`'s job, run by the action
whatever happened.
"""

from __future__ import annotations

import os

from drptools import layout, manifest, rsync
from drptools.config.model import Database, Location, Target
from drptools.errors import Failure
from drptools.procedures.restore import (
    Chosen,
    drp_place,
    dump_files,
    fetch_dump_set,
    listing_below,
    target_place,
)
from drptools.runbook import Progress, Step
from drptools.targets import Place

TYPE_CHECKING = False
if TYPE_CHECKING:
    from drptools.config import Config
    from drptools.config.model import DrpServer

#: What a drill appends to a database's name for its scratch copy.
SCRATCH_SUFFIX = "_drill"
#: Below a drill's scratch directory: the environment's paths, and the dump sets.
FILES, DUMPS = "files", "dumps"


def _required(config: Config) -> DrpServer:
    if config.drp is None:
        raise Failure(f"{config.source} has no [drp] section")
    return config.drp


def scratch_database(config: Config, database: Database) -> Database:
    """The scratch copy of ``database`` on the DRP's server for its engine; Failure when
    that server is not configured or when the scratch name is a configured database's."""
    if config.drp is None or database.engine not in config.drp.databases:
        raise Failure(f"[drp.databases.{database.engine}] is not configured")
    server = config.drp.databases[database.engine]
    name = database.name + SCRATCH_SUFFIX
    taken = {
        configured.name
        for environment in config.environments.values()
        for configured in environment.databases
    }
    if name in taken:
        raise Failure(f"the scratch name {name} is a configured database: refusing to use it")
    return Database(
        database.environment, database.key, database.engine, name, host=server.host,
        port=server.port, socket=server.socket, user=server.user,
        password_file=server.password_file, targets=database.targets, globals=False,
    )  # fmt: skip


def scratch_directory(parent: str, environment: str) -> str:
    """A fresh directory for one drill under ``parent`` (made 0700 if missing); Failure
    when ``parent`` is not a directory of this user that only it can write: in a shared
    place such as /var/tmp, someone else's directory could be a trap."""
    import stat
    import tempfile

    try:
        os.makedirs(parent, mode=0o700, exist_ok=True)
        held = os.lstat(parent)
    except OSError as error:
        raise Failure(f"[drill] scratch {parent}: {error.strerror}") from None
    if not stat.S_ISDIR(held.st_mode) or held.st_uid != os.geteuid() or held.st_mode & 0o022:
        raise Failure(
            f"[drill] scratch {parent}: not a directory of uid {os.geteuid()} that only it "
            "can write"
        )
    return tempfile.mkdtemp(prefix=f"{environment}.", dir=parent)


def local(directory: str) -> Place:
    """A directory of this machine as a place commands run on."""
    return Place(Target("scratch", Location(directory), "", None))


class Scratch:
    """Where one drill puts its copies: the files below ``files`` (here, or on the DRP
    server with ``on_drp``), the dump sets below ``dumps`` (always here: the database
    clients that import them run here); ``tops``: what :func:`clean` removes."""

    def __init__(self, files: str, dumps: str, on_drp: bool, tops: tuple[str, str]) -> None:
        self.files, self.dumps, self.on_drp, self.tops = files, dumps, on_drp, tops

    def parameters(self) -> dict[str, object]:
        """What the journal keeps of it."""
        return {"files": self.files, "dumps": self.dumps, "on_drp": self.on_drp}

    def place(self, config: Config) -> Place:
        """Where the files are, for commands."""
        return drp_place(config) if self.on_drp else local(self.files)


def make_scratch(config: Config, environment: str) -> Scratch:
    """A fresh scratch directory for one drill of ``environment``, where ``[drill]`` says."""
    if not config.drill_on_drp:
        top = scratch_directory(config.drill_scratch, environment)
        return Scratch(os.path.join(top, FILES), os.path.join(top, DUMPS), False, (top, top))
    import tempfile

    from drptools.status import state_dir

    parent = config.drill_scratch
    with drp_place(config) as place:
        place.run(["mkdir", "-p", "-m", "700", "--", parent], f"creating {parent} on {place}")
        held = place.run(["stat", "-c", "%u %a", "--", parent], f"reading {parent} on {place}")
        owner, mode = held.stdout.decode().split()
        if int(owner) != place.uid or int(mode, 8) & 0o022:
            raise Failure(f"[drill] scratch {parent} on {place}: not a directory of uid "
                          f"{place.uid} that only it can write")  # fmt: skip
        made = place.run(["mktemp", "-d", "-p", parent, f"{environment}.XXXXXX"],
                         f"creating a directory in {parent} on {place}")  # fmt: skip
    top = made.stdout.decode().strip()
    staging = os.path.join(state_dir(), "staging", "drill")
    os.makedirs(staging, mode=0o700, exist_ok=True)
    dumps = tempfile.mkdtemp(prefix=f"{environment}.", dir=staging)
    return Scratch(os.path.join(top, FILES), dumps, True, (top, dumps))


class DrillFiles(Step):
    """The snapshot's paths copied from the target into the scratch directory."""

    kind = "drill-files"

    def __init__(self, config: Config, chosen: Chosen, scratch: Scratch) -> None:
        self.config, self.chosen, self.scratch = config, chosen, scratch
        self.root = scratch.files
        name = chosen.environment.name
        self.name = f"drill-files:{name}"
        self.title = f"restore {name}'s files {chosen.snapshot} from {chosen.target} to scratch"

    def size(self) -> int | None:
        return self.chosen.size(self.config)

    def describe(self) -> list[str]:
        where = " on the DRP server" if self.scratch.on_drp else ""
        return [f"{path} -> {self.root}{path}{where}" for path in self.chosen.environment.paths]

    def probe(self) -> list[str]:
        location, _ = _required(self.config).targets[self.chosen.target]
        if self.scratch.on_drp and _required(self.config).location.is_remote and location.is_remote:
            return [f"both the DRP server and target {self.chosen.target} are remote: run "
                    'drp on the DRP server, or [drill] on = "local"']  # fmt: skip
        try:
            with target_place(self.config, self.chosen.target) as place:
                self.chosen.entries(place)
        except Failure as failure:
            return [str(failure)]
        return []

    def run(self, progress: Progress) -> dict[str, object]:
        with (
            target_place(self.config, self.chosen.target) as source,
            self.scratch.place(self.config) as destination,
        ):
            data = f"{self.chosen.snapshot_dir(source)}/{layout.DATA}"
            remote = source if source.remote else destination
            argv = rsync.restore_arguments(
                source.rsync_path(data), self.chosen.environment.paths,
                destination.rsync_path(self.root), shell=remote.rsync_shell(),
                preserve=self.config.preserve, fake_super=source.remote and source.uid != 0,
            )  # fmt: skip
            rsync.snapshot(argv, f"restoring {self.chosen.environment.name} from {source}")
            files = len(self.chosen.entries(source))
        return {"bytes": self.size() or 0, "files": files, "data_time": self.chosen.data_time()}


class DrillDatabase(Step):
    """A dump set fetched into the scratch directory, checked, imported into a scratch
    database on the DRP's server."""

    kind = "drill-db"

    def __init__(
        self, config: Config, chosen: Chosen, database: Database, scratch: Scratch
    ) -> None:
        self.config, self.chosen, self.database = config, chosen, database
        self.stamp = chosen.dumps[database.key]
        self.directory = os.path.join(scratch.dumps, database.key)
        self.name = f"drill-db:{database.environment}:{database.key}"
        self.title = (
            f"import {database.environment}'s database {database.key} ({self.stamp}) "
            f"as {database.name}{SCRATCH_SUFFIX}"
        )

    def describe(self) -> list[str]:
        return [f"dump set {self.stamp} from {self.chosen.target} into {self.directory}, "
                f"imported as {self.database.name}{SCRATCH_SUFFIX} on the DRP's "
                f"{self.database.engine} server"]  # fmt: skip

    def probe(self) -> list[str]:
        try:
            scratch_database(self.config, self.database)
        except Failure as failure:
            return [str(failure)]
        return []

    def run(self, progress: Progress) -> dict[str, object]:
        from drptools import engines

        files = fetch_dump_set(
            self.config, self.chosen.target, self.database, self.stamp, self.directory
        )
        scratch = scratch_database(self.config, self.database)
        engines.drop(scratch)  # a drill killed before its cleanup left it behind
        engines.restore_as(scratch, files, self.database.name)
        size = sum(os.path.getsize(path) for path in files.values())
        return {"bytes": size, "data_time": layout.parse_stamp(self.stamp) or 0.0}


class DrillVerify(Step):
    """The scratch files against the MANIFEST, each scratch database against its dump.

    Every problem is kept in :attr:`problems` (the step's failure says the first), for
    the drill's status record.
    """

    kind = "drill-verify"

    def __init__(self, config: Config, chosen: Chosen, scratch: Scratch) -> None:
        self.config, self.chosen, self.scratch = config, chosen, scratch
        name = chosen.environment.name
        self.name = f"drill-verify:{name}"
        self.title = f"verify {name}'s restored files and databases against the backup"
        self.problems: list[str] = []

    def describe(self) -> list[str]:
        lines = ["every restored file listed, hashed and compared with the MANIFEST"]
        lines += [f"{database.name}{SCRATCH_SUFFIX}: rows and checksum of every table "
                  "against the dump" for database in self.chosen.environment.databases]  # fmt: skip
        return lines

    def run(self, progress: Progress) -> dict[str, object]:
        from drptools.engines.fingerprint import verify_contents

        with target_place(self.config, self.chosen.target) as source:
            entries = self.chosen.entries(source)
        root = self.scratch.files
        with self.scratch.place(self.config) as place:
            keys = listing_below(place, root, self.chosen.environment.paths)
            hashes = manifest.hash_keys(place, root, keys)
        self.problems = manifest.compare(
            entries, keys, {manifest.key_path(key): digest for key, digest in hashes.items()}
        )
        rows = tables = 0
        for database in self.chosen.environment.databases:
            stamp = self.chosen.dumps[database.key]
            files = dump_files(os.path.join(self.scratch.dumps, database.key), stamp)
            try:
                contents = verify_contents(scratch_database(self.config, database), files)
            except Failure as failure:
                self.problems.append(str(failure))
                continue
            rows += contents.rows
            tables += len(contents.tables)
        if not keys and not rows and not self.problems:
            self.problems.append("the drill restored nothing: no file and no row")
        if self.problems:
            more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            raise Failure(f"the restore differs from the backup: {self.problems[0]}{more}")
        return {"files": len(keys), "rows": rows, "tables": tables}


def clean(config: Config, chosen: Chosen | None, scratch: Scratch | None) -> list[str]:
    """Drop the scratch databases and remove the scratch directory, whatever the drill
    left of them; what could not be removed, one line each (the drill then fails)."""
    import shutil

    from drptools import engines

    problems = []
    for database in chosen.environment.databases if chosen is not None else ():
        try:
            scratch_copy = scratch_database(config, database)
        except Failure:
            continue  # no server for it, or a refused name: nothing was made there
        try:
            engines.drop(scratch_copy)
        except Failure as failure:
            problems.append(f"the scratch database was not dropped: {failure}")
    if scratch is not None:
        files_top, dumps_top = scratch.tops
        if scratch.on_drp:
            try:
                with drp_place(config) as place:
                    place.remove([files_top])
            except Failure as failure:
                problems.append(f"the scratch directory {files_top} was not removed: {failure}")
        for top in {dumps_top} if scratch.on_drp else {files_top}:
            try:
                shutil.rmtree(top, onerror=_writable_and_again)
            except FileNotFoundError:
                pass
            except OSError as error:
                problems.append(f"the scratch directory {top} was not removed: {error}")
    return problems


def _writable_and_again(function: object, path: str, _: object) -> None:
    """rmtree's second try at ``path``: a restored directory may be read-only (its modes
    are the backup's), which stops a user that is not root from emptying it."""
    import shutil

    parent = os.path.dirname(path)
    os.chmod(parent, os.stat(parent).st_mode | 0o700)
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, os.stat(path).st_mode | 0o700)
        shutil.rmtree(path, onerror=_writable_and_again)
    else:
        os.unlink(path)
