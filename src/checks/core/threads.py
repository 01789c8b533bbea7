"""Calls that may hang (``statvfs`` on a dead NFS server, a DNS lookup, a socket without
a timeout), waited for only until a deadline.

Two shapes of work: :func:`answer_within` runs calls that each wait on the network side
by side, one thread each; :func:`answer_each_within` runs calls that are normally
instant (a ``statvfs``) one after another in as few threads as the hung ones leave
necessary. The threads come from ``_thread``, which the runtime has loaded already;
``threading`` would cost every run its import.
"""

from __future__ import annotations

import _thread
import time
from collections.abc import Callable, Sequence

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    Item = TypeVar("Item")

#: Seconds without any answer after which :func:`answer_each_within` takes the calls
#: still waiting to fresh threads: far above a healthy ``statvfs`` (microseconds, a
#: millisecond over NFS), far below any deadline worth setting.
STALL = 0.01


def answer_within(
    calls: Sequence[Callable[[], object]], timeout: float
) -> list[object | BaseException | None]:
    """Run every call in its own thread, all at once; what each returned or raised.

    A call that has not finished ``timeout`` seconds after the start is reported as None
    and left behind: a call stuck on a dead server cannot be cancelled, only not waited
    for (the process exits without it).
    """
    answers: list[object | BaseException | None] = [None] * len(calls)
    locks = []

    def work(index: int, call: Callable[[], object], done: _thread.LockType) -> None:
        try:
            answers[index] = call()
        except BaseException as error:  # reported to the caller, not lost
            answers[index] = error
        finally:
            done.release()

    for index, call in enumerate(calls):
        done = _thread.allocate_lock()
        done.acquire()
        _thread.start_new_thread(work, (index, call, done))
        locks.append(done)
    deadline = time.monotonic() + timeout
    late = set()
    for index, done in enumerate(locks):
        if not done.acquire(timeout=max(deadline - time.monotonic(), 0)):
            late.add(index)
    return [None if index in late else answer for index, answer in enumerate(answers)]


def answer_each_within(
    call: Callable[[Item], object], items: Sequence[Item], timeout: float
) -> list[object | BaseException | None]:
    """``call(item)`` for every item, what each returned or raised, within ``timeout``.

    A thread per call costs tens of microseconds, a ``statvfs`` a few: for hundreds of
    mounts the threads were the check's main cost. So one worker thread takes the items
    in turn while the calling thread only watches. When no answer has come for
    :data:`STALL` seconds, some worker is stuck (a hung mount): as many fresh workers as
    there are workers are started (doubling, so that a run of hung mounts costs a few
    stalls, not one each), and they take the items nobody has taken yet. An item not
    answered ``timeout`` seconds after the start is reported as None and left behind, as
    in :func:`answer_within`; workers take no new item once the deadline has passed.
    """
    count = len(items)
    answers: list[object | BaseException | None] = [None] * count
    if not count:
        return answers
    guard = _thread.allocate_lock()  # held to take an item or to record an answer
    all_answered = _thread.allocate_lock()
    all_answered.acquire()
    progress = {"next": 0, "answered": 0, "closed": False}

    def work() -> None:
        while True:
            with guard:
                index = progress["next"]
                if progress["closed"] or index >= count:
                    return
                progress["next"] = index + 1
            try:
                answer: object | BaseException = call(items[index])
            except BaseException as error:  # reported to the caller, not lost
                answer = error
            with guard:
                if progress["closed"]:
                    return
                answers[index] = answer
                progress["answered"] += 1
                if progress["answered"] == count:
                    all_answered.release()

    deadline = time.monotonic() + timeout
    workers, seen = 1, 0
    _thread.start_new_thread(work, ())
    while not all_answered.acquire(timeout=max(min(STALL, deadline - time.monotonic()), 0)):
        if time.monotonic() >= deadline:
            break
        with guard:
            answered, untaken = progress["answered"], count - progress["next"]
        if answered == seen and untaken:
            for _ in range(min(workers, untaken)):
                _thread.start_new_thread(work, ())
            workers += min(workers, untaken)
        seen = answered
    with guard:  # what came in time; late workers find the work closed
        progress["closed"] = True
        return list(answers)
