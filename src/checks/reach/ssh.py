"""check_ssh: whether an SSH server answers with an SSH-2 identification, and how fast.

Connects to ``-H``/``-p``, reads the server's identification string (RFC 4253 4.2:
``SSH-protoversion-softwareversion SP comments CRLF``, after any other lines the server
sends first), answers with vigie's own identification as a client should, and closes
before any key exchange. CRITICAL when the service is not there: connection refused, no
answer or no identification within ``-t``, the connection closed, something other than
SSH on the port, or a server that speaks only SSH-1 (protocol 2.0, or 1.99 which offers
both, is required). ``-w``/``-c`` judge the response time, connect to identification.
A name that does not resolve is UNKNOWN, as in the C plugin.

Takes the C plugin's options unchanged: ``-H HOST -p PORT -r VERSION -P PROTOCOL`` (or
the host as the last argument), with the same meaning: ``-r`` is CRITICAL unless the
server's software version with its comments is exactly VERSION (``-r 'OpenSSH_9.2p1
Debian-2+deb12u3'``), ``-P`` unless the protocol is exactly PROTOCOL; the perfdata label is
``time`` (s). Two deliberate differences: lines before the identification are allowed, as
RFC 4253 says (the C plugin 2.3.3 is CRITICAL), and an SSH-1 server is CRITICAL (the C
plugin is OK) unless ``-P`` names its protocol.
"""

from __future__ import annotations

import argparse
import socket
import time

import nagiosplugin
from nagiosplugin.state import Critical, Ok

from checks import __version__
from checks.core.cli import Parser, add_thresholds
from checks.core.errors import ParseError, ServiceDown
from checks.core.evaluate import Summary, Verdict
from checks.core.net import (
    Latency,
    add_family_options,
    add_host_option,
    chosen_family,
    connect,
    describe_response_time,
    host_of,
    human_latency,
    port,
    read_banner,
    receive,
    resolve,
)
from checks.core.output import screen
from checks.core.runtime import Bench, Plugin, remaining
from checks.core.units import SECONDS

DEFAULT_PORT = 22
#: Protocol versions that speak SSH-2 (1.99: a server that also offers SSH-1).
SSH2 = ("2.0", "1.99")
#: How much a server may send before its identification (OpenSSH's client allows 8 KiB).
IDENTIFICATION_LIMIT = 8192
IDENTIFICATION = f"SSH-2.0-vigie_check_ssh_{__version__}\r\n".encode()


class Banner:
    """A server's identification: protocol and software version, comments, lines before."""

    __slots__ = ("comments", "preamble", "protocol", "software")

    def __init__(self, protocol: str, software: str, comments: str, preamble: list[str]) -> None:
        self.protocol, self.software, self.comments = protocol, software, comments
        self.preamble = preamble

    @property
    def version(self) -> str:
        """Software version and comments, what the C plugin calls the server version."""
        return f"{self.software} {self.comments}" if self.comments else self.software


def parse_banner(text: str) -> Banner:
    """The identification in what the server sent first (bytes decoded as latin-1).

    Lines before it are kept (RFC 4253 lets a server send them); the identification must
    be printable US-ASCII with a protocol version of digits and dots and a software
    version. What follows its line (the start of key exchange) is ignored.
    """
    preamble: list[str] = []
    for raw_line in text.split("\n"):
        line = raw_line.removesuffix("\r")
        if line.startswith("SSH-"):
            break
        preamble.append(line)
    else:
        sent = text.strip()[:60]
        if not sent:
            raise ParseError("the server closed the connection without sending anything")
        raise ParseError(f"no SSH identification string; the server sent {sent!r}")
    if not (line.isascii() and line.isprintable()):
        raise ParseError(f"the identification string is not printable ASCII: {line[:60]!r}")
    protocol, dash, rest = line[len("SSH-") :].partition("-")
    software, _, comments = rest.partition(" ")
    if not (dash and protocol and protocol.replace(".", "").isdigit() and software):
        raise ParseError(
            f"{line[:60]!r} is not SSH-protoversion-softwareversion [comments] (RFC 4253)"
        )
    return Banner(protocol, software, comments, preamble)


def read_identification(sock: socket.socket) -> str:
    """What the server sends up to its identification line, the end, or the limit."""
    return read_banner(sock, lambda line: line.startswith(b"SSH-"), IDENTIFICATION_LIMIT)


