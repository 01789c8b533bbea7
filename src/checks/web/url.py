"""check_url: whether a URL answers as it should: status, content, time, size, age, TLS.

Fetches one URL (``-H``/``-I``/``-p``/``-u``, or a full ``-u`` URL; ``-S`` for HTTPS) and
judges the final response:

- **status**: by default 2xx is OK, 3xx as ``-f`` says (OK), 4xx WARNING, 5xx CRITICAL.
  ``-e`` replaces that: a comma-separated list whose items are status codes or ranges
  (``200,301-302``: the final status code must be one of them, after any redirects
  followed) or, as in check_curl, strings one of which must be in the status line
  (``-e 'HTTP/1.1 200'``); no match is CRITICAL.
- **redirects**: ``-f ok|warning|critical`` is the state of a 3xx answer; ``-f follow``
  (also ``curl``, ``sticky``, ``stickyport``) follows up to ``--max-redirs`` (15) and
  judges where it ends. Relative ``Location`` headers are resolved against the request
  URL, port included; with ``-I``, redirects to the same host still go to that address.
- **content** (CRITICAL when it fails): ``-s STRING`` must be in the body, ``-r REGEX``
  (``-R``: case-insensitive) must match it, or must not with ``--invert-regex``; ``-d
  STRING`` must be in the headers. As check_curl, ``^``/``$`` match at every line unless
  ``-l``, which lets ``.`` match newlines too.
- **time**: ``-w``/``-c`` on the total time in seconds (ranges, units allowed: ``500ms``).
- **size**: ``-m MIN[:MAX]`` bytes of body, WARNING outside.
- **age**: ``-M AGE`` (``3600``, ``10m``, ``10h``, ``10d``): CRITICAL when the server's
  ``Date`` minus ``Last-Modified`` exceeds AGE, or either header is missing or wrong, or
  the document is dated in the future (check_curl's semantics).
- **TLS**: the server certificate is verified (chain and name) unless ``--insecure``
  (check_curl verifies only with ``-D``: accepted, a no-op here); ``-C WARN[,CRIT]``
  judges the days it has left (WARNING below WARN, CRITICAL below CRIT, default 0: an
  expired certificate) and implies ``-S``.

Requests: ``-j METHOD``, ``-P DATA`` (POST unless ``-j``; ``-T`` its content type),
``-k 'Name: value'`` (repeatable), ``-A`` user agent, ``-N`` (headers only), ``--http-
version``, basic auth from ``--credentials FILE``. Perfdata: ``time`` (total), the split
``time_dns``, ``time_connect``, ``time_tls``, ``time_firstbyte`` (s, each phase's own
duration), ``size`` (B), present whatever the state as long as the server answered.

C compatibility: check_curl's options keep their meaning, and side by side on the same
server the states agree except where vigie is deliberately stricter or check_curl 2.3.3 is
wrong: TLS is verified by default (check_curl: OK for any certificate without ``-D``);
``-C`` still fetches and judges the page (check_curl: only the certificate unless
``--continue-after-certificate``, accepted here as a no-op); ``-f follow`` keeps the port
of a relative redirect (check_curl 2.3.3 drops it and fails; check_http gets it right); a
name that does not resolve is UNKNOWN as in the other C plugins (check_curl: CRITICAL);
``-a``/``-b user:password`` are refused (a password on the command line is in ``ps``):
use ``--credentials``. ``size`` counts the body only (check_curl adds the headers); the
perfdata's split is per phase (check_curl's ``-E`` values are cumulative); ``-E`` and
``-L`` are accepted as no-ops.
"""

from __future__ import annotations

import argparse
import re
import time

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Warn

