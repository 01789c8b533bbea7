"""The SMTP part of check_postfix and check_qmail: greeting 220, EHLO, optional STARTTLS.

One short dialogue (RFC 5321, RFC 3207): read the greeting, ``EHLO``, with ``-S`` send
``STARTTLS``, make the TLS handshake (certificate verified against the system's CAs or
``--ca-file`` unless ``--insecure``) and ``EHLO`` again, then ``QUIT``. Judged: the greeting
must be 220 (a 554 greeting is a server refusing service: CRITICAL, where the C check_smtp
says WARNING), ``-e`` text in its first line (WARNING otherwise, as the C plugin), EHLO
answered 250, STARTTLS offered (WARNING otherwise, as the C plugin) and the handshake
passing, the certificate's days left (``-D warn[,crit]`` as check_smtp), the response time
``-w/-c`` (connect to the last EHLO answer, in seconds).

Why not smtplib: measured, its import alone (it pulls the ``email`` package and ``ssl``)
adds 2 × the bare interpreter's CPU to vigie's skeleton (3.6 × to 5.6 ×); an EHLO and
QUIT through it, before any queue or judging, already cost 5.4 × (a whole check_postfix
run here: 4.8–5.0 ×, 14 MiB). The replies are read with :func:`checks.core.net.read_banner`
and parsed by :func:`parse_reply` (a pure function tested on real and damaged input);
``ssl`` is imported only with ``-S`` (a whole run then ≈ 6 ×, 20 MiB: the handshake).

Replies and TLS (handshake failures, certificate days) are shared with check_ftp through
:mod:`checks.core.textproto` and :mod:`checks.core.net`.
"""

from __future__ import annotations

import argparse
import socket
import time
from collections.abc import Callable

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Warn

from checks.core.cli import Parser, add_thresholds
from checks.core.errors import ParseError, ServiceDown, TimedOut
from checks.core.evaluate import Summary
from checks.core.net import (
    CertificateDays,
    Latency,
    add_certificate_options,
    add_family_options,
    add_host_option,
    certificate_metrics,
    check_certificate_options,
    chosen_family,
    connect,
    describe_response_time,
    host_of,
    human_latency,
    not_after,
    port,
    read_banner,
    receive,
    resolve,
    tls_context,
    tls_failure,
)
from checks.core.output import screen
from checks.core.runtime import doing, remaining
from checks.core.textproto import Exchange, Finding, GreetingContext, Reply
from checks.core.units import SECONDS

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl

DEFAULT_PORT = 25
#: How much a reply may hold (RFC 5321 4.5.3.1.5: 512 octets a line; EHLO lists many).
REPLY_LIMIT = 65536


def _final_line(line: bytes) -> bool:
    """True for the last line of a reply: code, then a space or the end of the line."""
    return len(line) >= 3 and line[:3].isdigit() and line[3:4] in (b" ", b"\r", b"")


def _read_reply(sock: socket.socket) -> str:
    """The lines of one reply, up to its final line (or :data:`REPLY_LIMIT`)."""
    return read_banner(sock, _final_line, REPLY_LIMIT)


def parse_reply(text: str) -> Reply:
    """The reply in ``text`` (RFC 5321 4.2: ``250-…`` lines then ``250 …``, one code).

    Raises ParseError for what is not a complete reply: nothing, text without a code,
    lines of different codes, no last line.
    """
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise ParseError("the server closed the connection without sending anything")
    code = lines[0][:3]
    texts = []
    for number, line in enumerate(lines):
        if not (
            line[:3] == code
            and len(code) == 3
            and code.isascii()
            and code.isdigit()
            and line[3:4] in " -"
        ):
            raise ParseError(f"not an SMTP reply: {screen(line[:60])!r}")
        texts.append(line[4:])
        if line[3:4] != "-":
            if number != len(lines) - 1:
                raise ParseError(f"text after the end of the reply: {screen(lines[-1][:60])!r}")
            return Reply(int(code), texts)
    raise ParseError(f"the reply ends without its last line: {screen(lines[-1][:60])!r}")


def extensions(ehlo: Reply) -> set[str]:
    """The service extensions an EHLO reply lists (keywords upper-cased)."""
    return {line.split(" ", 1)[0].upper() for line in ehlo.lines[1:] if line}


