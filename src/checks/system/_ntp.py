"""An SNTP client that asks many servers at once, within what is left of ``-t``.

Every address of every ``-H`` name is asked at the same time over plain UDP (IPv4 or
IPv6), one request per second until it answers; replies are matched to requests by the
cookie of :mod:`checks.system._sntp`, so a stale or spoofed one never counts. Each name
gets one :class:`Answer`, the best of its addresses'; judging it is check_clock's.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import time

from checks.core.errors import ParseError
from checks.core.net import addresses
from checks.core.runtime import doing
from checks.core.units import human_duration, human_number
from checks.system import _sntp

log = logging.getLogger(__name__)

#: Seconds between requests to a server that has not answered yet (UDP may lose one).
RESEND_INTERVAL = 1.0
#: Addresses asked per server name (a pool name may resolve to many).
MAX_ADDRESSES = 4
# What became of a server's query; ranked worst to best (the best answer of a name counts).
UNRESOLVED, SILENT, DOWN, GARBAGE, KISS, UNSYNCHRONISED, USABLE = range(7)


def offset_text(seconds: float, signed: bool = True) -> str:
    """An offset for people: ``+1.2 ms``, ``-350 us``, ``+2.5 s``, ``-5 min 3 s``."""
    magnitude = abs(seconds)
    if magnitude < 0.001:
        text = f"{human_number(magnitude * 1e6, 0)} us"
    elif magnitude < 1:
        text = f"{human_number(magnitude * 1000, 1)} ms"
    elif magnitude < 60:
        text = f"{human_number(magnitude, 3)} s"
    else:
        text = human_duration(magnitude)
    if not signed:
        return text
    return ("-" if seconds < 0 else "+") + text


class Answer:
    """What one server (``-H`` name) answered: the reply, or why there is none."""

    __slots__ = ("address", "delay", "kind", "name", "offset", "problem", "reply")

    def __init__(self, name: str, kind: int, address: str = "", problem: str = "") -> None:
        self.name = name
        self.kind = kind
        self.address = address
        self.problem = problem
        self.reply: _sntp.Reply | None = None
        self.offset = 0.0
        self.delay = 0.0

    def describe(self) -> str:
        """``ntp1 (192.0.2.1) stratum 2, refid 192.0.2.7, delay 1.2 ms`` or the problem."""
        where = self.name if self.address in ("", self.name) else f"{self.name} ({self.address})"
        if self.reply is None or self.kind in (GARBAGE, DOWN, SILENT):
            return f"{where}: {self.problem}"
        reply = self.reply
        if self.kind == KISS:
            code = reply.kiss_code or ""
            meaning = _sntp.KISS_CODES.get(code, "unknown kiss code")
            return f"{where}: kiss-o'-death {code} ({meaning})"
        if self.kind == UNSYNCHRONISED:
            return f"{where}: the server's clock is not synchronised ({self.problem})"
        return (
            f"{where} stratum {reply.stratum}, refid {reply.reference}, "
            f"delay {offset_text(self.delay, signed=False)}"
        )


class _Exchange:
    """Requests to one address and the answer they got; the cookies match replies."""

    def __init__(self, name: str, family: int, address: tuple[str, int]) -> None:
        self.name = name
        self.address = address
        self.sent: dict[bytes, int] = {}
        self.last_sent = -RESEND_INTERVAL
        self.answer: Answer | None = None
        self.socket = socket.socket(family, socket.SOCK_DGRAM)
        self.socket.setblocking(False)

    @property
    def refused(self) -> str:
        """The problem of an address whose port is closed (ICMP port unreachable)."""
        return f"port {self.address[1]} unreachable (no NTP server listening)"

    def _end(self, kind: int, problem: str = "") -> Answer:
        self.answer = Answer(self.name, kind, self.address[0], problem)
        return self.answer

    def send(self) -> None:
        """One request with a fresh cookie; an address that cannot be reached ends here."""
        cookie = os.urandom(8)
        packet = _sntp.request(cookie)
        try:
            if not self.sent:
                self.socket.connect(self.address)  # then the kernel reports ICMP errors
            self.sent[cookie] = time.time_ns()
            self.socket.send(packet)
        except ConnectionRefusedError:
            self._end(DOWN, self.refused)
        except OSError as error:
            self._end(DOWN, f"cannot send to port {self.address[1]}: {error.strerror}")
        self.last_sent = time.monotonic()

    def receive(self) -> None:
        """Read one datagram: the answer, or a stale or foreign one to ignore."""
        try:
            data = self.socket.recv(4096)
            arrived = time.time_ns()
        except ConnectionRefusedError:
            self._end(DOWN, self.refused)
            return
        except OSError as error:
            self._end(DOWN, error.strerror or str(error))
            return
        try:
            reply = _sntp.parse_reply(data, arrived)
        except ParseError as error:
            self._end(GARBAGE, f"not an NTP reply: {error}")
            return
        if reply.origin not in self.sent:
            log.info("%s: ignoring a reply to a request this check did not send", self.name)
            return
        kind = USABLE
        problem = ""
        if reply.kiss_code is not None:
            kind = KISS
        elif not reply.synchronised:
            kind = UNSYNCHRONISED
            problem = f"leap indicator {reply.leap}, stratum {reply.stratum}"
        answer = self._end(kind, problem)
        answer.reply = reply
        answer.offset, answer.delay = reply.offset_and_delay(self.sent[reply.origin], arrived)
        log.info("%s: %s, offset %.9f s", self.name, answer.describe(), answer.offset)


def ask_servers(names: list[str], port: int, family: int, wait: float) -> list[Answer]:
    """Ask every address of every server at once; one Answer per name, the best it got.

    Waits at most ``wait`` seconds for all answers, resending to silent addresses every
    RESEND_INTERVAL; the replies of a name rank usable, unsynchronised, kiss-o'-death,
    garbage, unreachable, silent (the first usable of several is the one with least delay).
    """
    answers: dict[str, list[Answer]] = {name: [] for name in names}
    exchanges: list[_Exchange] = []
    with doing("resolving the NTP server names"):
        for name in names:
            try:
                found = addresses(name, family, port, socket.SOCK_DGRAM)[:MAX_ADDRESSES]
            except (socket.gaierror, UnicodeError) as error:
                reason = getattr(error, "strerror", None) or str(error)
                answers[name].append(Answer(name, UNRESOLVED, problem=f"cannot resolve: {reason}"))
                continue
            exchanges += [
                _Exchange(name, kind, (str(address[0]), int(address[1]))) for kind, address in found
            ]
    deadline = time.monotonic() + wait
    try:
        with doing(f"waiting for {', '.join(names)} to answer"):
            _exchange(exchanges, deadline)
    finally:
        for exchange in exchanges:
            exchange.socket.close()
    for exchange in exchanges:
        silent = f"no reply within {human_number(wait, 1)} s"
        answer = exchange.answer or Answer(exchange.name, SILENT, exchange.address[0], silent)
        answers[exchange.name].append(answer)
    return [
        max(found, key=lambda answer: (answer.kind, -answer.delay)) for found in answers.values()
    ]


def _exchange(exchanges: list[_Exchange], deadline: float) -> None:
    """Send, resend and receive until every address answered or the deadline passed."""
    while True:
        pending = [exchange for exchange in exchanges if exchange.answer is None]
        now = time.monotonic()
        if not pending or now >= deadline:
            return
        for exchange in pending:
            if now - exchange.last_sent >= RESEND_INTERVAL:
                exchange.send()
        pending = [exchange for exchange in pending if exchange.answer is None]
        if not pending:
            return
        next_resend = min(exchange.last_sent for exchange in pending) + RESEND_INTERVAL
        timeout = max(min(deadline, next_resend) - time.monotonic(), 0)
        readable, _, _ = select.select([exchange.socket for exchange in pending], [], [], timeout)
        for exchange in pending:
            if exchange.socket in readable:
                exchange.receive()
