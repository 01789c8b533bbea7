"""Secrets a check or a DRP step needs, from files only group and others cannot read.

A password on a command line is in ``ps`` for every local user and in the monitoring
engine's logs; ``-a user:password`` (check_curl) and ``-p password`` (check_mysql) are
therefore refused by vigie with a line that names the file option instead. A
credentials file holds ``key = value`` lines (``#`` starts a comment)::

    # /etc/icinga2/secrets/shop-status.cred, mode 0600, owner nagios
    username = monitor
    password = s3cret with spaces

Values are taken as written after the first ``=`` (surrounding blanks removed), so a
password may contain ``=`` or ``#``. The file must be a regular file with no access for
group or others (0600 or 0400), the rule libpq applies to ``.pgpass`` and OpenSSH to
private keys: a secret readable by a group nobody audits is not a secret.
"""

from __future__ import annotations

import os

from checks.core.errors import CannotCheck

TYPE_CHECKING = False
if TYPE_CHECKING:
    from checks.core.cli import Parser


def secret_problem(path: str, where: str) -> str | None:
    """Why the secret file at ``path`` cannot be used (``where``: what names it), or None."""
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


class Credentials:
    """A user name and password read from a credentials file (either may be empty)."""

    __slots__ = ("password", "source", "username")

    def __init__(self, username: str, password: str, source: str) -> None:
        self.username, self.password, self.source = username, password, source

    def __repr__(self) -> str:  # never the password, even in -vvv tracebacks
        return f"Credentials({self.username!r}, password=<hidden>, source={self.source!r})"


def parse_credentials(text: str, source: str) -> Credentials:
    """The ``username`` and ``password`` of a credentials file's ``text``.

    ``user``/``login`` are accepted for ``username`` and ``pass`` for ``password``; an
    unknown key or a line without ``=`` is an error naming its line number (never its
    content, which may be a password).
    """
    names = {"username": "username", "user": "username", "login": "username",
             "password": "password", "pass": "password"}  # fmt: skip
    found: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, equals, value = line.partition("=")
        key = key.strip().lower()
        if not equals or key not in names:
            raise CannotCheck(f"{source} line {number}: expected 'username = …' or 'password = …'")
        found[names[key]] = value.strip()
    if not found:
        raise CannotCheck(f"{source}: no username or password in the credentials file")
    return Credentials(found.get("username", ""), found.get("password", ""), source)


def read_credentials(path: str) -> Credentials:
    """The credentials in the file at ``path``, refused if group or others can read it."""
    problem = secret_problem(path, "credentials file")
    if problem:
        raise CannotCheck(problem)
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except (OSError, UnicodeDecodeError) as error:
        raise CannotCheck(f"credentials file {path}: {error}") from None
    return parse_credentials(text, path)


def add_credentials_option(parser: Parser, what: str) -> None:
    """``--credentials FILE``: the login for ``what`` (worded into the help)."""
    parser.add_argument(
        "--credentials",
        metavar="FILE",
        help=f"file with 'username = …' and 'password = …' lines for {what}; mode 0600 "
        "(a password is never taken on the command line)",
    )
