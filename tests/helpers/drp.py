"""What the drptools tests share: a configuration, running ``drp``, its children, a mail sink."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socketserver
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar, TypeVar

from tests.conftest import executable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tests.servers.bind_zone import Zone

T = TypeVar("T")

#: 2026-11-25 12:00 UTC: day 20782 since 1970-01-01 (even: target A) in UTC and in
#: Europe/Paris; the next day is odd (target B).
EVEN_NOON = 1795608000
DAY = 86400


def toml_value(value: object) -> str:
    """A Python value as TOML (strings, numbers, booleans, lists of those)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(value)


def toml(tables: dict[str, dict[str, object]], top: dict[str, object] | None = None) -> str:
    """A TOML document: top-level keys, then ``[name]`` tables in order."""
    lines = [f"{key} = {toml_value(value)}" for key, value in (top or {}).items()]
    for name, table in tables.items():
        lines.append(f"\n[{name}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def write_config(
    path: Path,
    *,
    a: str,
    b: str,
    environments: dict[str, dict[str, object]],
    ssh_config: Path | None = None,
    databases: dict[str, dict[str, object]] | None = None,
    retention: dict[str, object] | None = None,
) -> Path:
    """A drp.toml with targets A and B (``ssh_config`` for the remote one)."""
    tables: dict[str, dict[str, object]] = {
        "targets.A": {"location": a, "datacenter": "dc-1"},
        "targets.B": {"location": b, "datacenter": "dc-2"},
    }
    for name, target in (("A", a), ("B", b)):
        if ssh_config is not None and not target.startswith("/"):
            tables[f"targets.{name}"]["ssh_config"] = str(ssh_config)
    if retention:
        tables["retention"] = retention
    for name, environment in environments.items():
        tables[f"environments.{name}"] = environment
    for name, database in (databases or {}).items():
        tables[name] = database
    path.write_text(toml(tables, {"datacenter": "dc-1"}))
    return path


