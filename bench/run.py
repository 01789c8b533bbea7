"""Invocation cost of vigie's checks, beside the bare interpreter and the C plugins.

A monitoring engine starts a check thousands of times an hour, so the figure that matters
is one whole invocation: interpreter start, imports, work, exit. Each command runs
``--runs`` times, round-robin with the others so that drift of a shared machine hits all
alike; per command the median wall time, the median CPU time (user + system of the child,
from wait4) and the peak RSS are reported, with CPU as a multiple of the floor
(``python -I -c pass`` of the same interpreter, measured in the same run) against the
budgets of ../shared/design/PERFORMANCE.md. Writes a Markdown table.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from checks.registry import plugins
from dns_stub import dnsbl_server
from launcher import Launcher

BIN = Path(sys.executable).parent
C_PLUGINS = Path("/usr/lib/nagios/plugins")
SMART_FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "smartctl"
SHARED_FIXTURES = Path(
    os.environ.get("VIGIE_FIXTURES") or Path(__file__).resolve().parents[2] / "shared" / "fixtures"
)
OWN_FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
STUBS = Path(tempfile.mkdtemp(prefix="vigie-bench-stubs-"))


def ssh_banner_server() -> int:
    """A loopback TCP server that greets like OpenSSH, for check_ssh; returns its port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            connection, _ = listener.accept()
            with connection:
                connection.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
                connection.recv(256)

    threading.Thread(target=serve, daemon=True).start()
    return int(listener.getsockname()[1])


SSH_PORT = str(ssh_banner_server())


def chronyd() -> str:
    """A real chronyd serving NTP on loopback for check_clock (as root); returns its port."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = str(probe.getsockname()[1])
    probe.close()
    if os.geteuid() != 0 or not Path("/usr/sbin/chronyd").exists():
        return port  # nothing answers: the check_clock cases then measure a timeout
    (STUBS / "chrony.conf").write_text(
        f"local stratum 8\nport {port}\nbindaddress 127.0.0.1\nallow 127.0.0.1\ncmdport 0\n"
        f"pidfile {STUBS / 'chronyd.pid'}\ndriftfile {STUBS / 'drift'}\n"
    )
    server = subprocess.Popen(
        ["/usr/sbin/chronyd", "-x", "-d", "-u", "root", "-f", str(STUBS / "chrony.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(server.terminate)
    time.sleep(1)
    return port


NTP_PORT = chronyd()


def line_server(greeting: bytes, answers: dict[bytes, bytes]) -> int:
    """A loopback TCP server that greets, then answers each command by its first word
    (FTP, SMTP: check_ftp, check_postfix, check_qmail and their C twins); returns its port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            connection, _ = listener.accept()
            with connection, connection.makefile("rb") as lines:
                connection.settimeout(5)
                try:
                    connection.sendall(greeting)
                    for line in lines:
                        verb = line.split(b" ", 1)[0].strip().upper()
                        connection.sendall(answers.get(verb, b"502 not here\r\n"))
                        if verb == b"QUIT":
                            break
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return int(listener.getsockname()[1])


FTP_PORT = str(line_server(b"220 vigie bench FTP\r\n", {b"QUIT": b"221 Goodbye.\r\n"}))
SMTP_PORT = str(line_server(
    b"220 bench.example ESMTP Postfix\r\n",
    {b"EHLO": b"250-bench.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
              b"250-8BITMIME\r\n250 SMTPUTF8\r\n",
     b"HELO": b"250 bench.example\r\n", b"QUIT": b"221 2.0.0 Bye\r\n"},
))  # fmt: skip
MAIL_FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def stub_printing(tool: str, capture: Path) -> str:
    """A ``tool`` that prints a recorded output: no SMART disk, mail queue, Varnish, DRBD
    or Ceph to bench here."""
    path = STUBS / f"{tool}-{capture.name}"
    path.write_text(f"#!/bin/sh\ncat '{capture}'\n")
    path.chmod(0o755)
    return str(path)


