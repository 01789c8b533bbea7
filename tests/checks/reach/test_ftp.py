"""check_ftp: greetings parsed, then a real vsftpd (plain and FTPS) and fake servers.

The real servers are Debian's vsftpd (tests/servers/vsftpd.py) with a local test account,
and with explicit FTPS serving a valid, a soon-expiring and an expired certificate of a CA
the tests make. Fakes (tests/servers/ssh_fake.py, line_fake.py) send what broken servers
send: garbage, a 421 or 554 greeting, nothing, a greeting too late, a connection closed
during the login, a passive data channel pointing nowhere.
"""

from __future__ import annotations

import time

import pytest

from checks.core.errors import ParseError
from checks.core.runtime import Outcome
from checks.reach.ftp import PLUGIN, parse_greeting
from tests.helpers.contract import assert_conforms, assert_one_line
from tests.helpers.mutations import every_damage_parses_or_refuses
from tests.servers.line_fake import CLOSE
from tests.servers.ports import free_port
from tests.servers.ssh_fake import GARBAGE
from tests.servers.vsftpd import own_vsftpd

pytestmark = pytest.mark.integration
VSFTPD_GREETING = "220 vigie test FTP"
MULTILINE = "220-Welcome to the archive\n220-Be nice\n220 Ready"


def run(*args: str) -> Outcome:
    outcome = PLUGIN.run(list(args))
    assert_conforms("ftp", outcome.state, outcome.text)
    return outcome


# --- the greeting -------------------------------------------------------------------------


def test_greetings_are_parsed():
    assert (parse_greeting(VSFTPD_GREETING).code, parse_greeting(VSFTPD_GREETING).lines) == (
        220,
        ["vigie test FTP"],
    )
    reply = parse_greeting(MULTILINE)
    assert (reply.code, reply.lines) == (
        220,
        ["Welcome to the archive", "220-Be nice", "220 Ready"],
    )
    assert parse_greeting("421 Too many users").code == 421


@pytest.mark.parametrize("text", ["", "HTTP/1.1 400 Bad Request", "22", "2x0 hello", "220_x"])
def test_what_is_not_a_greeting_is_refused(text):
    with pytest.raises(ParseError, match="not an FTP reply"):
        parse_greeting(text)


@pytest.mark.parametrize("text", [VSFTPD_GREETING, MULTILINE])
def test_damaged_greetings_parse_or_are_refused(text):
    every_damage_parses_or_refuses(parse_greeting, text, examples=80)


# --- the real vsftpd ----------------------------------------------------------------------


def test_vsftpd_greeting_is_ok(vsftpd):
    outcome = run("-H", vsftpd.host, "-p", str(vsftpd.port), "-w", "5", "-c", "9")
    assert outcome.state == 0, outcome.text
    assert outcome.status_line.startswith(
        f"FTP OK - 220 vigie test FTP on 127.0.0.1 port {vsftpd.port} in "
    )
    assert ";5;9;0" in outcome.status_line


def test_vsftpd_verbose_lists_each_result(vsftpd):
    outcome = run("-H", vsftpd.host, "-p", str(vsftpd.port), "-v")
    assert outcome.text.splitlines()[1:] == [
        "OK: greeting 220 vigie test FTP",
        f"OK: response time {outcome.summary.rsplit(' in ', 1)[1]}",
    ]


def test_vsftpd_expect_text_and_mismatch_state(vsftpd):
    where = ("-H", vsftpd.host, "-p", str(vsftpd.port))
    assert run(*where, "-e", "vigie test").state == 0
    outcome = run(*where, "-e", "ProFTPD")
    assert outcome.state == 1
    assert "greeting 220 vigie test FTP lacks 'ProFTPD'" in outcome.text
    assert run(*where, "-e", "ProFTPD", "-M", "crit").state == 2
    assert run(*where, "-e", "ProFTPD", "-M", "ok").state == 0


