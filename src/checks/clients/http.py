"""The HTTP client of the checks: one request through pycurl, within the check's ``-t``.

pycurl is libcurl, the engine of the C check_curl: the same protocol handling (HTTP/1.1,
HTTP/2, TLS with SNI, redirects resolved as browsers do, port included), the timing split
(name lookup, connect, TLS, first byte) measured inside the library, and the server
certificate's dates from CERTINFO, for the cost of one C extension (≈ 3.7 × the bare
interpreter's start for a GET, PERFORMANCE.md; requests costs 11 ×). It is imported only
by :func:`fetch`, so a check that never sends a request never loads it.

Failures are worded once, with curl's own reason: the service refusing, resetting,
timing out, answering something that is not HTTP, or failing TLS (handshake or
verification) is :class:`~checks.core.errors.ServiceDown` (CRITICAL); a name that does
not resolve, and what is wrong on our side (a CA or client certificate file that cannot be
used), is :class:`~checks.core.errors.CannotCheck` (UNKNOWN), as in the C plugins.

Verification without ``--ca-file`` uses the system's CA directory (``CAPATH
/etc/ssl/certs``) and never a bundle file: the libcurl inside a pycurl wheel carries the
bundle path of the system it was built on, which need not exist here, and a whole bundle
is parsed at every run where a directory is read per lookup (see
:func:`checks.core.net.tls_context`).
"""

from __future__ import annotations

import os
import sys

from checks.core.errors import CannotCheck, ServiceDown
from checks.core.runtime import doing, remaining

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from checks.core.web import Request

#: Seconds a request may take outside a check run (a check always has its ``-t``).
DEFAULT_TIMEOUT = 10.0
#: curl gives up this much before the check's deadline, so that its own, precise message
#: ("Operation timed out after 2001 milliseconds with 0 bytes received") is what is shown.
MARGIN = 0.05
#: The CA directory used when verifying without --ca-file.
CA_PATH = "/etc/ssl/certs"

# curl error codes (libcurl-errors(3)) that are our side's fault, not the service's.
_COULDNT_RESOLVE_HOST = 6
_LOCAL_PROBLEMS = {
    2: "curl could not initialise",
    3: "malformed URL",
    4: "curl lacks a feature",
    27: "out of memory",
    43: "bad option",
    48: "unknown option",
    58: "client certificate problem",
    77: "CA certificate file problem",
    82: "CRL file problem",
}
_WRITE_ERROR = 23


