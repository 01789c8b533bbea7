"""ICMP echo messages (RFC 792, RFC 4443): building requests and reading replies, as bytes.

Pure functions, so that what a socket delivers can be tested on captured packets. A raw
IPv4 socket delivers every ICMP message the host receives, with its IP header, including
the host's own echo requests on loopback, other programs' pings and error messages: the
reader names an echo reply, answers ``None`` for any other well-formed ICMP message, and
refuses a damaged one (:class:`~checks.core.errors.ParseError`) so that the caller can
skip it. IPv4 checksums are verified here because the kernel hands raw sockets packets
before checking them; ICMPv6 checksums cover a pseudo-header with addresses the socket
does not give, and the kernel verifies them before any ICMPv6 socket sees the message.
"""

from __future__ import annotations

import os
import socket
import struct

from checks.core.errors import ParseError

#: (type of an echo request, type of an echo reply) for IPv4 and for IPv6.
ECHO_TYPES = {False: (8, 0), True: (128, 129)}
ICMP_HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence
IPV4_MIN_HEADER = 20
PROTOCOL_ICMP = 1
#: Linux ``struct sock_extended_err``: errno, origin, ICMP type and code, pad, info, data.
EXTENDED_ERROR = struct.Struct("=IBBBBII")
ORIGIN_LOCAL = 1
#: Address families in the offender sockaddr after the extended error (Linux values).
OFFENDER = {2: (4, 4), 10: (8, 16)}  # AF_INET, AF_INET6: (offset, length) of the address
#: ICMP errors in ping's words, by (IPv6, type, code) and by (IPv6, type) for any code.
ICMP_ERRORS: dict[tuple[bool, int] | tuple[bool, int, int], str] = {
    (False, 3, 0): "network unreachable",
    (False, 3, 1): "host unreachable",
    (False, 3, 2): "protocol unreachable",
    (False, 3, 3): "port unreachable",
    (False, 3, 4): "fragmentation needed",
    (False, 3, 9): "network administratively prohibited",
    (False, 3, 10): "host administratively prohibited",
    (False, 3, 13): "communication administratively prohibited",
    (False, 3): "destination unreachable",
    (False, 11): "time to live exceeded",
    (False, 12): "parameter problem",
    (True, 1, 0): "no route to destination",
    (True, 1, 1): "communication administratively prohibited",
    (True, 1, 3): "address unreachable",
    (True, 1, 4): "port unreachable",
    (True, 1): "destination unreachable",
    (True, 2): "packet too big",
    (True, 3): "hop limit exceeded",
    (True, 4): "parameter problem",
}


class Echo:
    """An echo message: its identifier, sequence number and payload."""

    __slots__ = ("identifier", "payload", "sequence")

    def __init__(self, identifier: int, sequence: int, payload: bytes) -> None:
        self.identifier, self.sequence, self.payload = identifier, sequence, payload

    def __repr__(self) -> str:
        return f"Echo(id={self.identifier}, seq={self.sequence}, {len(self.payload)} bytes)"


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): one's complement of the one's complement sum."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(ipv6: bool, identifier: int, sequence: int, payload: bytes) -> bytes:
    """An echo request; for IPv6 the checksum is left to the kernel, as RFC 3542 has it."""
    kind = ECHO_TYPES[ipv6][0]
    message = ICMP_HEADER.pack(kind, 0, 0, identifier, sequence) + payload
    if ipv6:
        return message
    return message[:2] + struct.pack("!H", checksum(message)) + message[4:]


def strip_ipv4_header(packet: bytes) -> bytes:
    """The ICMP message inside an IPv4 packet, as a raw socket delivers it."""
    if len(packet) < IPV4_MIN_HEADER:
        raise ParseError(f"IPv4 packet of {len(packet)} bytes is shorter than its header")
    version, header_length = packet[0] >> 4, (packet[0] & 0x0F) * 4
    total_length = struct.unpack_from("!H", packet, 2)[0]
    if version != 4:
        raise ParseError(f"IP version {version} where IPv4 was expected")
    if header_length < IPV4_MIN_HEADER or total_length < header_length:
        raise ParseError(
            f"IPv4 header length {header_length} and total length {total_length} do not fit"
        )
    if total_length > len(packet):
        raise ParseError(f"IPv4 packet truncated: {len(packet)} of {total_length} bytes")
    if packet[9] != PROTOCOL_ICMP:
        raise ParseError(f"IPv4 packet carries protocol {packet[9]}, not ICMP")
    return packet[header_length:total_length]


def parse_echo(
    packet: bytes, ipv6: bool, ip_header: bool = False, reply: bool = True
) -> Echo | None:
    """The echo reply (or, with ``reply=False``, request) in ``packet``; None for others.

    ``ip_header`` says whether the socket delivers the IPv4 header (raw IPv4 sockets do;
    datagram sockets, IPv6 sockets and error queues do not).
    """
    message = strip_ipv4_header(packet) if ip_header else packet
    if len(message) < ICMP_HEADER.size:
        raise ParseError(f"ICMP message of {len(message)} bytes is shorter than its header")
    if not ipv6 and checksum(message) != 0:
        raise ParseError("ICMP checksum does not match the message")
    kind, code, _, identifier, sequence = ICMP_HEADER.unpack_from(message)
    if kind != ECHO_TYPES[ipv6][1 if reply else 0] or code != 0:
        return None
    return Echo(identifier, sequence, message[ICMP_HEADER.size :])


def describe_icmp_error(data: bytes, ipv6: bool) -> str:
    """An ICMP error the kernel queued for the socket (``IP_RECVERR`` control message).

    ``host unreachable (from 198.51.100.1)``: the error in ping's words and the router
    or host that sent it (the "offender" after ``struct sock_extended_err``).
    """
    if len(data) < EXTENDED_ERROR.size:
        raise ParseError(f"extended socket error of {len(data)} bytes is too short")
    error, origin, kind, code, _, _, _ = EXTENDED_ERROR.unpack_from(data)
    if origin == ORIGIN_LOCAL:
        if not 0 < error < 4096:  # errno values are small; anything else is a damaged record
            raise ParseError(f"extended socket error with impossible errno {error}")
        return os.strerror(error).lower()
    words = (
        ICMP_ERRORS.get((ipv6, kind, code))
        or ICMP_ERRORS.get((ipv6, kind))
        or f"ICMP error type {kind} code {code}"
    )
    offender = data[EXTENDED_ERROR.size :]
    family = struct.unpack_from("=H", offender)[0] if len(offender) >= 2 else 0
    if family not in OFFENDER:
        return words
    start, length = OFFENDER[family]
    address = offender[start : start + length]
    if len(address) != length:
        raise ParseError("the address that sent the ICMP error is truncated")
    return f"{words} (from {socket.inet_ntop(2 if length == 4 else 10, address)})"
