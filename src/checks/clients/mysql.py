"""The MySQL/MariaDB client of the database checks: C-compatible connection options, one
way to connect, and the server's failures worded once.

The options are those of the C ``check_mysql`` (monitoring-plugins 2.3.3) with the same
meaning, so that a service definition keeps its arguments: ``-H HOST`` (an absolute path
is a unix socket; ``localhost`` or no ``-H`` means the local socket, as libmysqlclient
reads them), ``-P PORT``, ``-s SOCKET``, ``-d DATABASE``, ``-u USER``, ``-f FILE`` and
``-g GROUP`` (a my.cnf options file and its group), ``-l`` (TLS), ``-C`` CA file, ``-D``
CA directory, ``-a``/``-k`` client certificate and key, ``-L`` ciphers. Without ``-f``,
``~/.my.cnf`` is read if it exists, as the C plugin reads the user's option file.
Command-line values win over the file's.

Deliberate differences: ``-p PASSWORD`` is refused (a password on a command line is in
``ps`` for every local user): the password comes from the options file, which must then
be mode 0600 or 0400. ``-l`` verifies the server's certificate and name (against ``-C``/
``-D`` or the system's CAs); ``--ssl-no-verify`` encrypts without verifying, which is what
the C plugin's ``-l`` does. Over a unix socket there is no TLS.

The client is PyMySQL, imported only when connecting (:func:`client`). Measured here
(CPU of a whole run against MariaDB on loopback ÷ ``python -I -c pass``, 31-41 paired
runs, 2026-12-02; vigie's skeleton alone 3.8×): ``import pymysql`` costs 3.9× by itself,
and PyMySQL's default connection sets up TLS "preferred", whose default SSL context parses
the whole CA bundle (≈ 6.7× a check). With TLS off unless asked (``ssl_disabled``),
``ssl`` and PyMySQL's option-file reader (configparser) left unloaded, no
``SET AUTOCOMMIT`` round trip, and only the judged status rows fetched, check_mysql costs
5.5× and 18.6 MiB, check_mysql_replication 5.3× and 18.1 MiB (C check_mysql: 0.3×, 5.9
MiB). With ``-l`` (TLS, a CA file) check_mysql costs 6.4× and 21 MiB: the price of ``ssl``
and a handshake, paid only by those who ask for it (C with ``-l -C``: 0.6×).
"""

from __future__ import annotations

import contextlib
import os
import struct  # PyMySQL loads it anyway
import sys
import types

from checks.core.cli import Parser, UsageError
from checks.core.credentials import secret_problem
from checks.core.errors import CannotCheck, ServiceDown, TimedOut
from checks.core.net import port
from checks.core.runtime import doing, remaining

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    import ssl
    from collections.abc import Iterator

    from pymysql.connections import Connection  # type: ignore[import-untyped]

DEFAULT_PORT = 3306
#: Debian's (and MariaDB's) socket, where libmysqlclient looks without ``-s``.
DEFAULT_SOCKET = "/run/mysqld/mysqld.sock"
#: The user's own options file, read without ``-f`` as the C plugin (libmysqlclient) does.
USER_OPTIONS_FILE = "~/.my.cnf"
#: What PyMySQL raises, beside its own errors, when the peer sends no MySQL handshake.
PROTOCOL_ERRORS = (IndexError, KeyError, ValueError, UnicodeError, struct.error)
#: The server's error number for a refused login (CRITICAL, or OK with ``-n``).
ACCESS_DENIED = 1045
#: Client error numbers for a server that cannot be reached or stopped answering.
CANNOT_CONNECT = (2002, 2003, 2006, 2013)


