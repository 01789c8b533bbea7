"""The steps that return the environments from the DRP server to production.

A failback (:mod:`drptools.actions.failback`) moves back what was written on the DRP
server during the outage, so its first duty is not to destroy what production may hold:

1. :class:`GuardSplitBrain`: production and the DRP server are each compared with the
   MANIFEST of the snapshot the activation restored. When BOTH changed since (files
   changed or added on each side), copying back would overwrite production's writes:
   the failback refuses, naming them, unless ``--force``;
2. :class:`Maintenance` on: production stops taking writes (its ``maintenance_on``
   command run on it, or its ``maintenance_flag`` file written);
3. :class:`CopyBack`: the environment's paths from the DRP server to production
   (:func:`drptools.rsync.restore_arguments`, ``--delete`` within them), refused while
   production is not in maintenance;
4. :class:`MoveDatabase`: each database dumped on the DRP server and imported afresh
   into production;
5. :class:`VerifyCopyBack`: an rsync checksum comparison of both trees finds nothing;
6. the DNS back to production's addresses (:class:`~drptools.procedures.restore.SwitchDns`);
7. :class:`Maintenance` off.
"""

from __future__ import annotations

import os

from drptools import layout, manifest, rsync
from drptools.config.model import Location, Target
from drptools.errors import Failure
from drptools.procedures.restore import Chosen, drp_place, listing_below, target_place
from drptools.runbook import Progress, Step
from drptools.targets import Place

TYPE_CHECKING = False
if TYPE_CHECKING:
    from drptools.config import Config, Database, Environment
    from drptools.config.model import Production

#: How many changed files a refusal names.
SHOWN = 5


def production_place(config: Config) -> Place:
    """Production as a place commands run on (locally or over ssh)."""
    side = required_production(config)
    return Place(Target("production", side.location, side.datacenter, side.ssh_config))


def required_production(config: Config) -> Production:
    if config.production is None:
        raise Failure(f"{config.source} has no [production] section: where would it go back?")
    return config.production


def _changes(
    place: Place, root: str, environment: Environment, entries: dict[bytes, bytes]
) -> list[str]:
    """Files changed or added below the environment's paths since the snapshot
    ``entries`` describes (files only missing are not writes: a lost disk is not one)."""
    keys = listing_below(place, root, environment.paths)
    return [
        line for line in manifest.compare(entries, keys, {}) if not line.startswith("missing: ")
    ]


class GuardSplitBrain(Step):
    """Refuse when production and the DRP server both took writes since the activation."""

    kind = "guard"

    def __init__(
        self, config: Config, environment: Environment, activated: dict[str, object], force: bool
    ) -> None:
        self.config, self.environment, self.force = config, environment, force
        self.target, self.snapshot = str(activated["target"]), str(activated["snapshot"])
        self.name = f"guard:{environment.name}"
        self.title = f"compare {environment.name} on both sides with what was activated"

    def describe(self) -> list[str]:
        return [
            f"production and the DRP server against snapshot {self.snapshot} on "
            f"{self.target}{' (--force: production may be overwritten)' if self.force else ''}"
        ]

    def probe(self) -> list[str]:
        try:
            found = self._both()
        except Failure as failure:
            return [str(failure)]
        return [found] if found and not self.force else []

    def _both(self) -> str:
        """Why copying back would overwrite production's writes ('' when it would not)."""
        chosen = Chosen(self.environment, {"target": self.target, "snapshot": self.snapshot})
        with target_place(self.config, self.target) as place:
            entries = chosen.entries(place)
        assert self.config.drp is not None
        with drp_place(self.config) as place:
            drp = _changes(place, self.config.drp.location.path, self.environment, entries)
        production = required_production(self.config)
        with production_place(self.config) as place:
            prod = _changes(place, production.location.path, self.environment, entries)
        if not (drp and prod):
            return ""
        more = f" and {len(prod) - SHOWN} more" if len(prod) > SHOWN else ""
        return (
            f"split brain: production took writes since the activation ({len(prod)} file(s): "
            f"{', '.join(prod[:SHOWN])}{more}) and so did the DRP server ({len(drp)}); copying "
            "back would overwrite production's: save them first, or give --force"
        )

    def run(self, progress: Progress) -> dict[str, object]:
        found = self._both()
        if found and not self.force:
            raise Failure(found)
        return {"forced": bool(found)}


class Maintenance(Step):
    """Production into (``on``) or out of maintenance: its command, or its flag file."""

    kind = "maintenance"

    def __init__(self, config: Config, on: bool) -> None:
        self.config, self.on = config, on
        self.production = required_production(config)
        self.name = f"maintenance-{'on' if on else 'off'}"
        self.title = f"production {'into' if on else 'out of'} maintenance"

    def describe(self) -> list[str]:
        command = self.production.maintenance_on if self.on else self.production.maintenance_off
        if command:
            return [f"run on production: {' '.join(command)}"]
        verb = "create" if self.on else "remove"
        return [f"{verb} the flag file {self.production.maintenance_flag}"]

    def done(self) -> bool:
        flag = self.production.maintenance_flag
        if flag is None:
            return False  # a command: running it again is what it is for
        with production_place(self.config) as place:
            present = place.read(flag) is not None
        return present == self.on

    def run(self, progress: Progress) -> dict[str, object]:
        from drptools.notify import icinga

        command = self.production.maintenance_on if self.on else self.production.maintenance_off
        # Production's checks in Icinga are in downtime while the failback works on it.
        failed = icinga.downtime(
            self.config.notification,
            self.on,
            "drp failback: production in maintenance",
            layout.now(),
        )
        with production_place(self.config) as place:
            if command:
                place.run(list(command), f"running {' '.join(command)} on {place}")
            elif self.production.maintenance_flag is not None:
                if self.on:
                    place.write(self.production.maintenance_flag, b"drp failback\n")
                else:
                    place.remove([self.production.maintenance_flag])
        return {"icinga_downtime": failed or "done"} if self.config.notification.icinga_url else {}


