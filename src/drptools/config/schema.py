"""Every key of ``drp.toml``, once: its section, type, default and what it means.

This table is the single source of truth the validation reads (which keys a section
knows, for the "unknown key (known here: …)" messages, and the type, default and range
of every simple value), and that the tests compare with ``examples/drp.toml``, so that a
key cannot be added without being validated and documented. Rules between keys (two
targets in one datacenter, host and socket together…) are in :mod:`drptools.config.rules`.

Plain tuples and a ``__slots__`` class: check_backup imports this on every run.
"""

from __future__ import annotations

from drptools.config.model import (
    ACTIVATION_POLICIES,
    DEFAULT_AUTHORIZATION_HOURS,
    DEFAULT_DRILL_SCRATCH,
    DEFAULT_KEEP_DUMPS,
    DEFAULT_KEEP_FILES,
    DEFAULT_LIMITS,
    DEFAULT_QUIET_HOURS,
    PRESERVE_KEYS,
    TARGET_NAMES,
)

STRING = "string"  # a non-empty string
PATH = "path"  # an absolute path
INTEGER = "integer"
BOOLEAN = "boolean"
STRINGS = "strings"  # a list of distinct one-line strings
TABLE = "table"


class Key:
    """One key of a section: its name, type, default, range and meaning."""

    __slots__ = ("default", "help", "kind", "maximum", "minimum", "name", "required")

    def __init__(
        self,
        name: str,
        kind: str,
        help: str,
        default: object = None,
        *,
        required: bool = False,
        minimum: int = 0,
        maximum: int = 0,
    ) -> None:
        self.name = name
        self.kind = kind
        self.help = help
        #: What the key is when absent (None: no value).
        self.default = default
        self.required = required
        #: The range of an integer.
        self.minimum, self.maximum = minimum, maximum


