"""What the status-page checks of this group share: their page read and parsed, counters
kept between runs under a name per server, and their option types.

check_apache, check_tomcat and check_elasticsearch read their page with
:func:`read_page`: :func:`checks.core.web.fetch_status_page` (as check_nginx does), with
check_url's options (:func:`checks.core.web.add_http_options`), then their parser.
Apache's and Tomcat's rates come from counters stored between runs (:func:`stored_rates`),
which must also survive a server restart.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import TypeVar

from checks.core import statefile
from checks.core.errors import ParseError

#: What a check's page parser returns.
Parsed = TypeVar("Parsed")


def read_page(
    args: argparse.Namespace,
    what: str,
    parse: Callable[[str], Parsed],
    accept: tuple[int, ...] = (200,),
) -> tuple[Parsed, str]:
    """The page of ``-u`` (``what``) parsed, and its URL; a page ``parse`` refuses is a
    ParseError that names the URL, so the admin knows which server sent it."""
    from checks.core.web import fetch_status_page, request_of

    response = fetch_status_page(request_of(args), what, accept)
    try:
        return parse(response.text), response.url
    except ParseError as error:
        raise ParseError(f"{response.url}: {error}") from None


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