#: The connection options: flags, value name (None: a switch), help; C-compatible but -p
#: and --ssl-no-verify.
CONNECTION_OPTIONS = (
    (("-H", "--hostname"), "HOST", "server name or address; an absolute path is a unix "
     "socket; 'localhost' or none: the local socket (-s)"),
    (("-P", "--port"), "PORT", f"TCP port (default: {DEFAULT_PORT})"),
    (("-s", "--socket"), "SOCKET", f"unix socket without -H (default: {DEFAULT_SOCKET})"),
    (("-d", "--database"), "DATABASE", "connect to this database (CRITICAL if it is missing)"),
    (("-u", "--username"), "USER", "user name (default: the options file's, else the login)"),
    (("-p", "--password"), "PASSWORD", "refused: a password on the command line is visible "
     "in ps; put it in an options file (-f) of mode 0600"),
    (("-f", "--file"), "FILE", "client options file (my.cnf: user, password, host, port, "
     f"socket, database under [client]; default: {USER_OPTIONS_FILE} if it exists); mode "
     "0600 if it holds a password"),
    (("-g", "--group"), "GROUP", "options file group read after [client]"),
    (("-l", "--ssl"), None, "connect over TLS, verifying the server's certificate and name"),
    (("-C", "--ca-cert"), "FILE", "CA certificates to verify the server with (implies -l)"),
    (("-D", "--ca-dir"), "DIR", "CA directory to verify the server with (implies -l)"),
    (("-a", "--cert"), "FILE", "client certificate (implies -l)"),
    (("-k", "--key"), "FILE", "private key of the client certificate -a"),
    (("-L", "--ciphers"), "LIST", "OpenSSL cipher list for TLS"),
    (("--ssl-no-verify",), None, "TLS without verifying the server (what the C -l does)"),
)  # fmt: skip


def add_connection_options(parser: Parser) -> None:
    """The C ``check_mysql``'s connection options, and ``-p`` only to refuse it."""
    group = parser.add_argument_group("connection (C-compatible with check_mysql)")
    for names, value, text in CONNECTION_OPTIONS:
        if value is None:
            group.add_argument(*names, action="store_true", help=text)
        else:
            kind = port if value == "PORT" else str
            group.add_argument(*names, metavar=value, type=kind, help=text)


def read_options_file(text: str, source: str, groups: tuple[str, ...]) -> dict[str, str]:
    """The client options of a my.cnf ``text`` in ``[client]`` and ``groups``.

    Read line by line as libmariadb reads them (an option set twice: the later line wins,
    whatever its group): ``#`` and ``;`` start comment lines only,
    keys compare without case with ``_`` and ``-`` alike, values lose surrounding quotes
    and have their escapes read (:func:`option_value`), a key without ``=`` is a flag
    (``skip-ssl``), ignored. ``!include``/``!includedir`` are not followed. An option
    before any ``[group]`` is an error naming its line (never its content: a password).
    """
    wanted = ("client", *groups)
    options: dict[str, str] = {}
    group = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;" or line.startswith("!include"):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise CannotCheck(f"options file {source} line {number}: a group is [name]")
            group = line[1:-1].strip()
            continue
        if group is None:
            raise CannotCheck(f"options file {source} line {number}: an option before any "
                              "[group] (options go under [client])")  # fmt: skip
        key, equals, value = line.partition("=")
        if equals and group in wanted:
            options[key.strip().lower().replace("_", "-")] = option_value(value)
    return options


#: Escapes of option-file values, as libmariadb reads them; others keep their backslash.
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "s": " ", "\\": "\\", "'": "'",
           '"': '"'}  # fmt: skip


def option_value(text: str) -> str:
    """An option file's value as libmariadb reads it: outer quotes removed, escapes read.

    ``"p\\"ss"`` is ``p"ss``; ``#`` inside a value is no comment (the C plugin's library
    keeps it), an unknown escape such as ``\\w`` keeps its backslash.
    """
    value = text.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    out, escaped = [], False
    for char in value:
        if escaped:
            out.append(ESCAPES.get(char, "\\" + char))
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    if escaped:
        out.append("\\")
    return "".join(out)


class Target:
    """Where and how to connect, from the options: PyMySQL's arguments, TLS, a description."""

    __slots__ = ("ca_dir", "ca_file", "cert", "ciphers", "key", "kwargs", "tls", "verify",
                 "where")  # fmt: skip

    def __init__(self, kwargs: dict[str, object], where: str) -> None:
        self.kwargs, self.where = kwargs, where
        self.tls = self.verify = False
        self.ca_file = self.ca_dir = self.cert = self.key = self.ciphers = None


