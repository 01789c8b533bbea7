"""What HTTP checks share: the options that say what to fetch, and the request they build.

check_url and the status-page checks (check_apache, check_nginx, check_tomcat,
check_elasticsearch) take the same ``-H -I -p -u -S`` options as monitoring-plugins'
check_curl, the same TLS options and a credentials file for basic auth, so that one
service definition's arguments mean the same on each. :func:`add_http_options` adds them,
:func:`request_of` turns parsed arguments into a :class:`Request`, and
:func:`checks.clients.http.fetch` sends it. Nothing heavy is imported here: pycurl and
ssl are loaded by the client, only when a request is sent.

Where the request goes:

- ``-H`` is the virtual host (the ``Host`` header, the TLS SNI name and the name the
  certificate must carry); ``-I`` is the address to connect to instead of resolving
  ``-H`` (check_curl's meaning). Without ``-H`` the request is for ``-I`` itself.
- ``-u`` is a path, or a full ``http(s)://host[:port]/path`` URL. A full URL names the
  site: its host is the virtual host, its scheme and port are used, and ``-I`` (else a
  ``-H`` that differs from the URL's host, such as Icinga's ``$check_address$``) is where
  to connect. ``-S`` or ``-p`` contradicting the URL is a usage error.
- ``-H host:port`` (check_curl's way of naming a port in the Host header) sets the port
  when ``-p`` does not. ``-S`` is a flag (Icinga sets it from a boolean); check_curl's
  ``-S VERSION`` is ``--tls-version VERSION`` here (``1.2``: exactly TLS 1.2, ``1.2+``: 1.2
  or newer).
- TLS certificates are verified by default (check_curl verifies only with ``-D``): a
  check that says OK for a site whose browsers refuse it is lying. ``--insecure`` turns
  verification off; ``--ca-file`` names the CA bundle of a private PKI.
"""

from __future__ import annotations

import argparse
import re  # loaded by argparse already: free

from checks import __version__
from checks.core.cli import Parser, UsageError
from checks.core.credentials import add_credentials_option, read_credentials
from checks.core.errors import CannotCheck, ServiceDown
from checks.core.net import add_family_options, add_tls_options, chosen_family, port

TYPE_CHECKING = False
if TYPE_CHECKING:
    from checks.core.credentials import Credentials

USER_AGENT = f"vigie/{__version__}"
SCHEMES = {"http": 80, "https": 443}
#: The TLS versions ``-S`` may name (check_curl's, without the long-gone SSL 2 and 3).
TLS_VERSIONS = ("1", "1.0", "1.1", "1.2", "1.3")
#: A full URL rather than a path: a scheme, then ``://``.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