class Response:
    """What the server answered, and how long each phase took: what a check judges.

    - ``status``, ``reason``: the final status line's code and text (``-e`` matches them,
      check_curl's semantics match against the whole line, ``status_line``).
    - ``headers``: (name, value) pairs of the final response in order, repeated names kept
      (``Set-Cookie``); :meth:`header` reads one case-insensitively (``-M`` reads
      Last-Modified and Date).
    - ``body`` (bytes as sent, not decoded) and ``text`` (decoded with the charset of
      Content-Type, else UTF-8, undecodable bytes replaced): ``-s``/``-r`` search the text.
    - ``size``: bytes of body received (``-m``); ``truncated``: reading stopped at
      ``max_size`` (a runaway page cannot fill the monitoring host's memory).
    - ``url``: the final URL after redirects; ``redirects``: how many were followed;
      ``location``: where the final response redirects to, resolved against its URL
      (port included), or None: ``-f`` words it.
    - ``dns``, ``connect``, ``tls``, ``first_byte``: seconds spent in each phase of the
      final request (name lookup, TCP connect, TLS handshake, waiting for the first byte
      after sending), and ``total`` of the whole exchange, redirects included: the timing
      split of the perfdata, which says whether slowness is the resolver, the network,
      TLS or the application.
    - ``certificate_expiry``: epoch seconds of the server certificate's notAfter (``-C``),
      None without TLS; known even when verification is off.
    - ``http_version``: ``1.1``, ``2``…; ``where``: ``host port N`` for messages.
    """

    __slots__ = (
        "body",
        "certificate_expiry",
        "connect",
        "dns",
        "first_byte",
        "headers",
        "http_version",
        "location",
        "reason",
        "redirects",
        "size",
        "status",
        "tls",
        "total",
        "truncated",
        "url",
        "where",
    )

    def __init__(
        self,
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        url: str = "",
        where: str = "",
        redirects: int = 0,
        location: str | None = None,
        http_version: str = "1.1",
        timings: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0),
        certificate_expiry: float | None = None,
        truncated: bool = False,
    ) -> None:
        self.status, self.reason, self.headers, self.body = status, reason, headers, body
        self.url, self.where, self.redirects, self.location = url, where, redirects, location
        self.http_version = http_version
        self.dns, self.connect, self.tls, self.first_byte, self.total = timings
        self.certificate_expiry = certificate_expiry
        self.size = len(body)
        self.truncated = truncated

    @property
    def status_line(self) -> str:
        """``HTTP/1.1 200 OK``, as check_curl's ``-e`` matches it."""
        return f"HTTP/{self.http_version} {self.status} {self.reason}".rstrip()

    def header(self, name: str) -> str | None:
        """The last value of header ``name`` (any case), or None."""
        wanted = name.lower()
        for key, value in reversed(self.headers):
            if key.lower() == wanted:
                return value
        return None

    @property
    def text(self) -> str:
        """The body decoded with Content-Type's charset (UTF-8 if none or unknown)."""
        charset = "utf-8"
        for part in (self.header("Content-Type") or "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip('"').strip()
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        return f"Response({self.status} {self.reason!r}, {self.size} B from {self.url})"


class _Reader:
    """The header and body callbacks of one transfer: the final response's parts."""

    def __init__(self, max_size: int | None) -> None:
        self.max_size = max_size
        self.status_line = ""
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.received = 0
        self.truncated = False

    def header(self, line: bytes) -> None:
        """One header line; a status line starts a new response (after a redirect or 100)."""
        text = line.decode("latin-1").rstrip("\r\n")
        if text.startswith("HTTP/"):
            self.status_line, self.headers = text, []
        elif text[:1] in (" ", "\t") and self.headers:  # obsolete folding
            name, value = self.headers[-1]
            self.headers[-1] = (name, f"{value} {text.strip()}")
        elif ":" in text:
            name, _, value = text.partition(":")
            self.headers.append((name.strip(), value.strip()))

    def body(self, chunk: bytes) -> int | None:
        """Keep the body up to ``max_size``; returning 0 makes curl stop reading."""
        if self.max_size is not None and self.received + len(chunk) > self.max_size:
            self.chunks.append(chunk[: self.max_size - self.received])
            self.received = self.max_size
            self.truncated = True
            return 0
        self.chunks.append(chunk)
        self.received += len(chunk)
        return None


def fetch(request: Request, *, follow: int = 0, max_size: int | None = None) -> Response:
    """Send ``request`` and read the answer, following up to ``follow`` redirects.

    Within the check's remaining ``-t`` (curl's own timeouts, no signals); ``max_size``
    bytes of body at most (:attr:`Response.truncated` tells). ServiceDown or CannotCheck
    when there is no HTTP answer to judge.
    """
    pycurl = libcurl()
    curl = pycurl.Curl()
    reader = _Reader(max_size)
    try:
        _configure(curl, request, follow, pycurl)
        curl.setopt(pycurl.HEADERFUNCTION, reader.header)
        curl.setopt(pycurl.WRITEFUNCTION, reader.body)
        try:
            with doing(f"fetching {request.url} from {request.where}"):
                curl.perform()
        except pycurl.error as error:
            code, message = error.args
            if not (code == _WRITE_ERROR and reader.truncated):
                raise _failure(curl, request, code, message, pycurl) from None
        return _response(curl, request, reader, pycurl)
    finally:
        curl.close()


def libcurl() -> Any:
    """pycurl's C extension, without the asyncio helper its package also imports.

    pycurl 7.46 and later are a package whose ``__init__`` imports ``AsyncCurlMulti``
    (dataclasses, inspect): measured here, ``import pycurl`` costs 3.5 × the bare
    interpreter's start and loading its extension alone 1.8 ×, for every check run. The
    extension is therefore loaded from the package's directory without running the
    package; an older, single-module pycurl (Debian's) or anything unexpected falls back
    to ``import pycurl``. Registered as ``pycurl._pycurl``, where the package would put it.
    """
    module = sys.modules.get("pycurl._pycurl")
    if module is not None:
        return module
    try:
        from importlib.machinery import PathFinder
        from importlib.util import find_spec, module_from_spec

        package = find_spec("pycurl")
        places = package.submodule_search_locations if package else None
        spec = PathFinder.find_spec("_pycurl", list(places)) if places else None
        if spec is None or spec.loader is None:
            raise ImportError("no pycurl._pycurl extension")
        module = module_from_spec(spec)
        spec.loader.exec_module(module)
    except ImportError:
        import pycurl  # type: ignore[import-untyped]

        return pycurl
    sys.modules["pycurl._pycurl"] = module
    return module


def _configure(curl: Any, request: Request, follow: int, pycurl: Any) -> None:
    """Every option of the transfer, from the request."""
    set_ = curl.setopt
    p = pycurl
    set_(p.URL, request.url)
    set_(p.PROTOCOLS, p.PROTO_HTTP | p.PROTO_HTTPS)
    set_(p.REDIR_PROTOCOLS, p.PROTO_HTTP | p.PROTO_HTTPS)
    set_(p.NOSIGNAL, 1)
    left = remaining()
    milliseconds = max(int(((left if left is not None else DEFAULT_TIMEOUT) - MARGIN) * 1000), 1)
    set_(p.TIMEOUT_MS, milliseconds)
    set_(p.CONNECTTIMEOUT_MS, milliseconds)
    if request.address:
        # Connect there for the virtual host on any port (redirects to another port of
        # the same host included), keeping the URL's name for Host, SNI and verification.
        address = f"[{request.address}]" if ":" in request.address else request.address
        set_(p.CONNECT_TO, [f"{request.host}::{address}:"])
    if request.family:
        import socket

        v4 = request.family == socket.AF_INET
        set_(p.IPRESOLVE, p.IPRESOLVE_V4 if v4 else p.IPRESOLVE_V6)
    if follow:
        set_(p.FOLLOWLOCATION, 1)
        set_(p.MAXREDIRS, follow)
    set_(p.HTTPHEADER, [f"{name}: {value}" for name, value in request.headers])
    method = request.method.upper()
    if method == "HEAD":
        set_(p.NOBODY, 1)
    elif request.body is not None:
        set_(p.POSTFIELDS, request.body)
        if method != "POST":
            set_(p.CUSTOMREQUEST, method)
    elif method != "GET":
        set_(p.CUSTOMREQUEST, method)
    if request.http_version:
        versions = {"1.0": p.CURL_HTTP_VERSION_1_0, "1.1": p.CURL_HTTP_VERSION_1_1}
        set_(p.HTTP_VERSION, versions.get(request.http_version, p.CURL_HTTP_VERSION_2_0))
    if request.credentials is not None:
        set_(p.HTTPAUTH, p.HTTPAUTH_BASIC)
        set_(p.USERNAME, request.credentials.username)
        set_(p.PASSWORD, request.credentials.password)
    _configure_tls(curl, request, pycurl)  # also for a redirect to https


def _configure_tls(curl: Any, request: Request, pycurl: Any) -> None:
    """Verification (on unless --insecure), CA, client certificate, CERTINFO."""
    set_ = curl.setopt
    p = pycurl
    set_(p.OPT_CERTINFO, 1)
    if not request.verify:
        set_(p.SSL_VERIFYPEER, 0)
        set_(p.SSL_VERIFYHOST, 0)
    elif request.ca_file:
        set_(p.CAINFO, request.ca_file)
        set_(p.CAPATH, None)
    else:
        set_(p.CAINFO, None)  # not the wheel's build path
        set_(p.CAPATH, CA_PATH)
    if request.tls_version:
        exact = request.tls_version.removesuffix("+")
        suffix = {"1": "1_0", "1.0": "1_0", "1.1": "1_1", "1.2": "1_2", "1.3": "1_3"}[exact]
        version = getattr(p, f"SSLVERSION_TLSv{suffix}")
        if not request.tls_version.endswith("+"):
            version |= getattr(p, f"SSLVERSION_MAX_TLSv{suffix}")
        set_(p.SSLVERSION, version)
    if request.client_cert:
        set_(p.SSLCERT, request.client_cert)
        set_(p.SSLKEY, request.client_key or request.client_cert)


def _failure(curl: Any, request: Request, code: int, message: str, pycurl: Any) -> Exception:
    """The error for curl's failure ``code``: CannotCheck for ours, ServiceDown for theirs."""
    reason = " ".join(message.split()) or f"curl error {code}"
    if code == _COULDNT_RESOLVE_HOST:
        name = request.address or request.host
        return CannotCheck(f"cannot resolve {name!r}: {reason}")
    if code in _LOCAL_PROBLEMS:
        return CannotCheck(f"{_LOCAL_PROBLEMS[code]}: {reason}")
    errno = curl.getinfo(pycurl.OS_ERRNO)
    if errno and code == 7:  # couldn't connect: the system's word for why
        reason = os.strerror(errno).lower()
    return ServiceDown(f"{request.where}: {reason}")


def _response(curl: Any, request: Request, reader: _Reader, pycurl: Any) -> Response:
    """The Response of a finished transfer."""
    info = curl.getinfo
    p = pycurl
    status_line = reader.status_line
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    lookup = info(p.NAMELOOKUP_TIME)
    connected = info(p.CONNECT_TIME)
    handshaken = info(p.APPCONNECT_TIME) or connected
    sent = info(p.PRETRANSFER_TIME)
    first = info(p.STARTTRANSFER_TIME)
    total = info(p.TOTAL_TIME)
    timings = (
        lookup,
        max(connected - lookup, 0.0),
        max(handshaken - connected, 0.0),
        max(first - sent, 0.0),
        total,
    )
    return Response(
        int(code) if code.isdigit() else info(p.RESPONSE_CODE),
        reason.strip(),
        reader.headers,
        b"".join(reader.chunks),
        url=info(p.EFFECTIVE_URL),
        where=request.where,
        redirects=info(p.REDIRECT_COUNT),
        location=info(p.REDIRECT_URL),
        http_version=version.removeprefix("HTTP/") or "1.1",
        timings=timings,
        certificate_expiry=_expiry(curl, pycurl),
        truncated=reader.truncated,
    )


def _expiry(curl: Any, pycurl: Any) -> float | None:
    """The notAfter of the server's own certificate (the first of CERTINFO's chain)."""
    try:
        chain = curl.getinfo(pycurl.INFO_CERTINFO)
    except Exception:  # no TLS in the final transfer
        return None
    if not chain:
        return None
    for key, value in chain[0]:
        if key == "Expire date":
            return parse_certificate_time(value)
    return None


def parse_certificate_time(text: str) -> float | None:
    """Epoch seconds of an OpenSSL date (``Dec  1 23:39:04 2027 GMT`` or ISO), or None.

    Read by hand: ``time.strptime`` and ``calendar`` import datetime and locale, 1.8 × the
    interpreter's start for every HTTPS check run, for two layouts of fixed fields.
    """
    fields = text.split()
    if len(fields) == 5 and fields[0] in MONTHS and fields[4] == "GMT":  # OpenSSL's
        month, day, clock, year = MONTHS.index(fields[0]) + 1, fields[1], fields[2], fields[3]
    elif len(fields) == 3 and fields[2] == "GMT" and fields[0].count("-") == 2:  # ISO 8601
        year, month_text, day = fields[0].split("-")
        clock = fields[1]
        month = int(month_text) if month_text.isdigit() else 0
    else:
        return None
    parts = clock.split(":")
    numbers = (year, day, *parts)
    if len(parts) != 3 or not all(n.isascii() and n.isdigit() for n in numbers):
        return None
    hour, minute, second = map(int, parts)
    if not (1 <= month <= 12 and 1 <= int(day) <= 31 and hour < 24 and minute < 60):
        return None
    days = _days_since_epoch(int(year), month, int(day))
    return float(days * 86400 + hour * 3600 + minute * 60 + min(second, 60))


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _days_since_epoch(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468
