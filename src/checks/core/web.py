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
from checks.core.net import add_family_options, chosen_family, port

TYPE_CHECKING = False
if TYPE_CHECKING:
    from checks.core.credentials import Credentials

USER_AGENT = f"vigie/{__version__}"
SCHEMES = {"http": 80, "https": 443}
#: A full URL rather than a path: a scheme, then ``://``.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


class Request:
    """One HTTP request, complete: what :func:`checks.clients.http.fetch` sends.

    ``url`` is what is asked for (its host the virtual host); ``address``, when set, is
    where to connect instead of resolving the URL's host; ``family`` is the socket family
    ``-4``/``-6`` ask for (AF_UNSPEC for either). ``verify`` checks the server
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
        "method",
        "path",
        "port",
        "tls",
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
    ) -> None:
        self.host, self.port, self.path, self.tls = host, port, path, tls
        self.address, self.family = address, family
        self.verify, self.ca_file = verify, ca_file
        self.client_cert, self.client_key = client_cert, client_key
        self.credentials = credentials
        self.method = method
        self.headers = headers if headers is not None else [("User-Agent", USER_AGENT)]
        self.body = body

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
    where.add_argument("-S", "--ssl", action="store_true", help="HTTPS")
    where.add_argument(
        "--sni",
        action="store_true",
        help="accepted for check_curl: SNI is always sent for a host name",
    )
    add_family_options(parser)
    tls = parser.add_argument_group("TLS (the server certificate is verified by default)")
    tls.add_argument(
        "--ca-file",
        metavar="FILE",
        help="CA certificates (PEM) to verify the server with "
        "(default: the system's, /etc/ssl/certs)",
    )
    tls.add_argument("--client-cert", metavar="FILE", help="client certificate (PEM)")
    tls.add_argument(
        "--client-key",
        metavar="FILE",
        help="client certificate's private key (PEM; default: in --client-cert)",
    )
    tls.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify the server certificate (a check that trusts any "
        "certificate cannot tell a spoofed site)",
    )
    add_credentials_option(parser, "HTTP basic authentication")
    parser.set_defaults(http_default_port=default_port)


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


def request_of(args: argparse.Namespace, path: str | None = None) -> Request:
    """The request for parsed ``args``; ``path`` (a status page's) overrides ``-u``."""
    target = path if path is not None else args.url
    host: str | None = args.hostname
    address: str | None = args.ip_address
    if _URL.match(target):
        scheme, url_host, url_port, target = _split_url(target)
        if args.ssl and scheme != "https":
            raise UsageError(f"-S asks for HTTPS but -u is an {scheme} URL")
        if args.port is not None and url_port is not None and args.port != url_port:
            raise UsageError(f"-p {args.port} and the port {url_port} of the -u URL differ")
        tls = scheme == "https"
        chosen_port = url_port or args.port or SCHEMES[scheme]
        if address is None and host and host != url_host:
            address = host  # -H is then the server: Icinga's $check_address$
        host = url_host
    else:
        if not target.startswith("/"):
            raise UsageError(f"-u {target!r}: a path starts with / (or give a full URL)")
        tls = args.ssl
        chosen_port = args.port or (443 if tls else args.http_default_port)
    if not host:
        if not address:
            raise UsageError("no host given: use -H VHOST, -I ADDRESS or a full -u URL")
        host, address = address, None
    if any(character in target for character in " \r\n\t"):
        raise UsageError(f"-u {target!r}: a URL path has no blanks (write %20)")
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
    )
