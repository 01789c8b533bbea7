"""One JSON POST over HTTP(S) for the notifiers (webhook, Icinga 2 API): basic auth from a
credentials file, TLS verified against the system's CAs or a given CA file.

The standard library's urllib: a notice is sent a few times per runbook, so its cost does
not matter, and it keeps drp free of a client library for this.
"""

from __future__ import annotations

import json

#: Seconds the receiver has to answer.
TIMEOUT = 10


class Answer:
    """The receiver's HTTP status and decoded JSON body (None when it sent none)."""

    __slots__ = ("body", "status")

    def __init__(self, status: int, body: object) -> None:
        self.status, self.body = status, body


def post_json(
    url: str, document: object, *, credentials: str | None = None, ca_file: str | None = None
) -> Answer:
    """POST ``document`` to ``url``; the answer, whatever its status. Raises OSError (and
    urllib's URLError) when there is none, CannotCheck for an unusable credentials file."""
    import base64
    import ssl
    import urllib.error
    import urllib.request

    from checks.core.credentials import read_credentials

    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if credentials:
        login = read_credentials(credentials)
        token = base64.b64encode(f"{login.username}:{login.password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    context = ssl.create_default_context(cafile=ca_file) if url.startswith("https:") else None
    # The URL is checked to be http(s) when the configuration is read.
    request = urllib.request.Request(  # noqa: S310
        url, data=json.dumps(document).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=context) as answer:  # noqa: S310
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:  # an answer all the same: 4xx, 5xx
        status, raw = error.code, error.read()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return Answer(status, body)
