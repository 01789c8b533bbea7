"""The failures every status-page check over HTTP meets the same way, as one parametrised test.

check_apache, check_tomcat and check_elasticsearch all fetch their page with curl
(``checks.core.web``): a refused port, a server that never answers and one answering bytes
that are not HTTP end the same for each of them, CRITICAL with curl's words after
``127.0.0.1 port N:``. A test module runs them all with::

    @pytest.mark.parametrize("failure", HTTP_FAILURES)
    def test_a_failing_server_is_critical(failure):
        failure(run)

where ``run`` runs the check on its arguments (and asserts the output grammar).
:func:`damaged_pages_served` serves damaged captures of a status page from the fake
Elasticsearch (any page, any content type) and wants each judged or one clear UNKNOWN line.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.core.runtime import Outcome, Plugin
from tests.helpers.mutations import answers_cleanly, damaged
from tests.servers.elasticsearch_fake import FakeElasticsearch, garbage_server
from tests.servers.loopback import silent_server
from tests.servers.ports import free_port

#: Runs a check on its command-line arguments.
Runner = Callable[..., Outcome]


def connection_refused_is_critical(run: Runner) -> None:
    port = free_port()
    outcome = run("-H", "127.0.0.1", "-p", str(port))
    assert outcome.state == 2, outcome.text
    assert outcome.summary == f"127.0.0.1 port {port}: connection refused"


def a_server_that_never_answers_ends_within_the_timeout(run: Runner) -> None:
    with silent_server() as port:
        started = time.monotonic()
        outcome = run("-H", "127.0.0.1", "-p", str(port), "-t", "1")
    assert time.monotonic() - started < 1.6
    assert outcome.state == 2, outcome.text
    assert outcome.summary.startswith(f"127.0.0.1 port {port}: Operation timed out after ")


def a_server_answering_garbage_is_critical(run: Runner) -> None:
    with garbage_server() as port:
        outcome = run("-H", "127.0.0.1", "-p", str(port))
    assert outcome.state == 2, outcome.text
    assert outcome.summary == f"127.0.0.1 port {port}: Received HTTP/0.9 when not allowed"


HTTP_FAILURES = [
    pytest.param(failure, id=failure.__name__)
    for failure in (
        connection_refused_is_critical,
        a_server_that_never_answers_ends_within_the_timeout,
        a_server_answering_garbage_is_critical,
    )
]


def critical_once_stopped(check: Callable[[], Outcome], stop: Callable[[], None]) -> Outcome:
    """Run ``check`` on a live server (OK), ``stop`` it, run it again: CRITICAL, returned for
    the caller's assertions on its words."""
    assert check().state == 0
    stop()
    outcome = check()
    assert outcome.state == 2, outcome.text
    return outcome


def damaged_pages_served(
    plugin: Plugin, server: FakeElasticsearch, pages: list[str], content_type: str, *args: str
) -> None:
    """``plugin`` run on damaged copies of ``pages`` served by ``server`` judges each or says
    UNKNOWN in one line (30 examples)."""

    @settings(max_examples=30, deadline=None)
    @given(st.sampled_from(pages).flatmap(damaged))
    def check(page: str) -> None:
        server.answers["/damaged"] = (200, page.encode(), content_type)
        argv = ["-H", "127.0.0.1", "-p", str(server.port), "-u", "/damaged", *args]
        outcome = plugin.run(argv)
        answers_cleanly(plugin.name, outcome)
        if outcome.state == 3:
            assert outcome.text.count("\n") == 1, outcome.text

    check()
