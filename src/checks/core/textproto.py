"""What the checks of text line protocols (SMTP, FTP) share: replies and greetings.

A reply of RFC 5321 4.2 and RFC 959 4.2 is a three-digit code and lines of text
(:class:`Reply`). What a session found is an :class:`Exchange` (each protocol adds its
steps), whose greeting is judged by a :class:`GreetingContext` and worded alike
(:class:`Finding`). TLS on them (STARTTLS, AUTH TLS) is
:mod:`checks.core.net`'s, as for every network check.
"""

from __future__ import annotations

import nagiosplugin

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


class Exchange:
    """What one session with a server found: where, its greeting, the TLS version and the
    certificate's expiry (after STARTTLS or AUTH TLS), and the time it took."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.greeting: Reply | None = None
        self.elapsed = 0.0
        self.tls_version = ""
        self.not_after: float | None = None


class GreetingContext(nagiosplugin.Context):
    """The ``greeting`` context of an :class:`Exchange` metric; each check judges it."""

    def __init__(self) -> None:
        super().__init__("greeting", result_cls=Finding)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``greeting 220 … (TLSv1.3)`` (``-v``; the problems are worded by their hints)."""
        found: Exchange = metric.value
        tls = f" ({found.tls_version})" if found.tls_version else ""
        return f"greeting {found.greeting}{tls}"