DNS_PORT = dnsbl_server()


def backup_config() -> str:
    """A drp configuration with two empty local targets, for check_backup."""
    for name in ("A", "B"):
        (STUBS / name).mkdir()
    path = STUBS / "drp.toml"
    path.write_text(
        f'datacenter = "dc-1"\n[targets.A]\nlocation = "{STUBS / "A"}"\ndatacenter = "dc-1"\n'
        f'[targets.B]\nlocation = "{STUBS / "B"}"\ndatacenter = "dc-2"\n'
        '[environments.www]\npaths = ["/srv/www"]\n'
        '[environments.www.databases.shop]\nengine = "mariadb"\n'
    )
    return str(path)


def drp_config() -> str:
    """A site with a local DRP root and a snapshot of 1 000 files on A, for check_drp
    (never drilled nor pre-staged: the bench's state directory is made per run)."""
    import hashlib

    from drptools import layout, manifest

    snapshot = STUBS / "drp-A" / "www" / "files" / layout.stamp(time.time() - 3600)
    (snapshot / "data").mkdir(parents=True)
    (STUBS / "drp-B").mkdir()
    (STUBS / "drp-root").mkdir()
    entries = {f"srv/www/f{i:04}\t{i}\t1795600000.0\t{i}".encode(): b"0" * 64 for i in range(1000)}
    text = manifest.render(entries)
    (snapshot / "MANIFEST").write_bytes(text)
    seal = {"snapshot": snapshot.name, "manifest_sha256": hashlib.sha256(text).hexdigest()}
    (snapshot / "COMPLETE").write_text(json.dumps(seal))
    path = STUBS / "drp-site.toml"
    path.write_text(
        f'datacenter = "dc-1"\n[targets.A]\nlocation = "{STUBS / "drp-A"}"\ndatacenter = "dc-1"\n'
        f'[targets.B]\nlocation = "{STUBS / "drp-B"}"\ndatacenter = "dc-2"\n'
        f'[drp]\nlocation = "{STUBS / "drp-root"}"\ndatacenter = "dc-3"\n'
        '[environments.www]\npaths = ["/srv/www"]\n'
    )
    return str(path)


def _test_servers() -> None:
    """Let the bench start the servers the tests start (tests/servers/)."""
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)


@functools.cache
def apache_port() -> str:
    """A real Apache with mod_status on loopback (as root), for check_apache; its port."""
    _test_servers()
    from tests.servers.apache import server_root, start_apache

    root = server_root()  # www-data must reach it: not under STUBS (mode 0700)
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    try:
        server = start_apache(root)
    except BaseException:  # not root, or no apache2: the cases then measure a refusal
        return str(socket.create_server(("127.0.0.1", 0)).getsockname()[1])
    atexit.register(server.stop)
    return str(server.port)


@functools.cache
def tomcat() -> tuple[str, str]:
    """A real Tomcat 10 with the manager on loopback, for check_tomcat: port, login file."""
    _test_servers()
    from tests.servers.tomcat import start_tomcat

    base = STUBS / "tomcat"
    base.mkdir()
    credentials = STUBS / "tomcat.cred"
    try:
        server = start_tomcat(base)
    except BaseException:  # no Tomcat or Java: the cases then measure a refusal
        credentials.write_text("username = none\n")
        credentials.chmod(0o600)
        return str(socket.create_server(("127.0.0.1", 0)).getsockname()[1]), str(credentials)
    atexit.register(server.stop)
    credentials.write_text(f"username = {server.user}\npassword = {server.password}\n")
    credentials.chmod(0o600)
    return str(server.port), str(credentials)


@functools.cache
def elasticsearch_port() -> str:
    """The loopback server answering the Elasticsearch captures, for check_elasticsearch."""
    _test_servers()
    from tests.conftest import shared_fixtures_dir
    from tests.servers.elasticsearch_fake import FakeElasticsearch

    server = FakeElasticsearch(shared_fixtures_dir() / "elasticsearch")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return str(server.port)


