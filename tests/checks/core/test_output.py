"""The printed plugin output: status line, perfdata grammar, screening of outside text."""

from __future__ import annotations

import pytest

from checks.core.output import perf_label, perfdata, render, screen
from checks.core.ranges import parse_range


def test_status_line_with_perfdata_and_long_output():
    text = render("load", 1, "load1 6 > 5", ["load1=6;5;10;0"], ["WARNING: load1 6 > 5"])
    assert text == "LOAD WARNING - load1 6 > 5 | load1=6;5;10;0\nWARNING: load1 6 > 5\n"


def test_pipe_in_outside_text_never_reaches_perfdata():
    text = render("ssh", 0, "banner SSH-2.0-x | y=1", ["time=0.1s"], ["line | with=pipe"])
    first, second = text.splitlines()
    assert first.count("|") == 1
    assert first.endswith("| time=0.1s")
    assert "|" not in second


def test_newlines_in_outside_text_stay_on_one_line():
    assert screen("connection\nrefused\r\n") == "connection refused"


@pytest.mark.parametrize(
    ("label", "printed"),
    [("load1", "load1"), ("/", "/"), ("/var/lib", "/var/lib"), ("my disk", "'my disk'"),
     ("a=b", "a_b"), ("it's", "it_s")],
)  # fmt: skip
def test_labels_are_quoted_or_cleaned(label, printed):
    assert perf_label(label) == printed


def test_perfdata_drops_trailing_empty_fields_and_prints_ranges():
    assert perfdata("load1", 0.5) == "load1=0.5"
    assert perfdata("used", 12.5, "%", parse_range("90"), parse_range("95"), 0, 100) == (
        "used=12.5%;90;95;0;100"
    )
    assert perfdata("free", 10, "B", parse_range("@~:20"), None, 0) == "free=10B;@~:20;;0"


def test_perfdata_refuses_units_outside_the_guidelines():
    with pytest.raises(ValueError, match="not one of the guidelines' units"):
        perfdata("x", 1, "pages/s")
