"""check_postfix: postqueue -j and SMTP replies parsed, then a real Postfix and fakes.

The real server is a Postfix instance of the tests (tests/servers/postfix.py) whose mail
for an unreachable relay stays deferred, some of it put on hold; its smtpd ports offer
STARTTLS with a valid, a soon-expiring and an expired certificate, or no STARTTLS. Fakes
(tests/servers/line_fake.py, ssh_fake.py) greet with 554, refuse EHLO, close mid-way,
send garbage or nothing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from checks.core.errors import ParseError
from checks.core.runtime import Outcome
from checks.mail._smtp import extensions, parse_reply
from checks.mail.postfix import PLUGIN, parse_postqueue
from tests.helpers.contract import assert_conforms, assert_one_line
from tests.helpers.mutations import every_damage_answers_cleanly, every_damage_parses_or_refuses
from tests.helpers.stub_tools import printing
from tests.servers.line_fake import CLOSE
from tests.servers.ports import free_port
from tests.servers.postfix import running
from tests.servers.ssh_fake import GARBAGE

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "postfix"
POSTQUEUE = (FIXTURES / "postqueue-j-deferred-and-hold.jsonl").read_text()
GREETING = (FIXTURES / "greeting.txt").read_text()
EHLO = (FIXTURES / "ehlo.txt").read_text()
#: An empty queue, for the cases that judge only the SMTP part of fakes.
NO_QUEUE = ("--postqueue", "/bin/true")


def run(*args: str) -> Outcome:
    outcome = PLUGIN.run(list(args))
    assert_conforms("postfix", outcome.state, outcome.text)
    return outcome


# --- postqueue -j -------------------------------------------------------------------------


def test_postqueue_json_is_counted_per_queue():
    queue = parse_postqueue(POSTQUEUE)
    assert queue.counts == {"maildrop": 0, "incoming": 0, "active": 0, "deferred": 2, "hold": 1}
    assert queue.total == 3
    arrivals = [json.loads(line)["arrival_time"] for line in POSTQUEUE.splitlines()]
    assert queue.oldest == min(arrivals)


def test_an_empty_queue_and_other_queue_names():
    assert parse_postqueue("").total == 0
    assert parse_postqueue("").oldest is None
    queue = parse_postqueue('{"queue_name": "corrupt", "arrival_time": 5}\n')
    assert (queue.total, queue.counts["corrupt"], queue.oldest) == (1, 1, 5)


@pytest.mark.parametrize(
    ("text", "message"),
    [("postqueue: fatal: no\n", "line 1 is not JSON"),
     ("[1, 2]\n", "line 1 is not a JSON object"),
     ('{"arrival_time": 1}\n', "line 1 has no queue_name"),
     ('{"queue_name": "active"}\n', "line 1 has no numeric arrival_time"),
     ('{"queue_name": "active", "arrival_time": true}\n', "no numeric arrival_time")],
)  # fmt: skip
def test_what_is_not_postqueue_json_is_refused(text, message):
    with pytest.raises(ParseError, match=message):
        parse_postqueue(text)


def test_damaged_postqueue_output_parses_or_is_refused():
    every_damage_parses_or_refuses(parse_postqueue, POSTQUEUE, examples=150)


def test_the_check_on_damaged_postqueue_output_answers_cleanly(tmp_path):
    def run_on(text: str) -> Outcome:
        stub = printing(tmp_path / "postqueue", text)
        return PLUGIN.run(["--no-smtp", "--postqueue", str(stub)])

    every_damage_answers_cleanly("postfix", run_on, POSTQUEUE, examples=30, states=(0, 3))


# --- SMTP replies -------------------------------------------------------------------------


def test_postfix_greeting_and_ehlo_are_parsed():
    greeting = parse_reply(GREETING)
    assert (greeting.code, greeting.first) == (220, "220 vigie-test.localdomain ESMTP vigie test")
    ehlo = parse_reply(EHLO)
    assert ehlo.code == 250
    assert {"STARTTLS", "PIPELINING", "SIZE", "CHUNKING"} <= extensions(ehlo)


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "closed the connection without sending anything"),
     ("HTTP/1.1 400 Bad Request\r\n", "not an SMTP reply"),
     ("250-a\r\n251 b\r\n", "not an SMTP reply"),
     ("250-a\r\n250-b\r\n", "ends without its last line"),
     ("220 a\r\n220 b\r\n", "text after the end of the reply"),
     ("22 short\r\n", "not an SMTP reply")],
)  # fmt: skip
def test_what_is_not_an_smtp_reply_is_refused(text, message):
    with pytest.raises(ParseError, match=message):
        parse_reply(text)


@pytest.mark.parametrize("text", [GREETING, EHLO])
def test_damaged_replies_parse_or_are_refused(text):
    every_damage_parses_or_refuses(parse_reply, text, examples=100)


# --- the real Postfix ---------------------------------------------------------------------


@pytest.fixture
def queued(postfix):
    """The Postfix instance with 3 deferred messages, one of them then put on hold."""
    postfix.flush_all()
    postfix.send(3)
    postfix.wait_until("deferred", 3)
    postfix.hold(1)
    yield postfix
    postfix.flush_all()


def test_an_empty_queue_and_a_greeting_are_ok(postfix):
    postfix.flush_all()
    outcome = run("-H", postfix.host, "-p", str(postfix.port), "--config-dir", str(postfix.config))
    assert outcome.state == 0, outcome.text
    assert outcome.summary.startswith(
        f"queue empty; 220 vigie-test.localdomain ESMTP vigie test on 127.0.0.1 port "
        f"{postfix.port} in "
    )
    assert "deferred=0;;;0" in outcome.status_line


def test_a_real_queue_is_counted_and_judged(queued):
    where = ("-H", queued.host, "-p", str(queued.port), "--config-dir", str(queued.config))
    outcome = run(*where)
    assert outcome.state == 0, outcome.text
    assert outcome.summary.startswith("3 messages queued (deferred 2, hold 1), the oldest ")
    assert "deferred=2;;;0 hold=1;;;0 total=3;;;0" in outcome.status_line
    outcome = run(*where, "--warning-deferred", "1", "--critical-total", "2")
    assert outcome.state == 2, outcome.text
    assert "3 messages queued > 2, 2 deferred > 1" in outcome.summary
    outcome = run(*where, "--warning-age", "0.001s", "--critical-age", "1d")
    assert outcome.state == 1, outcome.text
    assert "the oldest message" in outcome.summary
    assert run(*where, "--no-smtp", "--warning-hold", "0").state == 1


def test_starttls_with_a_valid_certificate(postfix, certificates):
    tls = ("-S", "--ca-file", str(certificates.ca), "-D", "30,7")
    outcome = run("-H", postfix.host, "-p", str(postfix.port), "--config-dir",
                  str(postfix.config), *tls)  # fmt: skip
    assert outcome.state == 0, outcome.text
    assert "ESMTP vigie test (TLSv1.3) on 127.0.0.1" in outcome.summary
    assert "certificate expires in 36" in outcome.summary


@pytest.mark.parametrize(
    ("port", "state", "message"),
    [("soon_port", 1, "certificate expires in 10.0 days < 30 days"),
     ("expired_port", 2, "TLS certificate not trusted: certificate has expired"),
     ("plain_port", 1, "does not offer STARTTLS")],
)  # fmt: skip
def test_starttls_problems(postfix, certificates, port, state, message):
    outcome = run("-H", postfix.host, "-p", str(getattr(postfix, port)), "--config-dir",
                  str(postfix.config), "-S", "--ca-file", str(certificates.ca))  # fmt: skip
    if port == "soon_port":
        assert outcome.state == 0, outcome.text
        tls = ("-S", "--ca-file", str(certificates.ca), "-D", "30")
        outcome = run("-H", postfix.host, "-p", str(postfix.soon_port), "--config-dir",
                      str(postfix.config), *tls)  # fmt: skip
    assert outcome.state == state, outcome.text
    assert message in outcome.text


def test_an_untrusted_certificate_is_critical(postfix):
    outcome = run("-H", postfix.host, "-p", str(postfix.port), "--config-dir",
                  str(postfix.config), "-S")  # fmt: skip
    assert outcome.state == 2
    assert "TLS certificate not trusted: unable to get local issuer certificate" in outcome.text


def test_postfix_stopped_is_critical_and_its_queue_still_read(certificates):
    with running(certificates) as server:
        server.send(2)
        server.wait_until("deferred", 2)
        where = ("-H", server.host, "-p", str(server.port), "--config-dir", str(server.config))
        assert run(*where).state == 0
        server.postfix("stop")
        outcome = run(*where)
        assert outcome.text == (
            f"POSTFIX CRITICAL - 127.0.0.1 port {server.port}: connection refused\n"
        )
        # As root, postqueue reads the queue of a stopped Postfix directly.
        outcome = run(*where, "--no-smtp", "--critical-deferred", "1")
        assert outcome.state == 2, outcome.text
        assert outcome.summary == "2 deferred > 1"


def test_postqueue_failing_is_unknown(tmp_path):
    outcome = run("--no-smtp", "--config-dir", str(tmp_path))
    assert outcome.state == 3
    assert f"postqueue -c {tmp_path} -j failed: postqueue: fatal: open {tmp_path}/main.cf" in (
        outcome.text
    )
    garbage = printing(tmp_path / "postqueue", "Mail queue is empty\n")
    outcome = run("--no-smtp", "--postqueue", str(garbage))
    assert outcome.state == 3
    assert "postqueue -j line 1 is not JSON: 'Mail queue is empty'" in outcome.text


# --- fakes and failures -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "message"),
    [(b"554 5.3.2 No SMTP service here\r\n", "greets with 554 5.3.2 No SMTP service here, not 220"),
     (b"421 4.3.2 Service not available\r\n", "greets with 421 4.3.2 Service not available"),
     (GARBAGE, "SMTP greeting: not an SMTP reply: 'HTTP/1.1 400 Bad Request'"),
     (b"", "SMTP greeting: the server closed the connection without sending anything")],
)  # fmt: skip
def test_what_is_not_a_220_greeting_is_critical(fake, script, message):
    server = fake(script)
    assert_one_line(run("-H", server.host, "-p", str(server.port), *NO_QUEUE), 2, message)


def test_ehlo_refused_is_critical(scripted):
    server = scripted(b"220 fake ESMTP\r\n", {"EHLO": b"502 5.5.1 EHLO not supported\r\n"})
    outcome = run("-H", server.host, "-p", str(server.port), *NO_QUEUE, "-F", "monitor.example")
    assert outcome.state == 2, outcome.text
    assert "answered EHLO with 502 5.5.1 EHLO not supported" in outcome.text
    assert server.heard[0] == "EHLO monitor.example"


def test_a_server_stopping_mid_dialogue_is_critical(scripted):
    server = scripted(b"220 fake ESMTP\r\n", {"EHLO": b"250-fake\r\n250 STARTTLS\r\n",
                                              "STARTTLS": CLOSE})  # fmt: skip
    outcome = run("-H", server.host, "-p", str(server.port), *NO_QUEUE, "-S", "--insecure")
    assert outcome.state == 2, outcome.text
    assert "answer to STARTTLS: the server closed the connection" in outcome.text


def test_expect_text_in_the_greeting(scripted):
    server = scripted(b"220 fake ESMTP Exim\r\n", {"EHLO": b"250 fake\r\n", "QUIT": b"221 x\r\n"})
    assert run("-H", server.host, "-p", str(server.port), *NO_QUEUE, "-e", "Exim").state == 0
    outcome = run("-H", server.host, "-p", str(server.port), *NO_QUEUE, "-e", "Postfix")
    assert outcome.state == 1
    assert "greeting 220 fake ESMTP Exim lacks 'Postfix'" in outcome.text


def test_no_greeting_within_the_timeout_is_critical(fake):
    server = fake(b"220 late\r\n", delay=3)
    started = time.monotonic()
    outcome = run("-H", server.host, "-p", str(server.port), *NO_QUEUE, "-t", "1")
    assert time.monotonic() - started < 1.6
    assert outcome.state == 2, outcome.text
    assert "no SMTP greeting within 1 s" in outcome.text


def test_connection_refused_is_critical():
    port = free_port()
    outcome = run("-H", "127.0.0.1", "-p", str(port), *NO_QUEUE)
    assert outcome.text == f"POSTFIX CRITICAL - 127.0.0.1 port {port}: connection refused\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [([], "no host given: use -H HOST"),
     (["-H", "127.0.0.1", "-D", "30"], "-D needs -S"),
     (["-H", "127.0.0.1", "-S", "--insecure", "-D", "30"], "-D needs a verified certificate"),
     (["-H", "127.0.0.1", "--critical-deferred", "x"], "--critical-deferred"),
     (["-H", "127.0.0.1", "-C", "HELO x"], "unrecognized arguments: -C")],
)  # fmt: skip
def test_wrong_use_is_unknown(args, message):
    outcome = run(*args, *NO_QUEUE)
    assert outcome.state == 3
    assert message in outcome.text
