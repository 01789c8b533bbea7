"""Retention, per target, for ``drp prune`` and after each backup: what goes, under the locks.

Each target keeps the ``retention.files`` newest complete snapshots of each environment
and the ``retention.dumps`` newest complete dump sets of each database. Leftovers of
interrupted runs go too, except the newest interrupted snapshot when it is newer than
every complete one (the next run resumes it). Never removed: the newest complete backup,
anything in progress, anything whose name drp did not write. The rules are
:func:`drptools.layout.expired`; this module applies them under the same locks as the
backups, so it never removes what a running backup is writing. Backups prune after each
successful run unless given ``--no-prune``.
"""

from __future__ import annotations

import contextlib
import logging
import os

from drptools import layout
from drptools.status import LocalLock
from drptools.targets import Place

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from drptools.config import Config, Database, Environment

log = logging.getLogger("drptools")


def _why(snapshot: layout.Snapshot, keep: int) -> str:
    if snapshot.state == layout.COMPLETE:
        return f"complete, older than the {keep} kept"
    return "left by an interrupted run"


def prune_files(place: Place, environment: str, keep: int, dry_run: bool) -> list[str]:
    """Apply file retention on ``place`` (its lock held by the caller); lines saying what.

    A complete snapshot is renamed ``<stamp>.partial`` before it is removed, undoing its
    commit first (as a dump set loses its checksum file first): a removal cut short, by a
    file the account cannot remove or by drp killed, then leaves a leftover that the next
    retention removes, not a snapshot without its marker, which drp never removes and
    check_backup reports as incomplete.
    """
    directory = layout.files_dir(place.root, environment)
    snapshots = layout.classify_snapshots(place.listing(directory, 2) or set())
    doomed = layout.expired(snapshots, keep)
    verb = "would remove" if dry_run else "removed"
    lines = [f"{verb} {place.name}:{directory}/{s.name} ({_why(s, keep)})" for s in doomed]
    if not dry_run:
        leftovers = []
        for snapshot in doomed:
            leftover = f"{directory}/{snapshot.stamp}{layout.PARTIAL}"
            if snapshot.name != os.path.basename(leftover):
                place.rename(f"{directory}/{snapshot.name}", leftover)
            leftovers.append(leftover)
        place.remove(leftovers)
    return lines


def prune_dumps(place: Place, database: Database, keep: int, dry_run: bool) -> list[str]:
    """Apply dump retention for one database on ``place``; lines saying what."""
    directory = layout.dumps_dir(place.root, database.environment, database.key)
    names = place.listing(directory, 1) or set()
    doomed = layout.expired(layout.classify_dumps(names), keep, resumable=False)
    verb = "would remove" if dry_run else "removed"
    lines = [f"{verb} {place.name}:{directory}/{s.stamp}.* ({_why(s, keep)})" for s in doomed]
    if not dry_run:
        # Each set's checksum file goes first: a set half removed is no longer complete.
        place.remove(
            [f"{directory}/{name}" for s in doomed for name in layout.dump_members(names, s.stamp)]
        )
    return lines


@contextlib.contextmanager
def locked(place: Place, local: str, path: str, dry_run: bool) -> Iterator[None]:
    """The local lock ``local`` and the target lock ``path``; no locks for a dry run."""
    if dry_run:
        yield
        return
    with LocalLock(local), place.lock(path):
        yield


def prune_environment(
    config: Config, environment: Environment, target: str, dry_run: bool
) -> list[str]:
    """Retention of an environment's snapshots and dumps on one target, under their locks."""
    lines = []
    with Place(config.targets[target]) as place:
        files = layout.files_dir(place.root, environment.name)
        with locked(place, f"files.{environment.name}", f"{files}/{layout.LOCK}", dry_run):
            lines += prune_files(place, environment.name, config.keep_files, dry_run)
        for database in environment.databases:
            if target not in database.targets:
                continue
            dumps = layout.dumps_dir(place.root, environment.name, database.key)
            local = f"db.{environment.name}.{database.key}"
            with locked(place, local, f"{dumps}/{layout.LOCK}", dry_run):
                lines += prune_dumps(place, database, config.keep_dumps, dry_run)
    return lines