def drp(
    config: Path, *args: str, now: float | None = None, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``drp -c config ARGS`` as a process; ``now`` fixes its clock (VIGIE_DRP_NOW)."""
    environment = dict(os.environ, TZ=os.environ.get("TZ", "Europe/Paris"), **env)
    if now is not None:
        environment["VIGIE_DRP_NOW"] = str(int(now))
    return subprocess.run(
        [executable("drp"), "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        check=False,
    )


def make_tree(root: Path, directories: int, files: int, size: int = 16) -> Path:
    """``directories`` × ``files`` small files below ``root``."""
    for d in range(directories):
        folder = root / f"d{d:04}"
        folder.mkdir(parents=True, exist_ok=True)
        for f in range(files):
            (folder / f"f{f:04}").write_bytes(f"{d} {f} ".encode().ljust(size, b"."))
    return root


def local_site(
    root: Path,
    databases: dict[str, dict[str, object]] | None = None,
    directories: int = 1,
    paths: list[Path] | None = None,
) -> tuple[Path, Path]:
    """Local targets A and B under ``root``, an environment ``www`` of ``paths`` (default:
    a small tree made in ``root/src``)."""
    if paths is None:
        paths = [make_tree(root / "src", directories, 2)]
    for name in ("A", "B"):
        (root / name).mkdir()
    config = write_config(
        root / "drp.toml",
        a=str(root / "A"),
        b=str(root / "B"),
        environments={"www": {"paths": [str(path) for path in paths]}},
        databases=databases,
    )
    return root, config


def wait_for(predicate: Callable[[], T | None], timeout: float = 30, what: str = "condition") -> T:
    """Poll ``predicate`` until it returns a true value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def run_succeeded(run_id: str) -> bool:
    """Whether run ``run_id`` finished well; False too while its journal is created and
    its begin record not yet written (a run started by another process)."""
    from drptools import journal
    from drptools.errors import Failure

    try:
        return journal.succeeded(journal.read(run_id))
    except Failure:
        return False


@contextlib.contextmanager
def held_lock(path: Path) -> Iterator[None]:
    """Hold the flock(2) lock ``path`` as another run (or machine) would, then release it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


#: A valid decoded configuration, for tests of :func:`drptools.config.parse`.
GOOD: dict[str, object] = {
    "datacenter": "rennes-1",
    "targets": {
        "A": {"location": "/srv/backup", "datacenter": "rennes-1"},
        "B": {
            "location": "vigie@backup-b:/srv/vigie",
            "datacenter": "paris-2",
            "ssh_config": "/etc/vigie/ssh_config",
        },
    },
    "environments": {
        "www": {
            "paths": ["/srv/www", "/etc/nginx/"],
            "excludes": ["*.tmp"],
            "databases": {
                "shop": {"engine": "mariadb", "user": "backup", "password_file": "/etc/p"},
                "accounts": {"engine": "postgresql", "host": "db", "port": 5432, "targets": ["B"]},
            },
        }
    },
}


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command name) of the processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        if parent == pid:
            found.append((int(entry), name))
    return found


def start_drp(config: Path, *args: str, now: float) -> subprocess.Popen[str]:
    environment = dict(os.environ, VIGIE_DRP_NOW=str(int(now)), TZ="Europe/Paris")
    return subprocess.Popen(
        [executable("drp"), "-c", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )


class SmtpSink(socketserver.StreamRequestHandler):
    """Just enough SMTP to receive one mail (the client side is the real smtplib)."""

    received: ClassVar[list[tuple[str, list[str], str]]] = []

    def handle(self) -> None:
        self.wfile.write(b"220 sink ESMTP\r\n")
        sender, recipients, lines = "", [], []
        while line := self.rfile.readline():
            command = line.decode().strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in ("HELO", "EHLO"):
                self.wfile.write(b"250 sink\r\n")
            elif verb == "MAIL":
                sender = command.split(":", 1)[1].strip("<> ")
                self.wfile.write(b"250 ok\r\n")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip("<> "))
                self.wfile.write(b"250 ok\r\n")
            elif verb == "DATA":
                self.wfile.write(b"354 go\r\n")
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data.decode())
                SmtpSink.received.append((sender, recipients, "".join(lines)))
                self.wfile.write(b"250 queued\r\n")
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@contextlib.contextmanager
def mail_sink() -> Iterator[tuple[int, list[tuple[str, list[str], str]]]]:
    """A loopback SMTP server (:class:`SmtpSink`) while the block runs: its port and the
    mails it received (sender, recipients, text)."""
    import threading

    SmtpSink.received.clear()
    server = socketserver.TCPServer(("127.0.0.1", 0), SmtpSink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], SmtpSink.received
    finally:
        server.shutdown()
        server.server_close()
        SmtpSink.received.clear()


@contextlib.contextmanager
def webhook_receiver() -> Iterator[tuple[str, list[dict[str, object]]]]:
    """A loopback HTTP server taking JSON POSTs (a ticket system's webhook) while the block
    runs: its URL and the notices it received."""
    import http.server
    import json
    import threading

    received: list[dict[str, object]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def notify_by_mail(config: Path, port: int) -> None:
    """Add a ``[notification]`` mailing oncall@example.net through ``port`` on loopback."""
    config.write_text(
        config.read_text() + '\n[notification]\nmail_to = ["oncall@example.net"]\n'
        f'mail_from = "drp@example.net"\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\n'
    )


def tree_digest(root: Path) -> str:
    """One checksum of every path and content below ``root``."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


#: The DRP server's public addresses in :func:`recovery_site`.
DRP_ADDRESSES = ["203.0.113.20", "2001:db8::20"]


def recovery_site(tmp_path: Path, zone: Zone) -> tuple[Path, Path]:
    """A site whose DRP may be activated: production's files (``src``), local targets A
    and B, a DRP root (``drp``), production's maintenance flag (``maintenance``), and the
    DNS of ``zone`` (a real BIND pair, tests/servers/bind_zone.py) for environment www's
    name ``www.<zone>``; backed up to A."""
    from tests.servers.bind_zone import KEY_NAME, PRIMARY, PRODUCTION, ZONE

    root, config = local_site(tmp_path, directories=3)
    (root / "drp").mkdir()
    config.write_text(config.read_text() + toml({
        "drp": {"location": str(root / "drp"), "datacenter": "dc-3",
                "addresses": DRP_ADDRESSES},
        "production": {"addresses": [PRODUCTION, "2001:db8::10"],
                       "maintenance_flag": str(root / "maintenance")},
        "dns": {"zone": ZONE, "primary": PRIMARY, "port": zone.port,
                "key_name": KEY_NAME, "key_file": str(zone.key_file),
                "verify_timeout_seconds": 20},
        "dns.records": {"www": [f"www.{ZONE}"]},
    }))  # fmt: skip
    backed_up = drp(config, "backup", "files", "--target", "A", now=EVEN_NOON)
    assert backed_up.returncode == 0, backed_up.stderr
    return root, config