def target(args: argparse.Namespace) -> Target:
    """The connection the options ask for; usage errors and unusable files raised."""
    if args.password is not None:
        raise UsageError(
            "-p/--password is refused: a password on the command line is visible in ps; "
            "put 'password = …' under [client] in an options file of mode 0600 and give -f FILE"
        )
    options = _file_options(args.file, args.group)
    host = args.hostname or options.get("host")
    socket_path = args.socket or options.get("socket")
    if host and host.startswith("/"):
        host, socket_path = None, host
    kwargs: dict[str, object] = {
        "user": args.username or options.get("user"),
        "password": options.get("password", ""),
        "database": args.database or options.get("database"),
    }
    if not host or host == "localhost":
        path = socket_path or DEFAULT_SOCKET
        kwargs["unix_socket"] = path
        return Target(kwargs, f"socket {path}")  # no TLS on a local socket, as libmysqlclient
    try:
        number = args.port or int(options.get("port") or DEFAULT_PORT)
    except ValueError:
        raise CannotCheck(f"options file: port {options['port']!r} is not a number") from None
    kwargs.update(host=host, port=number)
    chosen = Target(kwargs, f"{host} port {number}")
    chosen.tls = bool(args.ssl or args.ca_cert or args.ca_dir or args.cert or args.ssl_no_verify)
    chosen.verify = not args.ssl_no_verify
    chosen.ca_file, chosen.ca_dir, chosen.ciphers = args.ca_cert, args.ca_dir, args.ciphers
    chosen.cert, chosen.key = args.cert, args.key
    return chosen


def _file_options(path: str | None, group: str | None) -> dict[str, str]:
    """The options of ``-f FILE`` (or ``~/.my.cnf`` if it exists), checked for secrets."""
    where = "options file -f"
    if path is None:
        path, where = os.path.expanduser(USER_OPTIONS_FILE), "options file"
        if not os.path.isfile(path):
            return {}
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise CannotCheck(f"{where}: cannot read {path}: {reason}") from None
    options = read_options_file(text, path, (group,) if group else ())
    if "password" in options:
        problem = secret_problem(path, where)
        if problem:
            raise CannotCheck(problem)
    return options


