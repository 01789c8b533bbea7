"""The Icinga 2 API notifier: each notice a comment on the production host, and a downtime
while a failback runs.

``[notification] icinga_url`` (``https://icinga.example.net:5665``) with an API user from
``icinga_credentials`` (a credentials file) and the CA of ``icinga_ca_file``; notices are
comments on host ``icinga_host`` (author ``drp``), so the people looking at the host in
Icinga Web read what the DRP did, with its run id. Every request carries ``Accept:
application/json``, as Icinga 2 requires of a non-GET request. A filter that matches no
object is HTTP 500 with no result in Icinga 2.13 (Debian 12) and 404 from 2.14: both are
reported as "no host …". A failure is logged and returned, never raised.
"""

from __future__ import annotations

import json
import logging

TYPE_CHECKING = False
if TYPE_CHECKING:
    from drptools.config import Notification

log = logging.getLogger("drptools")
#: The author of drp's comments and downtimes, which also finds them again.
AUTHOR = "drp"
#: Longest downtime a failback asks for; it is removed when the failback ends.
DOWNTIME_SECONDS = 4 * 3600


def _action(notification: Notification, action: str, fields: dict[str, object]) -> str | None:
    """POST ``/v1/actions/<action>`` on the configured host; why it failed, or None."""
    import urllib.error

    from checks.core.errors import CannotCheck
    from drptools.notify.post import post_json

    host = notification.icinga_host or ""
    document = {"type": "Host", "filter": f"host.name=={json.dumps(host)}", **fields}
    url = f"{(notification.icinga_url or '').rstrip('/')}/v1/actions/{action}"
    try:
        answer = post_json(
            url,
            document,
            credentials=notification.icinga_credentials,
            ca_file=notification.icinga_ca_file,
        )
    except (CannotCheck, OSError, urllib.error.URLError) as error:
        problem = str(getattr(error, "reason", None) or error)
    else:
        results = answer.body.get("results") if isinstance(answer.body, dict) else None
        if answer.status == 404 or (answer.status == 500 and results == []):
            problem = f"Icinga has no host {host!r} (HTTP {answer.status})"
        elif not 200 <= answer.status < 300:
            problem = f"HTTP {answer.status}"
        else:
            return None
    text = f"Icinga API {action} on {host}: {problem}"
    log.error("%s", text)
    return text


def send(notification: Notification, subject: str, lines: list[str]) -> str | None:
    """The notice as a comment on the production host."""
    if not notification.icinga_url:
        return None
    comment = "\n".join([subject, *lines])
    return _action(notification, "add-comment", {"author": AUTHOR, "comment": comment})


def downtime(notification: Notification, on: bool, reason: str, now: float) -> str | None:
    """Schedule (``on``) or remove drp's downtime of the production host."""
    if not notification.icinga_url:
        return None
    if not on:
        return _action(notification, "remove-downtime", {"author": AUTHOR})
    return _action(
        notification,
        "schedule-downtime",
        {
            "author": AUTHOR,
            "comment": reason,
            "start_time": int(now),
            "end_time": int(now + DOWNTIME_SECONDS),
            "fixed": True,
            "all_services": True,
        },
    )
