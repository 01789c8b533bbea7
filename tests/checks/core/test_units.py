"""Unit parsing and the formatting of numbers for people and for perfdata."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks.core.units import BYTES, human_bytes, human_duration, human_number, perf_number, scaled


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (3, "3"), (2.0, "2"), (0.1 + 0.2, "0.3"), (1e-7, "0"), (-0.0000001, "0"),
     (123456789.0, "123456789"), (1.23456789, "1.234568"), (-2.5, "-2.5"), (True, "1")],
)  # fmt: skip
def test_perf_number_never_uses_exponents(value, text):
    assert perf_number(value) == text


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
def test_perf_number_fits_the_guidelines_grammar(value):
    text = perf_number(value)
    assert set(text) <= set("-0123456789.")
    assert abs(float(text) - value) <= 1e-6 + abs(value) * 1e-12


def test_perf_number_refuses_infinity():
    with pytest.raises(ValueError, match="not a finite number"):
        perf_number(math.inf)


def test_sizes_are_powers_of_1024_whatever_the_spelling():
    assert scaled("1", "k", BYTES) == scaled("1", "KiB", BYTES) == 1024
    assert scaled("1.5", "G", BYTES) == 1.5 * 1024**3


@pytest.mark.parametrize(
    ("value", "text"),
    [(512, "512 B"), (1536, "1.5 KiB"), (25276502016, "23.5 GiB"), (1024**4, "1 TiB")],
)
def test_human_bytes(value, text):
    assert human_bytes(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(4.26, "4.3 s"), (42, "42 s"), (303, "5 min 3 s"), (3600, "1 h"), (90061, "1 d 1 h"),
     (12 * 86400 + 3 * 3600 + 59, "12 d 3 h")],
)  # fmt: skip
def test_human_duration_gives_the_two_largest_units(value, text):
    assert human_duration(value) == text


def test_human_number_drops_trailing_zeros():
    assert human_number(0.10) == "0.1"
    assert human_number(2.0) == "2"
    assert human_number(7) == "7"
