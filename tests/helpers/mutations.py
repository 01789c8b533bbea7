"""Damaged copies of real outputs, for proving that parsers fail cleanly.

Every parser of tool or service output is fed its real fixtures truncated, with bytes
changed, and with lines dropped or repeated. A parser may still make sense of a damaged
text, or raise :class:`~checks.core.errors.CannotCheck` (ParseError) with a message; any
other exception is a bug, because the check would report ``internal error`` instead of
saying what is wrong with the data.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks.core.errors import CannotCheck
from checks.core.runtime import Outcome
from tests.helpers.contract import assert_conforms

GARBAGE = st.sampled_from(["", "\x00", "-", "9" * 30, "nan", "\n", ":", "|", "é", "{", "<"])


def truncated(text: str) -> st.SearchStrategy[str]:
    """``text`` cut anywhere."""
    return st.integers(min_value=0, max_value=len(text)).map(lambda cut: text[:cut])


def mutated(text: str) -> st.SearchStrategy[str]:
    """``text`` with a few spans replaced by garbage."""

    def apply(edits: list[tuple[int, int, str]]) -> str:
        result = text
        for start, length, junk in sorted(edits, reverse=True):
            position = min(start, len(result))
            result = result[:position] + junk + result[position + length :]
        return result

    span = st.tuples(st.integers(0, max(len(text), 1)), st.integers(0, 12), GARBAGE)
    return st.lists(span, min_size=1, max_size=4).map(apply)


def reshuffled(text: str) -> st.SearchStrategy[str]:
    """``text`` with whole lines dropped or repeated."""
    lines = text.splitlines(keepends=True)
    if not lines:
        return st.just(text)
    picks = st.lists(st.integers(0, len(lines) - 1), max_size=len(lines) + 3)
    return picks.map(lambda indexes: "".join(lines[index] for index in indexes))


def damaged(text: str) -> st.SearchStrategy[str]:
    """Any kind of damage to ``text``."""
    return st.one_of(truncated(text), mutated(text), reshuffled(text))


def parses_or_refuses(parse: Callable[[str], object], text: str) -> None:
    """``parse(text)`` returns, or raises CannotCheck (ParseError); nothing else."""
    try:
        parse(text)
    except CannotCheck as error:
        message = str(error).strip()
    else:
        return
    assert message, "a ParseError must say what is wrong"


def every_damage_parses_or_refuses(
    parse: Callable[[str], object], text: str, *, examples: int, slow: bool = False
) -> None:
    """:func:`parses_or_refuses` on ``examples`` damaged copies of ``text`` (``slow``: a
    parser that may take long on some, without hypothesis calling that a failure)."""

    @settings(max_examples=examples, deadline=None,
              suppress_health_check=[HealthCheck.too_slow] if slow else [])  # fmt: skip
    @given(damaged(text))
    def check(damaged_text: str) -> None:
        parses_or_refuses(parse, damaged_text)

    check()


def every_damage_answers_cleanly(
    name: str,
    run_on: Callable[[str], Outcome],
    text: str,
    *,
    examples: int,
    slow: bool = False,
    states: tuple[int, ...] = (0, 1, 2, 3),
) -> None:
    """:func:`answers_cleanly` for check ``name`` run (``run_on``) on ``examples`` damaged
    copies of ``text``, each ending in one of ``states``."""

    @settings(max_examples=examples, deadline=None,
              suppress_health_check=[HealthCheck.too_slow] if slow else [])  # fmt: skip
    @given(damaged(text))
    def check(damaged_text: str) -> None:
        outcome = run_on(damaged_text)
        answers_cleanly(name, outcome)
        assert outcome.state in states, outcome.text

    check()


def answers_cleanly(name: str, outcome: Outcome) -> None:
    """A check run on damaged data keeps the contract and knows what went wrong."""
    assert_conforms(name, outcome.state, outcome.text)
    assert "internal error" not in outcome.text, outcome.text
