"""The file backup of ``drp backup files``: one environment's hard-link snapshot on A or B.

The target is chosen by the parity of the local date counted in days since 1970-01-01
(even → A, odd → B; ``--target`` overrides; see :mod:`drptools.layout` for why local and
why not the day of the month). A run is a fixed sequence of steps (:meth:`FileBackup.steps`):

1. survey   list the target: newest complete snapshot (the ``--link-dest`` base), and
            an interrupted ``.partial`` newer than it, which this run resumes
2. prepare  ``<stamp>.partial/data`` (the resumed partial renamed to this run's stamp)
3. copy     rsync into it (:mod:`drptools.rsync`)
4. manifest list the copy, check it holds every regular file rsync's sender listed (less
            those that vanished), hash what the previous manifest does not vouch for
            (that manifest is used only if it matches its own ``COMPLETE``), write
            ``MANIFEST`` (:mod:`drptools.manifest`)
5. mark     write ``COMPLETE`` (JSON: stamp, figures, the manifest's sha256 and size)
6. flush    ``sync -f``: every file and the marker on disk before anything claims them
7. commit   rename ``<stamp>.partial`` to ``<stamp>``, flush the directory entry

A snapshot counts as complete only with its final name AND ``COMPLETE`` inside; the rename
is atomic and comes last, so a run interrupted at any step (SIGKILL included) leaves a
``.partial`` that no reader takes as complete and the next run resumes. The marker is
written inside the partial rather than after the rename, because writing a file is not
atomic and a rename is: after step 7 nothing remains to be done that could be cut short.

Runs are locked twice: a local lock per environment (two runs on this machine) and a
flock on the target (two machines sharing a target).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os

from checks import __version__
from checks.core.units import human_bytes, human_duration
from drptools import layout, manifest, rsync, status
from drptools.errors import Failure
from drptools.procedures import common
from drptools.procedures.prune import prune_files
from drptools.status import LocalLock
from drptools.targets import Place

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from drptools.config import Config, Environment

log = logging.getLogger("drptools")


class FileBackup:
    """One environment's snapshot on one target, as ordered steps."""

    def __init__(
        self,
        environment: Environment,
        place: Place,
        clock: common.Clock,
        progress: bool = False,
        preserve: tuple[str, ...] = tuple(rsync.PRESERVE_OPTIONS),
    ) -> None:
        self.environment = environment
        self.place = place
        self.clock = clock
        self.progress = progress
        #: rsync preservation switches (``[files]`` of the configuration).
        self.preserve = preserve
        self.directory = layout.files_dir(place.root, environment.name)
        self.stamp = layout.stamp(clock.started)
        self.partial = f"{self.directory}/{self.stamp}{layout.PARTIAL}"
        self.final = f"{self.directory}/{self.stamp}"
        self.base: layout.Snapshot | None = None
        self.resumed: layout.Snapshot | None = None
        self.manifest_sha256 = ""
        self.manifest_bytes = 0
        self.copied: rsync.Copy | None = None
        self.figures: dict[str, int] = {}

    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        """The run, in order; a test can stop after any of them."""
        return [
            ("survey", self.survey),
            ("prepare", self.prepare),
            ("copy", self.copy),
            ("manifest", self.write_manifest),
            ("mark", self.mark),
            ("flush", self.flush),
            ("commit", self.commit),
        ]

    def survey(self) -> None:
        """Find the ``--link-dest`` base and a partial to resume (the lock is ours)."""
        snapshots = layout.classify_snapshots(self.place.listing(self.directory, 2) or set())
        if any(s.name == self.stamp for s in snapshots):
            raise Failure(f"{self.place.name}:{self.final} already exists")
        self.base = layout.latest_complete(snapshots)
        newer = self.base.stamp if self.base else ""
        partials = [s for s in snapshots if s.state == layout.INTERRUPTED and s.stamp > newer]
        self.resumed = partials[-1] if partials else None

    def plan(self) -> list[str]:
        """What the run would do, for ``--dry-run`` (after :meth:`survey`)."""
        where = f"{self.place.name}:{self.final}"
        lines = [f"would snapshot {self.environment.name} to {self.place} as {where}"]
        if self.base:
            lines.append(f"  hard-linking unchanged files to {self.base.name}")
        else:
            lines.append("  first snapshot on this target: every file is copied")
        if self.resumed:
            lines.append(f"  resuming the interrupted {self.resumed.name}")
        arguments = rsync.snapshot_arguments(
            *self._rsync_parts(), preserve=self.preserve, fake_super=self.place.uid != 0
        )
        lines.append(f"  {' '.join(arguments)}")
        return lines

    def prepare(self) -> None:
        """Create ``<stamp>.partial/data``, from the resumed partial if there is one."""
        if self.resumed is not None and self.resumed.name != os.path.basename(self.partial):
            log.info("resuming %s on %s", self.resumed.name, self.place)
            self.place.rename(f"{self.directory}/{self.resumed.name}", self.partial)
        self.place.mkdir(f"{self.partial}/{layout.DATA}")
        # A resumed partial may hold the marker of a run cut short before its rename.
        self.place.remove([f"{self.partial}/{layout.MARKER}", f"{self.partial}/{layout.MANIFEST}"])

    def _rsync_parts(self) -> tuple[tuple[str, ...], str]:
        sources = tuple(rsync.source_argument(path) for path in self.environment.paths)
        return sources, self.place.rsync_path(f"{self.partial}/{layout.DATA}/")

    def copy(self) -> None:
        """rsync the environment's paths into the partial."""
        sources, destination = self._rsync_parts()
        base = f"{self.directory}/{self.base.name}/{layout.DATA}" if self.base else None
        arguments = rsync.snapshot_arguments(
            sources,
            destination,
            excludes=self.environment.excludes,
            link_dest=base,
            shell=self.place.rsync_shell(),
            preserve=self.preserve,
            progress=self.progress,
            fake_super=self.place.uid != 0,
        )
        what = f"copying {self.environment.name} to {self.place}"
        self.copied = rsync.snapshot(arguments, what, self.progress)

    def write_manifest(self) -> None:
        """``MANIFEST`` of the copy, reusing the base's hashes of unchanged files."""
        previous, previous_text = self._previous_manifest()
        text, self.figures = manifest.build(
            self.place, f"{self.partial}/{layout.DATA}", previous, previous_text
        )
        if self.copied is not None:
            expected = self.copied.expected()
            if self.figures["files"] < expected:
                raise Failure(
                    f"{self.place.name}:{self.partial} holds {self.figures['files']} files but "
                    f"rsync's sender listed {expected}: not marking it complete"
                )
            self.figures["source_files"] = self.copied.regular_files
            self.figures["vanished_files"] = len(self.copied.vanished)
            self.figures["unreadable_files"] = len(self.copied.unreadable)
        self.place.write(f"{self.partial}/{layout.MANIFEST}", text)
        self.manifest_sha256 = hashlib.sha256(text).hexdigest()
        self.manifest_bytes = len(text)

    def _previous_manifest(self) -> tuple[dict[bytes, bytes], bytes]:
        """The base's manifest entries and text, if it matches its ``COMPLETE``; else none.

        A manifest whose checksum is not the one its marker recorded was damaged or
        replaced since: inheriting its hashes would carry a wrong one into every later
        snapshot, so every file is hashed again instead.
        """
        if self.base is None:
            return {}, b""
        path = f"{self.directory}/{self.base.name}"
        text, problem = common.sealed_manifest(self.place, path, self.base.stamp)
        if problem is None and text is not None:
            try:
                return manifest.parse_manifest(text), text
            except manifest.ManifestError as error:
                problem = str(error)
        log.warning("%s:%s unusable (%s): hashing every file", self.place.name, path, problem)
        return {}, b""

    def mark(self) -> None:
        """``COMPLETE``: what the snapshot holds, and the manifest it must match."""
        marker = {
            "format": manifest.MARKER_FORMAT,
            "environment": self.environment.name,
            "target": self.place.name,
            "snapshot": self.stamp,
            "started": self.clock.started,
            "finished": self.clock.finished(),
            "local_day": layout.local_day(self.clock.started),
            "base": self.base.name if self.base else None,
            "manifest_sha256": self.manifest_sha256,
            "manifest_bytes": self.manifest_bytes,
            "paths": list(self.environment.paths),
            "preserve": list(self.preserve),
            "unreadable": self.copied.unreadable[: rsync.SHOWN] if self.copied else [],
            "vigie": __version__,
            **self.figures,
        }
        text = json.dumps(marker, sort_keys=True).encode() + b"\n"
        self.place.write(f"{self.partial}/{layout.MARKER}", text)

    def flush(self) -> None:
        """Everything of the partial on disk before the rename makes it count."""
        self.place.sync(self.partial)

    def commit(self) -> None:
        """The atomic last step: the partial takes its final name."""
        self.place.rename(self.partial, self.final)
        self.place.sync(self.directory)
        self.place.show_to_monitoring(
            [os.path.dirname(self.directory), self.directory, self.final],
            [f"{self.final}/{name}" for name in (layout.MARKER, layout.MANIFEST)]
            + [f"{self.directory}/{layout.LOCK}"],
        )


