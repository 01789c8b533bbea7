"""What the status-page checks share: one page fetched through the shared HTTP path, its
HTTP status read as an admin expects, and rates of its counters kept between runs.

check_apache, check_tomcat and check_elasticsearch each read one page of the server they
judge (mod_status, the manager's status XML, ``_cluster/health``) with check_url's options
(:func:`checks.core.web.add_http_options`: ``-H -I -p -u -S --sni --ca-file --client-cert
--client-key --insecure --credentials -4 -6``). What the transport cannot reach (refused,
no answer within ``-t``, TLS failure) is CRITICAL, from :mod:`checks.clients.http`. An
answer that is not the page is UNKNOWN, because the service's state could not be read:
401 says *authentication failed* (the credentials file is wrong; without one, that the
page wants a login), 403 that the login may not read the page (a missing role), 404 that
the status page is not where ``-u`` points, a redirect where it moved. A 5xx is CRITICAL:
the server answers that it is failing.
"""

from __future__ import annotations

import argparse
import logging  # loaded by checks.core.runtime already: free
import re
from collections.abc import Callable

from checks.core import statefile
from checks.core.errors import CannotCheck, ServiceDown

TYPE_CHECKING = False
if TYPE_CHECKING:
    from checks.clients.http import Response
    from checks.core.cli import Parser

#: A status page is small; more than this is not the page (and not worth reading).
MAX_SIZE = 4 * 1024 * 1024
#: How much of the page -vvv shows.
MAX_LOGGED = 8192


def add_status_options(parser: Parser, default_port: int, default_path: str) -> None:
    """check_url's HTTP, TLS and credentials options with this check's port and path."""
    from checks.core.web import add_http_options

    add_http_options(parser, default_port=default_port, default_path=default_path)


def fetch_page(args: argparse.Namespace, what: str, accept: tuple[int, ...] = (200,)) -> Response:
    """The page of ``-u``, or the reason it could not be read; ``what`` names the page."""
    from checks.clients.http import fetch
    from checks.core.web import request_of

    response = fetch(request_of(args), max_size=MAX_SIZE)
    log = logging.getLogger("checks.web")
    log.info("%s: HTTP %d %s, %d bytes", response.url, response.status, response.reason,
             response.size)  # fmt: skip
    log.debug("%s", response.text[:MAX_LOGGED])
    if response.status in accept:
        if response.truncated:
            raise CannotCheck(
                f"{response.where} sent more than {MAX_SIZE // 1048576} MiB: not the {what}"
            )
        return response
    raise refusal(response, what, args.credentials)


def refusal(response: Response, what: str, credentials: str | None) -> CannotCheck | ServiceDown:
    """The error for an HTTP answer other than the page: UNKNOWN, or CRITICAL for 5xx;
    ``credentials`` is the credentials file given, if any."""
    status = response.status
    answered = f"{response.where} answered HTTP {status} {response.reason}".rstrip()
    if status == 401 and credentials:
        return CannotCheck(f"authentication failed: {answered} (check the login in {credentials})")
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


def number_of(noun: str) -> Callable[[str], int]:
    """An argparse type for a number of ``noun`` (1 or more): ``--nodes``, ``--max-workers``."""

    def parse(text: str) -> int:
        if not (text.isascii() and text.isdigit()) or int(text) < 1:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of {noun} (1 or more)")
        return int(text)

    return parse


def state_name(check: str, url: str) -> str:
    """The name under which a check keeps the counters of the server at ``url``."""
    return f"{check}-" + re.sub(r"[^A-Za-z0-9.-]+", "_", url.split("://", 1)[-1])[:120]


def stored_rates(
    name: str,
    first: dict[str, float],
    read: Callable[[], dict[str, float]],
    sample: float,
    restarted: Callable[[statefile.Interval], bool] | None = None,
) -> statefile.Interval:
    """Counters over the interval since the previous run (or a ``sample``), starting from
    the reading ``first`` already taken; ``read`` takes another.

    :func:`checks.core.statefile.counters` already refuses a stored reading with any
    counter ahead of the new one (the server restarted and counted less since).
    ``restarted`` tells a restart the counters alone cannot show (the server counted
    more since its restart than before it); the stored reading is then dropped and the
    rate is sampled.
    """
    readings = [first]

    def reading() -> dict[str, float]:
        return readings.pop() if readings else read()

    interval = statefile.counters(name, reading, sample)
    if restarted is not None and restarted(interval):
        interval = statefile.counters(name, read, sample)
    return interval
