"""The deadline-bound runners: every answer that comes in time, None for the rest."""

from __future__ import annotations

import _thread
import threading
import time

import pytest

from checks.core.threads import answer_each_within, answer_within


@pytest.fixture
def stuck():
    """What a hung call waits on; set when the test ends, so that no thread is left."""
    event = threading.Event()
    yield event
    event.set()


def test_answer_within_runs_all_at_once_and_leaves_the_late_behind(stuck):
    calls = [lambda: 1, lambda: stuck.wait() and 2, lambda: 1 / 0]
    started = time.monotonic()
    answers = answer_within(calls, 0.2)
    assert time.monotonic() - started < 1
    assert answers[0] == 1
    assert answers[1] is None
    assert isinstance(answers[2], ZeroDivisionError)


def test_instant_calls_share_one_worker_or_few():
    threads: set[int] = set()

    def call(item: int) -> int:
        threads.add(_thread.get_ident())
        return item * 2

    answers = answer_each_within(call, range(2000), 5)
    assert answers == [item * 2 for item in range(2000)]
    assert _thread.get_ident() not in threads  # the calling thread only watches
    assert len(threads) < 200  # a thread per call was 2000 (a loaded machine may stall some)


def test_hung_calls_are_none_and_every_other_item_is_still_answered(stuck):
    hung = {3, 4, 5, 6, 7, 40}  # a run of hung mounts, and one further on

    def call(item: int) -> int:
        if item in hung:
            stuck.wait()
        if item == 10:
            raise PermissionError(13, "Permission denied")
        return item

    started = time.monotonic()
    answers = answer_each_within(call, list(range(60)), 0.5)
    took = time.monotonic() - started
    assert 0.5 <= took < 1.5
    for item, answer in enumerate(answers):
        if item in hung:
            assert answer is None
        elif item == 10:
            assert isinstance(answer, PermissionError)
        else:
            assert answer == item


def test_a_late_answer_never_changes_what_was_returned(stuck):

    def call(item: int) -> int:
        if item == 0:
            stuck.wait()
        return item

    answers = answer_each_within(call, [0, 1], 0.1)
    stuck.set()
    time.sleep(0.05)
    assert answers == [None, 1]


@pytest.mark.parametrize("timeout", [0, 0.05])
def test_nothing_to_do_or_no_time(stuck, timeout):
    assert answer_each_within(lambda item: item, [], timeout) == []
    assert answer_each_within(lambda item: stuck.wait(), [1, 2], timeout) == [None, None]