from checks.core.cli import Parser, UsageError, add_thresholds
from checks.core.errors import CannotCheck
from checks.core.evaluate import Summary, Threshold, Verdict
from checks.core.net import Latency, human_latency
from checks.core.net import certificate_days as net_certificate_days
from checks.core.output import screen
from checks.core.ranges import Range
from checks.core.runtime import Bench, Plugin
from checks.core.units import SECONDS, human_bytes, human_duration
from checks.core.web import add_http_options, request_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from checks.clients.http import Response
    from checks.core.web import Request

#: How much body is read at most: a runaway page cannot fill the monitoring host's memory.
MAX_BODY = 64 * 1024 * 1024
#: -f values and what a 3xx answer is then; None: follow it.
ON_REDIRECT = {"ok": Ok, "warning": Warn, "critical": Critical,
               "follow": None, "curl": None, "sticky": None, "stickyport": None}  # fmt: skip
#: Seconds a document may be dated after the server's clock (check_curl allows a minute).
FUTURE_SLACK = 60
#: The timing split of the perfdata: label and Response attribute.
PHASES = (("time_dns", "dns"), ("time_connect", "connect"), ("time_tls", "tls"),
          ("time_firstbyte", "first_byte"))  # fmt: skip
#: The state of a status by its class (3xx: see -f), with why it is not OK.
BY_CLASS = {1: (Ok, None), 2: (Ok, None), 4: (Warn, "(client error)"),
            5: (Critical, "(server error)")}  # fmt: skip
_CODES = re.compile(r"(\d{3})(?:-(\d{3}))?")
_AGE = re.compile(r"(\d+)([smhd]?)")


# --- what the options mean -----------------------------------------------------------------


