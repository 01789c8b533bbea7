"""The webhook notifier: each notice POSTed as JSON, for ticket systems and chat bridges.

``[notification] webhook_url`` receives ``{"source": "drp", "host": …, "subject": …,
"lines": […], "time": …}`` with ``Content-Type: application/json``; basic auth comes from
``webhook_credentials`` (a credentials file, mode 0600), never from the URL or a command
line. Any answer other than 2xx, or none within :data:`TIMEOUT`, is a failed notice:
logged and returned, never raised, so a ticket system that is down never stops a DRP.
"""

from __future__ import annotations

import json
import logging
import socket

from drptools import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from drptools.config import Notification

log = logging.getLogger("drptools")
#: Seconds the receiver has to answer.
TIMEOUT = 10


def body(subject: str, lines: list[str]) -> bytes:
    """The JSON document of one notice."""
    return json.dumps({"source": "drp", "host": socket.gethostname(), "subject": subject,
                       "lines": lines, "time": layout.now()}).encode()  # fmt: skip


def send(notification: Notification, subject: str, lines: list[str]) -> str | None:
    """POST the notice; why it failed (also logged), or None."""
    if not notification.webhook_url:
        return None
    import base64
    import urllib.error
    import urllib.request

    from checks.core.credentials import read_credentials
    from checks.core.errors import CannotCheck

    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    try:
        if notification.webhook_credentials:
            login = read_credentials(notification.webhook_credentials)
            token = base64.b64encode(f"{login.username}:{login.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        # The URL is checked to be http(s) when the configuration is read.
        request = urllib.request.Request(  # noqa: S310
            notification.webhook_url, data=body(subject, lines), headers=headers, method="POST"
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310
            answer.read()
        return None
    except (CannotCheck, OSError, urllib.error.URLError) as error:
        reason = getattr(error, "reason", None) or error
        text = f"cannot post {subject!r} to {notification.webhook_url}: {reason}"
        log.error("%s", text)
        return text