def test_vsftpd_login_and_passive_listing(vsftpd, tmp_path):
    credentials = vsftpd.credentials(tmp_path)
    outcome = run("-H", vsftpd.host, "-p", str(vsftpd.port), "--credentials", str(credentials),
                  "--passive-test")  # fmt: skip
    assert outcome.state == 0, outcome.text
    assert "logged in as vigie-ftp-test, 2 entries listed over a passive data channel" in (
        outcome.summary
    )
    assert " data_time=" in outcome.status_line


def test_vsftpd_bad_credentials_are_critical(vsftpd, tmp_path):
    credentials = vsftpd.credentials(tmp_path, password="not-the-password")
    outcome = run("-H", vsftpd.host, "-p", str(vsftpd.port), "--credentials", str(credentials))
    assert outcome.state == 2, outcome.text
    assert "login as 'vigie-ftp-test' refused: 530 Login incorrect." in outcome.text
    assert "not-the-password" not in outcome.text


def test_a_readable_credentials_file_is_refused(vsftpd, tmp_path):
    credentials = vsftpd.credentials(tmp_path)
    credentials.chmod(0o644)
    outcome = run("-H", vsftpd.host, "-p", str(vsftpd.port), "--credentials", str(credentials))
    assert outcome.state == 3
    assert "is accessible by group or others (mode 0644)" in outcome.text


def test_ftps_with_the_ca_is_ok_and_reads_the_days_left(ftps, certificates, tmp_path):
    credentials = ftps.credentials(tmp_path)
    outcome = run("-H", ftps.host, "-p", str(ftps.port), "--tls", "--ca-file",
                  str(certificates.ca), "-C", "30,7", "--credentials", str(credentials),
                  "--passive-test")  # fmt: skip
    assert outcome.state == 0, outcome.text
    assert outcome.summary.startswith("220 vigie test FTP (TLSv1.3), logged in as")
    assert "certificate expires in 36" in outcome.summary
    assert ";30:;7:" in outcome.status_line


def test_ftps_without_the_ca_is_not_trusted(ftps):
    outcome = run("-H", ftps.host, "-p", str(ftps.port), "--tls")
    assert outcome.state == 2
    assert "TLS certificate not trusted: unable to get local issuer certificate" in outcome.text
    assert run("-H", ftps.host, "-p", str(ftps.port), "--tls", "--insecure").state == 0


def test_ftps_soon_expiring_certificate_warns(ftps_expiring, certificates):
    where = ("-H", ftps_expiring.host, "-p", str(ftps_expiring.port), "--tls", "--ca-file",
             str(certificates.ca))  # fmt: skip
    outcome = run(*where, "-D", "30,7")
    assert outcome.state == 1, outcome.text
    assert "certificate expires in 10.0 days < 30 days" in outcome.text
    assert run(*where, "-D", "30,11").state == 2
    assert run(*where, "-D", "5").state == 0


def test_ftps_expired_certificate_is_critical(ftps_expired, certificates):
    outcome = run("-H", ftps_expired.host, "-p", str(ftps_expired.port), "--tls", "--ca-file",
                  str(certificates.ca), "-C", "30")  # fmt: skip
    assert outcome.state == 2
    assert "TLS certificate not trusted: certificate has expired" in outcome.text


def test_auth_tls_refused_by_a_plain_server_is_critical(vsftpd):
    outcome = run("-H", vsftpd.host, "-p", str(vsftpd.port), "--tls", "--insecure")
    assert outcome.state == 2
    assert "AUTH TLS: 530" in outcome.text


def test_vsftpd_stopped_is_critical():
    with own_vsftpd() as server:
        assert run("-H", server.host, "-p", str(server.port)).state == 0
        server.stop()
        outcome = run("-H", server.host, "-p", str(server.port))
        assert outcome.text == f"FTP CRITICAL - 127.0.0.1 port {server.port}: connection refused\n"


# --- fakes and failures -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "message"),
    [(b"421 Too many users, try later\r\n", "greets with 421 Too many users, try later, not 220"),
     (b"554 No service\r\n", "greets with 554 No service, not 220"),
     (b"120 Ready in 5 minutes\r\n", "greets with 120 Ready in 5 minutes, not 220"),
     (GARBAGE, "does not speak FTP: it sent 'HTTP/1.1 400 Bad Request'"),
     (b"", "the server closed the connection (waiting for the greeting)")],
)  # fmt: skip
def test_what_is_not_a_220_greeting_is_critical(fake, script, message):
    server = fake(script)
    assert_one_line(run("-H", server.host, "-p", str(server.port)), 2, message)