class Request:
    """One HTTP request, complete: what :func:`checks.clients.http.fetch` sends.

    ``url`` is what is asked for (its host the virtual host); ``address``, when set, is
    where to connect instead of resolving the URL's host; ``family`` is the socket family
    ``-4``/``-6`` ask for (AF_UNSPEC for either); ``tls_version`` a TLS version such as
    ``1.2`` (exactly) or ``1.2+`` (at least), ``http_version`` ``1.0``, ``1.1`` or ``2``
    (None: negotiated). ``verify`` checks the server
    certificate against ``ca_file`` or the system's CA directory. ``credentials`` (basic
    auth) come from a credentials file, never from the command line.
    """

    __slots__ = (
        "address",
        "body",
        "ca_file",
        "client_cert",
        "client_key",
        "credentials",
        "family",
        "headers",
        "host",
        "http_version",
        "method",
        "path",
        "port",
        "tls",
        "tls_version",
        "verify",
    )

    def __init__(
        self,
        host: str,
        port: int,
        path: str = "/",
        *,
        tls: bool = False,
        address: str | None = None,
        family: int = 0,
        verify: bool = True,
        ca_file: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
        credentials: Credentials | None = None,
        method: str = "GET",
        headers: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
        tls_version: str | None = None,
        http_version: str | None = None,
    ) -> None:
        self.host, self.port, self.path, self.tls = host, port, path, tls
        self.address, self.family = address, family
        self.verify, self.ca_file = verify, ca_file
        self.client_cert, self.client_key = client_cert, client_key
        self.credentials = credentials
        self.method = method
        self.headers = headers if headers is not None else [("User-Agent", USER_AGENT)]
        self.body = body
        self.tls_version, self.http_version = tls_version, http_version

    @property
    def scheme(self) -> str:
        """``https`` or ``http``."""
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        """``http(s)://host[:port]/path``, the port left out when it is the scheme's."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        shown_port = "" if SCHEMES[self.scheme] == self.port else f":{self.port}"
        return f"{self.scheme}://{host}{shown_port}{self.path}"

    @property
    def where(self) -> str:
        """``host port 443``, or ``host (address) port 443`` with ``-I``, for messages."""
        host = self.host if self.address in (None, self.host) else f"{self.host} ({self.address})"
        return f"{host} port {self.port}"

    def __repr__(self) -> str:
        return f"Request({self.method} {self.url}, address={self.address!r})"


def add_http_options(parser: Parser, default_port: int = 80, default_path: str = "/") -> None:
    """Where to fetch and how: check_curl's ``-H -I -p -u -S --sni``, TLS, credentials.

    ``default_port`` is for plain HTTP (443 with ``-S``), ``default_path`` what ``-u``
    defaults to (a status page's usual location).
    """
    where = parser.add_argument_group("what to fetch (check_curl-compatible)")
    where.add_argument(
        "-H",
        "--hostname",
        metavar="VHOST",
        help="virtual host name: the Host header, TLS SNI and certificate "
        "name; also where to connect unless -I is given",
    )
    where.add_argument(
        "-I",
        "--IP-address",
        dest="ip_address",
        metavar="ADDRESS",
        help="connect to this address (or name) instead of resolving -H",
    )
    where.add_argument(
        "-p",
        "--port",
        type=port,
        metavar="PORT",
        help=f"TCP port (default: {default_port}, 443 with -S)",
    )
    where.add_argument(
        "-u",
        "--url",
        default=default_path,
        metavar="PATH|URL",
        help="path, or a full http(s)://host[:port]/path URL whose host is "
        "the virtual host (default: %(default)s)",
    )
    where.add_argument("-S", "--ssl", action="store_true", help="HTTPS (default port 443)")
    where.add_argument(
        "--sni",
        action="store_true",
        help="accepted for check_curl: SNI is always sent for a host name",
    )
    add_family_options(where)  # type: ignore[arg-type]  # a group adds options alike
    tls = parser.add_argument_group("TLS (the server certificate is verified by default)")
    add_tls_options(tls, "the server", "--ca-cert")
    tls.add_argument(
        "--tls-version",
        type=_tls_version,
        metavar="VERSION",
        help="allow only TLS VERSION (1, 1.1, 1.2, 1.3), or with + that version and newer "
        "(check_curl's -S VERSION)",
    )
    tls.add_argument("-J", "--client-cert", metavar="FILE", help="client certificate (PEM)")
    tls.add_argument(
        "-K",
        "--client-key",
        "--private-key",
        metavar="FILE",
        help="client certificate's private key (PEM; default: in --client-cert)",
    )
    add_credentials_option(parser, "HTTP basic authentication")
    parser.set_defaults(http_default_port=default_port)


def _tls_version(text: str) -> str:
    """check_curl's ``-S`` VERSION: 1, 1.1, 1.2 or 1.3, each with an optional ``+``."""
    if text and text.removesuffix("+") not in TLS_VERSIONS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a TLS version (1, 1.1, 1.2 or 1.3, optionally followed by +)"
        )
    return text


def _host_and_port(text: str) -> tuple[str, int | None]:
    """``-H`` as ``name``, ``name:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address."""
    if text.startswith("["):
        name, _, rest = text[1:].partition("]")
        return name, port(rest[1:]) if rest.startswith(":") else None
    if text.count(":") == 1:
        name, _, number = text.partition(":")
        try:
            return name, port(number)
        except argparse.ArgumentTypeError as error:
            raise UsageError(f"-H {text!r}: {error}") from None
    return text, None


