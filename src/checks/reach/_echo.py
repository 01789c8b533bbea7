"""Sending ICMP echo requests from a socket and timing the replies.

Root (or CAP_NET_RAW) gets a raw socket; other users get an ICMP datagram socket when
their group is in ``net.ipv4.ping_group_range`` (the kernel then picks the identifier
and delivers only the replies to it); without either :func:`open_socket` answers None
and check_ping runs the system's ``ping`` instead. The socket is connected to the
target, so the kernel passes on only packets from it and reports ICMP errors about it
(host or network unreachable) as the socket's error, which :func:`exchange` records.

A reply counts when its identifier, sequence number and payload are those of a request
still awaited; a second reply to the same request is a duplicate, as ``ping`` says DUP!.
Round-trip times are taken with the monotonic clock around send and receive.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import time

from checks.core.errors import ParseError, ServiceDown
from checks.core.runtime import doing, remaining
from checks.reach._icmp import describe_icmp_error, echo_request, parse_echo

log = logging.getLogger(__name__)

#: Errors by which the kernel reports ICMP errors (or local refusals) about the target.
REPORTED = frozenset(
    {
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.EHOSTDOWN,
        errno.ECONNREFUSED,
        errno.EACCES,
        errno.EPROTO,
        errno.EMSGSIZE,
    }
)
#: Linux socket options that queue ICMP errors with their details (linux/in.h, in6.h).
RECVERR = {False: (socket.IPPROTO_IP, 11), True: (socket.IPPROTO_IPV6, 25)}
#: Socket creation errors that mean "not allowed here", so another way must be tried.
NOT_ALLOWED = (errno.EPERM, errno.EACCES, errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT)
#: The listening stops this long before the check's timeout, to leave time to report.
MARGIN = 0.1
PAYLOAD_SIZE = 56  # as ping sends: 64 bytes of ICMP


class Round:
    """What a series of echo requests gave: counts, round-trip times (s), errors seen."""

    __slots__ = ("duplicates", "errors", "how", "received", "rtt_avg", "rtt_max", "rtt_min", "sent")

    def __init__(
        self,
        sent: int,
        received: int,
        duplicates: int = 0,
        rtts: tuple[float, float, float] | None = None,
        errors: tuple[str, ...] = (),
        how: str = "",
    ) -> None:
        self.sent, self.received, self.duplicates = sent, received, duplicates
        self.rtt_min: float | None = None
        self.rtt_avg: float | None = None
        self.rtt_max: float | None = None
        if rtts is not None:
            self.rtt_min, self.rtt_avg, self.rtt_max = rtts
        self.errors, self.how = errors, how

    @property
    def loss(self) -> float:
        """Packet loss in percent of the requests sent."""
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 100.0

    def __repr__(self) -> str:
        return (
            f"Round(sent={self.sent}, received={self.received}, dup={self.duplicates}, "
            f"avg={self.rtt_avg}, errors={self.errors})"
        )


def open_socket(ipv6: bool) -> tuple[socket.socket, bool] | None:
    """A raw ICMP socket, else a datagram one, with True for raw; None if neither is allowed."""
    family = socket.AF_INET6 if ipv6 else socket.AF_INET
    protocol = socket.IPPROTO_ICMPV6 if ipv6 else socket.IPPROTO_ICMP
    for kind in (socket.SOCK_RAW, socket.SOCK_DGRAM):
        try:
            return socket.socket(family, kind, protocol), kind == socket.SOCK_RAW
        except OSError as error:
            if error.errno not in NOT_ALLOWED:
                raise
            log.info(
                "no %s ICMP socket: %s",
                "raw" if kind == socket.SOCK_RAW else "datagram",
                error.strerror,
            )
    return None


def exchange(
    sock: socket.socket,
    raw: bool,
    sockaddr: tuple[object, ...],
    count: int,
    interval: float,
    wait: float,
) -> Round:
    """Send ``count`` requests ``interval`` apart to ``sockaddr``; wait ``wait`` for the last.

    Listening ends when every request has its reply, ``wait`` after the last request, or
    just before the check's timeout, whichever comes first.
    """
    sock.setsockopt(*RECVERR[sock.family == socket.AF_INET6], 1)
    with doing(f"connecting to {sockaddr[0]}"):
        try:
            sock.connect(sockaddr)
        except OSError as error:
            if error.errno in REPORTED:
                raise ServiceDown(
                    f"{sockaddr[0]}: {(error.strerror or str(error)).lower()}"
                ) from None
            raise
    with doing(f"waiting for echo replies from {sockaddr[0]}"):
        return _Exchange(sock, raw).run(count, interval, wait)


class _Exchange:
    """The requests sent on one socket and the replies matched to them."""

    def __init__(self, sock: socket.socket, raw: bool) -> None:
        self.sock, self.raw = sock, raw
        self.ipv6 = sock.family == socket.AF_INET6
        self.identifier = int.from_bytes(os.urandom(2), "big")
        self.payload = os.urandom(8) + bytes(range(PAYLOAD_SIZE - 8))
        self.sent_at: dict[int, float] = {}
        self.answered: set[int] = set()
        self.failed: set[int] = set()  # requests an ICMP error came back for
        self.rtts: list[float] = []
        self.duplicates = 0
        self.errors: list[str] = []

    def run(self, count: int, interval: float, wait: float) -> Round:
        """Send on schedule, receive in between, until done (see :func:`exchange`)."""
        started = time.monotonic()
        left = remaining()
        hard_end = started + (left - MARGIN if left is not None else (count - 1) * interval + wait)
        next_send, listen_end = started, hard_end
        while True:
            now = time.monotonic()
            if len(self.sent_at) < count and next_send <= now < hard_end:
                sent = self._send(len(self.sent_at) + 1)
                next_send += interval
                if len(self.sent_at) == count:
                    listen_end = min(sent + wait, hard_end)
                continue
            all_sent = len(self.sent_at) == count or now >= hard_end
            if now >= listen_end or (
                all_sent and self.answered | self.failed >= self.sent_at.keys()
            ):
                break
            self._receive(max((listen_end if all_sent else next_send) - now, 0.0005))
        how = "raw ICMP socket" if self.raw else "ICMP datagram socket"
        log.info("%d requests sent, %d replies via %s", len(self.sent_at), len(self.rtts), how)
        rtts = self.rtts
        timing = (min(rtts), sum(rtts) / len(rtts), max(rtts)) if rtts else None
        errors = tuple(dict.fromkeys(self.errors))
        return Round(len(self.sent_at), len(rtts), self.duplicates, timing, errors, how)

    def _send(self, sequence: int) -> float:
        """Send request ``sequence``; the time it left."""
        request = echo_request(self.ipv6, self.identifier, sequence, self.payload)
        try:
            self.sock.send(request)
        except OSError as error:
            self._reported(error)
        self.sent_at[sequence] = time.monotonic()
        return self.sent_at[sequence]

    def _receive(self, timeout: float) -> None:
        """Wait up to ``timeout`` for one packet and account for it if it is a reply."""
        self.sock.settimeout(timeout)
        try:
            packet = self.sock.recv(65535)
        except TimeoutError:
            return
        except OSError as error:
            self._reported(error)
            return
        arrived = time.monotonic()
        try:
            echo = parse_echo(packet, self.ipv6, ip_header=self.raw and not self.ipv6)
        except ParseError as error:
            log.debug("ignored a damaged packet: %s", error)
            return
        if (
            echo is None
            or echo.payload != self.payload
            or echo.sequence not in self.sent_at
            or (self.raw and echo.identifier != self.identifier)  # another program's ping
        ):
            return
        if echo.sequence in self.answered:
            self.duplicates += 1
            return
        self.answered.add(echo.sequence)
        self.rtts.append(arrived - self.sent_at[echo.sequence])

    def _reported(self, error: OSError) -> None:
        """Record the ICMP errors the kernel queued; re-raise any other error."""
        if error.errno not in REPORTED:
            raise error
        queued = []
        self.sock.setblocking(False)  # a timeout would make recvmsg wait for more
        while True:
            try:
                original, ancillary, _, _ = self.sock.recvmsg(512, 512, socket.MSG_ERRQUEUE)
            except OSError:  # BlockingIOError: the queue is empty
                break
            try:
                request = parse_echo(original, self.ipv6, reply=False)
                queued += [
                    describe_icmp_error(data, self.ipv6)
                    for level, kind, data in ancillary
                    if (level, kind) == RECVERR[self.ipv6]
                ]
            except ParseError as damaged:
                log.debug("ignored a damaged error report: %s", damaged)
                continue
            if request is not None and request.payload == self.payload:
                self.failed.add(request.sequence)
        self.errors += queued or [(error.strerror or str(error)).lower()]
