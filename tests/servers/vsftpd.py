"""A real vsftpd on loopback, with a local test account, and the TLS certificates it serves.

The server runs in the foreground (``background=NO``) from a temporary directory, on a
free port with its own passive port range, anonymous logins off and one local account
(``vigie-ftp-test``, a system account created when missing, its password set for the
session) whose home holds two files for the data-channel test. ``ftps`` is the same
server with ``ssl_enable=YES`` (explicit ``AUTH TLS``) serving a certificate signed by a
CA the test makes; :func:`certificates` also makes one expiring in 10 days and one expired,
which the Postfix server (tests/servers/postfix.py) serves too.

vsftpd wants its ``secure_chroot_dir`` to exist, be owned by root and not be writable, and
the account's home to be reachable once it has dropped to the account: both live in a
world-traversable directory in /tmp (pytest's are 0700 root).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers.ports import free_port, wait_for_tcp
from tests.servers.require import require_installed, require_root

VSFTPD = "/usr/sbin/vsftpd"
ACCOUNT = "vigie-ftp-test"
#: Files in the account's home that the data-channel test lists.
HOME_FILES = ("report.txt", "backup.tar")


class Certificates:
    """A CA and three server certificates for 127.0.0.1/localhost: valid, soon, expired."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ca = root / "ca.pem"

    def pair(self, name: str) -> tuple[Path, Path]:
        """Certificate and key of ``valid`` (a year), ``soon`` (10 days) or ``expired``."""
        return self.root / f"{name}.pem", self.root / f"{name}.key"


def _openssl(*arguments: str | Path, cwd: Path) -> None:
    subprocess.run(["openssl", *map(str, arguments)], cwd=cwd, check=True,
                   capture_output=True)  # fmt: skip