#: Section -> its keys, in the order the messages list them. ``target`` is each
#: ``[targets.A]``/``[targets.B]``, ``environment`` each ``[environments.NAME]``,
#: ``database`` each ``[environments.NAME.databases.NAME]``.
SECTIONS: dict[str, tuple[Key, ...]] = {
    "": (
        Key("datacenter", STRING, "where the service runs", required=True),
        Key("targets", TABLE, f"the backup servers {' and '.join(TARGET_NAMES)}"),
        Key("retention", TABLE, "how many backups each target keeps"),
        Key("limits", TABLE, "how long a run may take"),
        Key("status", TABLE, "who may read the status records"),
        Key("notification", TABLE, "who hears about a failed backup"),
        Key("files", TABLE, "what file snapshots keep"),
        Key("environments", TABLE, "what is backed up"),
        Key("drp", TABLE, "the DRP server that takes over the environments"),
        Key("production", TABLE, "the production server the DRP returns to"),
        Key("dns", TABLE, "the zone whose records follow the service"),
        Key("authorization", TABLE, "how long the customer's order stays valid"),
        Key("sites", TABLE, "per environment, the page proven by HTTP before the DNS moves"),
        Key("automation", TABLE, "what drp event-handler does when monitoring sees an outage"),
        Key("drill", TABLE, "where restore drills put their scratch copies"),
    ),
    "target": (
        Key("location", STRING, "/path, host:/path or user@host:/path", required=True),
        Key("datacenter", STRING, "the target's datacenter", required=True),
        Key("ssh_config", STRING, "ssh config file of a remote location"),
    ),
    "retention": (
        Key(
            "files",
            INTEGER,
            "complete file snapshots per environment",
            DEFAULT_KEEP_FILES,
            minimum=1,
            maximum=10000,
        ),
        Key(
            "dumps",
            INTEGER,
            "complete dump sets per database",
            DEFAULT_KEEP_DUMPS,
            minimum=1,
            maximum=100000,
        ),
    ),
    "limits": tuple(
        Key(
            f"{kind}_minutes",
            INTEGER,
            f"minutes a {kind} run may take before it counts as hung",
            default,
            minimum=1,
            maximum=100000,
        )
        for kind, default in DEFAULT_LIMITS.items()
    ),
    "status": (Key("group", STRING, "group that may read the state directory and records"),),
    "notification": (
        Key("mail_to", STRINGS, "addresses mailed when a backup fails"),
        Key("mail_from", STRING, "sender of those mails (needed with mail_to)"),
        Key("smtp_host", STRING, "SMTP server", "localhost"),
        Key("smtp_port", INTEGER, "its port", 25, minimum=1, maximum=65535),
        Key("webhook_url", STRING, "http(s) URL that receives each notice as a JSON POST"),
        Key("webhook_credentials", PATH, "credentials file (username, password) for it"),
        Key("runbook_steps", BOOLEAN, "also notify the end of each DRP runbook step", False),
        Key("icinga_url", STRING, "Icinga 2 API (https://host:5665): notices as comments"),
        Key("icinga_credentials", PATH, "credentials file of its API user"),
        Key("icinga_ca_file", PATH, "the CA of the API's certificate"),
        Key("icinga_host", STRING, "the production host's name in Icinga"),
    ),
    "files": tuple(
        Key(name, BOOLEAN, f"rsync --{name.replace('_', '-')}", True) for name in PRESERVE_KEYS
    ),
    "environment": (
        Key("paths", STRINGS, "absolute paths copied daily (at least one)"),
        Key("excludes", STRINGS, "rsync exclude patterns"),
        Key("databases", TABLE, "databases dumped every 2 hours"),
    ),
    "database": (
        Key("engine", STRING, "mariadb, mysql or postgresql", required=True),
        Key("name", STRING, "the database on the server (default: the table's name)"),
        Key("host", STRING, "TCP host"),
        Key("port", INTEGER, "TCP port", minimum=1, maximum=65535),
        Key("socket", PATH, "Unix socket path"),
        Key("user", STRING, "the account that dumps"),
        Key("password_file", PATH, "file holding the password alone, mode 0600 or 0400"),
        Key("targets", STRINGS, "A, B or both", TARGET_NAMES),
        Key("globals", BOOLEAN, "PostgreSQL: also dump roles and tablespaces", True),
    ),
    "drp": (
        Key("location", STRING, "root of the environments' paths: /, /srv/drp or host:/path",
            required=True),
        Key("datacenter", STRING, "the DRP server's datacenter", required=True),
        Key("ssh_config", STRING, "ssh config file of a remote location"),
        Key("addresses", STRINGS, "its public IPv4/IPv6 addresses, for the DNS switch"),
        Key("site_address", STRING, "where the site checks connect (default: the first "
            "of addresses)"),
        Key("targets", TABLE, "how the DRP server reaches each backup target"),
        Key("databases", TABLE, "its database servers, one table per engine"),
    ),
    "drp_target": (
        Key("location", STRING, "the target as the DRP server reaches it", required=True),
        Key("ssh_config", STRING, "ssh config file of a remote location"),
    ),
    "production": (
        Key("location", STRING, "root of the environments' paths: / or host:/", "/"),
        Key("datacenter", STRING, "production's datacenter (default: datacenter above)"),
        Key("ssh_config", STRING, "ssh config file of a remote location"),
        Key("addresses", STRINGS, "its public IPv4/IPv6 addresses, for the DNS switch"),
        Key("site_address", STRING, "where the site checks connect (default: the first "
            "of addresses)"),
        Key("databases", TABLE, "its database servers, one table per engine"),
        Key("maintenance_on", STRINGS, "argument list run on production to start maintenance"),
        Key("maintenance_off", STRINGS, "argument list run on production to end it"),
        Key("maintenance_flag", PATH, "or: a file whose presence puts the site in maintenance"),
    ),
    "server": (
        Key("host", STRING, "TCP host"),
        Key("port", INTEGER, "TCP port", minimum=1, maximum=65535),
        Key("socket", PATH, "Unix socket path"),
        Key("user", STRING, "the account that imports (a superuser for PostgreSQL globals)"),
        Key("password_file", PATH, "file holding the password alone, mode 0600 or 0400"),
    ),
    "dns": (
        Key("zone", STRING, "the zone, e.g. example.net", required=True),
        Key("primary", STRING, "address of the primary that takes updates", required=True),
        Key("port", INTEGER, "DNS port of every server", 53, minimum=1, maximum=65535),
        Key("key_name", STRING, "TSIG key name", required=True),
        Key("key_algorithm", STRING, "TSIG algorithm", "hmac-sha256"),
        Key("key_file", PATH, "file holding the base64 TSIG secret alone, mode 0600",
            required=True),
        Key("servers", STRINGS, "addresses of the authoritative servers to prove the "
            "switch on (default: the zone's NS set)"),
        Key("ttl_warning_seconds", INTEGER, "a higher record TTL is a warning in the plan",
            300, minimum=1, maximum=604800),
        Key("verify_timeout_seconds", INTEGER, "how long every server has to answer the "
            "new address", 300, minimum=1, maximum=86400),
        Key("records", TABLE, "environment -> the names switched for it"),
    ),
    "site": (
        Key("url", STRING, "http(s) URL of the site's page, its host the site's name",
            required=True),
        Key("status", INTEGER, "the HTTP status the page must answer", 200,
            minimum=100, maximum=599),
        Key("contains", STRING, "text the page must hold"),
        Key("ca_file", PATH, "CA of the site's certificate (default: the system's)"),
    ),
    "authorization": (
        Key("valid_hours", INTEGER, "hours a `drp authorize` order stays valid",
            DEFAULT_AUTHORIZATION_HOURS, minimum=1, maximum=168),
    ),
    "automation": (
        Key("watch", STRINGS, "the monitored objects that are production: \"host!service\" "
            "(a service) or \"host\" (a host check)"),
        Key("prestage", BOOLEAN, "start drp prestage on a HARD CRITICAL that does not "
            "activate", False),
        Key("activate", STRING, f"when a HARD CRITICAL activates: {', '.join(ACTIVATION_POLICIES)}",
            "authorized"),
        Key("quiet_period_hours", INTEGER, "no second automatic activation within this "
            "many hours of one (flapping)", DEFAULT_QUIET_HOURS, minimum=1, maximum=720),
        Key("log", PATH, "the decision log, JSON lines (default: event-handler.jsonl in the "
            "state directory)"),
    ),
    "drill": (
        Key("scratch", PATH, "directory under which a drill restores the files (a fresh "
            "directory per drill, removed after it)", DEFAULT_DRILL_SCRATCH),
        Key("on", STRING, "where that directory is: local (where drp runs) or drp (the DRP "
            "server, through [drp] location's ssh)", "local"),
    ),
}  # fmt: skip


def names(section: str) -> tuple[str, ...]:
    """The keys ``section`` knows, in order."""
    return tuple(key.name for key in SECTIONS[section])


def spec(section: str, name: str) -> Key:
    """The declaration of ``name`` in ``section``."""
    for declared in SECTIONS[section]:
        if declared.name == name:
            return declared
    raise KeyError(f"{section}.{name}")


TOP_KEYS = names("")
TARGET_KEYS = names("target")
ENVIRONMENT_KEYS = names("environment")
DATABASE_KEYS = names("database")
RETENTION_KEYS = names("retention")
LIMITS_KEYS = names("limits")
STATUS_KEYS = names("status")
NOTIFICATION_KEYS = names("notification")
FILES_KEYS = names("files")
