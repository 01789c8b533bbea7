"""The mail notifier: one plain-text mail per run that had failures, by SMTP.

``[notification] mail_to`` sends each failed run's lines to the people on call, through
the SMTP server of ``smtp_host`` (normally the local MTA, no authentication). A mail that
cannot be sent is logged and changes nothing else: the backup's exit code stays what it was.
"""

from __future__ import annotations

import logging
import socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from drptools.config import Notification

log = logging.getLogger("drptools")
#: Seconds each exchange with the SMTP server may take: a silent server must not hold up
#: a run that is already late (smtplib's timeout applies to every read and write).
SMTP_TIMEOUT = 5


def message(notification: Notification, action: str, lines: list[str]) -> bytes:
    """The mail: who, what failed, and where to look next."""
    from email.message import EmailMessage

    host = socket.gethostname()
    mail = EmailMessage()
    mail["From"] = notification.mail_from
    mail["To"] = ", ".join(notification.mail_to)
    mail["Subject"] = f"drp on {host}: {action} failed ({len(lines)} problem(s))"
    body = [f"drp {action} on {host} failed:", "", *(f"  {line}" for line in lines)]
    body += ["", "Details: drp status, drp snapshots, journalctl -u 'vigie-drp-*'."]
    mail.set_content("\n".join(body) + "\n")
    return bytes(mail)


def send(notification: Notification, action: str, lines: list[str]) -> None:
    """Mail ``lines`` to ``mail_to``; a failure to send is logged, never raised."""
    if not notification.mail_to:
        return
    import smtplib

    try:
        with smtplib.SMTP(
            notification.smtp_host, notification.smtp_port, timeout=SMTP_TIMEOUT
        ) as smtp:
            smtp.sendmail(
                notification.mail_from,
                list(notification.mail_to),
                message(notification, action, lines),
            )
    except (OSError, smtplib.SMTPException) as error:
        log.error(
            "cannot mail the failure to %s via %s:%d: %s",
            ", ".join(notification.mail_to),
            notification.smtp_host,
            notification.smtp_port,
            error,
        )