def make_certificates(root: Path) -> Certificates:
    """Make the CA and its three server certificates in ``root`` (``openssl ca`` sets the
    dates, so that one can be in the past)."""
    made = Certificates(root)
    (root / "index.txt").write_text("")
    (root / "serial").write_text("01\n")
    (root / "ca.cnf").write_text(
        "[ca]\ndefault_ca = test\n[test]\ndir = .\ndatabase = index.txt\nserial = serial\n"
        "new_certs_dir = .\ndefault_md = sha256\npolicy = any\ncopy_extensions = copy\n"
        "unique_subject = no\n[any]\ncommonName = supplied\n"
        "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = vigie test server\n"
        "[server]\nsubjectAltName = IP:127.0.0.1,IP:::1,DNS:localhost\n"
        "basicConstraints = CA:FALSE\n"
    )
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=vigie test CA",
             "-days", "3650", "-keyout", "ca.key", "-out", made.ca, cwd=root)  # fmt: skip
    validity = {
        "valid": ["-days", "365"],
        "soon": ["-days", "10"],
        "expired": ["-startdate", "20240101000000Z", "-enddate", "20240201000000Z"],
    }
    for name, dates in validity.items():
        certificate, key = made.pair(name)
        _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-config", "ca.cnf",
                 "-keyout", key, "-out", f"{name}.csr", cwd=root)  # fmt: skip
        _openssl("ca", "-batch", "-config", "ca.cnf", "-cert", made.ca, "-keyfile", "ca.key",
                 "-extfile", "ca.cnf", "-extensions", "server", *dates, "-notext",
                 "-in", f"{name}.csr", "-out", certificate, cwd=root)  # fmt: skip
    for path in root.glob("*.key"):
        path.chmod(0o644)  # read by servers that drop privileges (postfix's smtpd)
    return made


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """The test CA and its valid, soon-expiring and expired server certificates."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed (apt install openssl)")
    root = tmp_path_factory.mktemp("certificates")
    root.chmod(0o755)
    return make_certificates(root)


class Vsftpd:
    """What a test needs to reach the server and log in."""

    def __init__(self, root: Path, port: int, password: str) -> None:
        self.root, self.host, self.port = root, "127.0.0.1", port
        self.user, self.password = ACCOUNT, password
        self.log = root / "vsftpd.log"
        #: Stop the server (for a test that stops it between checks).
        self.stop: Callable[[], None] = lambda: None

    def credentials(self, directory: Path, password: str | None = None) -> Path:
        """A credentials file (mode 0600) for the account, with ``password`` if given."""
        path = directory / "ftp.cred"
        path.write_text(f"username = {self.user}\npassword = {password or self.password}\n")
        path.chmod(0o600)
        return path


def _account(home: Path) -> str:
    """The test account, created when missing, with ``home`` and a fresh password."""
    try:
        pwd.getpwnam(ACCOUNT)
    except KeyError:
        subprocess.run(["useradd", "--system", "--shell", "/bin/sh", "--home-dir", str(home),
                        ACCOUNT], check=True)  # fmt: skip
    subprocess.run(["usermod", "--home", str(home), ACCOUNT], check=True)
    password = secrets.token_urlsafe(12)
    subprocess.run(["chpasswd"], input=f"{ACCOUNT}:{password}\n", text=True, check=True)
    return password


@contextlib.contextmanager
def _running(tls: Certificates | None, certificate: str = "valid") -> Iterator[Vsftpd]:
    root = Path(tempfile.mkdtemp(prefix="vigie-vsftpd-", dir="/tmp"))
    try:
        root.chmod(0o755)
        empty, home = root / "empty", root / "home"
        empty.mkdir(mode=0o555)
        home.mkdir()
        for name in HOME_FILES:
            (home / name).write_text(f"{name}\n")
        password = _account(home)
        account = pwd.getpwnam(ACCOUNT)
        os.chown(home, account.pw_uid, account.pw_gid)
        server = Vsftpd(root, free_port(), password)
        passive = free_port()
        lines = [
            "listen=YES", "listen_ipv6=NO", "listen_address=127.0.0.1",
            f"listen_port={server.port}", "background=NO", "anonymous_enable=NO",
            "local_enable=YES", "write_enable=NO", "pam_service_name=vsftpd",
            f"secure_chroot_dir={empty}", "seccomp_sandbox=NO", "pasv_enable=YES",
            f"pasv_min_port={passive}", f"pasv_max_port={passive}",
            "pasv_address=127.0.0.1", f"vsftpd_log_file={server.log}", "xferlog_enable=YES",
            "dual_log_enable=YES", "log_ftp_protocol=YES", "ftpd_banner=vigie test FTP",
        ]  # fmt: skip
        if tls is not None:
            cert, key = tls.pair(certificate)
            lines += ["ssl_enable=YES", f"rsa_cert_file={cert}", f"rsa_private_key_file={key}",
                      "force_local_logins_ssl=NO", "force_local_data_ssl=NO",
                      "require_ssl_reuse=NO", "ssl_ciphers=HIGH"]  # fmt: skip
        config = root / "vsftpd.conf"
        config.write_text("\n".join(lines) + "\n")
        process = subprocess.Popen([VSFTPD, str(config)], stdout=subprocess.DEVNULL,
                                   stderr=(root / "stderr").open("w"))  # fmt: skip

        def stop() -> None:
            process.terminate()
            process.wait(timeout=10)

        server.stop = stop
        try:
            wait_for_tcp(server.host, server.port)
            yield server
        finally:
            stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _skip_unless_possible() -> None:
    require_installed("vsftpd", "vsftpd", VSFTPD)
    require_root("vsftpd must run as root to log local users in")


@pytest.fixture(scope="session")
def vsftpd() -> Iterator[Vsftpd]:
    """vsftpd without TLS on 127.0.0.1:<free port>, for the whole session."""
    _skip_unless_possible()
    with _running(None) as server:
        yield server


@pytest.fixture(scope="session")
def ftps(certificates: Certificates) -> Iterator[Vsftpd]:
    """vsftpd with explicit FTPS (AUTH TLS), serving the test CA's valid certificate."""
    _skip_unless_possible()
    with _running(certificates) as server:
        yield server


@pytest.fixture(scope="session")
def ftps_expiring(certificates: Certificates) -> Iterator[Vsftpd]:
    """vsftpd with explicit FTPS serving a certificate that expires in 10 days."""
    _skip_unless_possible()
    with _running(certificates, "soon") as server:
        yield server


@pytest.fixture(scope="session")
def ftps_expired(certificates: Certificates) -> Iterator[Vsftpd]:
    """vsftpd with explicit FTPS serving an expired certificate."""
    _skip_unless_possible()
    with _running(certificates, "expired") as server:
        yield server


@contextlib.contextmanager
def own_vsftpd() -> Iterator[Vsftpd]:
    """A vsftpd of its own, for a test that stops it (``stop()``) between checks."""
    _skip_unless_possible()
    with _running(None) as server:
        yield server
