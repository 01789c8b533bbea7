"""What the checks of text line protocols (SMTP, FTP) share: replies and greetings.

A reply of RFC 5321 4.2 and RFC 959 4.2 is a three-digit code and lines of text
(:class:`Reply`); the greeting of either is judged and worded alike (:class:`Finding`,
:func:`greeting_description`). TLS on them (STARTTLS, AUTH TLS) is
:mod:`checks.core.net`'s, as for every network check.
"""

from __future__ import annotations

from checks.core.evaluate import Verdict
from checks.core.output import screen


class Reply:
    """An SMTP or FTP reply: its three-digit code and its text lines, without the codes."""

    __slots__ = ("code", "lines")

    def __init__(self, code: int, lines: list[str]) -> None:
        self.code, self.lines = code, lines

    @property
    def first(self) -> str:
        """The first line as sent: ``220 mail.example.org ESMTP Postfix``."""
        return f"{self.code} {self.lines[0]}".rstrip()

    def __str__(self) -> str:
        return screen(self.first)


class Finding(Verdict):
    """A greeting's result: its hint alone when it has one (the hint names the greeting
    already), else the description (``greeting 220 … (TLSv1.3)``, for ``-v``)."""

    def __str__(self) -> str:
        return str(self.hint or (self.metric.description if self.metric else ""))


def greeting_description(greeting: Reply | None, tls_version: str) -> str:
    """``greeting 220 mail.example.org ESMTP Postfix (TLSv1.3)``."""
    return f"greeting {greeting}" + (f" ({tls_version})" if tls_version else "")