class Dialogue(Exchange):
    """What one SMTP dialogue found (``elapsed``: the whole dialogue)."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.ehlo: Reply | None = None
        self.tls_offered: bool | None = None  # None: STARTTLS not asked for


class Smtp:
    """An SMTP client for one dialogue within the check's time."""

    def __init__(self, sock: socket.socket, where: str, timeout: float) -> None:
        self.sock, self.where, self.timeout = sock, where, timeout

    def reply(self, waiting_for: str) -> Reply:
        """The next reply; CRITICAL when it does not come or is no SMTP reply."""
        text = receive(self.sock, self.where, waiting_for, f"waiting for the {waiting_for}",
                       _read_reply, self.timeout)  # fmt: skip
        try:
            return parse_reply(text)
        except ParseError as error:
            raise ServiceDown(f"{self.where}: {waiting_for}: {error}") from None

    def command(self, line: str, waiting_for: str) -> Reply:
        """Send ``line`` and return the reply to it."""
        try:
            self.sock.settimeout(remaining())
            self.sock.sendall(f"{line}\r\n".encode("ascii", "replace"))
        except OSError as error:
            verb = line.split(maxsplit=1)[0]
            reason = error.strerror or error
            raise ServiceDown(f"{self.where}: sending {verb}: {reason}") from None
        return self.reply(waiting_for)

    def starttls(self, context: ssl.SSLContext, host: str) -> ssl.SSLSocket:
        """The TLS handshake after ``220`` to STARTTLS; CRITICAL with the reason if it fails."""
        try:
            with doing(f"making the TLS handshake with {self.where}"):
                self.sock.settimeout(remaining())
                wrapped = context.wrap_socket(self.sock, server_hostname=host)
        except (TimeoutError, TimedOut):
            raise ServiceDown(f"{self.where}: no TLS handshake within {self.timeout:g} s") from None
        except OSError as error:  # ssl.SSLError is an OSError
            raise tls_failure(self.where, "TLS handshake", error) from None
        self.sock = wrapped
        return wrapped

    def quit(self) -> None:
        """Say QUIT so the server logs a clean close; its answer does not matter."""
        try:
            self.sock.settimeout(min(remaining() or 1.0, 1.0))
            self.sock.sendall(b"QUIT\r\n")
            self.sock.recv(512)
        except OSError:
            pass


def converse(args: argparse.Namespace, host: str) -> Dialogue:
    """Greeting, EHLO, STARTTLS and EHLO again if asked, QUIT: what each step found."""
    addresses = resolve(host, chosen_family(args), args.port)
    started = time.monotonic()
    sock, where = connect(host, args.port, addresses, args.timeout)
    found = Dialogue(where)
    client = Smtp(sock, where, args.timeout)
    try:
        found.greeting = client.reply("SMTP greeting")
        if found.greeting.code != 220:
            return found
        name = args.fqdn or socket.gethostname()
        found.ehlo = client.command(f"EHLO {name}", "answer to EHLO")
        if args.starttls and found.ehlo.code == 250:
            found.tls_offered = "STARTTLS" in extensions(found.ehlo)
            if found.tls_offered:
                answer = client.command("STARTTLS", "answer to STARTTLS")
                if answer.code != 220:
                    raise ServiceDown(f"{where}: STARTTLS refused: {answer}")
                context = tls_context(not args.insecure, args.ca_file)
                wrapped = client.starttls(context, host)
                found.tls_version = wrapped.version() or ""
                found.not_after = not_after(wrapped)
                found.ehlo = client.command(f"EHLO {name}", "answer to EHLO after STARTTLS")
        found.elapsed = time.monotonic() - started
        client.quit()
    finally:
        client.sock.close()
    return found


def smtp_metrics(found: Dialogue) -> list[nagiosplugin.Metric]:
    """The metrics of a dialogue, for the contexts of :func:`smtp_contexts`."""
    metrics = [nagiosplugin.Metric("greeting", found, context="greeting")]
    if found.greeting is not None and found.greeting.code == 220:
        metrics.append(nagiosplugin.Metric("time", found.elapsed, "s", 0, context="time"))
    return metrics + certificate_metrics(found.not_after)


