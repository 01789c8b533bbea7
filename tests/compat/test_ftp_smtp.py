"""check_ftp and check_postfix beside Debian's C check_ftp and check_smtp: same targets,
same arguments, same state.

The targets are the real vsftpd and Postfix of the tests (tests/servers/vsftpd.py,
postfix.py) and fake servers on loopback. Each case runs the C plugin first, then vigie's,
with the same arguments; vigie's check_postfix also gets ``--config-dir`` (its queue part,
which check_smtp has not) and, for STARTTLS, ``--ca-file`` with the tests' CA (vigie
verifies certificates, check_smtp never does). Where vigie deliberately differs, the case
says so and asserts both states.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import c_plugin, executable
from tests.helpers.compat import perf_value, same_state
from tests.servers.ports import free_port
from tests.servers.postfix import Postfix
from tests.servers.ssh_fake import GARBAGE

pytestmark = pytest.mark.integration
OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
Result = subprocess.CompletedProcess[str]


def both(c_name: str, vigie_name: str, args: tuple[str, ...],
         vigie_extra: tuple[str, ...] = ()) -> tuple[Result, Result]:  # fmt: skip
    """Run the C plugin with ``args``, then vigie's with ``args`` and ``vigie_extra``."""
    results = [
        subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        for argv in ([c_plugin(c_name), *args], [executable(vigie_name), *args, *vigie_extra])
    ]
    return results[0], results[1]


# --- check_ftp ----------------------------------------------------------------------------


def ftp(*args: str) -> tuple[Result, Result]:
    return both("check_ftp", "check_ftp", args)


def test_ftp_vsftpd_is_ok(vsftpd):
    c_result, vigie_result = ftp("-H", vsftpd.host, "-p", str(vsftpd.port))
    same_state(c_result, vigie_result, OK)
    assert "220 vigie test FTP" in c_result.stdout
    assert "220 vigie test FTP" in vigie_result.stdout
    # Both time connect to greeting; on loopback a few ms apart at most.
    assert perf_value(vigie_result.stdout, "time") == pytest.approx(
        perf_value(c_result.stdout, "time"), abs=0.05
    )


def test_ftp_response_time_thresholds(vsftpd):
    where = ("-H", vsftpd.host, "-p", str(vsftpd.port))
    same_state(*ftp(*where, "-w", "0.000001", "-c", "10"), WARNING)
    same_state(*ftp(*where, "-w", "0.000001", "-c", "0.000002"), CRITICAL)
    same_state(*ftp(*where, "-w", "5", "-c", "10"), OK)


def test_ftp_expect_text(vsftpd):
    where = ("-H", vsftpd.host, "-p", str(vsftpd.port))
    same_state(*ftp(*where, "-e", "vigie test"), OK)
    same_state(*ftp(*where, "-e", "ProFTPD"), WARNING)
    same_state(*ftp(*where, "-e", "ProFTPD", "-M", "crit"), CRITICAL)


def test_ftp_refused_and_unresolvable():
    same_state(*ftp("-H", "127.0.0.1", "-p", str(free_port())), CRITICAL)
    # Deliberate difference (checks.core.net, as every vigie network check): a name that
    # does not resolve is UNKNOWN, a broken resolver must not page as a host down; the C
    # check_ftp (check_tcp) says CRITICAL there, check_ssh and check_smtp UNKNOWN.
    c_result, vigie_result = ftp("-H", "no-such-host.invalid")
    assert (c_result.returncode, vigie_result.returncode) == (CRITICAL, UNKNOWN)


def test_ftp_silent_server(fake):
    server = fake(b"220 late\r\n", delay=5)
    same_state(*ftp("-H", server.host, "-p", str(server.port), "-t", "2"), CRITICAL)


@pytest.mark.parametrize("script", [b"421 Too many users\r\n", GARBAGE])
def test_ftp_greeting_other_than_220_vigie_is_stricter(fake, script):
    # Deliberate difference: the C plugin reads a 421 (or an HTTP server) as an expect
    # mismatch, WARNING; vigie says CRITICAL: the FTP service is not there for users.
    server = fake(script)
    c_result, vigie_result = ftp("-H", server.host, "-p", str(server.port))
    assert (c_result.returncode, vigie_result.returncode) == (WARNING, CRITICAL), (
        c_result.stdout,
        vigie_result.stdout,
    )


# --- check_postfix's SMTP part beside check_smtp ------------------------------------------


def smtp(postfix: Postfix, port: int, *args: str, tls_ca: str | None = None,
         ) -> tuple[Result, Result]:  # fmt: skip
    extra: tuple[str, ...] = ("--config-dir", str(postfix.config))
    if tls_ca:
        extra += ("--ca-file", tls_ca)
    return both("check_smtp", "check_postfix", ("-H", postfix.host, "-p", str(port), *args),
                extra)  # fmt: skip


def test_smtp_postfix_is_ok(postfix):
    c_result, vigie_result = smtp(postfix, postfix.port)
    same_state(c_result, vigie_result, OK)
    assert "220 vigie-test.localdomain ESMTP vigie test" in vigie_result.stdout


def test_smtp_expect_and_response_time(postfix):
    same_state(*smtp(postfix, postfix.port, "-e", "ESMTP vigie"), OK)
    same_state(*smtp(postfix, postfix.port, "-e", "Exim"), WARNING)
    same_state(*smtp(postfix, postfix.port, "-w", "0.000001", "-c", "10"), WARNING)
    same_state(*smtp(postfix, postfix.port, "-w", "0.000001", "-c", "0.000002"), CRITICAL)


@pytest.mark.parametrize(
    ("port", "state"),
    [("port", OK), ("soon_port", WARNING), ("expired_port", CRITICAL)],
)
def test_smtp_starttls_certificate_days(postfix, certificates, port, state):
    c_result, vigie_result = smtp(postfix, getattr(postfix, port), "-S", "-D", "30,7",
                                  tls_ca=str(certificates.ca))  # fmt: skip
    same_state(c_result, vigie_result, state)


def test_smtp_starttls_not_offered(postfix):
    same_state(*smtp(postfix, postfix.plain_port, "-S"), WARNING)


def test_smtp_refused_and_silent(postfix, fake):
    same_state(*smtp(postfix, free_port()), CRITICAL)
    same_state(*both("check_smtp", "check_postfix", ("-H", "no-such-host.invalid"),
                     ("--config-dir", str(postfix.config))), UNKNOWN)  # fmt: skip
    server = fake(b"220 late\r\n", delay=5)
    same_state(*smtp(postfix, server.port, "-t", "2"), CRITICAL)


def test_smtp_554_greeting_vigie_is_stricter(postfix, fake):
    # Deliberate difference: a 554 greeting is a server refusing service (RFC 5321 3.1);
    # the C plugin reads it as an expect mismatch, WARNING; vigie says CRITICAL.
    server = fake(b"554 5.3.2 No SMTP service here\r\n")
    c_result, vigie_result = smtp(postfix, server.port)
    assert (c_result.returncode, vigie_result.returncode) == (WARNING, CRITICAL), (
        c_result.stdout,
        vigie_result.stdout,
    )
