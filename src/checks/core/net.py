"""What network checks share: ``-H -p -4 -6``, resolve, connect and read within ``-t``, TLS,
latency thresholds and their wording (as monitoring-plugins' netutils.c for its plugins).

``-H`` is resolved with ``-4``/``-6`` and failures are worded once. Nothing heavy here:
:func:`tls_context` imports ``ssl`` (≈ 2.6 × the interpreter's start) only when called.
The TLS options, handshake failures and certificate days of the checks that start TLS on
a plain connection (SMTP, FTP) are here too.

A name that does not resolve is UNKNOWN, as in the C plugins (``Invalid hostname/
address``): the check could not even start, and a broken resolver must not page as if the
host were down. Addresses come in the system's order (RFC 6724, /etc/gai.conf), as ``ping``
and ``ssh`` take them.
"""

from __future__ import annotations

import argparse
import socket
import time

import nagiosplugin

from checks.core.cli import Parser, UsageError
from checks.core.errors import CannotCheck, ServiceDown, TimedOut
from checks.core.evaluate import Threshold
from checks.core.ranges import parse_range
from checks.core.runtime import doing, remaining
from checks.core.units import human_number, perf_number

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable
    from typing import Any

    #: ``(family, sockaddr)``: the sockaddr is what connect() takes for that family.
    Address = tuple[socket.AddressFamily, tuple[Any, ...]]


def port(text: str) -> int:
    """An argparse type for a TCP or UDP port, 1 to 65535 (``-p``)."""
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1 to 65535)")
    return int(text)


def add_host_option(
    parser: Parser,
    help: str,
    *,
    last: bool = False,
    required: bool = False,
) -> None:
    """``-H``/``--hostname``; with ``last``, the host may also be given as the last argument
    (as the C plugins take it), and :func:`host_of` reads either."""
    parser.add_argument("-H", "--hostname", required=required, metavar="HOST", help=help)
    if last:
        parser.add_argument("host", nargs="?", metavar="HOST", help=argparse.SUPPRESS)


def host_of(args: argparse.Namespace) -> str:
    """The host of ``-H`` or of the last argument; a usage error if none or two differ."""
    given = getattr(args, "host", None)
    if args.hostname and given and args.hostname != given:
        raise UsageError(f"two hosts given: -H {args.hostname} and {given}")
    host: str | None = args.hostname or given
    if not host:
        raise UsageError("no host given: use -H HOST")
    return host


def add_family_options(parser: Parser) -> None:
    """``-4``/``--use-ipv4`` and ``-6``/``--use-ipv6`` (C-compatible), at most one.

    Two flags of their own (not one ``family`` value), so that Icinga sets each from its
    own custom variable; :func:`chosen_family` reads them.
    """
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-4", "--use-ipv4", action="store_true",
                       help="use IPv4 only (C-compatible)")  # fmt: skip
    group.add_argument("-6", "--use-ipv6", action="store_true",
                       help="use IPv6 only (C-compatible)")  # fmt: skip


def chosen_family(args: argparse.Namespace) -> int:
    """The address family ``-4``/``-6`` ask for, AF_UNSPEC for either."""
    if args.use_ipv4:
        return socket.AF_INET
    return socket.AF_INET6 if args.use_ipv6 else socket.AF_UNSPEC


def addresses(
    host: str, family: int, port: int = 0, kind: int = socket.SOCK_STREAM
) -> list[Address]:
    """The distinct addresses of ``host`` in the system's order; getaddrinfo's errors raised.

    For a check that words each name's failure itself (check_clock's servers); others
    call :func:`resolve`.
    """
    found: list[Address] = []
    for address_family, _, _, _, sockaddr in socket.getaddrinfo(host, port, family, kind):
        if (address_family, sockaddr) not in found:
            found.append((address_family, sockaddr))
    return found


