"""check_qmail: qmail-qstat output parsed, then a stub qmail-qstat on PATH and the real
Postfix of the tests (tests/servers/postfix.py) for the SMTP part (qmail is not in Debian).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from checks.core.errors import ParseError
from checks.core.runtime import Outcome
from checks.mail.qmail import PLUGIN, parse_qstat
from tests.helpers.contract import assert_conforms
from tests.helpers.mutations import every_damage_answers_cleanly, every_damage_parses_or_refuses
from tests.helpers.stub_tools import printing

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "qmail"
BACKLOG = (FIXTURES / "qstat-backlog.txt").read_text()


def run(*args: str) -> Outcome:
    outcome = PLUGIN.run(list(args))
    assert_conforms("qmail", outcome.state, outcome.text)
    return outcome


@pytest.fixture
def qstat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Put a qmail-qstat printing a fixture (or anything) first on PATH."""

    def install(fixture: str | None = None, script: str = "") -> Path:
        path: Path = tmp_path / "qmail-qstat"
        body = f"cat '{FIXTURES / fixture}'" if fixture else script
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
        monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
        return path

    return install


@pytest.mark.parametrize(
    ("fixture", "counts"),
    [("qstat-empty.txt", {"queue": 0, "unprocessed": 0}),
     ("qstat-3-queued.txt", {"queue": 3, "unprocessed": 0}),
     ("qstat-backlog.txt", {"queue": 1542, "unprocessed": 87})],
)  # fmt: skip
def test_qstat_outputs_are_read(fixture, counts):
    assert parse_qstat((FIXTURES / fixture).read_text()) == counts


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "did not print 'messages in queue:' or 'messages in queue but not yet"),
     ("messages in queue: 3\n", "did not print 'messages in queue but not yet preprocessed:'"),
     ("messages in queue: x\nmessages in queue but not yet preprocessed: 0\n",
      "unexpected line: 'messages in queue: x'"),
     ("messages in queue: 1\nmessages in queue: 2\n", "printed 'messages in queue:' twice"),
     ("/var/qmail/queue: Permission denied\n", "unexpected line")],
)  # fmt: skip
def test_what_is_not_qstat_output_is_refused(text, message):
    with pytest.raises(ParseError, match=message):
        parse_qstat(text)


def test_damaged_qstat_output_parses_or_is_refused():
    every_damage_parses_or_refuses(parse_qstat, BACKLOG, examples=150)


def test_the_check_on_damaged_qstat_output_answers_cleanly(tmp_path):
    def run_on(text: str) -> Outcome:
        stub = printing(tmp_path / "qmail-qstat", text)
        return PLUGIN.run(["--no-smtp", "--qmail-qstat", str(stub)])

    every_damage_answers_cleanly("qmail", run_on, BACKLOG, examples=30, states=(0, 3))


def test_queue_only_with_thresholds(qstat):
    qstat("qstat-backlog.txt")
    outcome = run("--no-smtp")
    assert outcome.state == 0, outcome.text
    assert outcome.text.startswith(
        "QMAIL OK - 1542 messages in queue, 87 not yet preprocessed | queue=1542;;;0 "
        "unprocessed=87;;;0\n"
    )
    outcome = run("--no-smtp", "--warning-queue", "1000", "--critical-unprocessed", "50")
    assert outcome.state == 2, outcome.text
    assert "87 not yet preprocessed > 50, 1542 messages in queue > 1000" in outcome.text


def test_queue_and_smtp_of_the_real_postfix(qstat, postfix):
    qstat("qstat-3-queued.txt")
    outcome = run("-H", postfix.host, "-p", str(postfix.port), "-w", "5", "-c", "9")
    assert outcome.state == 0, outcome.text
    assert outcome.summary.startswith(
        "3 messages in queue, 0 not yet preprocessed; 220 vigie-test.localdomain ESMTP vigie "
        f"test on 127.0.0.1 port {postfix.port} in "
    )
    assert "time=" in outcome.status_line


def test_smtp_problems_are_judged_with_the_queue(qstat, postfix):
    qstat("qstat-3-queued.txt")
    outcome = run("-H", postfix.host, "-p", str(postfix.plain_port), "-S",
                  "--critical-queue", "2")  # fmt: skip
    assert outcome.state == 2, outcome.text
    assert "3 messages in queue > 2" in outcome.summary
    assert "does not offer STARTTLS" in outcome.summary


@pytest.mark.parametrize(
    ("script", "message"),
    [("echo 'ls: cannot open directory /var/qmail/queue/mess: Permission denied' >&2; exit 1",
      "qmail-qstat failed: ls: cannot open directory /var/qmail/queue/mess: Permission denied"),
     ("echo garbage", "qmail-qstat printed an unexpected line: 'garbage'")],
)  # fmt: skip
def test_qstat_failing_is_unknown(qstat, script, message):
    qstat(script=script)
    outcome = run("--no-smtp")
    assert outcome.state == 3, outcome.text
    assert message in outcome.text


def test_qstat_missing_is_unknown(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    outcome = run("--no-smtp", "--qmail-qstat", "qmail-qstat-absent")
    assert outcome.state == 3
    assert "qmail-qstat-absent is not installed" in outcome.text