class Expectation:
    """One ``-e`` item: a status code range (``301-302``), or a string in the status line."""

    __slots__ = ("high", "low", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        codes = _CODES.fullmatch(text)
        self.low = int(codes[1]) if codes else None
        self.high = int(codes[2] or codes[1]) if codes else None

    def matches(self, status: int, status_line: str) -> bool:
        """Whether the final response is what this item expects."""
        if self.low is not None and self.high is not None:
            return self.low <= status <= self.high
        return self.text in status_line


def expectations(text: str) -> list[Expectation]:
    """``-e``'s comma-separated items (blanks around them ignored, empty ones refused)."""
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(f"{text!r} has an empty item")
    parsed = [Expectation(item) for item in items]
    for item in parsed:
        if item.low is not None and item.high is not None and item.low > item.high:
            raise argparse.ArgumentTypeError(f"{item.text!r}: the range goes backwards")
    return parsed


def page_size(text: str) -> Range:
    """``-m MIN[:MAX]`` bytes (check_curl's form) as the range a size must lie in."""
    low, colon, high = text.partition(":")
    try:
        start = int(low) if low else 0
        end = int(high) if high else float("inf")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not MIN[:MAX] in bytes") from None
    if start < 0 or end < start:
        raise argparse.ArgumentTypeError(f"{text!r} is not MIN[:MAX] with 0 <= MIN <= MAX")
    return Range(start, end, text=text if colon else f"{text}:")


def max_age(text: str) -> float:
    """``-M`` seconds, or a number with ``m``, ``h`` or ``d`` (check_curl's units)."""
    found = _AGE.fullmatch(text.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r} is not an age such as 3600, 10m, 10h, 10d")
    return int(found[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[found[2]]


def certificate_days(text: str) -> tuple[float, float]:
    """``-C WARN[,CRIT]`` days, read as check_smtp's and check_ftp's ``-D``
    (:func:`checks.core.net.certificate_days`; CRIT defaults to 0: an expired
    certificate), CRIT not above WARN."""
    days = net_certificate_days(text)
    if days[1] > days[0]:
        raise argparse.ArgumentTypeError(f"{text!r}: CRIT must not exceed WARN")
    return days


def header_line(text: str) -> tuple[str, str]:
    """``-k 'Name: value'``."""
    name, colon, value = text.partition(":")
    if not colon or not name.strip() or any(c in text for c in "\r\n"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a header line 'Name: value'")
    return name.strip(), value.strip()


def refused_password(text: str) -> str:
    """``-a``/``-b user:password``: refused, so no password ever sits in ``ps``."""
    raise argparse.ArgumentTypeError(
        "a password on the command line is visible in ps: put 'username = …' and "
        "'password = …' in a file of mode 0600 and give --credentials FILE"
    )


# --- judging ---------------------------------------------------------------------------------


def judge_status(
    response: Response, expected: list[Expectation] | None, on_redirect: str
) -> tuple[nagiosplugin.state.ServiceState, str | None]:
    """The state of the final status and why it is not OK (None when it is)."""
    status = response.status
    if expected:
        if any(item.matches(status, response.status_line) for item in expected):
            return Ok, None
        return Critical, f"is not what -e {','.join(item.text for item in expected)} expects"
    if 300 <= status < 400:
        state = ON_REDIRECT[on_redirect] or Ok  # followed and still 3xx: nowhere to go
        return state, None if state == Ok else f"redirects to {response.location or '?'}"
    return BY_CLASS.get(status // 100, (Critical, "is not a valid HTTP status"))


def content_problems(
    response: Response,
    string: str | None,
    pattern: re.Pattern[str] | None,
    invert: bool,
    header_string: str | None,
) -> list[str]:
    """What ``-s``, ``-r``/``-R`` (``--invert-regex``) and ``-d`` find wrong in the response."""
    problems = []
    text = response.text if string is not None or pattern is not None else ""
    if string is not None and string not in text:
        problems.append(f"string {screen(string)!r} not found")
    if pattern is not None:
        found = pattern.search(text) is not None
        if found and invert:
            problems.append(f"pattern {screen(pattern.pattern)!r} found")
        elif not found and not invert:
            problems.append(f"pattern {screen(pattern.pattern)!r} not found")
    if header_string is not None:
        headers = "\r\n".join(f"{name}: {value}" for name, value in response.headers)
        if header_string not in headers:
            problems.append(f"header string {screen(header_string)!r} not found")
    return problems


def age_problem(response: Response, limit: float) -> str | None:
    """What ``-M`` finds wrong with the document's dates (check_curl's rules), or None."""
    from email.utils import mktime_tz, parsedate_tz

    dates: dict[str, int] = {}
    for header in ("Date", "Last-Modified"):
        value = response.header(header)
        if value is None:
            return f"no {header} header: the document's age is unknown"
        try:
            parsed = parsedate_tz(value)
            if parsed is not None:
                dates[header] = mktime_tz(parsed)
        except (ValueError, OverflowError):
            pass
        if header not in dates:
            return f"{header} {screen(value)!r} is not an HTTP date"
    age = dates["Date"] - dates["Last-Modified"]
    if age < -FUTURE_SLACK:
        return f"the document is dated {human_duration(-age)} in the future"
    if age > limit:
        return f"last modified {human_duration(age)} ago (> {human_duration(limit)})"
    return None


# --- the check -------------------------------------------------------------------------------


class Page(nagiosplugin.Resource):
    """One fetch of the URL: the timings, the size, and the response for the judges."""

    def __init__(self, request: Request, follow: int, max_size: int, certificate: bool) -> None:
        self.request, self.follow, self.max_size = request, follow, max_size
        self.certificate = certificate
        self.response: Response | None = None

    def probe(self) -> list[nagiosplugin.Metric]:
        """Fetch, then one metric per measured value and one per judged aspect."""
        from checks.clients.http import fetch

        response = self.response = fetch(self.request, follow=self.follow, max_size=self.max_size)
        metrics = [nagiosplugin.Metric("time", response.total, "s", 0, context="time")]
        metrics += [
            nagiosplugin.Metric(label, getattr(response, attribute), "s", 0, context="phase")
            for label, attribute in PHASES
        ]
        metrics += [
            nagiosplugin.Metric("size", response.size, "B", 0, context="size"),
            nagiosplugin.Metric("status", response, context="status"),
            nagiosplugin.Metric("content", response, context="content"),
        ]
        if self.certificate:
            if response.certificate_expiry is None:
                raise CannotCheck(f"{response.url}: no server certificate to judge (-C)")
            days = (response.certificate_expiry - time.time()) / 86400
            metrics.append(nagiosplugin.Metric("certificate_days", days, context="certificate"))
        return metrics


class Status(nagiosplugin.Context):
    """The final status against ``-e``, or the default 2xx/3xx/4xx/5xx states and ``-f``."""

    def __init__(self, expected: list[Expectation] | None, on_redirect: str) -> None:
        super().__init__("status", result_cls=Verdict)
        self.expected, self.on_redirect = expected, on_redirect

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """OK, or the state the status calls for, with why."""
        state, hint = judge_status(metric.value, self.expected, self.on_redirect)
        return Verdict(state, hint, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``HTTP/1.1 404 Not Found``."""
        return screen(metric.value.status_line)


class Finding(Verdict):
    """A content verdict: its problems, or that there are none."""

    def __str__(self) -> str:
        return str(self.hint or "content as expected")


class Content(nagiosplugin.Context):
    """``-s``, ``-r``/``-R``, ``--invert-regex``, ``-d`` and ``-M``: CRITICAL when they fail."""

    def __init__(self, args: argparse.Namespace, pattern: re.Pattern[str] | None) -> None:
        super().__init__("content", result_cls=Finding)
        self.args, self.pattern = args, pattern

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Finding:
        """Every problem found, joined."""
        args = self.args
        problems = content_problems(
            metric.value, args.string, self.pattern, args.invert_regex, args.header_string
        )
        if args.max_age is not None:
            problem = age_problem(metric.value, args.max_age)
            problems += [problem] if problem else []
        return Finding(Critical if problems else Ok, ", ".join(problems) or None, metric)


def describe_certificate(metric: nagiosplugin.Metric) -> str:
    """``certificate expires in 9.9 days`` or ``certificate expired 1.2 days ago``."""
    days = metric.value
    if days < 0:
        return f"certificate expired {-days:.1f} days ago"
    return f"certificate expires in {days:.1f} days"


class UrlSummary(Summary):
    """``HTTP/1.1 200 OK, 29 B in 4.2 ms from URL``; problems first when there are any."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """Status line, size, time, where; the certificate's days with -C."""
        return self.headline(results, with_status=True)

    @staticmethod
    def headline(results: nagiosplugin.Results, with_status: bool) -> str:
        """What was fetched: status line (``with_status``), size, time, URL, certificate."""
        response = results["status"].metric.value
        took = human_latency(response.total)
        line = f"{human_bytes(response.size)} in {took}"
        if with_status:
            line = f"{screen(response.status_line)}, {line}"
        if response.truncated and response.size:
            line += f" (stopped reading at {human_bytes(response.size)})"
        line += f" from {screen(response.url)}"
        if response.redirects:
            line += f" after {response.redirects} redirect{'s' if response.redirects > 1 else ''}"
        if "certificate_days" in results and results["certificate_days"].state == Ok:
            line += f", {results['certificate_days']}"
        return line

    def problem(self, results: nagiosplugin.Results) -> str:
        """The problems, worst first, then what was fetched (the status once)."""
        status_judged = results["status"].state != Ok
        return f"{super().problem(results)} - {self.headline(results, not status_judged)}"


def build_parser() -> Parser:
    """check_url's options: check_curl's, with TLS verification on by default."""
    parser = Parser(
        "check_url",
        __doc__.split("\n\n")[0],
        examples=(
            "check_url -H www.example.org -S                    HTTPS, certificate verified",
            "check_url -u https://shop.example/cart -s 'Cart' -w 1 -c 3",
            "check_url -H shop.example -I 192.0.2.7 -S -C 30,14  also the certificate's days",
            "check_url -H app -p 8080 -u /health -e 200 -f follow --credentials /etc/app.cred",
        ),
    )
    add_http_options(parser)
    judge = parser.add_argument_group("what to expect (check_curl-compatible)")
    judge.add_argument(
        "-e",
        "--expect",
        type=expectations,
        metavar="LIST",
        help="status codes or ranges (200,301-302) for the final response, or "
        "strings one of which must be in the status line; CRITICAL otherwise "
        "(replaces the default 2xx/3xx OK, 4xx WARNING, 5xx CRITICAL)",
    )
    judge.add_argument(
        "-f",
        "--onredirect",
        choices=tuple(ON_REDIRECT),
        default="ok",
        metavar="ok|warning|critical|follow",
        help="state of a 3xx answer, or follow redirects (curl, sticky and "
        "stickyport also follow) (default: %(default)s)",
    )
    judge.add_argument(
        "--max-redirs",
        type=int,
        default=15,
        metavar="N",
        help="redirects followed at most with -f follow (default: %(default)s)",
    )
    judge.add_argument(
        "-s", "--string", metavar="STRING", help="CRITICAL unless the body contains STRING"
    )
    judge.add_argument(
        "-r", "--regex", "--ereg", metavar="REGEX", help="CRITICAL unless the body matches REGEX"
    )
    judge.add_argument("-R", "--eregi", metavar="REGEX", help="as -r, ignoring case")
    judge.add_argument(
        "-l",
        "--linespan",
        action="store_true",
        help="let the regex span lines: . matches newlines, ^ $ only at the ends",
    )
    judge.add_argument(
        "--invert-regex", action="store_true", help="CRITICAL if the regex matches, OK if not"
    )
    judge.add_argument(
        "-d",
        "--header-string",
        metavar="STRING",
        help="CRITICAL unless the response headers contain STRING",
    )
    judge.add_argument(
        "-m",
        "--pagesize",
        type=page_size,
        metavar="MIN[:MAX]",
        help="WARNING unless the body has MIN to MAX bytes",
    )
    judge.add_argument(
        "-M",
        "--max-age",
        type=max_age,
        metavar="AGE",
        help="CRITICAL if the document is older than AGE (seconds, or 10m, "
        "10h, 10d), by its Last-Modified and the server's Date",
    )
    judge.add_argument(
        "-C",
        "--certificate",
        type=certificate_days,
        metavar="WARN[,CRIT]",
        help="WARNING if the server certificate has fewer than WARN days left, "
        "CRITICAL below CRIT (default 0); implies -S; the page is judged too",
    )
    add_thresholds(judge, "the total time in seconds (units: ms, s)", scale=SECONDS)
    send = parser.add_argument_group("what to send (check_curl-compatible)")
    send.add_argument(
        "-j", "--method", metavar="METHOD", help="HTTP method (default: GET, or POST with -P)"
    )
    send.add_argument("-P", "--post", metavar="DATA", help="request body (URL-encoded form)")
    send.add_argument(
        "-T",
        "--content-type",
        metavar="TYPE",
        help="Content-Type of the -P body (default: application/x-www-form-urlencoded)",
    )
    send.add_argument(
        "-k",
        "--header",
        type=header_line,
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="header to send (repeatable)",
    )
    send.add_argument("-A", "--useragent", metavar="STRING", help="User-Agent to send")
    send.add_argument(
        "-N",
        "--no-body",
        action="store_true",
        help="stop reading after the headers (the method stays GET)",
    )
    send.add_argument(
        "--http-version",
        choices=("1.0", "1.1", "2", "2.0"),
        help="HTTP version to use (default: negotiated)",
    )
    send.add_argument(
        "-a",
        "--authorization",
        type=refused_password,
        metavar="USER:PASSWORD",
        help="refused: use --credentials FILE",
    )
    send.add_argument(
        "-b",
        "--proxy-authorization",
        type=refused_password,
        metavar="USER:PASSWORD",
        help="refused: use --credentials FILE",
    )
    compat = parser.add_argument_group("accepted for check_curl, no effect")
    compat.add_argument(
        "-D", "--verify-cert", action="store_true", help="vigie always verifies (see --insecure)"
    )
    compat.add_argument(
        "--continue-after-certificate",
        action="store_true",
        help="vigie always judges the page with -C",
    )
    compat.add_argument(
        "-E",
        "--extended-perfdata",
        action="store_true",
        help="the timing split is always in the perfdata",
    )
    compat.add_argument("-L", "--link", action="store_true", help="no HTML in the output")
    return parser  # fmt: skip


def pattern_of(args: argparse.Namespace) -> re.Pattern[str] | None:
    """``-r`` or ``-R`` compiled as check_curl reads it (``-l``: across lines)."""
    if args.regex is not None and args.eregi is not None:
        raise UsageError("give -r or -R, not both")
    text = args.regex if args.regex is not None else args.eregi
    if text is None:
        if args.invert_regex:
            raise UsageError("--invert-regex needs -r or -R")
        return None
    flags = re.DOTALL if args.linespan else re.MULTILINE
    try:
        return re.compile(text, flags | (re.IGNORECASE if args.eregi is not None else 0))
    except re.error as error:
        raise UsageError(f"{text!r} is not a regular expression: {error}") from None


def request_for(args: argparse.Namespace) -> Request:
    """The request of the -H/-u/-S options, with -C's HTTPS and the -j/-P/-k/-A additions."""
    if args.certificate is not None:
        args.ssl = True  # -C implies -S, as in check_curl
    request = request_of(args)
    if args.useragent:
        request.headers = [("User-Agent", args.useragent)]
    request.headers += args.header
    if args.post is not None:
        request.body = args.post.encode()
        request.method = "POST"
        type_ = args.content_type or "application/x-www-form-urlencoded"
        request.headers.append(("Content-Type", type_))
    if args.method:
        request.method = args.method.upper()
    request.http_version = args.http_version
    return request


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    if args.max_redirs < 0:
        raise UsageError("--max-redirs must be 0 or more")
    pattern = pattern_of(args)
    request = request_for(args)
    follow = args.max_redirs if ON_REDIRECT[args.onredirect] is None else 0
    contexts: list[nagiosplugin.Context] = [
        Latency("time", args.warning, args.critical, lambda m: f"time {human_latency(m.value)}"),
        Latency("phase", describe=lambda m: f"{m.name} {human_latency(m.value)}"),
        Threshold("size", args.pagesize, None, lambda m: f"size {human_bytes(m.value)}"),
        Status(args.expect, args.onredirect),
        Content(args, pattern),
    ]
    if args.certificate is not None:
        warn, crit = args.certificate
        contexts.append(
            Threshold(
                "certificate",
                Range(warn, float("inf")),
                Range(crit, float("inf")),
                describe_certificate,
            )
        )
    page = Page(request, follow, 0 if args.no_body else MAX_BODY, args.certificate is not None)
    return nagiosplugin.Check(page, *contexts, UrlSummary())


PLUGIN = Plugin(
    "url",
    build_parser,
    make_check,
    address=True,
    services=("vigie-url ",),
    nagios=("url",),
    bench=(
        Bench("check_url -H 127.0.0.1 -p PORT", ("-H", "127.0.0.1", "-p", "{http_port}"),
              kind="tool", twin="C check_curl -H 127.0.0.1 -p PORT"),
        Bench("check_url -H localhost -I 127.0.0.1 -p PORT -S --ca-file CA",
              ("-H", "localhost", "-I", "127.0.0.1", "-p", "{https_port}", "-S",
               "--ca-file", "{https_ca}"),
              kind="tool",
              twin="C check_curl -H localhost -I 127.0.0.1 -p PORT -S -D --ca-cert CA"),
    ),
)  # fmt: skip
main = PLUGIN.main
