"""Threshold ranges: every form of the plugin guidelines, and the malformed ones."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks.core.ranges import Range, RangeError, parse_range
from checks.core.units import BYTES, SECONDS

# (range, values that alert, values that do not) straight from the guidelines' table.
GUIDELINE_FORMS = [
    ("10", [-0.1, -5, 10.01, 11], [0, 5, 10]),
    ("10:", [9.99, 0, -1], [10, 10.5, 1e9]),
    ("~:10", [10.01, 1e9], [10, 0, -1e9]),
    ("10:20", [9.99, 20.01, -3], [10, 15, 20]),
    ("@10:20", [10, 15, 20], [9.99, 20.01, -3]),
    ("-5:5", [-5.01, 5.01], [-5, 0, 5]),
    ("1.5", [1.51, -0.01], [0, 1.5]),
    (".5:", [0.49], [0.5, 3]),
    ("~:", [], [-1e12, 0, 1e12]),
]


@pytest.mark.parametrize(("text", "alerting", "quiet"), GUIDELINE_FORMS)
def test_guideline_forms_alert_exactly_outside_their_interval(text, alerting, quiet):
    limit = parse_range(text)
    assert [value for value in alerting if limit.alerts(value)] == alerting
    assert [value for value in quiet if limit.alerts(value)] == []


@pytest.mark.parametrize(
    "text",
    ["", " ", ":", "@", "abc", "not-a-range", "1:2:3", "10:5", "@20:10", "~", "5~", "1,2",
     "10%", "1e3", "--1", "1..2", ":~", "@@1", "1 2"],
)  # fmt: skip
def test_malformed_ranges_are_refused_naming_the_text(text):
    with pytest.raises(RangeError) as error:
        parse_range(text)
    assert repr(text.strip()) in str(error.value) or repr(text) in str(error.value)


def test_start_greater_than_end_says_so():
    with pytest.raises(RangeError, match="start 10 is greater than end 5"):
        parse_range("10:5")


@pytest.mark.parametrize(
    ("text", "printed"),
    [("10", "10"), ("10:", "10:"), ("~:10", "~:10"), ("10:20", "10:20"), ("@10:20", "@10:20"),
     ("0:10", "10"), ("~:", "~:"), ("2.50", "2.5"), ("@~:5", "@~:5")],
)  # fmt: skip
def test_perfdata_form_is_the_guidelines_syntax(text, printed):
    assert str(parse_range(text)) == printed


def test_units_scale_to_base_units():
    assert parse_range("1G:", BYTES) == Range(1024**3, math.inf)
    assert parse_range("512MiB:2g", BYTES) == Range(512 * 1024**2, 2 * 1024**3)
    assert parse_range("15m:", SECONDS) == Range(900, math.inf)
    assert parse_range("~:1.5h", SECONDS) == Range(-math.inf, 5400)
    assert str(parse_range("1K:", BYTES)) == "1024:"


def test_unknown_unit_lists_the_known_ones():
    with pytest.raises(RangeError, match=r"unknown size unit 'X' \(use B, K, M, G"):
        parse_range("10X", BYTES)


def test_unit_on_a_plain_threshold_is_refused():
    with pytest.raises(RangeError, match="takes no unit"):
        parse_range("10M")


def test_violation_words_name_the_crossed_bound():
    assert parse_range("10").violation(12) == "> 10"
    assert parse_range("10").violation(-1) == "< 0"
    assert parse_range("5:").violation(1) == "< 5"
    assert parse_range("@10:20").violation(15) == "inside 10..20"
    assert parse_range("@~:20").violation(15) == "<= 20"
    assert parse_range("@80:").violation(90) == ">= 80"


numbers = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda x: round(x, 3))


@given(start=numbers, width=st.floats(min_value=0, max_value=1e6).map(lambda x: round(x, 3)),
       inside=st.booleans(), value=numbers)  # fmt: skip
def test_printed_range_parses_back_to_the_same_judgement(start, width, inside, value):
    limit = Range(start, start + width, inside=inside)
    again = parse_range(str(limit))
    assert again.alerts(value) == limit.alerts(value)


@given(st.text(max_size=12))
def test_any_text_parses_or_raises_range_error(text):
    try:
        limit = parse_range(text)
    except RangeError:
        return
    assert isinstance(limit, Range)