class CopyBack(Step):
    """The environment's paths from the DRP server to production."""

    kind = "copy-back"
    lane = "files"

    def __init__(self, config: Config, environment: Environment) -> None:
        self.config, self.environment = config, environment
        self.name = f"copy-back:{environment.name}"
        self.title = f"copy {environment.name}'s files back to production"

    def describe(self) -> list[str]:
        return [
            f"{path} from the DRP server to production (rsync; what the DRP server does "
            "not hold is deleted there)"
            for path in self.environment.paths
        ]

    def probe(self) -> list[str]:
        production = required_production(self.config)
        assert self.config.drp is not None
        if production.location.is_remote and self.config.drp.location.is_remote:
            return ["both production and the DRP server are remote: run drp on one of them"]
        return []

    def run(self, progress: Progress) -> dict[str, object]:
        production = required_production(self.config)
        if production.maintenance_flag is not None:
            with production_place(self.config) as place:
                if place.read(production.maintenance_flag) is None:
                    raise Failure(
                        "production is not in maintenance (no "
                        f"{production.maintenance_flag}): it may be taking writes"
                    )
        argv = _arguments(self.config, self.environment)
        rsync.snapshot(argv, f"copying {self.environment.name} back to production")
        return {}


def _arguments(config: Config, environment: Environment, compare: bool = False) -> tuple[str, ...]:
    production = required_production(config)
    assert config.drp is not None
    with drp_place(config) as source, production_place(config) as destination:
        remote = source if source.remote else destination
        return rsync.restore_arguments(
            source.rsync_path(config.drp.location.path),
            environment.paths,
            destination.rsync_path(production.location.path),
            shell=remote.rsync_shell(),
            preserve=config.preserve,
            checksum_dry_run=compare,
        )


class VerifyCopyBack(Step):
    """Both trees compared by content (rsync --checksum --dry-run): nothing may differ."""

    kind = "verify-copy-back"
    lane = "files"

    def __init__(self, config: Config, environment: Environment) -> None:
        self.config, self.environment = config, environment
        self.name = f"verify-copy-back:{environment.name}"
        self.title = f"compare {environment.name}'s files on production with the DRP server's"

    def run(self, progress: Progress) -> dict[str, object]:
        from drptools import execute

        result = execute.run(
            _arguments(self.config, self.environment, compare=True),
            f"comparing {self.environment.name} on both sides",
        )
        # The parents --relative implies above each path (``tmp/``) are not the
        # environment's: their times may differ on both sides.
        parents = {
            "/".join(path.strip("/").split("/")[:depth]) + "/"
            for path in self.environment.paths
            for depth in range(1, path.strip("/").count("/") + 1)
        }
        differ = [
            line
            for line in result.stdout.decode(errors="replace").splitlines()
            if line and line.split(" ", 1)[-1] not in parents
        ]
        if differ:
            raise Failure(
                f"production differs from the DRP server after the copy: "
                f"{len(differ)} item(s), first {differ[0]!r}"
            )
        return {}


class MoveDatabase(Step):
    """A database dumped on the DRP server and imported afresh into production."""

    kind = "move-db"
    lane = "databases"

    def __init__(self, config: Config, database: Database, staging: str) -> None:
        self.config, self.database, self.staging = config, database, staging
        self.name = f"move-db:{database.environment}:{database.key}"
        self.title = f"move {database.environment}'s database {database.key} back to production"

    def _servers(self) -> tuple[Database, Database]:
        production = required_production(self.config)
        assert self.config.drp is not None
        engine = self.database.engine
        drp, prod = self.config.drp.databases.get(engine), production.databases.get(engine)
        if drp is None or prod is None:
            side = "drp" if drp is None else "production"
            raise Failure(f"[{side}.databases.{engine}] is not configured")
        return drp.database(self.database), prod.database(self.database)

    def describe(self) -> list[str]:
        return [f"dump {self.database.name} on the DRP server, replace it on production"]

    def probe(self) -> list[str]:
        try:
            self._servers()
        except Failure as failure:
            return [str(failure)]
        return []

    def run(self, progress: Progress) -> dict[str, object]:
        from drptools import engines
        from drptools.engines.stream import Sink, stream

        source, destination = self._servers()
        directory = os.path.join(self.staging, self.database.environment, self.database.key)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        files, size = {}, 0
        with Place(Target("staging", Location(directory), "", None)) as here:
            for artifact in engines.artifacts(source):
                path = os.path.join(directory, f"{layout.stamp(layout.now())}{artifact.suffix}")
                sink = Sink(here, path)
                _, written = stream(artifact, [sink], f"dumping {source.name} on the DRP server")
                if sink.error:  # stream() finished the sink
                    raise Failure(sink.error)
                files[artifact.suffix], size = path, size + written
        from drptools.engines.fingerprint import verify_contents

        engines.drop(destination)
        engines.restore(destination, files)
        contents = verify_contents(destination, files)  # production holds what was dumped
        return {"bytes": size, "tables": len(contents.tables), "rows": contents.rows}
