"""What network checks share: ``-H -p -4 -6``, resolve, connect and read within ``-t``, TLS,
latency thresholds and their wording (as monitoring-plugins' netutils.c for its plugins).

``-H`` is resolved with ``-4``/``-6`` and failures are worded once.

A name that does not resolve is UNKNOWN, as in the C plugins (``Invalid hostname/
address``): the check could not even start, and a broken resolver must not page as if the
host were down. Addresses come in the system's order (RFC 6724, /etc/gai.conf), as ``ping``
and ``ssh`` take them.
"""

from __future__ import annotations

import argparse
import socket

from checks.core.cli import Parser
from checks.core.errors import CannotCheck
from checks.core.evaluate import Threshold
from checks.core.runtime import doing
from checks.core.units import human_number, perf_number

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    #: ``(family, sockaddr)``: the sockaddr is what connect() takes for that family.
    Address = tuple[socket.AddressFamily, tuple[Any, ...]]


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


def resolve(host: str, family: int, port: int = 0) -> list[Address]:
    """The addresses of ``host`` (of ``family`` unless AF_UNSPEC), without duplicates."""
    if not host.strip():
        raise CannotCheck("no host given: -H is empty")
    with doing(f"resolving {host}"):
        try:
            found = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
        except socket.gaierror as error:
            only = {socket.AF_INET: " as IPv4", socket.AF_INET6: " as IPv6"}
            raise CannotCheck(
                f"cannot resolve {host!r}{only.get(socket.AddressFamily(family), '')}: "
                f"{error.strerror}"
            ) from None
        except UnicodeError:
            raise CannotCheck(f"{host!r} is not a valid host name") from None
    addresses: list[Address] = []
    for address_family, _, _, _, sockaddr in found:
        address = str(sockaddr[0])
        if address.startswith("0.") or address == "::":
            # "This network" (RFC 1122) is no destination; glibc reads "10" as 0.0.0.10.
            raise CannotCheck(f"{host!r} is {address}, not the address of a host")
        if (address_family, sockaddr) not in addresses:
            addresses.append((address_family, sockaddr))
    return addresses


def name_of(host: str, address: str) -> str:
    """``127.0.0.1``, or ``localhost (::1)`` when a name was given."""
    return address if host == address else f"{host} ({address})"


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