def backup(
    config: Config,
    environment: Environment,
    target: str,
    clock: common.Clock,
    *,
    prune: bool = True,
    progress: bool = False,
) -> None:
    """Snapshot ``environment`` to ``target`` under both locks, with a status record."""
    name = status.record_name("files", environment.name, target)
    fields: dict[str, object] = {
        "what": "files",
        "environment": environment.name,
        "target": target,
        "location": str(config.targets[target].location),
    }

    def run() -> dict[str, object]:
        with Place(config.targets[target]) as place:
            job = FileBackup(environment, place, clock, progress, config.preserve)
            with place.lock(f"{job.directory}/{layout.LOCK}"):
                for _, step in job.steps():
                    step()
                pruned: dict[str, object] = {}
                if prune:
                    keep = config.keep_files
                    pruned = common.retention(
                        lambda: prune_files(place, environment.name, keep, dry_run=False)
                    )
        figures = job.figures
        log.info(
            "backup files %s to %s: snapshot %s, %d files, %s (%d new or changed, %s read) in %s",
            environment.name,
            target,
            job.stamp,
            figures["files"],
            human_bytes(figures["bytes"]),
            figures["hashed_files"],
            human_bytes(figures["hashed_bytes"]),
            human_duration(clock.elapsed()),
        )
        # What the snapshot goes without (source files rsync could not read), for check_backup.
        skipped = {"unreadable": job.copied.unreadable[: rsync.SHOWN] if job.copied else []}
        return {"snapshot": job.stamp, **figures, **skipped, **pruned}

    with LocalLock(f"files.{environment.name}"):
        common.recorded(name, fields, clock, run)


def dry_run(config: Config, environment: Environment, target: str, clock: common.Clock) -> None:
    """Print what a run would do, touching nothing."""
    with Place(config.targets[target]) as place:
        job = FileBackup(environment, place, clock)
        job.survey()
        for line in job.plan():
            print(line)
        for line in prune_files(place, environment.name, config.keep_files, dry_run=True):
            print(f"  after it: {line}")
