"""What a validated ``drp.toml`` is: plain classes the actions and check_backup read.

The classes are plain ``__slots__`` classes, not dataclasses: ``check_backup`` loads this
module on every run, and importing ``dataclasses`` would cost it more than the parse.
Secrets are never in the configuration: a database password lives in a file of its own
(``password_file``); ssh options live in an ssh config file (``ssh_config``).
"""

from __future__ import annotations

import os

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
#: Hours an authorisation recorded by ``drp authorize`` stays valid, unless ``--valid``.
DEFAULT_AUTHORIZATION_HOURS = 4
#: ``[automation] activate``: never from the event handler, on a recorded order only, or
#: whenever production is HARD CRITICAL (the policy then allows automatic activation).
ACTIVATION_POLICIES = ("never", "authorized", "always")
#: Hours after an automatic activation during which the event handler starts no other.
DEFAULT_QUIET_HOURS = 24
#: Where restore drills make their scratch directories (``[drill] scratch``).
#: /var/tmp, not /tmp: a full copy may be large and tmpfs is memory; the directory is
#: made 0700 and refused when someone else owns it (drptools.procedures.drill).
DEFAULT_DRILL_SCRATCH = "/var/tmp/vigie-drill"  # noqa: S108
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

    __slots__ = (
        "icinga_ca_file",
        "icinga_credentials",
        "icinga_host",
        "icinga_url",
        "mail_from",
        "mail_to",
        "runbook_steps",
        "smtp_host",
        "smtp_port",
        "webhook_credentials",
        "webhook_url",
    )

    def __init__(
        self,
        mail_to: tuple[str, ...] = (),
        mail_from: str = "",
        smtp_host: str = "localhost",
        smtp_port: int = 25,
        *,
        webhook_url: str | None = None,
        webhook_credentials: str | None = None,
        runbook_steps: bool = False,
        icinga: tuple[str | None, str | None, str | None, str | None] = (None, None, None, None),
    ) -> None:
        self.mail_to = mail_to
        self.mail_from = mail_from
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        #: A ticket system's endpoint: each notice POSTed as JSON, basic auth from a file.
        self.webhook_url, self.webhook_credentials = webhook_url, webhook_credentials
        #: Whether each step of a DRP runbook is announced, besides its start and end.
        self.runbook_steps = runbook_steps
        #: The Icinga 2 API (URL, credentials file, CA file, host): comments and downtimes.
        self.icinga_url, self.icinga_credentials, self.icinga_ca_file, self.icinga_host = icinga