def _split_url(text: str) -> tuple[str, str, int | None, str]:
    """``(scheme, host, port or None, path)`` of a full URL; a usage error if it is not one."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        url_port = parts.port
    except ValueError as error:
        raise UsageError(f"-u {text!r}: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UsageError(f"-u {text!r}: only http and https URLs can be checked")
    if not parts.hostname:
        raise UsageError(f"-u {text!r}: no host in the URL")
    if parts.username is not None:
        raise UsageError(
            "-u: a password in the URL is on every command line: use --credentials FILE"
        )
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    return scheme, parts.hostname, url_port, path


def _family_fits(target: str, family: int) -> None:
    """A usage error when ``-4``/``-6`` contradict an address literal (curl would ignore them)."""
    import socket

    ipv6 = ":" in target
    ipv4 = not ipv6 and target.count(".") == 3 and target.replace(".", "").isdigit()
    if (family == socket.AF_INET6 and ipv4) or (family == socket.AF_INET and ipv6):
        asked = "-6 (IPv6)" if family == socket.AF_INET6 else "-4 (IPv4)"
        raise UsageError(f"{asked} contradicts the address {target}")


def request_of(args: argparse.Namespace, path: str | None = None) -> Request:
    """The request for parsed ``args``; ``path`` (a status page's) overrides ``-u``."""
    target = path if path is not None else args.url
    host, host_port = _host_and_port(args.hostname) if args.hostname else (None, None)
    if args.port is not None and host_port is not None and args.port != host_port:
        raise UsageError(f"-p {args.port} and the port of -H {args.hostname} differ")
    given_port = args.port or host_port
    address: str | None = args.ip_address
    https = args.ssl
    if _URL.match(target):
        scheme, url_host, url_port, target = _split_url(target)
        if https and scheme != "https":
            raise UsageError(f"-S asks for HTTPS but -u is an {scheme} URL")
        if given_port is not None and url_port is not None and given_port != url_port:
            raise UsageError(f"-p {given_port} and the port {url_port} of the -u URL differ")
        tls = scheme == "https"
        chosen_port = url_port or given_port or SCHEMES[scheme]
        if address is None and host and host != url_host:
            address = host  # -H is then the server: Icinga's $check_address$
        host = url_host
    else:
        if not target.startswith("/"):
            raise UsageError(f"-u {target!r}: a path starts with / (or give a full URL)")
        tls = https
        chosen_port = given_port or (443 if tls else args.http_default_port)
    if not host:
        if not address:
            raise UsageError("no host given: use -H VHOST, -I ADDRESS or a full -u URL")
        host, address = address, None
    if any(character in target for character in " \r\n\t"):
        raise UsageError(f"-u {target!r}: a URL path has no blanks (write %20)")
    _family_fits(address or host, chosen_family(args))
    if args.client_key and not args.client_cert:
        raise UsageError("--client-key needs --client-cert")
    return Request(
        host.strip("[]"),
        chosen_port,
        target,
        tls=tls,
        address=address.strip("[]") if address else None,
        family=chosen_family(args),
        verify=not args.insecure,
        ca_file=args.ca_file,
        client_cert=args.client_cert,
        client_key=args.client_key,
        credentials=read_credentials(args.credentials) if args.credentials else None,
        tls_version=args.tls_version,
    )


#: A status page is small (a real one is a few KiB); more is not the page, nor worth reading.
STATUS_PAGE_LIMIT = 4 * 1024 * 1024
#: How much of the page -vvv shows.
STATUS_PAGE_LOGGED = 8192

if TYPE_CHECKING:
    from checks.clients.http import Response


def fetch_status_page(request: Request, what: str, accept: tuple[int, ...] = (200,)) -> Response:
    """A server's status page (``what``: ``stub_status``, ``mod_status page``…), or why not.

    A status check judges the page's numbers, not the HTTP status: an answer outside
    ``accept`` is the reason the page could not be read (:func:`status_page_refusal`), and
    a page over :data:`STATUS_PAGE_LIMIT` is not the page (UNKNOWN).
    """
    import logging  # loaded by checks.core.runtime already: free

    from checks.clients.http import fetch

    response = fetch(request, max_size=STATUS_PAGE_LIMIT)
    log = logging.getLogger("checks.web")
    log.info("%s: HTTP %d %s, %d bytes", response.url, response.status, response.reason,
             response.size)  # fmt: skip
    log.debug("%s", response.text[:STATUS_PAGE_LOGGED])
    if response.status not in accept:
        raise status_page_refusal(response, what, request.credentials)
    if response.truncated:
        raise CannotCheck(
            f"{response.where} sent more than {STATUS_PAGE_LIMIT // 1048576} MiB: not the {what}"
        )
    return response


def status_page_refusal(
    response: Response, what: str, credentials: Credentials | None
) -> CannotCheck | ServiceDown:
    """The error for an HTTP answer other than the page ``what``, as an admin reads it.

    UNKNOWN, because the service's state could not be read: 401 says *authentication
    failed* with a credentials file (it is wrong), else that the page wants a login; 403
    that the login may not read the page (a missing role); 404 that the page is not where
    ``-u`` points; a redirect where it moved. A 5xx is CRITICAL: the server answers that
    it is failing.
    """
    status = response.status
    answered = f"{response.where} answered HTTP {status} {response.reason}".rstrip()
    if status == 401 and credentials:
        return CannotCheck(
            f"authentication failed: {answered} (check the login in {credentials.source})"
        )
    if status >= 500:
        return ServiceDown(f"{answered} instead of the {what}")
    if status == 401:
        why = f"the {what} wants a login (--credentials FILE)"
    elif status == 403:
        why = f"the login may not read the {what}"
    elif status == 404:
        why = f"no {what} there (check -u)"
    elif 300 <= status < 400 and response.location:
        why = f"the {what} moved to {response.location} (give -u that)"
    else:
        return CannotCheck(f"{answered} instead of the {what}")
    return CannotCheck(f"{answered}: {why}")
