"""check_ftp: whether an FTP server greets with 220, lets the monitoring account in, and
opens a data channel; and how fast.

Connects to ``-H``/``-p`` (21), reads the greeting: anything but 220 (421 too busy, 530,
garbage, nothing, a closed connection, no greeting within ``-t``) is CRITICAL; ``-e
TEXT`` must also appear in it (else WARNING, or the state of ``-M``, as the C plugin).
``-w``/``-c`` judge the response time, connect to greeting (perfdata ``time``, as the C
plugin). Then, as asked:

- ``--tls``: explicit FTPS (``AUTH TLS``, RFC 4217), the certificate verified against the
  system's CAs or ``--ca-file`` (``--insecure`` skips that); ``-C``/``-D warn[,crit]``:
  WARNING/CRITICAL when it expires in fewer days. A refused AUTH or a failed handshake
  is CRITICAL with the reason.
- ``--credentials FILE`` (``username = …``, ``password = …``, mode 0600): log in; a
  refused login is CRITICAL saying so. With ``--tls`` the login is encrypted.
- ``--passive-test``: after the login, open a passive data channel (PASV, or EPSV over
  IPv6) and list the login directory (NLST); the connection failing or the listing
  refused is CRITICAL; perfdata ``data_time``.

C-compatible with check_ftp (monitoring-plugins): ``-H -p -4 -6 -w -c -t -e -M -D``.
Deliberately not taken: ``-S`` (implicit FTPS on connect: vigie speaks explicit AUTH TLS
with ``--tls``), ``-s``/``-q``/``-E`` (raw strings to send), ``-r``, ``-m``, ``-d``, ``-j``.
Differences: the greeting must be 220 (C: any text holding ``-e``, default ``220``;
a 421 or 530 greeting is WARNING there), and TLS certificates are verified.

The protocol is the standard library's ftplib. Its import brings ``ssl`` even without
TLS; measured, a whole run costs 4.8–5.2 × the bare interpreter's CPU and 18 MiB (with
``--tls``, a login and a data channel 5.7 ×, 20 MiB), within the 6 × budget.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Warn

from checks.core.cli import Parser, UsageError, add_thresholds
from checks.core.credentials import add_credentials_option, read_credentials
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
    resolve,
    tls_context,
    tls_failure,
)
from checks.core.output import screen
from checks.core.runtime import Bench, Plugin, doing, remaining
from checks.core.textproto import Exchange, Finding, GreetingContext, Reply
from checks.core.units import SECONDS

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ftplib

    from checks.core.credentials import Credentials

DEFAULT_PORT = 21
MISMATCH = {"ok": Ok, "warn": Warn, "crit": Critical}


def parse_greeting(text: str) -> Reply:
    """The reply ftplib read (lines joined by newlines; RFC 959 4.2 multi-line form with
    the code on the first and last line): code and text lines."""
    lines = text.split("\n")
    code = lines[0][:3]
    if not (len(code) == 3 and code.isascii() and code.isdigit() and lines[0][3:4] in " -"):
        raise ParseError(f"not an FTP reply: {screen(text[:60])!r}")
    return Reply(int(code), [lines[0][4:], *lines[1:]])


class Session(Exchange):
    """What one FTP session found (``elapsed``: connect to greeting)."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.user = ""
        self.listed: int | None = None
        self.data_time = 0.0


def _ftp_error(where: str, doing_what: str, error: Exception) -> ServiceDown:
    """CRITICAL naming what the server answered (or what happened) to ``doing_what``."""
    import ftplib

    if isinstance(error, ftplib.Error):
        return ServiceDown(f"{where}: {doing_what}: {screen(str(error))[:200]}")
    if isinstance(error, TimeoutError):
        return ServiceDown(f"{where}: no answer to {doing_what} within the timeout")
    if isinstance(error, EOFError):
        return ServiceDown(f"{where}: the server closed the connection ({doing_what})")
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return ServiceDown(f"{where}: {doing_what}: {reason.lower()}")