def resolve(host: str, family: int, port: int = 0) -> list[Address]:
    """The addresses of ``host`` (of ``family`` unless AF_UNSPEC), without duplicates."""
    if not host.strip():
        raise CannotCheck("no host given: -H is empty")
    with doing(f"resolving {host}"):
        try:
            found = addresses(host, family, port)
        except socket.gaierror as error:
            only = {socket.AF_INET: " as IPv4", socket.AF_INET6: " as IPv6"}
            raise CannotCheck(
                f"cannot resolve {host!r}{only.get(socket.AddressFamily(family), '')}: "
                f"{error.strerror}"
            ) from None
        except UnicodeError:
            raise CannotCheck(f"{host!r} is not a valid host name") from None
    for _, sockaddr in found:
        address = str(sockaddr[0])
        if address.startswith("0.") or address == "::":
            # "This network" (RFC 1122) is no destination; glibc reads "10" as 0.0.0.10.
            raise CannotCheck(f"{host!r} is {address}, not the address of a host")
    return found


def name_of(host: str, address: str) -> str:
    """``127.0.0.1``, or ``localhost (::1)`` when a name was given."""
    return address if host == address else f"{host} ({address})"


def connect(
    host: str, port: int, found: list[Address], timeout: float
) -> tuple[socket.socket, str]:
    """A TCP connection to the first of ``found`` that accepts one within the remaining -t.

    Returns the socket and where it is connected, worded for the status line
    (``host port 22``, or ``host (address) port 22`` when the name had several addresses).
    CRITICAL (the service is down) if no address accepts: each address's failure is named.
    """
    where = f"{host} port {port}"
    failures = []
    for family, sockaddr in found:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            with doing(f"connecting to {sockaddr[0]} port {port}"):
                sock.settimeout(remaining())
                sock.connect(sockaddr)
        except (TimeoutError, TimedOut):
            sock.close()
            failures.append(f"{sockaddr[0]}: no answer within {timeout:g} s")
            break  # the time is up for every other address too
        except OSError as error:
            sock.close()
            failures.append(f"{sockaddr[0]}: {(error.strerror or str(error)).lower()}")
            continue
        if len(found) > 1:
            where = f"{host} ({sockaddr[0]}) port {port}"
        return sock, where
    if len(failures) == 1:
        raise ServiceDown(f"{where}: {failures[0].partition(': ')[2]}")
    raise ServiceDown(f"cannot connect to {where}: {'; '.join(failures)}")


def read_banner(sock: socket.socket, wanted: Callable[[bytes], bool], limit: int) -> str:
    """What the server sends up to the first complete line that is ``wanted``, the end of
    the stream, or ``limit`` bytes (latin-1: a banner is text of any encoding)."""
    received = b""
    while len(received) < limit:
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
        end = 0
        for line in received.split(b"\n")[:-1]:  # complete lines only
            end += len(line) + 1
            if wanted(line):
                return received[:end].decode("latin-1")
    return received.decode("latin-1")


def receive(
    sock: socket.socket,
    where: str,
    what: str,
    step: str,
    read: Callable[[socket.socket], str],
    timeout: float,
) -> str:
    """What ``read`` reads from ``sock`` (``what``: ``SSH identification``, ``SMTP
    greeting``) in the time left, while ``step`` (``reading the SSH identification``) is
    what the check is doing; CRITICAL ``no WHAT within T s`` when it does not come, the
    system's reason when the connection breaks."""
    try:
        with doing(f"{step} from {where}"):
            sock.settimeout(remaining())
            return read(sock)
    except (TimeoutError, TimedOut):
        raise ServiceDown(f"{where}: no {what} within {timeout:g} s") from None
    except OSError as error:
        raise ServiceDown(f"{where}: {error.strerror or error}") from None


def tls_context(
    verify: bool = True, ca_file: str | None = None, ca_path: str | None = None
) -> ssl.SSLContext:
    """A client TLS context, ``ssl`` imported only now.

    Without ``ca_file``, the system's CA directory (``capath``) is used rather than its
    bundle: Debian's OpenSSL parses all 144 certificates of the bundle when a default
    context is made (+17 ms a run, PERFORMANCE.md); a directory is read per lookup.
    """
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if ca_file or ca_path:
        context.load_verify_locations(cafile=ca_file, capath=ca_path)
    else:
        paths = ssl.get_default_verify_paths()
        context.load_verify_locations(capath=paths.capath or "/etc/ssl/certs")
    return context