def test_a_multiline_greeting_is_ok(fake):
    server = fake(MULTILINE.replace("\n", "\r\n").encode() + b"\r\n")
    outcome = run("-H", server.host, "-p", str(server.port), "-e", "Be nice")
    assert outcome.state == 0, outcome.text
    assert outcome.summary.startswith("220 Welcome to the archive on")


def test_ipv6_and_the_host_as_last_argument(fake):
    server = fake(b"220 fake over IPv6\r\n", host="::1")
    outcome = run("-6", "-p", str(server.port), "::1")
    assert outcome.state == 0, outcome.text
    assert outcome.summary.startswith(f"220 fake over IPv6 on ::1 port {server.port} in ")
    assert run("-4", "-p", str(server.port), "::1").state == 3


def test_no_greeting_within_the_timeout_is_critical(fake):
    server = fake(b"220 late\r\n", delay=3)
    started = time.monotonic()
    outcome = run("-H", server.host, "-p", str(server.port), "-t", "1")
    assert time.monotonic() - started < 1.6
    assert outcome.state == 2, outcome.text
    assert f"127.0.0.1 port {server.port}: no FTP greeting within 1 s" in outcome.text


def test_connection_refused_is_critical():
    port = free_port()
    outcome = run("-H", "127.0.0.1", "-p", str(port))
    assert outcome.text == f"FTP CRITICAL - 127.0.0.1 port {port}: connection refused\n"


def test_a_server_stopping_during_the_login_is_critical(scripted, tmp_path):
    server = scripted(b"220 fake\r\n", {"USER": b"331 Password\r\n", "PASS": CLOSE})
    credentials = tmp_path / "ftp.cred"
    credentials.write_text("username = monitor\npassword = x\n")
    credentials.chmod(0o600)
    outcome = run("-H", server.host, "-p", str(server.port), "--credentials", str(credentials))
    assert outcome.state == 2, outcome.text
    assert "the server closed the connection (login as 'monitor')" in outcome.text


def test_a_data_channel_that_cannot_connect_is_critical(scripted, tmp_path):
    nowhere = free_port()
    pasv = f"227 Entering Passive Mode (127,0,0,1,{nowhere // 256},{nowhere % 256})\r\n"
    server = scripted(b"220 fake\r\n", {"USER": b"331 Password\r\n", "PASS": b"230 In\r\n",
                                        "TYPE": b"200 A\r\n", "PASV": pasv.encode(),
                                        "QUIT": b"221 Bye\r\n"})  # fmt: skip
    credentials = tmp_path / "ftp.cred"
    credentials.write_text("username = monitor\npassword = x\n")
    credentials.chmod(0o600)
    outcome = run("-H", server.host, "-p", str(server.port), "--credentials", str(credentials),
                  "--passive-test")  # fmt: skip
    assert outcome.state == 2, outcome.text
    assert "the passive data channel (PASV and NLST): connection refused" in outcome.text


@pytest.mark.parametrize(
    ("args", "message"),
    [(["-H", "no-such-host.invalid"], "cannot resolve 'no-such-host.invalid'"),
     ([], "no host given: use -H HOST"),
     (["-H", "127.0.0.1", "--passive-test"], "--passive-test needs --credentials"),
     (["-H", "127.0.0.1", "-C", "30"], "-C/-D need --tls"),
     (["-H", "127.0.0.1", "--tls", "--insecure", "-D", "30"], "need a verified certificate"),
     (["-H", "127.0.0.1", "-D", "soon"], "'soon' is not days[,days]"),
     (["-H", "127.0.0.1", "-S"], "unrecognized arguments: -S"),
     (["-H", "127.0.0.1", "-M", "maybe"], "invalid choice: 'maybe'")],
)  # fmt: skip
def test_wrong_use_is_unknown(args, message):
    outcome = run(*args)
    assert outcome.state == 3
    assert message in outcome.text
