"""Database engines behind one contract: what a dump set is, and how it goes back in.

Every engine module (:mod:`~drptools.engines.mariadb`, :mod:`~drptools.engines.postgresql`)
exposes the same two functions, as borgmatic's database hooks do:

- ``artifacts(database)``: the files of one dump set, in the order they are made, each
  with the command that dumps it, its credentials and whether it needs compressing
  (:class:`~drptools.engines.common.Artifact`; :mod:`~drptools.engines.stream` runs them);
- ``restore(database, files)``: import a dump set (its files by suffix, as ``artifacts``
  names them) into the server ``database`` describes, with the credentials reaching the
  client the same way they reach the dump: never on a command line;
- ``drop(database)``: remove the database first, so that a DRP restore makes it afresh;
- ``dump_data_stream(files)``, ``data_stream(database)`` and ``data_rows(lines)``: the
  rows of a dump set and of a live database as the same dump tool's text, and the pure
  splitter of that text into each table's rows, for the digests that prove a restore
  (:mod:`~drptools.engines.fingerprint`).

The functions here choose the engine of a database and call it.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import ModuleType

    from drptools.config import Database
    from drptools.engines.common import Artifact

ENGINES = {
    "mariadb": "drptools.engines.mariadb",
    "mysql": "drptools.engines.mariadb",
    "postgresql": "drptools.engines.postgresql",
}


def module(database: Database) -> ModuleType:
    """The engine module of ``database``."""
    return importlib.import_module(ENGINES[database.engine])


def artifacts(database: Database) -> list[Artifact]:
    """The files of one dump set of ``database``, in the order they are made."""
    made: list[Artifact] = module(database).artifacts(database)
    return made


def restore(database: Database, files: Mapping[str, str]) -> None:
    """Import the dump set ``files`` (suffix -> local path) into ``database``'s server.

    CommandFailed says which client failed and why; Failure names a missing file.
    """
    module(database).restore(database, files)


def drop(database: Database) -> None:
    """Remove ``database`` from its server (DRP runbooks, before a restore)."""
    module(database).drop(database)


def restore_as(database: Database, files: Mapping[str, str], dumped: str) -> None:
    """Import a dump set of database ``dumped`` under ``database``'s own name (a drill's
    scratch database), never touching ``dumped``."""
    module(database).restore_as(database, files, dumped)