# TLS on a plain connection (STARTTLS, AUTH TLS) and the certificate's days left.
#
# A failed handshake is worded once (:func:`tls_failure`), the certificate's expiry read
# once (:func:`not_after`) and judged by ``-D warn[,crit]`` days as the C check_smtp and
# check_ftp take them (:class:`CertificateDays`), beside ``--ca-file``/``--insecure``
# (:func:`add_tls_options`, check_url's too). ``ssl`` is imported inside the functions
# that make or read a handshake, so a check without TLS never pays for it.

DAY = 86400.0


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


def add_certificate_options(parser: argparse._ActionsContainer, what: str, *letters: str) -> None:
    """``-D warn[,crit]`` (and other ``letters``): certificate days, as the C plugins, then
    :func:`add_tls_options` for ``what``, the certificate those days are read from."""
    parser.add_argument(
        *letters,
        "--certificate",
        type=certificate_days,
        metavar="DAYS[,DAYS]",
        help="WARNING when the certificate expires in fewer than the first DAYS, CRITICAL "
        "below the second (default 0; C-compatible -D)",
    )
    add_tls_options(parser, what)


def check_certificate_options(
    args: argparse.Namespace, letters: str, tls: bool, tls_option: str, upgrade: str
) -> None:
    """The usage error when certificate days (``letters``: ``-D``, ``-C/-D``) cannot be
    read: TLS not asked for (``tls``, by ``tls_option``, the certificate then read after
    ``upgrade``), or the certificate not verified (``--insecure``)."""
    if not args.certificate:
        return
    need = "need" if "/" in letters else "needs"
    if not tls:
        raise UsageError(f"{letters} {need} {tls_option} (the certificate is read after {upgrade})")
    if args.insecure:
        raise UsageError(
            f"{letters} {need} a verified certificate: drop --insecure, give --ca-file"
        )


def add_tls_options(parser: argparse._ActionsContainer, what: str, *ca_aliases: str) -> None:
    """``--ca-file`` (and ``ca_aliases``, such as check_curl's ``--ca-cert``) and
    ``--insecure``: how ``what`` (the server's certificate) is verified, for every check."""
    parser.add_argument(
        "--ca-file",
        *ca_aliases,
        metavar="FILE",
        help=f"CA certificates (PEM) to verify {what} with (default: the system's, /etc/ssl/certs)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify the certificate (a check that trusts any certificate cannot "
        "tell a spoofed server; its days left are then not known)",
    )


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


# Round-trip and response times, judged and worded in the units they come in.
#
# Network answers on a LAN take microseconds to milliseconds: ``0 s`` or ``0.1 s`` (how
# :func:`checks.core.evaluate.show` words any duration) would hide them, so times below a
# second are shown in milliseconds with the digits that matter.

MILLISECONDS = {"s": 1000.0, "ms": 1.0}


def human_latency(value: float, uom: str = "s") -> str:
    """``0.038 ms``, ``4.5 ms``, ``201 ms``, ``1.52 s`` for a time in ``uom`` (s or ms)."""
    milliseconds = value * MILLISECONDS[uom]
    if milliseconds >= 1000:
        return f"{human_number(milliseconds / 1000)} s"
    if milliseconds < 0.001:  # thresholds only: no exponent, as few digits as it takes
        return f"{perf_number(milliseconds)} ms"
    if milliseconds < 1:
        return f"{human_number(milliseconds, 3)} ms"
    return f"{human_number(milliseconds, 1 if milliseconds < 100 else 0)} ms"


class Latency(Threshold):
    """A :class:`Threshold` on a time in s or ms whose hint reads ``> 500 ms``."""

    def shown(self, value: float, uom: str) -> str:
        """The bound in milliseconds below a second."""
        return human_latency(value, uom)


def describe_response_time(metric: nagiosplugin.Metric) -> str:
    """``response time 4.2 ms``: connect to greeting, as the C check_ssh, check_smtp and
    check_ftp call it."""
    return f"response time {human_latency(metric.value)}"
