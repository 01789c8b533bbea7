"""Calls that may hang (``statvfs`` on a dead NFS server, a DNS lookup, a socket without
a timeout), run side by side and waited for only until a deadline.

The threads come from ``_thread``, which the runtime has loaded already; ``threading``
would cost every run its import.
"""

from __future__ import annotations

import _thread
import time
from collections.abc import Callable, Sequence


def answer_within(
    calls: Sequence[Callable[[], object]], timeout: float
) -> list[object | BaseException | None]:
    """Run every call in its own thread, all at once; what each returned or raised.

    A call that has not finished ``timeout`` seconds after the start is reported as None
    and left behind: a ``statvfs`` stuck on a dead server cannot be cancelled, only not
    waited for (the process exits without it). Threads come from ``_thread``, which the
    runtime has loaded already; ``threading`` would cost every run its import.
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