class AccessDenied(ServiceDown):
    """The server refused the login (error 1045): CRITICAL, unless ``-n`` ignores it."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.reason = reason


def client() -> types.ModuleType:
    """PyMySQL, without what it imports at load time for paths vigie never takes.

    ``ssl`` waits until ``-l`` uses it (:func:`checks.core.lazy.defer`);
    ``pymysql.optionfile`` (configparser, for PyMySQL's own
    ``read_default_file``, which vigie never passes: it reads option files itself, as
    libmariadb does) is left out. Together a third of PyMySQL's import time.
    """
    if "pymysql" not in sys.modules:
        from checks.core.lazy import defer

        defer("ssl")
        if "pymysql.optionfile" not in sys.modules:
            unused = types.ModuleType("pymysql.optionfile", "not loaded by vigie")
            unused.Parser = None  # type: ignore[attr-defined]
            sys.modules["pymysql.optionfile"] = unused
    import pymysql  # type: ignore[import-untyped]

    loaded: types.ModuleType = pymysql
    return loaded


@contextlib.contextmanager
def session(chosen: Target, timeout: float) -> Iterator[Connection]:
    """A connection to the server within the remaining ``-t``, closed after use.

    The server down, not answering, refusing the login or the database: CRITICAL with
    its own message, as the C plugin. A query the server refuses (a missing privilege)
    or anything else PyMySQL raises: UNKNOWN with the server's message.
    """
    pymysql = client()
    kwargs = dict(chosen.kwargs)
    wait = max(remaining() or timeout, 0.001)
    # autocommit None: the server's default; any other value costs a SET AUTOCOMMIT round
    # trip, and SHOW statements are no transaction.
    kwargs.update(connect_timeout=wait, read_timeout=wait, write_timeout=wait,
                  program_name="vigie", autocommit=None)  # fmt: skip
    if chosen.tls:
        kwargs["ssl"] = _tls_context(chosen)
    else:
        kwargs["ssl_disabled"] = True
    try:
        with doing(f"connecting to MySQL on {chosen.where}"):
            connection = pymysql.connect(**kwargs)
    except (TimedOut, TimeoutError):
        raise ServiceDown(f"{chosen.where}: no answer within {timeout:g} s") from None
    except pymysql.err.MySQLError as error:
        raise _failure(error, chosen.where, timeout, connecting=True) from None
    except PROTOCOL_ERRORS as error:  # PyMySQL reading what is no MySQL handshake
        raise ServiceDown(
            f"{chosen.where} does not speak the MySQL protocol ({str(error)[:80]})"
        ) from None
    try:
        with doing(f"querying MySQL on {chosen.where}"):
            yield connection
    except (TimedOut, TimeoutError):
        raise ServiceDown(f"{chosen.where}: no answer within {timeout:g} s") from None
    except pymysql.err.MySQLError as error:
        raise _failure(error, chosen.where, timeout, connecting=False) from None
    finally:
        connection.close()


def _tls_context(chosen: Target) -> ssl.SSLContext:
    """The client TLS context of ``-l -C -D -a -k -L``, verified unless ``--ssl-no-verify``."""
    import ssl

    from checks.core.net import tls_context

    files = (("-C", chosen.ca_file), ("-D", chosen.ca_dir), ("-a", chosen.cert),
             ("-k", chosen.key))  # fmt: skip
    for option, path in files:
        if path and not os.access(path, os.R_OK):
            raise CannotCheck(f"TLS option {option}: cannot read {path}")
    try:
        context = tls_context(chosen.verify, chosen.ca_file, chosen.ca_dir)
        if chosen.cert:
            context.load_cert_chain(chosen.cert, chosen.key)
        if chosen.ciphers:
            context.set_ciphers(chosen.ciphers)
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise CannotCheck(f"TLS options: {reason}") from None
    return context


def _failure(error: Exception, where: str, timeout: float, connecting: bool) -> Exception:
    """A PyMySQL error as vigie's: CRITICAL when the service is down or refuses us.

    Every error while connecting is the server's answer to this client (refused,
    unreachable, login or database refused, no TLS although ``-l``): CRITICAL. After
    that, only a lost connection is; a query the server refuses (a missing privilege) is
    UNKNOWN.
    """
    if error.args and isinstance(error.args[0], int):
        number, message = [*error.args, ""][:2]
    else:  # PyMySQL's own errors: ("Packet sequence number wrong - got 72 expected 0",)
        number, message = 0, error.args[0] if error.args else ""
    text = str(message).strip() or type(error).__name__
    cause = getattr(error, "original_exception", None)
    if isinstance(cause, OSError):  # "Can't connect to MySQL server on '…' ([Errno 111] …)"
        if isinstance(cause, TimeoutError):
            return ServiceDown(f"{where}: no answer within {timeout:g} s")
        text = (cause.strerror or str(cause)).lower() if cause.strerror else str(cause)
    elif "timed out" in text:
        return ServiceDown(f"{where}: no answer within {timeout:g} s")
    if connecting and not number:  # PyMySQL's reading of what is no handshake
        return ServiceDown(f"{where} does not speak the MySQL protocol ({text[:80]})")
    if connecting and number == ACCESS_DENIED:
        return AccessDenied(where, text)
    if connecting or number in CANNOT_CONNECT:
        return ServiceDown(f"{where}: {text}")
    return CannotCheck(f"{where}: {text}")


def query(connection: Connection, sql: str) -> list[dict[str, object]]:
    """The rows of ``sql`` as dicts of column → value (NULL as None)."""
    with connection.cursor() as cursor:
        cursor.execute(sql)
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def name_values(connection: Connection, sql: str) -> dict[str, str]:
    """``SHOW GLOBAL STATUS``-like output (``Variable_name``, ``Value``) as a dict."""
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return {str(name): str(value) for name, value, *_ in cursor.fetchall()}
