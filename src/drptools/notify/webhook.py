"""The webhook notifier: each notice POSTed as JSON, for ticket systems and chat bridges.

``[notification] webhook_url`` receives ``{"source": "drp", "host": …, "subject": …,
"lines": […], "time": …}``; basic auth comes from ``webhook_credentials`` (a credentials
file, mode 0600), never from the URL or a command line. Any answer other than 2xx, or
none in time, is a failed notice: logged and returned, never raised, so a ticket system
that is down never stops a DRP.
"""

from __future__ import annotations

import logging
import socket

from drptools import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from drptools.config import Notification

log = logging.getLogger("drptools")


def send(notification: Notification, subject: str, lines: list[str]) -> str | None:
    """POST the notice; why it failed (also logged), or None."""
    if not notification.webhook_url:
        return None
    import urllib.error

    from checks.core.errors import CannotCheck
    from drptools.notify.post import post_json

    document = {
        "source": "drp",
        "host": socket.gethostname(),
        "subject": subject,
        "lines": lines,
        "time": layout.now(),
    }
    try:
        answer = post_json(
            notification.webhook_url, document, credentials=notification.webhook_credentials
        )
        problem = None if 200 <= answer.status < 300 else f"HTTP {answer.status}"
    except (CannotCheck, OSError, urllib.error.URLError) as error:
        problem = str(getattr(error, "reason", None) or error)
    if problem is None:
        return None
    text = f"cannot post {subject!r} to {notification.webhook_url}: {problem}"
    log.error("%s", text)
    return text