class Config:
    """The whole validated configuration."""

    __slots__ = (
        "authorization_hours",
        "automation",
        "datacenter",
        "dns",
        "drill_on_drp",
        "drill_scratch",
        "drp",
        "environments",
        "keep_dumps",
        "keep_files",
        "limits",
        "notification",
        "preserve",
        "production",
        "sites",
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
        recovery: Recovery | None = None,
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
        recovery = recovery or Recovery()
        #: The DRP server, production and DNS (None when not configured: backups only).
        self.drp, self.production, self.dns = recovery.drp, recovery.production, recovery.dns
        #: How long a recorded authorisation (the customer's order) stays valid.
        self.authorization_hours = recovery.authorization_hours
        #: Environment -> the page proven before the DNS moves to a side.
        self.sites = recovery.sites
        #: What the event handler does on an outage (nothing watched when not configured).
        self.automation = recovery.automation
        #: Where a restore drill makes its scratch directory (``[drill] scratch``), and
        #: whether that path is on the DRP server (``[drill] on = "drp"``) or here.
        self.drill_scratch, self.drill_on_drp = recovery.drill_scratch, recovery.drill_on_drp


class Server:
    """How drp reaches one engine's database server on the DRP or the production side."""

    __slots__ = ("engine", "host", "password_file", "port", "socket", "user")

    def __init__(
        self,
        engine: str,
        *,
        host: str | None = None,
        port: int | None = None,
        socket: str | None = None,
        user: str | None = None,
        password_file: str | None = None,
    ) -> None:
        self.engine = engine
        self.host, self.port, self.socket = host, port, socket
        self.user, self.password_file = user, password_file

    def database(self, backed_up: Database) -> Database:
        """``backed_up`` as it lives on this server: same name, this server's connection."""
        return Database(
            backed_up.environment, backed_up.key, backed_up.engine, backed_up.name,
            host=self.host, port=self.port, socket=self.socket, user=self.user,
            password_file=self.password_file, targets=backed_up.targets,
            globals=backed_up.globals,
        )  # fmt: skip


class Side:
    """The DRP server or production: where the environments' files live (their absolute
    paths under ``location``), its addresses for DNS, its database servers per engine."""

    __slots__ = (
        "addresses", "databases", "datacenter", "location", "name", "site_address", "ssh_config",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        location: Location,
        datacenter: str,
        ssh_config: str | None,
        addresses: tuple[str, ...],
        databases: dict[str, Server],
        site_address: str | None = None,
    ) -> None:
        #: ``drp`` or ``production``: the section, in messages.
        self.name = name
        self.location = location
        self.datacenter = datacenter
        self.ssh_config = ssh_config
        #: The public addresses the DNS records point to when this side serves.
        self.addresses = addresses
        self.databases = databases
        #: Where a site check connects to reach this side (a public address may not be
        #: reachable from where drp runs: NAT without hairpinning).
        self.site_address = site_address or (addresses[0] if addresses else None)


class DrpServer(Side):
    """The DRP server, and how it reaches each backup target (``[drp.targets.X]``; by
    default the target's own location)."""

    __slots__ = ("targets",)

    def __init__(self, side: Side, targets: dict[str, tuple[Location, str | None]]) -> None:
        super().__init__(
            side.name, side.location, side.datacenter, side.ssh_config, side.addresses,
            side.databases, side.site_address,
        )  # fmt: skip
        self.targets = targets


class Production(Side):
    """Production, and how to put it in maintenance for a failback: an argument list run
    on it (``maintenance_on``/``maintenance_off``) or a flag file its web server obeys."""

    __slots__ = ("maintenance_flag", "maintenance_off", "maintenance_on")

    def __init__(
        self,
        side: Side,
        maintenance_on: tuple[str, ...],
        maintenance_off: tuple[str, ...],
        maintenance_flag: str | None,
    ) -> None:
        super().__init__(
            side.name, side.location, side.datacenter, side.ssh_config, side.addresses,
            side.databases, side.site_address,
        )  # fmt: skip
        self.maintenance_on, self.maintenance_off = maintenance_on, maintenance_off
        self.maintenance_flag = maintenance_flag


class Dns:
    """The zone whose records follow the service: RFC 2136 updates signed with TSIG, sent
    to ``primary``, then proven on every server of ``servers`` (default: the NS set)."""

    __slots__ = (
        "key_algorithm",
        "key_file",
        "key_name",
        "port",
        "primary",
        "records",
        "servers",
        "ttl_warning",
        "verify_timeout",
        "zone",
    )

    def __init__(
        self,
        zone: str,
        primary: str,
        key_name: str,
        key_file: str,
        records: dict[str, tuple[str, ...]],
        *,
        key_algorithm: str = "hmac-sha256",
        port: int = 53,
        servers: tuple[str, ...] = (),
        ttl_warning: int = 300,
        verify_timeout: int = 300,
    ) -> None:
        self.zone, self.primary, self.port = zone, primary, port
        self.key_name, self.key_algorithm, self.key_file = key_name, key_algorithm, key_file
        #: Environment -> the names (absolute, ending in the zone) switched for it.
        self.records = records
        self.servers = servers
        #: A record TTL above this (s) is a warning in the plan: a failover waits it out.
        self.ttl_warning = ttl_warning
        #: Seconds every authoritative server has to answer the new address.
        self.verify_timeout = verify_timeout


class Site:
    """The page of an environment that proves it serves (``[sites.NAME]``): fetched over
    HTTP from the side about to take the DNS, under the site's own name (Host, SNI and
    certificate), before the DNS moves there."""

    __slots__ = ("ca_file", "contains", "environment", "status", "url")

    def __init__(
        self, environment: str, url: str, status: int = 200, contains: str | None = None,
        ca_file: str | None = None,
    ) -> None:  # fmt: skip
        self.environment, self.url, self.status = environment, url, status
        self.contains, self.ca_file = contains, ca_file


class Automation:
    """``[automation]``: what ``drp event-handler`` does when Icinga or Nagios reports a
    HARD state of production (:mod:`drptools.decide` holds the decisions)."""

    __slots__ = ("activate", "log", "prestage", "quiet_period", "watch")

    def __init__(
        self,
        watch: tuple[str, ...] = (),
        prestage: bool = False,
        activate: str = "authorized",
        quiet_period: float = DEFAULT_QUIET_HOURS * 3600.0,
        log: str | None = None,
    ) -> None:
        #: ``host!service`` or ``host``: the monitored objects whose outage is production's.
        self.watch = watch
        #: Whether a HARD CRITICAL that does not activate starts a pre-staging.
        self.prestage = prestage
        #: One of :data:`ACTIVATION_POLICIES`.
        self.activate = activate
        #: Seconds after an automatic activation during which no other starts.
        self.quiet_period = quiet_period
        #: The decision log (None: ``event-handler.jsonl`` in the state directory).
        self.log = log


class Recovery:
    """The DRP part of a configuration: ``[drp]``, ``[production]``, ``[dns]``,
    ``[authorization]``, ``[automation]``, ``[sites]``, ``[drill]``; all absent for a
    machine that only makes backups."""

    __slots__ = (
        "authorization_hours", "automation", "dns", "drill_on_drp", "drill_scratch", "drp",
        "production", "sites",
    )  # fmt: skip

    def __init__(
        self,
        drp: DrpServer | None = None,
        production: Production | None = None,
        dns: Dns | None = None,
        authorization_hours: int = DEFAULT_AUTHORIZATION_HOURS,
        automation: Automation | None = None,
        sites: dict[str, Site] | None = None,
        drill_scratch: str = DEFAULT_DRILL_SCRATCH,
        drill_on_drp: bool = False,
    ) -> None:
        self.drp, self.production, self.dns = drp, production, dns
        self.authorization_hours = authorization_hours
        self.automation = automation or Automation()
        self.sites = sites or {}
        self.drill_scratch, self.drill_on_drp = drill_scratch, drill_on_drp
