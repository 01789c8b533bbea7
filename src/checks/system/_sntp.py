"""The SNTP packet (RFC 4330; RFC 5905 client and server modes): a request, and what a reply says.

Pure functions over bytes and nanosecond clock readings, no sockets: check_clock sends,
waits and reads; this module builds the 48 bytes it sends and tells what the 48 (or more)
bytes it receives mean, or raises :class:`~checks.core.errors.ParseError` saying why they
are not an NTP server's reply.

The request carries a random transmit timestamp (as RFC 9109 recommends: it reveals
nothing about the client's clock) that the server must copy into its reply's origin
timestamp; the caller keeps its own send time and matches replies by that cookie, so a
stale or spoofed reply is never taken for the answer.
"""

from __future__ import annotations

from checks.core.errors import ParseError

#: Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
NTP_TO_UNIX = 2_208_988_800
#: An NTP era: the 32-bit seconds field wraps every 2**32 s (the first wrap is in 2036).
ERA_SECONDS = 2**32
NANOSECONDS = 1_000_000_000
PACKET_SIZE = 48
VERSION = 4
MODE_CLIENT = 3
MODE_SERVER = 4
#: Leap indicator 3: "alarm condition", the server's clock is not synchronised.
LEAP_ALARM = 3
#: Stratum 16 (and the reserved values above it): the server is not synchronised.
STRATUM_UNSYNCHRONISED = 16
#: Stratum 0 in a reply: a kiss-o'-death packet, the reference ID holds the kiss code.
STRATUM_KISS = 0

#: Kiss codes of RFC 5905 section 7.4, as an operator reads them.
KISS_CODES = {
    "ACST": "the association belongs to an anycast server",
    "AUTH": "server authentication failed",
    "AUTO": "autokey sequence failed",
    "BCST": "the association belongs to a broadcast server",
    "CRYP": "cryptographic authentication or identification failed",
    "DENY": "access denied by remote server",
    "DROP": "lost peer in symmetric mode",
    "RSTR": "access denied due to local policy",
    "INIT": "the association has not yet synchronised for the first time",
    "MCST": "the association belongs to a dynamically discovered server",
    "NKEY": "no key found",
    "NTSN": "NTS negative-acknowledgement",
    "RATE": "rate exceeded: the server asks the client to query less often",
    "RMOT": "alteration of association from a remote host running ntpdc",
    "STEP": "a step change in system time has occurred",
}


def request(cookie: bytes) -> bytes:
    """A version 4 client-mode request whose transmit timestamp is ``cookie`` (8 bytes)."""
    if len(cookie) != 8:
        raise ValueError("the transmit-timestamp cookie is 8 bytes")
    first = VERSION << 3 | MODE_CLIENT  # leap indicator 0
    return bytes([first]) + bytes(PACKET_SIZE - 9) + cookie


def timestamp_ns(raw: bytes, near_ns: int) -> int:
    """An NTP 64-bit timestamp as Unix nanoseconds, in the era closest to ``near_ns``.

    The seconds field only counts modulo 2**32 (about 136 years); taking the era that puts
    the time nearest the local clock is right for any offset below 68 years, across the
    2036 wrap as well (RFC 5905 section 6).
    """
    seconds = int.from_bytes(raw[:4], "big")
    fraction = int.from_bytes(raw[4:8], "big")
    unix = seconds - NTP_TO_UNIX
    era = round((near_ns / NANOSECONDS - unix) / ERA_SECONDS)
    return (unix + era * ERA_SECONDS) * NANOSECONDS + (fraction * NANOSECONDS >> 32)


def _short(raw: bytes, signed: bool) -> float:
    """An NTP short format value (16.16 fixed point), in seconds."""
    return int.from_bytes(raw, "big", signed=signed) / 65536


class Reply:
    """An NTP server's reply: header fields, and timestamps as Unix nanoseconds."""

    __slots__ = (
        "leap",
        "mode",
        "origin",
        "receive_ns",
        "reference_id",
        "root_delay",
        "root_dispersion",
        "stratum",
        "transmit_ns",
        "version",
    )

    def __init__(self, data: bytes, now_ns: int) -> None:
        self.leap = data[0] >> 6
        self.version = data[0] >> 3 & 7
        self.mode = data[0] & 7
        self.stratum = data[1]
        self.root_delay = _short(data[4:8], signed=True)
        self.root_dispersion = _short(data[8:12], signed=False)
        self.reference_id = data[12:16]
        #: The origin timestamp, raw: the cookie of the request this answers.
        self.origin = data[24:32]
        self.receive_ns = timestamp_ns(data[32:40], now_ns)
        self.transmit_ns = timestamp_ns(data[40:48], now_ns)

    @property
    def kiss_code(self) -> str | None:
        """The kiss code of a kiss-o'-death reply (``RATE``, ``DENY`` …), else None.

        A kiss-o'-death has stratum 0 and four ASCII letters or digits as reference ID; an
        unsynchronised server (chronyd, for one) also sends stratum 0, with ID zero.
        """
        code = self.reference_id.decode("ascii", "replace")
        if self.stratum != STRATUM_KISS or not (code.isascii() and code.isalnum()):
            return None
        return code

    @property
    def synchronised(self) -> bool:
        """False when the server says its own clock is unsynchronised (LI 3 or stratum 16+)."""
        return self.leap != LEAP_ALARM and STRATUM_KISS < self.stratum < STRATUM_UNSYNCHRONISED

    @property
    def reference(self) -> str:
        """The reference ID as people read it: ``GPS`` at stratum 1, an IPv4 address above."""
        if self.stratum <= 1:
            return self.reference_id.decode("ascii", "replace").rstrip("\x00")
        return ".".join(str(byte) for byte in self.reference_id)

    def offset_and_delay(self, sent_ns: int, received_ns: int) -> tuple[float, float]:
        """Clock offset (server minus local) and round-trip delay in seconds (RFC 5905 8).

        ``sent_ns`` and ``received_ns`` are the local clock when the request left and the
        reply arrived. A positive offset means the local clock is behind the server's.
        """
        offset = ((self.receive_ns - sent_ns) + (self.transmit_ns - received_ns)) / 2
        delay = (received_ns - sent_ns) - (self.transmit_ns - self.receive_ns)
        return offset / NANOSECONDS, max(delay, 0) / NANOSECONDS


def parse_reply(data: bytes, now_ns: int) -> Reply:
    """Read a server's reply; ParseError when the bytes are not one.

    A reply has at least 48 bytes (extension fields and a MAC may follow), mode 4 (server)
    and version 1 to 4; except in a kiss-o'-death, its transmit timestamp is set. Whether it
    answers this client's request (its origin is the cookie sent) is the caller's test.
    """
    if len(data) < PACKET_SIZE:
        raise ParseError(f"a {len(data)}-byte reply is not an NTP packet (at least 48 bytes)")
    reply = Reply(data, now_ns)
    if not 1 <= reply.version <= VERSION:
        raise ParseError(f"the reply has NTP version {reply.version}, not 1 to {VERSION}")
    if reply.mode != MODE_SERVER:
        raise ParseError(f"the reply has mode {reply.mode}, not {MODE_SERVER} (server)")
    if reply.kiss_code is None and not any(data[40:48]):
        raise ParseError("the reply has no transmit timestamp")
    return reply
