"""What the checks of text line protocols (SMTP, FTP) share: replies, and TLS on them.

A reply of RFC 5321 4.2 and RFC 959 4.2 is a three-digit code and lines of text
(:class:`Reply`). Both protocols upgrade a plain connection to TLS (STARTTLS, AUTH TLS):
a failed handshake is worded once (:func:`tls_failure`), the certificate's expiry read
once (:func:`not_after`) and judged by ``-D warn[,crit]`` days as the C check_smtp and
check_ftp take them (:class:`CertificateDays`), beside ``--ca-file``/``--insecure``.

Nothing heavy here: ``ssl`` is imported inside the functions that make or read a
handshake, so a check without TLS never pays for it.
"""

from __future__ import annotations

import argparse
import time

import nagiosplugin

from checks.core.errors import ServiceDown
from checks.core.evaluate import Threshold, Verdict
from checks.core.output import screen
from checks.core.ranges import parse_range

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl

DAY = 86400.0


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


def not_after(sock: ssl.SSLSocket) -> float | None:
    """When the peer's certificate expires (epoch seconds); None if it was not verified
    (``--insecure``: the standard library decodes only verified certificates)."""
    import ssl

    certificate = sock.getpeercert()
    if not certificate or "notAfter" not in certificate:
        return None
    return float(ssl.cert_time_to_seconds(str(certificate["notAfter"])))


def certificate_days(text: str) -> tuple[float, float]:
    """``-D 30,7``: warn and critical minimum days left (critical 0 if not given)."""
    warn, _, crit = text.partition(",")
    try:
        days = float(warn), float(crit or 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not days[,days] (warn and critical days left)"
        ) from None
    if not all(0 <= value < 1e6 for value in days):
        raise argparse.ArgumentTypeError(f"{text!r}: days must be from 0 to 999999")
    return days


class CertificateDays(Threshold):
    """Days until the certificate expires: below ``-D`` warn WARNING, below crit CRITICAL."""

    def __init__(self, days: tuple[float, float] | None) -> None:
        warn, crit = days or (None, None)
        super().__init__(
            "certificate_days",
            None if warn is None else parse_range(f"{warn:g}:"),
            None if crit is None else parse_range(f"{crit:g}:"),
            describe=lambda metric: f"certificate expires in {metric.value:.1f} days",
        )

    def shown(self, value: float, uom: str) -> str:
        """``< 30 days``."""
        return f"{value:g} days"


def add_certificate_option(parser: argparse._ActionsContainer, *letters: str) -> None:
    """``-D warn[,crit]`` (and other ``letters``): certificate days, as the C plugins."""
    parser.add_argument(
        *letters,
        "--certificate",
        type=certificate_days,
        metavar="DAYS[,DAYS]",
        help="WARNING when the certificate expires in fewer than the first DAYS, CRITICAL "
        "below the second (default 0; C-compatible -D)",
    )


def add_tls_options(parser: argparse._ActionsContainer, what: str) -> None:
    """``--ca-file`` and ``--insecure``: how the server's certificate is verified."""
    parser.add_argument(
        "--ca-file",
        metavar="FILE",
        help=f"CA certificates (PEM) to verify {what} with (default: the system's)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify the certificate (its days left are then not known)",
    )


class Finding(Verdict):
    """A greeting's result: its hint alone when it has one (the hint names the greeting
    already), else the description (``greeting 220 … (TLSv1.3)``, for ``-v``)."""

    def __str__(self) -> str:
        return str(self.hint or (self.metric.description if self.metric else ""))


def greeting_description(greeting: Reply | None, tls_version: str) -> str:
    """``greeting 220 mail.example.org ESMTP Postfix (TLSv1.3)``."""
    return f"greeting {greeting}" + (f" ({tls_version})" if tls_version else "")


def tls_failure(where: str, step: str, error: OSError) -> ServiceDown:
    """CRITICAL for a TLS ``step`` that failed: an untrusted certificate says why."""
    import ssl

    if isinstance(error, ssl.SSLCertVerificationError):
        return ServiceDown(f"{where}: TLS certificate not trusted: {error.verify_message}")
    if isinstance(error, ssl.SSLError):
        return ServiceDown(f"{where}: {step} failed: {error.reason or error}")
    return ServiceDown(f"{where}: {step}: {(error.strerror or str(error)).lower()}")


def certificate_metrics(expires: float | None) -> list[nagiosplugin.Metric]:
    """The ``certificate_days`` metric when the expiry is known (epoch seconds)."""
    if expires is None:
        return []
    days = (expires - time.time()) / DAY
    return [nagiosplugin.Metric("certificate_days", days, context="certificate_days")]
