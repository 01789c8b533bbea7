"""The one configuration file of ``drp`` and ``check_backup``: ``/etc/vigie/drp.toml``.

It describes what the site's policy asks for: environments (paths, excludes, databases),
the two backup targets A and B (even and odd days) with the datacenter of each, how many
backups each target keeps, and who hears about failures. :func:`parse` validates the
decoded TOML as a pure function and reports every problem at once, each naming the key,
the value found and what was expected, because the person reading it is fixing a file at
3 a.m. with no other documentation at hand. :func:`check_files` adds what only the machine
can tell (secret files readable by others, missing paths); ``drp config check`` runs both.

The classes are plain ``__slots__`` classes, not dataclasses: ``check_backup`` loads this
module on every run, and importing ``dataclasses`` would cost it more than the parse.
Secrets are never in this file: a database password lives in a file of its own
(``password_file``), which must not be accessible by group or others, as libpq and OpenSSH
demand of theirs; ssh options live in an ssh config file (``ssh_config``).
"""

from __future__ import annotations

import contextlib
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_PATH = "/etc/vigie/drp.toml"
#: Even days since the epoch go to A, odd days to B (see :mod:`drptools.layout`).
TARGET_NAMES = ("A", "B")
ENGINES = ("mariadb", "mysql", "postgresql")
DEFAULT_KEEP_FILES = 14
DEFAULT_KEEP_DUMPS = 36
#: ``[files]`` switches, each true by default; their rsync options: :mod:`drptools.rsync`.
PRESERVE_KEYS = ("hard_links", "sparse", "acls", "xattrs")
#: Minutes a run may take before it counts as hung (``[limits]``): those of the systemd
#: units' TimeoutStartSec, so a run systemd would stop is also one check_backup reports.
DEFAULT_LIMITS = {"files": 1200, "db": 110}
NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
HOST_CHARACTERS = NAME_CHARACTERS
DATABASE_NAME_CHARACTERS = NAME_CHARACTERS | {"$"}
#: Characters an ssh config path cannot hold: it is part of rsync's ``-e`` command string.
UNQUOTABLE = frozenset(" \t\n\r'\"\\")
#: What ends a line for someone: a list item holding one is refused.
LINE_BREAKS = frozenset("\r\n")
LOCATION_HELP = "an absolute path (/srv/backup), host:/path or user@host:/path"


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` holds one message per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: {problems[0]}")
        self.source = source
        self.problems = problems

    def one_line(self) -> str:
        """The first problem, and how many more there are."""
        more = len(self.problems) - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''}: drp config check)"
        return str(self) + (tail if more else "")


class Location:
    """Where a target keeps its backups: a local directory, or ``[user@]host:/path`` by ssh."""

    __slots__ = ("host", "path")

    def __init__(self, path: str, host: str | None = None) -> None:
        self.path = path
        #: ``host`` or ``user@host`` as ssh takes it; None for a local directory.
        self.host = host

    @property
    def is_remote(self) -> bool:
        """True when the target is reached by ssh."""
        return self.host is not None

    def __str__(self) -> str:
        return f"{self.host}:{self.path}" if self.host else self.path

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Location):
            return NotImplemented
        return (self.host, self.path) == (other.host, other.path)

    def __hash__(self) -> int:
        return hash((self.host, self.path))


def parse_location(text: str) -> Location:
    """``/srv/backup``, ``host:/srv/backup`` or ``user@host:/srv/backup``, as rsync reads them.

    Raises ValueError saying what was expected. A relative path or ``~`` is refused: the
    remote shell's working directory is not something a backup should depend on.
    """
    if "\n" in text or "\x00" in text:
        raise ValueError(f"{text!r} holds a line break; expected {LOCATION_HELP}")
    if text.startswith("/"):
        return Location(os.path.normpath(text))
    host, colon, path = text.partition(":")
    if not colon or "/" in host:
        raise ValueError(f"{text!r} is not {LOCATION_HELP}")
    user, at, name = host.rpartition("@")
    if (
        not name
        or not set(name) <= HOST_CHARACTERS
        or (at and not set(user) <= NAME_CHARACTERS)
        or host.startswith("-")
    ):
        raise ValueError(
            f"{text!r}: {host!r} is not a host name or user@host (letters, digits, '.', '-', "
            "'_', not starting with '-'; use an ssh config Host alias for anything else)"
        )
    if at and not user:
        raise ValueError(f"{text!r}: the user before '@' is empty")
    if not path.startswith("/"):
        raise ValueError(f"{text!r}: the remote path {path!r} is not absolute; expected {host}:/…")
    return Location(os.path.normpath(path), host)


class Target:
    """Backup server A or B."""

    __slots__ = ("datacenter", "location", "name", "ssh_config")

    def __init__(
        self, name: str, location: Location, datacenter: str, ssh_config: str | None
    ) -> None:
        self.name = name
        self.location = location
        self.datacenter = datacenter
        #: ssh config file (port, identity, known_hosts…) for a remote location.
        self.ssh_config = ssh_config


class Database:
    """One database of an environment, dumped every 2 hours."""

    __slots__ = (
        "engine",
        "environment",
        "globals",
        "host",
        "key",
        "name",
        "password_file",
        "port",
        "socket",
        "targets",
        "user",
    )

    def __init__(
        self,
        environment: str,
        key: str,
        engine: str,
        name: str,
        *,
        host: str | None = None,
        port: int | None = None,
        socket: str | None = None,
        user: str | None = None,
        password_file: str | None = None,
        targets: tuple[str, ...] = TARGET_NAMES,
        globals: bool = True,
    ) -> None:
        self.environment = environment
        #: The name of its table in the config, used in paths and status records.
        self.key = key
        self.engine = engine
        #: The database's name on the server.
        self.name = name
        self.host, self.port, self.socket = host, port, socket
        self.user, self.password_file = user, password_file
        self.targets = targets
        #: PostgreSQL: also dump roles and tablespaces (``pg_dumpall --globals-only``).
        self.globals = globals


class Environment:
    """A hosted environment: the files to snapshot daily and the databases to dump."""

    __slots__ = ("databases", "excludes", "name", "paths")

    def __init__(
        self,
        name: str,
        paths: tuple[str, ...],
        excludes: tuple[str, ...] = (),
        databases: tuple[Database, ...] = (),
    ) -> None:
        self.name = name
        self.paths = paths
        self.excludes = excludes
        self.databases = databases


class Notification:
    """Who is mailed when a backup fails (besides cron's mail and systemd's journal)."""

    __slots__ = ("mail_from", "mail_to", "smtp_host", "smtp_port")

    def __init__(
        self,
        mail_to: tuple[str, ...] = (),
        mail_from: str = "",
        smtp_host: str = "localhost",
        smtp_port: int = 25,
    ) -> None:
        self.mail_to = mail_to
        self.mail_from = mail_from
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port


class Config:
    """The whole validated configuration."""

    __slots__ = (
        "datacenter",
        "environments",
        "keep_dumps",
        "keep_files",
        "limits",
        "notification",
        "preserve",
        "source",
        "status_group",
        "targets",
    )

    def __init__(
        self,
        source: str,
        datacenter: str,
        targets: dict[str, Target],
        environments: dict[str, Environment],
        keep_files: int = DEFAULT_KEEP_FILES,
        keep_dumps: int = DEFAULT_KEEP_DUMPS,
        notification: Notification | None = None,
        limits: dict[str, int] | None = None,
        status_group: str | None = None,
        preserve: tuple[str, ...] = PRESERVE_KEYS,
    ) -> None:
        self.source = source
        #: Where the service runs; the policy wants a target in another datacenter.
        self.datacenter = datacenter
        self.targets = targets
        self.environments = environments
        #: Complete file snapshots kept per environment on each target.
        self.keep_files = keep_files
        #: Complete dumps kept per database on each target.
        self.keep_dumps = keep_dumps
        self.notification = notification or Notification()
        #: Longest run in minutes, per kind of run (``files``, ``db``).
        self.limits = dict(DEFAULT_LIMITS, **(limits or {}))
        #: Group that may read the state directory and records (the monitoring user's).
        self.status_group = status_group
        #: What file snapshots keep besides contents and modes (``[files]``, all by default).
        self.preserve = preserve


def load(path: str = DEFAULT_PATH) -> Config:
    """Read, decode and validate the file at ``path``; ConfigError says what is wrong.

    The decoded document is cached as JSON in the state directory, keyed by the file's
    inode, size and mtime: check_backup runs every few minutes, and importing ``tomllib``
    (with ``typing``, ``datetime`` and ``re``) would cost it half an interpreter start.
    Validation always runs on what was read.
    """
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(path, ["no such file (give another with --config FILE)"]) from None
    except OSError as error:
        raise ConfigError(path, [f"cannot read it: {error.strerror}"]) from None
    key = [os.path.abspath(path), status.st_ino, status.st_size, status.st_mtime_ns]
    data = _cached(key)
    if data is None:
        data = _decode(path)
        _cache(key, data)
    return parse(data, path)


def _decode(path: str) -> dict[str, object]:
    """The TOML document at ``path``; ConfigError names a bad byte by its offset.

    The bytes are decoded here rather than by tomllib, whose UnicodeDecodeError says
    neither the file nor the line: a Latin-1 "é" in a comment must not stop every
    action with a traceback.
    """
    import tomllib

    try:
        with open(path, "rb") as file:
            raw = file.read()
    except OSError as error:
        raise ConfigError(path, [f"cannot read it: {error.strerror}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            path,
            [
                f"not UTF-8, as TOML must be: byte 0x{raw[error.start]:02x} at offset "
                f"{error.start} (line {line})"
            ],
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, [f"not valid TOML: {error}"]) from None


def _cache_path() -> str:
    from drptools.status import state_dir

    return os.path.join(state_dir(), "config-cache.json")


def _cached(key: list[object]) -> dict[str, object] | None:
    import json

    try:
        with open(_cache_path(), encoding="utf-8") as file:
            cached = json.load(file)
    except (OSError, ValueError):
        return None
    if not isinstance(cached, dict) or cached.get("key") != key:
        return None
    data = cached.get("data")
    return data if isinstance(data, dict) else None


def _cache(key: list[object], data: dict[str, object]) -> None:
    """Store the decoded document for the next reader; silently skipped when impossible."""
    import json

    from drptools.status import make_state_dir

    path = _cache_path()
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        text = json.dumps({"key": key, "data": data})
        make_state_dir()  # with its mode: not 0700 because drp ran under umask 077
        with open(temporary, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), 0o644)  # no secret in drp.toml; check_backup reads it
            file.write(text)
        os.replace(temporary, path)
    except (OSError, TypeError, ValueError):  # read-only state, or a TOML date
        with contextlib.suppress(OSError):
            os.unlink(temporary)


# --- validation: pure functions of the decoded TOML --------------------------------------


class _Problems(list[str]):
    """Collects problems; the helpers return a usable default after recording one."""

    def table(self, parent: dict[str, object], key: str, where: str) -> dict[str, object]:
        value = parent.get(key, {})
        if not isinstance(value, dict):
            self.append(f"{where}: expected a table ([{where}]), found {_kind(value)}")
            return {}
        return value

    def unknown(self, table: dict[str, object], known: tuple[str, ...], where: str) -> None:
        for key in table:
            if key not in known:
                self.append(f"{_join(where, key)}: unknown key (known here: {', '.join(known)})")

    def string(
        self, table: dict[str, object], key: str, where: str, required: bool = False
    ) -> str | None:
        if key not in table:
            if required:
                self.append(f"{_join(where, key)}: missing (expected a string)")
            return None
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            self.append(f"{_join(where, key)}: expected a non-empty string, found {_shown(value)}")
            return None
        return value

    def name(self, value: str, where: str) -> bool:
        if value and set(value) <= NAME_CHARACTERS and not value.startswith("."):
            return True
        self.append(
            f"{where}: {value!r} is not a usable name (letters, digits, '.', '-', '_'; "
            "not starting with '.'): it names directories and status files"
        )
        return False

    def integer(
        self,
        table: dict[str, object],
        key: str,
        where: str,
        default: int,
        minimum: int,
        maximum: int,
    ) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.append(f"{_join(where, key)}: expected an integer, found {_shown(value)}")
            return default
        if not minimum <= value <= maximum:
            self.append(
                f"{_join(where, key)}: {value} is out of range (expected {minimum} to {maximum})"
            )
            return default
        return value

    def path(self, table: dict[str, object], key: str, where: str) -> str | None:
        value = self.string(table, key, where)
        if value is not None and not value.startswith("/"):
            self.append(f"{_join(where, key)}: {value!r} is not an absolute path")
            return None
        return value

    def boolean(self, table: dict[str, object], key: str, where: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.append(f"{_join(where, key)}: expected true or false, found {_shown(value)}")
            return default
        return value

    def strings(
        self,
        table: dict[str, object],
        key: str,
        where: str,
        check: Callable[[str], str | None] | None = None,
    ) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list):
            self.append(f"{_join(where, key)}: expected a list of strings, found {_shown(value)}")
            return ()
        good: list[str] = []
        for index, item in enumerate(value):
            label = f"{_join(where, key)}[{index}]"
            if not isinstance(item, str) or not item or set(item) & LINE_BREAKS:
                self.append(f"{label}: expected a non-empty one-line string, found {_shown(item)}")
                continue
            complaint = check(item) if check else None
            if complaint:
                self.append(f"{label}: {complaint}")
            elif item in good:
                self.append(f"{label}: {item!r} is listed twice")
            else:
                good.append(item)
        return tuple(good)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _shown(value: object) -> str:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return f"{_kind(value)} {value!r}"
    if isinstance(value, bool):
        return f"a boolean {str(value).lower()}"
    return _kind(value)


def _absolute(path: str) -> str | None:
    if not path.startswith("/"):
        return f"{path!r} is not an absolute path"
    return None


TOP_KEYS = (
    "datacenter",
    "targets",
    "retention",
    "limits",
    "status",
    "notification",
    "files",
    "environments",
)
TARGET_KEYS = ("location", "datacenter", "ssh_config")
ENVIRONMENT_KEYS = ("paths", "excludes", "databases")
DATABASE_KEYS = (
    "engine",
    "name",
    "host",
    "port",
    "socket",
    "user",
    "password_file",
    "targets",
    "globals",
)
RETENTION_KEYS = ("files", "dumps")
LIMITS_KEYS = ("files_minutes", "db_minutes")
STATUS_KEYS = ("group",)
NOTIFICATION_KEYS = ("mail_to", "mail_from", "smtp_host", "smtp_port")


def parse(data: dict[str, object], source: str = DEFAULT_PATH) -> Config:
    """Validate decoded TOML ``data`` into a :class:`Config`; ConfigError lists every problem."""
    problems = _Problems()
    problems.unknown(data, TOP_KEYS, "")
    datacenter = problems.string(data, "datacenter", "", required=True) or ""
    targets = _targets(problems, problems.table(data, "targets", "targets"), datacenter)
    retention = problems.table(data, "retention", "retention")
    problems.unknown(retention, RETENTION_KEYS, "retention")
    keep_files = problems.integer(retention, "files", "retention", DEFAULT_KEEP_FILES, 1, 10000)
    keep_dumps = problems.integer(retention, "dumps", "retention", DEFAULT_KEEP_DUMPS, 1, 100000)
    limits_table = problems.table(data, "limits", "limits")
    problems.unknown(limits_table, LIMITS_KEYS, "limits")
    limits = {
        kind: problems.integer(limits_table, f"{kind}_minutes", "limits", default, 1, 100000)
        for kind, default in DEFAULT_LIMITS.items()
    }
    status_table = problems.table(data, "status", "status")
    problems.unknown(status_table, STATUS_KEYS, "status")
    group = problems.string(status_table, "group", "status")
    if group is not None and (not set(group) <= NAME_CHARACTERS or group.startswith("-")):
        problems.append(
            f"status.group: {group!r} is not a group name (letters, digits, '.', '-', '_'; "
            "not starting with '-')"
        )
        group = None
    notification = _notification(problems, problems.table(data, "notification", "notification"))
    files = problems.table(data, "files", "files")
    problems.unknown(files, PRESERVE_KEYS, "files")
    preserve = tuple(key for key in PRESERVE_KEYS if problems.boolean(files, key, "files", True))
    environments = _environments(
        problems, problems.table(data, "environments", "environments"), targets
    )
    if problems:
        raise ConfigError(source, problems)
    return Config(
        source,
        datacenter,
        targets,
        environments,
        keep_files,
        keep_dumps,
        notification,
        limits,
        group,
        preserve,
    )


def _targets(problems: _Problems, table: dict[str, object], datacenter: str) -> dict[str, Target]:
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


def _target(problems: _Problems, entry: dict[str, object], name: str, where: str) -> Target | None:
    """One ``[targets.X]`` table; None when it cannot be used."""
    problems.unknown(entry, TARGET_KEYS, where)
    text = problems.string(entry, "location", where, required=True)
    location = None
    if text is not None:
        try:
            location = parse_location(text)
        except ValueError as error:
            problems.append(f"{where}.location: {error}")
    place = problems.string(entry, "datacenter", where, required=True)
    ssh_config = problems.string(entry, "ssh_config", where)
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
    if location is None or place is None:
        return None
    return Target(name, location, place, ssh_config)


def _notification(problems: _Problems, table: dict[str, object]) -> Notification:
    where = "notification"
    problems.unknown(table, NOTIFICATION_KEYS, where)

    def address(text: str) -> str | None:
        # No blank nor control character: a CR or LF would end the mail's header line
        # (email refuses to build the message, and no failure would ever be mailed).
        local, at, domain = text.rpartition("@")
        if not at or not local or not domain or any(c.isspace() or ord(c) < 32 for c in text):
            return f"{text!r} is not a mail address (expected name@domain)"
        return None

    mail_to = problems.strings(table, "mail_to", where, address)
    mail_from = problems.string(table, "mail_from", where)
    if mail_from is not None and address(mail_from):
        problems.append(f"{where}.mail_from: {address(mail_from)}")
    if mail_to and mail_from is None:
        problems.append(f"{where}.mail_from: missing (needed with mail_to)")
    host = problems.string(table, "smtp_host", where) or "localhost"
    port = problems.integer(table, "smtp_port", where, 25, 1, 65535)
    return Notification(mail_to, mail_from or "", host, port)


def _environments(
    problems: _Problems, table: dict[str, object], targets: dict[str, Target]
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
            os.path.normpath(path) for path in problems.strings(entry, "paths", where, _absolute)
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
        excludes = problems.strings(entry, "excludes", where)
        databases = _databases(problems, problems.table(entry, "databases", where), where, name)
        if usable:
            environments[name] = Environment(name, paths, excludes, databases)
    return environments


def _databases(
    problems: _Problems, table: dict[str, object], parent: str, environment: str
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
    problems: _Problems, entry: dict[str, object], where: str, environment: str, key: str
) -> Database | None:
    """One ``[environments.E.databases.D]`` table; None when it cannot be used."""
    engine = problems.string(entry, "engine", where, required=True)
    if engine is not None and engine not in ENGINES:
        problems.append(f"{where}.engine: {engine!r} is not one of {', '.join(ENGINES)}")
        engine = None
    name = problems.string(entry, "name", where) or key
    if not set(name) <= DATABASE_NAME_CHARACTERS or name.startswith("-"):
        problems.append(
            f"{where}.name: {name!r} is not a database name drp can pass on safely "
            "(letters, digits, '.', '-', '_', '$'; not starting with '-')"
        )
    host = problems.string(entry, "host", where)
    port = problems.integer(entry, "port", where, 0, 1, 65535) if "port" in entry else None
    socket = problems.path(entry, "socket", where)
    if host is not None and socket is not None:
        problems.append(f"{where}: give host (and port) or socket, not both")
    targets: tuple[str, ...] = TARGET_NAMES
    if "targets" in entry:
        targets = problems.strings(entry, "targets", where, _known_target)
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
        user=problems.string(entry, "user", where),
        password_file=problems.path(entry, "password_file", where),
        targets=tuple(sorted(targets)),
        globals=problems.boolean(entry, "globals", where, True),
    )


# --- what only this machine can tell ----------------------------------------------------


def secret_problem(path: str, where: str) -> str | None:
    """Why the secret file at ``path`` cannot be used, or None.

    Group and others must have no access at all (mode 0600 or 0400), as libpq asks of
    ``.pgpass`` and OpenSSH of private keys: a group-readable password is readable by
    every member of a group nobody audits.
    """
    import stat

    try:
        status = os.stat(path)
    except OSError as error:
        return f"{where}: cannot use {path}: {error.strerror}"
    if not stat.S_ISREG(status.st_mode):
        return f"{where}: {path} is not a regular file"
    if status.st_mode & 0o077:
        mode = stat.S_IMODE(status.st_mode)
        return (
            f"{where}: {path} is accessible by group or others (mode {mode:04o}); "
            f"a secret file must be mode 0600 or 0400 (chmod 600 {path})"
        )
    return None


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
        for database in environment.databases:
            if database.password_file is not None:
                complaint = secret_problem(
                    database.password_file, f"{where}.databases.{database.key}.password_file"
                )
                if complaint:
                    problems.append(complaint)
    return problems
