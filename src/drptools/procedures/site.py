"""The step that proves a site serves from a side before the DNS is moved there.

Files that match their MANIFEST and databases that match their dumps still do not prove
that visitors will get the site: a web server not started, a virtual host missing on the
DRP server, a configuration that points at production's database. So the runbooks fetch
each environment's page (``[sites.NAME]``) from the side about to take the DNS, under the
site's own name: the connection goes to the side's ``site_address`` while the Host
header, TLS SNI and the certificate check use the URL's host, as visitors' browsers will
once the DNS answers that address. The checks' own HTTP client does it (libcurl's
``CONNECT_TO``), with the same TLS verification as check_url.
"""

from __future__ import annotations

from drptools.errors import Failure
from drptools.runbook import Progress, Step

TYPE_CHECKING = False
if TYPE_CHECKING:
    from checks.core.web import Request
    from drptools.config.model import Side, Site

#: The most of the page read: enough for any health page's text.
MAX_BODY = 1024 * 1024


class VerifySite(Step):
    """The environment's page, fetched from ``side`` under the site's name, as configured."""

    kind = "verify-site"

    def __init__(self, site: Site, side: Side) -> None:
        self.site, self.side = site, side
        self.name = f"verify-site:{site.environment}:{side.name}"
        where = "the DRP server" if side.name == "drp" else side.name
        self.title = f"fetch {site.url} from {where} ({side.site_address})"

    def describe(self) -> list[str]:
        wanted = f"HTTP {self.site.status}"
        if self.site.contains:
            wanted += f" and the text {self.site.contains!r}"
        return [f"expects {wanted}, before the DNS moves there"]

    def probe(self) -> list[str]:
        if self.side.site_address is None:
            return [f"{self.side.name}: no site_address and no addresses to fetch the site from"]
        try:
            self._request()
        except Failure as failure:
            return [str(failure)]
        return []

    def run(self, progress: Progress) -> dict[str, object]:
        from checks.clients import http
        from checks.core.errors import CannotCheck, ServiceDown

        request = self._request()
        try:
            response = http.fetch(request, max_size=MAX_BODY)
        except (ServiceDown, CannotCheck) as error:
            raise Failure(f"{self.site.url} from {self.side.site_address}: {error}") from None
        where = f"{self.site.url} from {self.side.site_address}"
        if response.status != self.site.status:
            raise Failure(
                f"{where} answered {response.status_line}, expected HTTP {self.site.status}"
            )
        if self.site.contains and self.site.contains not in response.text:
            raise Failure(f"{where}: the page does not hold {self.site.contains!r}")
        return {
            "status": response.status,
            "bytes": response.size,
            "seconds": round(response.total, 3),
            "address": self.side.site_address,
        }

    def _request(self) -> Request:
        """The request: the URL's host, port and path; the side's address to connect to."""
        from urllib.parse import urlsplit

        from checks.core.web import SCHEMES, Request

        parts = urlsplit(self.site.url)
        try:
            port = parts.port or SCHEMES[parts.scheme]
        except ValueError as error:
            raise Failure(f"{self.site.url}: {error}") from None
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return Request(
            parts.hostname or "", port, path, tls=parts.scheme == "https",
            address=self.side.site_address, ca_file=self.site.ca_file,
        )  # fmt: skip
