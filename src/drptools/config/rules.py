"""The rules of ``drp.toml``: decoded TOML in, a :class:`Config` or every problem out.

:func:`parse` is a pure function of the decoded document. The keys each section knows,
their types and defaults are those of :mod:`drptools.config.schema`; what is here is
what relates keys to each other (two targets, paths holding a target, host or socket…).
Every message names the key, the value found and what was expected.
"""

from __future__ import annotations

import os

from drptools.config.model import (
    DATABASE_NAME_CHARACTERS,
    DEFAULT_LIMITS,
    DEFAULT_PATH,
    ENGINES,
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
from drptools.config.schema import (
    DATABASE_KEYS,
    ENVIRONMENT_KEYS,
    NOTIFICATION_KEYS,
    SECTIONS,
    STATUS_KEYS,
    TARGET_KEYS,
    TOP_KEYS,
    names,
    spec,
)
from drptools.config.validate import Problems, absolute

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


#: The sections of the DRP runbooks, validated by :mod:`drptools.config.recovery`.
RECOVERY_SECTIONS = ("drp", "production", "dns", "authorization", "automation", "sites", "drill")


def parse(data: dict[str, object], source: str = DEFAULT_PATH) -> Config:
    """Validate decoded TOML ``data`` into a :class:`Config`; ConfigError lists every problem."""
    problems = Problems()
    problems.unknown(data, TOP_KEYS, "")
    datacenter = problems.field(data, "", spec("", "datacenter")) or ""
    targets = _targets(problems, problems.table(data, "targets", "targets"), datacenter)
    retention = _simple(problems, data, "retention")
    limits_values = _simple(problems, data, "limits")
    limits = {kind: limits_values[f"{kind}_minutes"] for kind in DEFAULT_LIMITS}
    status_table = problems.table(data, "status", "status")
    problems.unknown(status_table, STATUS_KEYS, "status")
    group = problems.field(status_table, "status", spec("status", "group"))
    if group is not None and (not set(group) <= NAME_CHARACTERS or group.startswith("-")):
        problems.append(
            f"status.group: {group!r} is not a group name (letters, digits, '.', '-', '_'; "
            "not starting with '-')"
        )
        group = None
    notification = _notification(problems, problems.table(data, "notification", "notification"))
    files = _simple(problems, data, "files")
    preserve = tuple(name for name in PRESERVE_KEYS if files[name])
    environments = _environments(
        problems, problems.table(data, "environments", "environments"), targets
    )
    recovery = None
    if any(section in data for section in RECOVERY_SECTIONS):
        from drptools.config.recovery import parse_recovery

        recovery = parse_recovery(problems, data, datacenter, targets, environments)
    if problems:
        raise ConfigError(source, problems)
    return Config(
        source,
        datacenter,
        targets,
        environments,
        retention["files"],
        retention["dumps"],
        notification,
        limits,
        group,
        preserve,
        recovery,
    )


def _simple(problems: Problems, data: dict[str, object], section: str) -> dict[str, Any]:
    """A top-level section of plain values, each checked as :mod:`schema` declares it."""
    table = problems.table(data, section, section)
    problems.unknown(table, names(section), section)
    return {
        declared.name: problems.field(table, section, declared) for declared in SECTIONS[section]
    }


def _targets(problems: Problems, table: dict[str, object], datacenter: str) -> dict[str, Target]:
    for name in table:
        if name not in TARGET_NAMES:
            problems.append(
                f"targets.{name}: unknown target (the policy has two: A for even days, "
                "B for odd days)"
            )
    targets: dict[str, Target] = {}
    for name in TARGET_NAMES:
        where = f"targets.{name}"
        if name not in table:
            problems.append(f"{where}: missing (expected [{where}] with location and datacenter)")
            continue
        target = _target(problems, problems.table(table, name, where), name, where)
        if target is not None:
            targets[name] = target
    if len(targets) == len(TARGET_NAMES):
        a, b = targets["A"], targets["B"]
        if a.location == b.location:
            problems.append(
                f"targets: A and B are both {a.location}; the policy wants two different servers"
            )
        if datacenter and a.datacenter == b.datacenter == datacenter:
            problems.append(
                f"targets: A and B are both in datacenter {datacenter!r}, where the service "
                "runs; the policy wants one of them in another datacenter"
            )
    return targets


def _target(problems: Problems, entry: dict[str, object], name: str, where: str) -> Target | None:
    """One ``[targets.X]`` table; None when it cannot be used."""
    problems.unknown(entry, TARGET_KEYS, where)
    location, ssh_config = located(problems, entry, where, "target")
    place = problems.field(entry, where, spec("target", "datacenter"))
    if location is None or place is None:
        return None
    return Target(name, location, place, ssh_config)


def located(
    problems: Problems, entry: dict[str, object], where: str, section: str
) -> tuple[Location | None, str | None]:
    """The ``location`` of a target (or of the DRP server, production…) and its
    ``ssh_config``: a path rsync's ``-e`` can carry, for a remote location only."""
    text = problems.field(entry, where, spec(section, "location"))
    location = None
    if text is not None:
        try:
            location = parse_location(text)
        except ValueError as error:
            problems.append(f"{where}.location: {error}")
    ssh_config = problems.field(entry, where, spec(section, "ssh_config"))
    if ssh_config is not None:
        if location is not None and not location.is_remote:
            problems.append(
                f"{where}.ssh_config: only for a host:/path location; "
                f"{location} is a local directory"
            )
        elif not ssh_config.startswith("/"):
            problems.append(f"{where}.ssh_config: {ssh_config!r} is not an absolute path")
        elif set(ssh_config) & UNQUOTABLE:
            problems.append(
                f"{where}.ssh_config: {ssh_config!r} holds a space, quote or backslash, "
                "which rsync's -e option cannot carry; move the file"
            )
    return location, ssh_config


def _notification(problems: Problems, table: dict[str, object]) -> Notification:
    where = "notification"
    problems.unknown(table, NOTIFICATION_KEYS, where)

    def address(text: str) -> str | None:
        # No blank nor control character: a CR or LF would end the mail's header line
        # (email refuses to build the message, and no failure would ever be mailed).
        local, at, domain = text.rpartition("@")
        if not at or not local or not domain or any(c.isspace() or ord(c) < 32 for c in text):
            return f"{text!r} is not a mail address (expected name@domain)"
        return None

    mail_to = problems.field(table, where, spec("notification", "mail_to"), address)
    mail_from = problems.field(table, where, spec("notification", "mail_from"))
    if mail_from is not None and address(mail_from):
        problems.append(f"{where}.mail_from: {address(mail_from)}")
    if mail_to and mail_from is None:
        problems.append(f"{where}.mail_from: missing (needed with mail_to)")
    host = problems.field(table, where, spec("notification", "smtp_host"))
    port = problems.field(table, where, spec("notification", "smtp_port"))
    url = problems.field(table, where, spec("notification", "webhook_url"))
    if url is not None and not url.startswith(("http://", "https://")):
        problems.append(f"{where}.webhook_url: {url!r} is not an http:// or https:// URL")
    credentials = problems.field(table, where, spec("notification", "webhook_credentials"))
    if credentials is not None and url is None:
        problems.append(f"{where}.webhook_credentials: only with webhook_url")
    icinga = tuple(
        problems.field(table, where, spec("notification", key))
        for key in ("icinga_url", "icinga_credentials", "icinga_ca_file", "icinga_host")
    )
    if icinga[0] is not None and not icinga[0].startswith("https://"):
        problems.append(
            f"{where}.icinga_url: {icinga[0]!r} is not an https:// URL "
            "(the Icinga 2 API speaks TLS only)"
        )
    if icinga[0] is not None and icinga[3] is None:
        problems.append(
            f"{where}.icinga_host: missing (needed with icinga_url: the host the comments go to)"
        )
    return Notification(
        mail_to,
        mail_from or "",
        host,
        port,
        webhook_url=url,
        webhook_credentials=credentials,
        runbook_steps=problems.field(table, where, spec("notification", "runbook_steps")),
        icinga=icinga,
    )


def _environments(
    problems: Problems, table: dict[str, object], targets: dict[str, Target]
) -> dict[str, Environment]:
    if not table:
        problems.append(
            "environments: none configured (expected at least one [environments.NAME] with paths)"
        )
    local_targets = [t for t in targets.values() if not t.location.is_remote]
    environments: dict[str, Environment] = {}
    for name in table:
        where = f"environments.{name}"
        entry = problems.table(table, name, where)
        usable = problems.name(name, where)
        problems.unknown(entry, ENVIRONMENT_KEYS, where)
        if "paths" not in entry:
            problems.append(f"{where}.paths: missing (expected a list of absolute paths)")
        paths = tuple(
            os.path.normpath(path)
            for path in problems.field(entry, where, spec("environment", "paths"), absolute)
        )
        if entry.get("paths") == []:
            problems.append(f"{where}.paths: empty (expected at least one absolute path)")
        for path in paths:
            for target in local_targets:
                inside = os.path.join(path, "")
                if os.path.join(target.location.path, "").startswith(inside):
                    problems.append(
                        f"{where}.paths: {path!r} holds target {target.name}'s location "
                        f"{target.location}; the backup would copy its own backups"
                    )
        excludes = problems.field(entry, where, spec("environment", "excludes"))
        databases = _databases(problems, problems.table(entry, "databases", where), where, name)
        if usable:
            environments[name] = Environment(name, paths, excludes, databases)
    return environments


def _databases(
    problems: Problems, table: dict[str, object], parent: str, environment: str
) -> tuple[Database, ...]:
    databases = []
    for key in table:
        where = f"{parent}.databases.{key}"
        entry = problems.table(table, key, where)
        usable = problems.name(key, where)
        problems.unknown(entry, DATABASE_KEYS, where)
        database = _database(problems, entry, where, environment, key)
        if usable and database is not None:
            databases.append(database)
    return tuple(databases)


def _known_target(text: str) -> str | None:
    if text in TARGET_NAMES:
        return None
    return f"{text!r} is not a target (expected A or B)"


def _database(
    problems: Problems, entry: dict[str, object], where: str, environment: str, key: str
) -> Database | None:
    """One ``[environments.E.databases.D]`` table; None when it cannot be used."""
    engine = problems.field(entry, where, spec("database", "engine"))
    if engine is not None and engine not in ENGINES:
        problems.append(f"{where}.engine: {engine!r} is not one of {', '.join(ENGINES)}")
        engine = None
    name = problems.field(entry, where, spec("database", "name")) or key
    if not set(name) <= DATABASE_NAME_CHARACTERS or name.startswith("-"):
        problems.append(
            f"{where}.name: {name!r} is not a database name drp can pass on safely "
            "(letters, digits, '.', '-', '_', '$'; not starting with '-')"
        )
    host = problems.field(entry, where, spec("database", "host"))
    port = problems.field(entry, where, spec("database", "port"))
    socket = problems.field(entry, where, spec("database", "socket"))
    if host is not None and socket is not None:
        problems.append(f"{where}: give host (and port) or socket, not both")
    targets: tuple[str, ...] = TARGET_NAMES
    if "targets" in entry:
        targets = problems.field(entry, where, spec("database", "targets"), _known_target)
        if entry["targets"] == []:
            problems.append(f"{where}.targets: empty (expected A, B or both)")
    if "globals" in entry and engine is not None and engine != "postgresql":
        problems.append(f'{where}.globals: only for engine = "postgresql"')
    if engine is None:
        return None
    return Database(
        environment,
        key,
        engine,
        name,
        host=host,
        port=port,
        socket=socket,
        user=problems.field(entry, where, spec("database", "user")),
        password_file=problems.field(entry, where, spec("database", "password_file")),
        targets=tuple(sorted(targets)),
        globals=problems.field(entry, where, spec("database", "globals")),
    )
