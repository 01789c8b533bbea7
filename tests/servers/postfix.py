"""A real Postfix instance on loopback (``postfix -c DIR``), with mail really in its queues.

main.cf and master.cf live in a temporary directory with the instance's own
queue_directory and data_directory; ``postfix -c DIR check`` runs before ``start`` and
``postfix -c DIR stop`` after the session. Services run without chroot (a chroot would
need copies of the system files). smtpd listens on free loopback ports:

- ``port``: STARTTLS offered with the test CA's valid certificate (tests/servers/vsftpd.py),
- ``soon_port`` / ``expired_port``: the same with a certificate expiring in 10 days / expired,
- ``plain_port``: no STARTTLS at all.

Mail for a relay that never answers (a free port) stays deferred; :meth:`Postfix.send`
queues messages with Postfix's ``sendmail -C DIR`` and :meth:`Postfix.hold` puts them on
hold with ``postsuper -h``, so the queue checks read real, non-empty queues.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.ports import free_port, wait_for_tcp
from tests.servers.require import require_installed, require_root
from tests.servers.vsftpd import Certificates

POSTFIX = "/usr/sbin/postfix"
SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    """What a test needs: the instance's config directory, its smtpd ports, its queue."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "etc"
        self.host = "127.0.0.1"
        self.port, self.soon_port, self.expired_port, self.plain_port = (
            free_port() for _ in range(4)
        )
        self.log = root / "maillog"

    def postfix(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """Run ``postfix -c DIR …``; its failure fails the test with Postfix's words."""
        return subprocess.run([POSTFIX, "-c", str(self.config), *arguments], check=True,
                              capture_output=True, text=True)  # fmt: skip

    def send(self, count: int, recipient: str = "someone@example.invalid") -> None:
        """Queue ``count`` messages with Postfix's sendmail; they end up deferred."""
        for number in range(count):
            subprocess.run(
                ["/usr/sbin/sendmail", "-C", str(self.config), "-f", "vigie@localhost", recipient],
                check=True,
                text=True,
                input=f"Subject: vigie test {number}\n\nqueued by the tests\n",
            )

    def queue(self) -> list[dict[str, object]]:
        """The messages in the queue, as ``postqueue -j`` lists them."""
        listed = subprocess.run(["/usr/sbin/postqueue", "-c", str(self.config), "-j"],
                                check=True, capture_output=True, text=True)  # fmt: skip
        return [json.loads(line) for line in listed.stdout.splitlines()]

    def wait_until(self, queue: str, count: int, timeout: float = 20.0) -> None:
        """Return once ``count`` messages are in ``queue`` (e.g. deferred)."""
        deadline = time.monotonic() + timeout
        while True:
            in_queue = [m for m in self.queue() if m["queue_name"] == queue]
            if len(in_queue) >= count:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(in_queue)} messages in {queue}, not {count}")
            time.sleep(0.2)

    def hold(self, count: int) -> None:
        """Put ``count`` deferred messages on hold (``postsuper -h``)."""
        deferred = [m["queue_id"] for m in self.queue() if m["queue_name"] == "deferred"]
        for queue_id in deferred[:count]:
            subprocess.run(["/usr/sbin/postsuper", "-c", str(self.config), "-h",
                            str(queue_id)], check=True, capture_output=True)  # fmt: skip

    def flush_all(self) -> None:
        """Delete every queued message (``postsuper -d ALL``)."""
        subprocess.run(["/usr/sbin/postsuper", "-c", str(self.config), "-d", "ALL"],
                       check=True, capture_output=True)  # fmt: skip


def _configure(server: Postfix, tls: Certificates) -> None:
    server.config.mkdir()
    (server.root / "queue").mkdir()
    (server.root / "data").mkdir()
    shutil.chown(server.root / "data", "postfix", "postfix")
    cert, key = tls.pair("valid")
    (server.config / "main.cf").write_text(
        "compatibility_level = 3.6\n"
        f"queue_directory = {server.root / 'queue'}\n"
        f"data_directory = {server.root / 'data'}\n"
        "mail_owner = postfix\nsetgid_group = postdrop\n"
        "inet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n"
        "myhostname = vigie-test.localdomain\nmydestination =\n"
        f"relayhost = [127.0.0.1]:{free_port()}\n"
        "smtp_connect_timeout = 1s\nmaximal_queue_lifetime = 1d\n"
        "alias_maps =\nalias_database =\n"
        f"maillog_file = {server.log}\nmaillog_file_prefixes = {server.root}\n"
        f"smtpd_tls_cert_file = {cert}\nsmtpd_tls_key_file = {key}\n"
        "smtpd_tls_security_level = may\n"
        "smtpd_banner = $myhostname ESMTP vigie test\n"
    )
    smtpd = [f"{server.host}:{server.port} inet n - n - - smtpd"]
    for port, name in ((server.soon_port, "soon"), (server.expired_port, "expired")):
        other_cert, other_key = tls.pair(name)
        smtpd.append(f"{server.host}:{port} inet n - n - - smtpd\n"
                     f"  -o smtpd_tls_cert_file={other_cert}\n"
                     f"  -o smtpd_tls_key_file={other_key}")  # fmt: skip
    smtpd.append(f"{server.host}:{server.plain_port} inet n - n - - smtpd\n"
                 "  -o smtpd_tls_security_level=none")  # fmt: skip
    (server.config / "master.cf").write_text("\n".join(smtpd) + "\n" + SERVICES)


def _skip_unless_possible() -> None:
    require_installed("Postfix", "postfix", POSTFIX)
    require_root("postfix -c DIR start must run as root")


@contextlib.contextmanager
def running(certificates: Certificates) -> Iterator[Postfix]:
    """A Postfix instance on loopback, started after ``postfix check``, stopped after."""
    _skip_unless_possible()
    root = Path(tempfile.mkdtemp(prefix="vigie-postfix-", dir="/tmp"))
    root.chmod(0o755)
    server = Postfix(root)
    try:
        _configure(server, certificates)
        server.postfix("check")
        server.postfix("start")
        try:
            for port in (server.port, server.soon_port, server.expired_port, server.plain_port):
                wait_for_tcp(server.host, port)
            yield server
        finally:
            subprocess.run([POSTFIX, "-c", str(server.config), "stop"], capture_output=True,
                           check=False)  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postfix(certificates: Certificates) -> Iterator[Postfix]:
    """A Postfix instance on loopback for the session; its queue is emptied by each user."""
    with running(certificates) as server:
        yield server
