"""The mail notifier: one plain-text mail per notice, by SMTP.

``[notification] mail_to`` sends each notice (a failed backup's lines, an authorisation
recorded, a DRP runbook's progress) to the people on call, through the SMTP server of
``smtp_host`` (normally the local MTA, no authentication). A mail that cannot be sent is
logged and changes nothing else: the run's exit code stays what it was.
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


def message(notification: Notification, subject: str, lines: list[str]) -> bytes:
    """The mail ``drp on HOST: subject`` with ``lines`` as its body."""
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["From"] = notification.mail_from
    mail["To"] = ", ".join(notification.mail_to)
    mail["Subject"] = f"drp on {socket.gethostname()}: {subject}"
    mail.set_content("\n".join(lines) + "\n")
    return bytes(mail)


def send(notification: Notification, subject: str, lines: list[str]) -> str | None:
    """Mail the notice to ``mail_to``; why it failed (also logged, never raised), or None."""
    if not notification.mail_to:
        return None
    import smtplib

    try:
        with smtplib.SMTP(
            notification.smtp_host, notification.smtp_port, timeout=SMTP_TIMEOUT
        ) as smtp:
            smtp.sendmail(
                notification.mail_from,
                list(notification.mail_to),
                message(notification, subject, lines),
            )
    except (OSError, smtplib.SMTPException) as error:
        text = (
            f"cannot mail {subject!r} to {', '.join(notification.mail_to)} via "
            f"{notification.smtp_host}:{notification.smtp_port}: {error}"
        )
        log.error("%s", text)
        return text
    return None
