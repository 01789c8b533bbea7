"""The one configuration file of ``drp`` and ``check_backup``: ``/etc/vigie/drp.toml``.

It describes what the site's policy asks for: environments (paths, excludes, databases),
the two backup targets A and B (even and odd days) with the datacenter of each, how many
backups each target keeps, and who hears about failures. One module per purpose:

- :mod:`~drptools.config.model`: the validated configuration, plain ``__slots__`` classes;
- :mod:`~drptools.config.schema`: the one table of keys, types, defaults and help;
- :mod:`~drptools.config.validate`: the toolkit that collects every problem at once;
- :mod:`~drptools.config.rules`: :func:`parse`, decoded TOML to :class:`Config`;
- :mod:`~drptools.config.reading`: :func:`load`, the file read, decoded and cached;
- :mod:`~drptools.config.host`: :func:`check_files`, what only the machine can tell.

``drp config check`` runs :func:`parse` and :func:`check_files`. check_backup imports this
package on every run: nothing here imports ``dataclasses`` or ``typing`` at run time, and
``tomllib`` only when the decoded document is not cached.
"""

from __future__ import annotations

from drptools.config.host import check_files, secret_problem, status_gid
from drptools.config.model import (
    DATABASE_NAME_CHARACTERS,
    DEFAULT_KEEP_DUMPS,
    DEFAULT_KEEP_FILES,
    DEFAULT_LIMITS,
    DEFAULT_PATH,
    ENGINES,
    HOST_CHARACTERS,
    LINE_BREAKS,
    LOCATION_HELP,
    NAME_CHARACTERS,
    PRESERVE_KEYS,
    TARGET_NAMES,
    UNQUOTABLE,
    Config,
    ConfigError,
    Database,
    Environment,
    Location,
    Notification,
    Target,
    parse_location,
)
from drptools.config.reading import load
from drptools.config.rules import parse
from drptools.config.schema import (
    DATABASE_KEYS,
    ENVIRONMENT_KEYS,
    FILES_KEYS,
    LIMITS_KEYS,
    NOTIFICATION_KEYS,
    RETENTION_KEYS,
    SECTIONS,
    STATUS_KEYS,
    TARGET_KEYS,
    TOP_KEYS,
)

__all__ = [
    "DATABASE_KEYS",
    "DATABASE_NAME_CHARACTERS",
    "DEFAULT_KEEP_DUMPS",
    "DEFAULT_KEEP_FILES",
    "DEFAULT_LIMITS",
    "DEFAULT_PATH",
    "ENGINES",
    "ENVIRONMENT_KEYS",
    "FILES_KEYS",
    "HOST_CHARACTERS",
    "LIMITS_KEYS",
    "LINE_BREAKS",
    "LOCATION_HELP",
    "NAME_CHARACTERS",
    "NOTIFICATION_KEYS",
    "PRESERVE_KEYS",
    "RETENTION_KEYS",
    "SECTIONS",
    "STATUS_KEYS",
    "TARGET_KEYS",
    "TARGET_NAMES",
    "TOP_KEYS",
    "UNQUOTABLE",
    "Config",
    "ConfigError",
    "Database",
    "Environment",
    "Location",
    "Notification",
    "Target",
    "check_files",
    "load",
    "parse",
    "parse_location",
    "secret_problem",
    "status_gid",
]