class Greeting(GreetingContext):
    """Greeting 220 (with ``-e`` text), EHLO 250, STARTTLS offered when asked for."""

    def __init__(self, expect: str | None) -> None:
        super().__init__()
        self.expect = expect

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Finding:
        """CRITICAL for a greeting or EHLO refused, WARNING for a text or TLS missing."""
        found: Dialogue = metric.value
        assert found.greeting is not None  # converse() raises before a missing greeting
        if found.greeting.code != 220:
            return Finding(Critical, f"{found.where} greets with {found.greeting}, not 220",
                           metric)  # fmt: skip
        if found.ehlo is None or found.ehlo.code != 250:
            return Finding(Critical, f"{found.where} answered EHLO with {found.ehlo}", metric)
        if self.expect is not None and self.expect not in found.greeting.first:
            return Finding(Warn, f"{found.where} greeting {found.greeting} lacks "
                           f"{self.expect!r}", metric)  # fmt: skip
        if found.tls_offered is False:
            return Finding(Warn, f"{found.where} does not offer STARTTLS", metric)
        return Finding(Ok, None, metric)


def add_smtp_options(parser: Parser) -> None:
    """The SMTP options, C-compatible with check_smtp: -H -p -4 -6 -e -F -S -D -w -c."""
    add_host_option(parser, "host name or address of the SMTP server (C-compatible)")
    parser.add_argument("-p", "--port", type=port, default=DEFAULT_PORT,
                        help="SMTP port (default: %(default)s, C-compatible)")  # fmt: skip
    add_family_options(parser)
    parser.add_argument("-e", "--expect", metavar="TEXT",
                        help="WARNING unless the greeting's first line holds TEXT "
                        "(C-compatible; the code must be 220 in any case)")  # fmt: skip
    parser.add_argument(
        "-F",
        "--fqdn",
        metavar="NAME",
        help="name to give in EHLO (default: this host's name; C-compatible)",
    )
    parser.add_argument("-S", "--starttls", action="store_true",
                        help="STARTTLS and a verified TLS handshake (C-compatible)")  # fmt: skip
    add_certificate_options(parser, "the SMTP server's certificate", "-D")
    add_thresholds(parser, "the SMTP response time in seconds (units: ms, s; C-compatible)",
                   scale=SECONDS)  # fmt: skip


def check_smtp_options(args: argparse.Namespace) -> None:
    """Options that only make sense together."""
    check_certificate_options(args, "-D", args.starttls, "-S", "STARTTLS")


def smtp_contexts(args: argparse.Namespace) -> list[nagiosplugin.Context]:
    """The contexts judging :func:`smtp_metrics`."""
    return [
        Greeting(args.expect),
        Latency("time", args.warning, args.critical, describe_response_time),
        CertificateDays(args.certificate),
    ]


def smtp_headline(results: nagiosplugin.Results) -> str:
    """``220 host ESMTP Postfix (TLSv1.3) on host port 25 in 4 ms``."""
    found: Dialogue = results["greeting"].metric.value
    tls = f" ({found.tls_version})" if found.tls_version else ""
    line = f"{found.greeting}{tls} on {found.where} in {human_latency(found.elapsed)}"
    if "certificate_days" in results:
        line += f", {results['certificate_days']}"
    return line


def add_no_smtp_option(parser: Parser) -> None:
    """``--no-smtp``: judge the queue only (a host whose SMTP service is checked apart)."""
    parser.add_argument("--no-smtp", action="store_true",
                        help="judge the queue only; no SMTP dialogue, -H not needed")  # fmt: skip


class MailServer(nagiosplugin.Resource):
    """A mail server's queue (read by ``queue``) and, unless ``--no-smtp``, its SMTP service."""

    def __init__(
        self, args: argparse.Namespace, queue: Callable[[], list[nagiosplugin.Metric]]
    ) -> None:
        self.args, self.queue = args, queue
        self.host = None if args.no_smtp else host_of(args)
        if self.host is not None:
            check_smtp_options(args)

    def probe(self) -> list[nagiosplugin.Metric]:
        """The dialogue's metrics, then the queue's: a server that is down is CRITICAL even
        where the queue cannot be read without it (postqueue as non-root)."""
        metrics = [] if self.host is None else smtp_metrics(converse(self.args, self.host))
        return metrics + self.queue()


class MailSummary(Summary):
    """``queue …; 220 … on host port 25 in 4 ms``; problems first, then the rest."""

    def __init__(self, queue_headline: Callable[[nagiosplugin.Results], str]) -> None:
        super().__init__()
        self.queue_headline = queue_headline

    def ok(self, results: nagiosplugin.Results) -> str:
        """The queue, then the SMTP dialogue if there was one."""
        parts = [self.queue_headline(results)]
        if "greeting" in results:
            parts.append(smtp_headline(results))
        return "; ".join(parts)