class Ssh(nagiosplugin.Resource):
    """One connection: the time to the server's identification, and the identification."""

    def __init__(self, host: str, port: int, family: int, timeout: float) -> None:
        self.host, self.port, self.family, self.timeout = host, port, family, timeout
        self.where = f"{host} port {port}"

    def probe(self) -> list[nagiosplugin.Metric]:
        """Connect, read the identification, greet, close."""
        addresses = resolve(self.host, self.family, self.port)
        started = time.monotonic()
        sock, self.where = connect(self.host, self.port, addresses, self.timeout)
        with sock:
            what = "SSH identification"
            text = receive(
                sock, self.where, what, f"reading the {what}", read_identification, self.timeout
            )
            elapsed = time.monotonic() - started
            try:
                banner = parse_banner(text)
            except ParseError as error:
                raise ServiceDown(f"{self.where} does not speak SSH: {error}") from None
            self._greet(sock)
        return [
            nagiosplugin.Metric("time", elapsed, "s", 0, context="time"),
            nagiosplugin.Metric("identification", banner, context="identification"),
        ]

    @staticmethod
    def _greet(sock: socket.socket) -> None:
        """Send our identification, as a client does, so the server logs a clean close."""
        try:
            sock.settimeout(min(remaining() or 1.0, 1.0))
            sock.sendall(IDENTIFICATION)
        except OSError:  # the server may already have closed: nothing to judge in that
            pass


class Identification(nagiosplugin.Context):
    """The protocol (SSH-2, or exactly ``-P``) and the version (exactly ``-r``, if given)."""

    def __init__(self, protocol: str | None, version: str | None) -> None:
        super().__init__("identification", result_cls=Verdict)
        self.protocol, self.version = protocol, version

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """CRITICAL on any mismatch, naming what was expected."""
        banner: Banner = metric.value
        problems = []
        if self.protocol is not None and banner.protocol != self.protocol:
            problems.append(f"protocol version mismatch, expected {self.protocol!r}")
        elif self.protocol is None and banner.protocol not in SSH2:
            problems.append("speaks only SSH-1 (protocol 2.0 or 1.99 required)")
        if self.version is not None and banner.version != self.version:
            problems.append(f"version mismatch, expected {self.version!r}")
        return Verdict(Critical if problems else Ok, "; ".join(problems) or None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``OpenSSH_9.2p1 Debian-2+deb12u3 (protocol 2.0)``, as the C plugin words it."""
        banner: Banner = metric.value
        return screen(f"{banner.version} (protocol {banner.protocol})")


class SshSummary(Summary):
    """``OpenSSH_9.2p1 … (protocol 2.0) on host port 22 in 4.2 ms``; problems after where."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """Identification, where, how fast."""
        where = results[0].resource.where
        took = human_latency(results["time"].metric.value)
        return f"{results['identification']} on {where} in {took}"

    def problem(self, results: nagiosplugin.Results) -> str:
        """Every problem, worst first, after where."""
        return f"{results[0].resource.where}: {super().problem(results)}"

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        """The lines the server sent before its identification, if any."""
        banner: Banner = results["identification"].metric.value
        return super().verbose(results) + [
            f"before the identification: {line}" for line in banner.preamble
        ]


def build_parser() -> Parser:
    """check_ssh's options: the C plugin's, plus response-time thresholds."""
    parser = Parser(
        "check_ssh",
        __doc__.split("\n\n")[0],
        examples=(
            "check_ssh -H host                          SSH-2 on port 22",
            "check_ssh -H host -p 2222 -w 1 -c 5        response time thresholds (s)",
            "check_ssh -H host -r 'OpenSSH_9.2p1 Debian-2+deb12u3'   as the C plugin",
        ),
    )
    add_host_option(parser, "host name or address (C-compatible; or give it last)", last=True)
    parser.add_argument(
        "-p",
        "--port",
        type=port,
        default=DEFAULT_PORT,
        help="TCP port (default: %(default)s, C-compatible)",
    )
    add_family_options(parser)
    parser.add_argument(
        "-r",
        "--remote-version",
        metavar="VERSION",
        help="CRITICAL unless the software version and comments are exactly VERSION, "
        "e.g. 'OpenSSH_9.2p1 Debian-2+deb12u3' (C-compatible)",
    )
    parser.add_argument(
        "-P",
        "--remote-protocol",
        metavar="PROTOCOL",
        help="CRITICAL unless the protocol version is exactly PROTOCOL, e.g. 2.0 "
        "(C-compatible; default: 2.0 or 1.99)",
    )
    add_thresholds(parser, "the response time in seconds (units: ms, s)", scale=SECONDS)
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``; the host comes from -H or the last argument."""
    return nagiosplugin.Check(
        Ssh(host_of(args), args.port, chosen_family(args), args.timeout),
        Latency("time", args.warning, args.critical, describe_response_time),
        Identification(args.remote_protocol, args.remote_version),
        SshSummary(),
    )


PLUGIN = Plugin(
    "ssh",
    build_parser,
    make_check,
    address=True,
    services=("vigie-ssh",),
    nagios=("ssh",),
    bench=(
        Bench("check_ssh -H 127.0.0.1 -p PORT", ("-H", "127.0.0.1", "-p", "{ssh_port}"),
              kind="tool", twin="C check_ssh -H 127.0.0.1 -p PORT"),
    ),
)  # fmt: skip
main = PLUGIN.main