#: Bench arguments naming a server started on first use, and what fills them in.
SERVED: dict[str, Callable[[], str]] = {
    "{apache_port}": apache_port,
    "{tomcat_port}": lambda: tomcat()[0],
    "{tomcat_credentials}": lambda: tomcat()[1],
    "{elasticsearch_port}": elasticsearch_port,
}


def web_server() -> tuple[str, str, str]:
    """A real nginx on loopback for check_url and check_nginx: (HTTP port, HTTPS port, CA).

    The HTTPS server's certificate is self-signed for localhost, so it is its own CA
    file. Without nginx (or root) nothing answers and the cases measure a refusal.
    """
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(str(probe.getsockname()[1]))
    certificate, key = STUBS / "web.pem", STUBS / "web.key"
    if os.geteuid() != 0 or not Path("/usr/sbin/nginx").exists() or not shutil.which("openssl"):
        return ports[0], ports[1], str(certificate)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(certificate), "-days", "30",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    (STUBS / "html").mkdir()
    (STUBS / "html" / "index.html").write_text("vigie bench page\n" * 40)
    locations = f"root {STUBS / 'html'}; location = /nginx_status {{ stub_status; }}"
    (STUBS / "nginx.conf").write_text(
        f"user root; daemon off; worker_processes 1; pid {STUBS / 'nginx.pid'};\n"
        f"error_log {STUBS / 'nginx.log'}; events {{ worker_connections 64; }}\n"
        f"http {{ access_log off; client_body_temp_path {STUBS / 'body'};\n"
        f"server {{ listen 127.0.0.1:{ports[0]}; {locations} }}\n"
        f"server {{ listen 127.0.0.1:{ports[1]} ssl; ssl_certificate {certificate};\n"
        f"ssl_certificate_key {key}; {locations} }} }}\n"
    )
    server = subprocess.Popen(
        ["/usr/sbin/nginx", "-p", str(STUBS), "-c", str(STUBS / "nginx.conf"),
         "-e", str(STUBS / "nginx.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    atexit.register(server.terminate)
    time.sleep(0.5)
    return ports[0], ports[1], str(certificate)


HTTP_PORT, HTTPS_PORT, HTTPS_CA = web_server()
# What the FTP and mail checks' Bench arguments name.
MAIL_ARGUMENTS = {
    "{ftp_port}": lambda: FTP_PORT,
    "{smtp_port}": lambda: SMTP_PORT,
    "{postqueue}": lambda: stub_printing(
        "postqueue", MAIL_FIXTURES / "postfix" / "postqueue-j-deferred-and-hold.jsonl"
    ),
    "{qmail_qstat}": lambda: stub_printing(
        "qmail-qstat", MAIL_FIXTURES / "qmail" / "qstat-3-queued.txt"
    ),
}


#: Run by a helper interpreter so that pytest (imported by tests/servers) stays out of this
#: process: a forked child starts with its parent's peak RSS, which would inflate every case.
POSTGRESQL_HELPER = """
import json, sys
from pathlib import Path
from tests.servers import postgresql as servers
primary = servers.start_server(servers.bin_dir())
try:
    standby = servers.start_standby(primary, "bench")
    try:
        servers.write_pgpass(Path(sys.argv[1]), primary, standby)
        print(json.dumps({"pgsql_port": str(primary.port), "pgsql_socket": str(primary.root),
                          "pgsql_standby_port": str(standby.port)}), flush=True)
        sys.stdin.read()
    finally:
        servers.remove_server(standby)
finally:
    servers.remove_server(primary)
"""


def postgresql() -> dict[str, str]:
    """A real PostgreSQL primary and streaming standby on loopback, for check_pgsql and
    check_pgsql_replication (as root, with Debian's postgresql and the test extras: the
    servers of tests/servers/postgresql.py, kept by a helper process until the bench ends);
    the password reaches every client, vigie's and its peers', through PGPASSFILE. Returns
    their ports and the primary's socket directory."""
    unused = {"pgsql_port": free_tcp_port(), "pgsql_standby_port": free_tcp_port(),
              "pgsql_socket": str(STUBS)}  # fmt: skip
    if os.geteuid() != 0 or not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return unused  # nothing answers: the PostgreSQL cases then measure a refusal
    passfile = STUBS / "pgpass"
    helper = subprocess.Popen(
        [sys.executable, "-c", POSTGRESQL_HELPER, str(passfile)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert helper.stdin is not None
    assert helper.stdout is not None
    atexit.register(helper.wait, 120)
    atexit.register(helper.stdin.close)  # runs first: the helper stops the servers
    line = helper.stdout.readline()
    if not line:
        return unused  # it failed (no pytest?): its error is on stderr
    os.environ["PGPASSFILE"] = str(passfile)
    ports: dict[str, str] = json.loads(line)
    return ports


def free_tcp_port() -> str:
    """A TCP port of 127.0.0.1 nothing listens on (for now)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return str(probe.getsockname()[1])


PGSQL = postgresql()

OWN_FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
SHARED_FIXTURES = Path(
    os.environ.get("VIGIE_FIXTURES") or Path(__file__).resolve().parents[2] / "shared" / "fixtures"
)


def recorded(group: str, fixture: str) -> Path:
    """A capture of ``group`` (varnish, drbd, ceph): vigie's own, else the shared one."""
    own = OWN_FIXTURES / group / fixture
    return own if own.exists() else SHARED_FIXTURES / group / fixture


def stub_ceph(answers: str) -> str:
    """A ceph that prints a recorded output per subcommand: ``status=FILE,df=FILE``."""
    cases = "".join(
        f"  *' {command} '*) cat '{recorded('ceph', fixture)}';;\n"
        for command, fixture in (item.split("=", 1) for item in answers.split(","))
    )
    path = STUBS / f"ceph-{abs(hash(answers))}"
    path.write_text(f'#!/bin/sh\ncase " $* " in\n{cases}  *) exit 1;;\nesac\n')
    path.chmod(0o755)
    return str(path)


# {KIND:FIXTURE} arguments: a stub tool printing a capture, or the capture's path (the
# cluster tools' stubs and smartctl's are added below, where they are defined).
RECORDED: dict[str, Callable[[str], str]] = {
    "varnishstat": lambda fixture: stub_printing("varnishstat", recorded("varnish", fixture)),
    "drbdsetup": lambda fixture: stub_printing("drbdsetup", recorded("drbd", fixture)),
    "drbd": lambda fixture: str(recorded("drbd", fixture)),
    "ceph": stub_ceph,
}


def mariadb_servers() -> tuple[str, str, str]:
    """A real MariaDB primary and its replica on loopback, started by the tests' helper
    (tests/servers/mariadb.py), for check_mysql and check_mysql_replication: the two ports
    and an options file with the login both vigie and the C check_mysql read (``-f``)."""
    options = STUBS / "mysql.cnf"
    if shutil.which("mariadbd", path="/usr/sbin:/usr/bin") is None:
        options.write_text("[client]\nuser = vigie\n")
        return "1", "1", str(options)  # nothing listens: the cases measure a refusal
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.servers import mariadb

    root = Path(tempfile.mkdtemp(prefix="vigie-bench-mariadb-"))
    replication, running = mariadb.start_replication(root / "primary", root / "replica")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    atexit.register(mariadb.stop_servers, running)  # atexit runs last in, first out
    escaped = replication.primary.password.replace("\\", "\\\\").replace('"', '\\"')
    options.write_text(f'[client]\nuser = vigie\npassword = "{escaped}"\n')
    options.chmod(0o600)
    return str(replication.primary.port), str(replication.replica.port), str(options)


MYSQL_PORT, MYSQL_REPLICA_PORT, MYSQL_OPTIONS = mariadb_servers()


def stub_gluster(pool: str) -> str:
    """A gluster CLI answering from captures, for check_glusterfs: no glusterd here.

    ``healthy``: the 4-brick replicated volumes of the shared status capture, and a clean
    ``heal info summary`` of GlusterFS 10.3 for each.
    """
    assert pool == "healthy", pool
    answers = {
        "volume_info": OWN_FIXTURES / "glusterfs" / "volume_info_xml_of_status_all_detail.xml",
        "volume_status": SHARED_FIXTURES / "glusterfs" / "volume_status_all_detail_4bricks_online"
        ".xml",
        "volume_heal": OWN_FIXTURES
        / "glusterfs"
        / "volume_heal_info_summary_xml_10.3_gv0_clean.xml",
    }
    path = STUBS / f"gluster-{pool}"
    cases = "".join(f"    \"{key}\") cat '{answer}';;\n" for key, answer in answers.items())
    path.write_text(f'#!/bin/sh\ncase "$3_$4" in\n{cases}esac\n')
    path.chmod(0o755)
    return str(path)


def stub_crm_mon(fixture: str) -> str:
    """A crm_mon that prints a capture, for check_hacluster: no cluster here."""
    path = STUBS / f"crm_mon-{fixture}"
    path.write_text(f"#!/bin/sh\ncat '{SHARED_FIXTURES / 'pacemaker' / fixture}'\n")
    path.chmod(0o755)
    return str(path)


RECORDED |= {
    "gluster": stub_gluster,
    "crm_mon": stub_crm_mon,
    "smartctl": lambda fixture: stub_printing("smartctl", SMART_FIXTURES / fixture),
}


# C plugins beside which vigie's checks are measured (the "twin" of a check's Bench).
C_CASES: dict[str, list[str]] = {
    "C check_load -w 5,4,3 -c 10,8,6": ["check_load", "-w", "5,4,3", "-c", "10,8,6"],
    "C check_swap -w 50% -c 25%": ["check_swap", "-w", "50%", "-c", "25%"],
    "C check_disk -w 10% -c 5% -p /": ["check_disk", "-w", "10%", "-c", "5%", "-p", "/"],
    "C check_disk -W 10% -K 5% -p /": ["check_disk", "-W", "10%", "-K", "5%", "-p", "/"],
    "C check_ping -H 127.0.0.1 -w 100,20% -c 500,60% -p 1": ["check_ping", "-H", "127.0.0.1",
        "-w", "100,20%", "-c", "500,60%", "-p", "1"],
    "C check_ssh -H 127.0.0.1 -p PORT": ["check_ssh", "-H", "127.0.0.1", "-p", SSH_PORT],
    "C check_procs -w 500 -c 1000": ["check_procs", "-w", "500", "-c", "1000"],
    "C check_ntp_time -H 127.0.0.1 -p PORT": ["check_ntp_time", "-H", "127.0.0.1", "-p",
        NTP_PORT, "-w", "0.5", "-c", "1"],
    "C check_curl -H 127.0.0.1 -p PORT": ["check_curl", "-H", "127.0.0.1", "-p", HTTP_PORT],
    "C check_curl -H localhost -I 127.0.0.1 -p PORT -S -D --ca-cert CA": ["check_curl",
        "-H", "localhost", "-I", "127.0.0.1", "-p", HTTPS_PORT, "-S", "-D", "--ca-cert",
        HTTPS_CA],
    "C check_ftp -H 127.0.0.1 -p PORT": ["check_ftp", "-H", "127.0.0.1", "-p", FTP_PORT],
    "C check_smtp -H 127.0.0.1 -p PORT": ["check_smtp", "-H", "127.0.0.1", "-p", SMTP_PORT],
    "C check_pgsql -H 127.0.0.1 -P PORT": ["check_pgsql", "-H", "127.0.0.1", "-P",
        PGSQL["pgsql_port"], "-l", "postgres"],
    "C check_pgsql -H SOCKETDIR -P PORT": ["check_pgsql", "-H", PGSQL["pgsql_socket"], "-P",
        PGSQL["pgsql_port"], "-l", "postgres"],
    # The contrib check_postgres (Perl, runs psql) as peer: Debian's check-postgres.
    "check_postgres_backends -H 127.0.0.1 -p PORT": ["/usr/bin/check_postgres_backends",
        "-H", "127.0.0.1", "-p", PGSQL["pgsql_port"], "-u", "postgres"],
    "check_postgres_hot_standby_delay (primary and standby)": [
        "/usr/bin/check_postgres_hot_standby_delay", "--dbhost=127.0.0.1,127.0.0.1",
        f"--dbport={PGSQL['pgsql_port']},{PGSQL['pgsql_standby_port']}", "--dbuser=postgres",
        "-w", "1000000", "-c", "2000000"],
    "C check_mysql -H 127.0.0.1 -P PORT -f FILE": ["check_mysql", "-H", "127.0.0.1", "-P",
        MYSQL_PORT, "-f", MYSQL_OPTIONS],
    "C check_mysql -S -H 127.0.0.1 -P PORT -f FILE": ["check_mysql", "-S", "-H", "127.0.0.1",
        "-P", MYSQL_REPLICA_PORT, "-f", MYSQL_OPTIONS],
}  # fmt: skip
# (label, argv, budget: CPU multiple of the floor or None, RSS budget MiB or None, C twin)
BUDGETS = {"local": (3.5, 20), "tool": (6.0, 30)}  # tool: runs a tool or talks to a server


#: What each placeholder of a Bench argument stands for (made when first asked for).
PLACEHOLDERS: dict[str, Callable[[], str]] = {
    "{ssh_port}": lambda: SSH_PORT,
    "{ntp_port}": lambda: NTP_PORT,
    "{http_port}": lambda: HTTP_PORT,
    "{https_port}": lambda: HTTPS_PORT,
    "{https_ca}": lambda: HTTPS_CA,
    "{backup_config}": backup_config,
    "{drp_config}": drp_config,
    "{dns_port}": lambda: DNS_PORT,
    "{mysql_port}": lambda: MYSQL_PORT,
    "{mysql_replica_port}": lambda: MYSQL_REPLICA_PORT,
    "{mysql_options}": lambda: MYSQL_OPTIONS,
    **MAIL_ARGUMENTS,
    **SERVED,
}


def argument(text: str) -> str:
    """A Bench argument with what the bench set up filled in."""
    if text in PLACEHOLDERS:
        return PLACEHOLDERS[text]()
    if text[1:-1] in PGSQL:
        return PGSQL[text[1:-1]]
    kind, colon, fixture = text[1:-1].partition(":")
    if colon and text.startswith("{") and kind in RECORDED:
        return RECORDED[kind](fixture)
    return text


def cases() -> list[tuple[str, list[str], tuple[float, float] | None, str | None]]:
    """The floor, nagiosplugin's import, then every check's Bench cases, each C twin first."""
    found: list[tuple[str, list[str], tuple[float, float] | None, str | None]] = [
        ("floor: python -I -c pass", [sys.executable, "-I", "-c", "pass"], None, None),
        ("python -I -c 'import nagiosplugin'", [sys.executable, "-I", "-c",
         "import nagiosplugin"], None, None),
    ]  # fmt: skip
    for plugin in plugins():
        for case in plugin.bench:
            if case.twin and case.twin not in [label for label, _, _, _ in found]:
                tool, *arguments = C_CASES[case.twin]
                found.append((case.twin, [str(C_PLUGINS / tool), *arguments], None, None))
            argv = [str(BIN / plugin.executable), *map(argument, case.arguments)]
            found.append((case.label, argv, BUDGETS[case.kind], case.twin))
    return found


CASES = cases()
#: Rounds 0.5 s apart: the suite's samples (0.4 s) are not taken when a reading that old is
#: stored, as after a monitoring engine's runs.
SUITE = ("vigie run (whole local suite, one process, stored readings)", [str(BIN / "vigie"), "run"])


def bench(
    cases: list[tuple[str, list[str]]], runs: int, pause: float = 0.0
) -> dict[str, tuple[float, float, float]]:
    """Median wall, median CPU, peak RSS per case, runs interleaved round-robin.

    ``pause``: seconds between rounds, unmeasured, so that the readings a round stores
    are as old as a check's ``--sample`` when the next round starts.
    """
    environment = dict(os.environ, VIGIE_STATE_DIR=tempfile.mkdtemp(prefix="vigie-bench-"))
    samples: dict[str, list[tuple[float, float, float]]] = {label: [] for label, _ in cases}
    launcher = Launcher(environment)
    for _, argv in cases:  # warm-up: caches, and the checks' state for their rates
        launcher.measure(argv)
    for _ in range(runs):
        time.sleep(pause)
        for label, argv in cases:
            samples[label].append(launcher.measure(argv))
    launcher.close()
    shutil.rmtree(environment["VIGIE_STATE_DIR"], ignore_errors=True)
    return {
        label: (
            statistics.median(wall for wall, _, _ in values),
            statistics.median(cpu for _, cpu, _ in values),
            max(rss for _, _, rss in values),
        )
        for label, values in samples.items()
    }


def machine() -> str:
    """What the figures were measured on."""
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    plugins = subprocess.run(
        [str(C_PLUGINS / "check_load"), "-V"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return (
        f"{time.strftime('%Y-%m-%d')}, Python {platform.python_version()} ({sys.executable}), "
        f"Linux {platform.release()}, {os.cpu_count()} × {model}; C plugins: {plugins}"
    )


def report(results: dict[str, tuple[float, float, float]], runs: int) -> str:
    """The Markdown page."""
    floor_cpu = results[CASES[0][0]][1]
    lines = [
        "# vigie invocation cost",
        "",
        f"Measured by `make bench` (`bench/run.py`) on {machine()}.",
        f"Each command ran {runs} times, interleaved; medians of wall and CPU time "
        '(user + system, from wait4), the highest peak RSS. "× floor" is CPU time over that '
        "of `python -I -c pass` measured in the same run; budgets from PERFORMANCE.md. "
        "The checks with rates run with `--sample 0.05` and a state directory, as they do "
        "in production when the previous run's reading is usable.",
        "",
        "| command | wall ms | CPU ms | × floor | × C twin | peak RSS MiB | budget | verdict |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for label, _, budget, twin in CASES:
        if label not in results:
            continue
        wall, cpu, rss = results[label]
        ratio = cpu / floor_cpu
        twin_ratio = f"{cpu / results[twin][1]:.1f}" if twin in results else ""
        if budget is None:
            budget_text, verdict = "", ""
        else:
            budget_text = f"≤ {budget[0]}× · ≤ {budget[1]} MiB"
            verdict = "within" if ratio <= budget[0] and rss <= budget[1] else "**over**"
        lines.append(
            f"| `{label}` | {wall * 1000:.1f} | {cpu * 1000:.1f} | {ratio:.2f} | {twin_ratio} "
            f"| {rss:.1f} | {budget_text} | {verdict} |"
        )
    label = SUITE[0]
    if label in results:
        wall, cpu, rss = results[label]
        verdict = "within" if wall <= 1.0 and rss <= 40 else "**over**"
        lines.append(
            f"| `{label}` | {wall * 1000:.1f} | {cpu * 1000:.1f} | {cpu / floor_cpu:.2f} | "
            f"| {rss:.1f} | ≤ 1 s wall · ≤ 40 MiB | {verdict} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """``make bench``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--output", type=Path, help="write the Markdown here (default: stdout)")
    args = parser.parse_args()
    cases = [(label, argv) for label, argv, _, _ in CASES if Path(argv[0]).exists()]
    try:
        results = bench(cases, args.runs)
        results.update(bench([SUITE], max(args.runs // 3, 5), pause=0.5))
    finally:
        shutil.rmtree(STUBS, ignore_errors=True)
    text = report(results, args.runs)
    if args.output:
        args.output.write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