class Ftp(nagiosplugin.Resource):
    """One FTP session: greeting, then AUTH TLS, login and a data channel as asked."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.host = host_of(args)
        if args.passive_test and not args.credentials:
            raise UsageError("--passive-test needs --credentials (a data channel needs a login)")
        check_certificate_options(args, "-C/-D", args.tls, "--tls", "AUTH TLS")

    def probe(self) -> list[nagiosplugin.Metric]:
        """Run the session and return what it measured."""
        import ftplib

        args = self.args
        credentials = read_credentials(args.credentials) if args.credentials else None
        addresses = resolve(self.host, chosen_family(args), args.port)
        started = time.monotonic()
        sock, where = connect(self.host, args.port, addresses, args.timeout)
        found = Session(where)
        if args.tls:
            context = tls_context(not args.insecure, args.ca_file)
            client: ftplib.FTP = ftplib.FTP_TLS(context=context)  # noqa: S321 - AUTH TLS
        else:
            client = ftplib.FTP()  # noqa: S321 - checking FTP is the point
        # What FTP.connect() does, on the socket net.connect() made (its errors, its -4/-6).
        client.host, client.port, client.timeout = self.host, args.port, remaining()
        client.sock, client.af = sock, sock.family
        client.file = sock.makefile("r", encoding=client.encoding)
        sock.settimeout(remaining())
        try:
            self._session(client, found, started, credentials)
        finally:
            client.close()
        metrics = [nagiosplugin.Metric("greeting", found, context="greeting")]
        if found.greeting is not None and found.greeting.code == 220:
            metrics.append(nagiosplugin.Metric("time", found.elapsed, "s", 0, context="time"))
        if found.listed is not None:
            metrics.append(nagiosplugin.Metric("data_time", found.data_time, "s", 0,
                                               context="data_time"))  # fmt: skip
        return metrics + certificate_metrics(found.not_after)

    def _session(self, client: ftplib.FTP, found: Session, started: float,
                 credentials: Credentials | None) -> None:  # fmt: skip
        """Greeting, then each step asked for; a step failing is CRITICAL naming it."""
        import ftplib

        args, where = self.args, found.where
        found.greeting = self._greet(client, where)
        found.elapsed = time.monotonic() - started
        if found.greeting.code != 220:
            return
        if isinstance(client, ftplib.FTP_TLS):
            with failing_as(where, "AUTH TLS"), doing(f"making the TLS handshake with {where}"):
                client.auth()
            found.tls_version = client.sock.version() or ""  # type: ignore[union-attr]
            found.not_after = not_after(client.sock)  # type: ignore[arg-type]
        if credentials is not None:
            with failing_as(where, f"login as {credentials.username!r}", refused=True), \
                    doing(f"logging in to {where}"):  # fmt: skip
                client.login(credentials.username, credentials.password)
            found.user = credentials.username
            if isinstance(client, ftplib.FTP_TLS):
                with failing_as(where, "PROT P (encrypted data channel)"):
                    client.prot_p()
        if args.passive_test:
            listed: list[str] = []
            data_started = time.monotonic()
            listing = f"listing the login directory over a data channel from {where}"
            with failing_as(where, "the passive data channel (PASV and NLST)"), doing(listing):
                client.set_pasv(True)
                client.retrlines("NLST", listed.append)
            found.data_time = time.monotonic() - data_started
            found.listed = len(listed)
        # QUIT to leave cleanly; how the server then closes is nothing to judge.
        with contextlib.suppress(ftplib.Error, OSError, EOFError):
            client.quit()

    def _greet(self, client: ftplib.FTP, where: str) -> Reply:
        """The greeting, whatever its code; CRITICAL when none comes or it is not FTP."""
        import ftplib

        try:
            with doing(f"waiting for the FTP greeting from {where}"):
                text = client.getresp()
        except ftplib.error_proto as error:
            raise ServiceDown(f"{where} does not speak FTP: it sent "
                              f"{screen(str(error))[:60]!r}") from None  # fmt: skip
        except (ftplib.error_temp, ftplib.error_perm) as error:
            text = str(error)  # a 4xx or 5xx greeting: judged by the context
        except (TimeoutError, TimedOut):
            raise ServiceDown(f"{where}: no FTP greeting within {self.args.timeout:g} s") from None
        except (OSError, EOFError) as error:
            raise _ftp_error(where, "waiting for the greeting", error) from None
        try:
            return parse_greeting(text)
        except ParseError as error:
            raise ServiceDown(f"{where} does not speak FTP: {error}") from None


@contextlib.contextmanager
def failing_as(where: str, step: str, refused: bool = False) -> Iterator[None]:
    """Turn what goes wrong in ``step`` into CRITICAL naming it (``refused``: a 5xx answer
    reads ``login as 'x' refused: 530 Login incorrect.``)."""
    import ftplib
    import ssl

    try:
        yield
    except ssl.SSLError as error:
        raise tls_failure(where, step, error) from None
    except ftplib.error_perm as error:
        if refused:
            raise ServiceDown(f"{where}: {step} refused: {screen(str(error))}") from None
        raise _ftp_error(where, step, error) from None
    except (ftplib.Error, OSError, EOFError) as error:
        raise _ftp_error(where, step, error) from None
    except TimedOut as error:
        raise _ftp_error(where, step, TimeoutError(str(error))) from None


class Greeting(GreetingContext):
    """Greeting 220, with the ``-e`` text (else the ``-M`` state)."""

    def __init__(self, expect: str | None, mismatch: str) -> None:
        super().__init__()
        self.expect, self.mismatch = expect, MISMATCH[mismatch]

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Finding:
        """CRITICAL unless 220; the ``-M`` state when ``-e`` text is missing."""
        found: Session = metric.value
        assert found.greeting is not None
        if found.greeting.code != 220:
            return Finding(Critical, f"greets with {found.greeting}, not 220", metric)
        text = "\n".join([found.greeting.first, *found.greeting.lines[1:]])
        if self.expect is not None and self.expect not in text:
            return Finding(self.mismatch, f"greeting {found.greeting} lacks {self.expect!r}",
                           metric)  # fmt: skip
        return Finding(Ok, None, metric)


class FtpSummary(Summary):
    """``220 vsFTPd (TLSv1.3), logged in as monitor, 2 entries listed on host port 21 in
    4 ms``; problems after where."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """Greeting, what else was done, where, how fast."""
        found: Session = results["greeting"].metric.value
        parts = [f"{found.greeting}" + (f" ({found.tls_version})" if found.tls_version else "")]
        if found.user:
            parts.append(f"logged in as {found.user}")
        if found.listed is not None:
            parts.append(f"{found.listed} entries listed over a passive data channel in "
                         f"{human_latency(found.data_time)}")  # fmt: skip
        line = f"{', '.join(parts)} on {found.where} in {human_latency(found.elapsed)}"
        if "certificate_days" in results:
            line += f", {results['certificate_days']}"
        return line

    def problem(self, results: nagiosplugin.Results) -> str:
        """Every problem, worst first, after where."""
        found: Session = results["greeting"].metric.value
        return f"{found.where}: {super().problem(results)}"


def describe_data_time(metric: nagiosplugin.Metric) -> str:
    """``data channel 1.2 ms``."""
    return f"data channel {human_latency(metric.value)}"


def build_parser() -> Parser:
    """check_ftp's options: the C plugin's that mean the same, then TLS, login, data."""
    parser = Parser(
        "check_ftp",
        __doc__.split("\n\n")[0],
        examples=(
            "check_ftp -H ftp.example.org                      greeting 220 on port 21",
            "check_ftp -H host -w 1 -c 5                       response time thresholds (s)",
            "check_ftp -H host --tls -C 30,7 --credentials /etc/icinga2/secrets/ftp.cred "
            "--passive-test",
        ),
    )
    add_host_option(parser, "host name or address (C-compatible; or give it last)", last=True)
    parser.add_argument("-p", "--port", type=port, default=DEFAULT_PORT,
                        help="TCP port (default: %(default)s, C-compatible)")  # fmt: skip
    add_family_options(parser)
    parser.add_argument("-e", "--expect", metavar="TEXT",
                        help="the -M state unless the greeting holds TEXT (C-compatible; "
                        "the code must be 220 in any case)")  # fmt: skip
    parser.add_argument("-M", "--mismatch", choices=tuple(MISMATCH), default="warn",
                        help="state when -e TEXT is missing (default: %(default)s, "
                        "C-compatible)")  # fmt: skip
    add_thresholds(parser, "the response time, connect to greeting, in seconds (units: ms, s; "
                   "C-compatible)", scale=SECONDS)  # fmt: skip
    tls = parser.add_argument_group("explicit FTPS (AUTH TLS)")
    tls.add_argument("--tls", action="store_true",
                     help="AUTH TLS after the greeting, with a verified certificate")  # fmt: skip
    add_certificate_options(tls, "the FTP server's certificate", "-C", "-D")
    login = parser.add_argument_group("login and data channel")
    add_credentials_option(parser, "the FTP login")
    login.add_argument("--passive-test", action="store_true",
                       help="after the login, list the login directory over a passive "
                       "data channel (PASV/EPSV, NLST)")  # fmt: skip
    add_thresholds(login, "the data channel's time (PASV to the end of NLST) in seconds",
                   metric="data-time", scale=SECONDS)  # fmt: skip
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``; the host comes from -H or the last argument."""
    return nagiosplugin.Check(
        Ftp(args),
        Greeting(args.expect, args.mismatch),
        Latency("time", args.warning, args.critical, describe_response_time),
        Latency("data_time", args.warning_data_time, args.critical_data_time,
                describe_data_time),
        CertificateDays(args.certificate),
        FtpSummary(),
    )  # fmt: skip


PLUGIN = Plugin(
    "ftp",
    build_parser,
    make_check,
    address=True,
    services=("vigie-ftp",),
    nagios=("ftp",),
    bench=(
        Bench("check_ftp -H 127.0.0.1 -p PORT", ("-H", "127.0.0.1", "-p", "{ftp_port}"),
              kind="tool", twin="C check_ftp -H 127.0.0.1 -p PORT"),
    ),
)  # fmt: skip
main = PLUGIN.main
