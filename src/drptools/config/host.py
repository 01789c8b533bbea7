"""What only this machine can tell of a valid configuration: secret file modes, missing paths.

:func:`drptools.config.parse` judges the document alone; ``drp config check`` adds these.
"""

from __future__ import annotations

import os

from checks.core.credentials import secret_problem
from drptools.config.model import Config, ConfigError


def status_gid(config: Config) -> int | None:
    """The group id of ``[status] group`` (None without one); ConfigError if it is unknown."""
    if config.status_group is None:
        return None
    import grp

    try:
        return grp.getgrnam(config.status_group).gr_gid
    except KeyError:
        raise ConfigError(
            config.source,
            [f"status.group: no group {config.status_group!r} on this machine"],
        ) from None


def check_files(config: Config) -> list[str]:
    """Problems :func:`parse` cannot see: secret file modes, missing paths and files."""
    problems = []
    try:
        status_gid(config)
    except ConfigError as error:
        problems += error.problems
    for target in config.targets.values():
        where = f"targets.{target.name}"
        if target.ssh_config is not None and not os.access(target.ssh_config, os.R_OK):
            problems.append(f"{where}.ssh_config: cannot read {target.ssh_config}")
        if not target.location.is_remote and not os.path.isdir(target.location.path):
            problems.append(f"{where}.location: {target.location.path} is not a directory")
    for environment in config.environments.values():
        where = f"environments.{environment.name}"
        for path in environment.paths:
            if not os.path.lexists(path):
                problems.append(f"{where}.paths: {path} does not exist")
    return problems + _secret_problems(config)


def _secret_problems(config: Config) -> list[str]:
    """Mode problems of every secret file the configuration names."""
    secrets = [
        (
            f"environments.{database.environment}.databases.{database.key}.password_file",
            database.password_file,
        )
        for environment in config.environments.values()
        for database in environment.databases
    ]
    secrets += [
        (f"{side.name}.databases.{server.engine}.password_file", server.password_file)
        for side in (config.drp, config.production)
        if side is not None
        for server in side.databases.values()
    ]
    if config.dns is not None:
        secrets.append(("dns.key_file", config.dns.key_file))
    secrets.append(("notification.webhook_credentials", config.notification.webhook_credentials))
    secrets.append(("notification.icinga_credentials", config.notification.icinga_credentials))
    problems = []
    for where, path in secrets:
        complaint = secret_problem(path, where) if path else None
        if complaint:
            problems.append(complaint)
    return problems
