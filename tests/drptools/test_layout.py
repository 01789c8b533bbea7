"""Names, stamps, day parity, what a listing means, and retention: pure rules."""

from __future__ import annotations

import calendar
import datetime
import itertools
import os
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drptools import layout
from drptools.layout import COMPLETE, IN_PROGRESS, INTERRUPTED, UNMARKED


@given(st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2200, 12, 31)))
def test_days_from_civil_agrees_with_datetime(date):
    expected = (date - datetime.date(1970, 1, 1)).days
    assert layout.days_from_civil(date.year, date.month, date.day) == expected


@given(st.integers(min_value=0, max_value=2**33))
def test_stamps_round_trip(seconds):
    assert layout.parse_stamp(layout.stamp(seconds)) == float(seconds)


@pytest.mark.parametrize(
    "text",
    ["", "20261124T013000", "20261124T013000z", "2026112xT013000Z", "20261324T013000Z",
     "20260230T013000Z", "20261124T253000Z", "20261124 013000Z", "２0261124T013000Z",
     "20261124T013000Z.partial", "-2026124T013000Z"],
)  # fmt: skip
def test_parse_stamp_refuses_what_is_not_a_stamp(text):
    assert layout.parse_stamp(text) is None


@pytest.fixture
def paris():
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Paris"
    time.tzset()
    yield
    if previous is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = previous
    time.tzset()


def local(*fields: int) -> float:
    return time.mktime((*fields, 0, 0, -1))  # type: ignore[arg-type]


def test_parity_follows_the_local_date(paris):
    # 00:30 in Paris on 2026-11-25 is still 2026-11-24 in UTC: the local date decides.
    early = local(2026, 11, 25, 0, 30, 0)
    assert time.gmtime(early).tm_mday == 24
    assert layout.local_day(early) == layout.days_from_civil(2026, 11, 25)
    assert layout.target_of_day(layout.local_day(early)) == "A"  # day 20782 is even
    assert layout.target_of_day(layout.local_day(early + 86400)) == "B"


def test_daily_runs_near_midnight_alternate_through_dst_changes(paris):
    # A run at 01:30 local every day of 2026: the UTC day count would repeat a parity
    # when the clocks change; the local one alternates every single day.
    runs = [local(2026, 1, 1, 1, 30, 0) + day * 86400 for day in range(0, 365)]
    runs = [local(*time.localtime(run)[:3], 1, 30, 0) for run in runs]
    targets = [layout.target_of_day(layout.local_day(run)) for run in runs]
    assert all(a != b for a, b in itertools.pairwise(targets))
    utc = [layout.target_of_day(int(run) // 86400) for run in runs]
    assert any(a == b for a, b in itertools.pairwise(utc)), "UTC would break it"


def test_month_ends_alternate_unlike_the_day_of_the_month(paris):
    for year, month in ((2026, 1), (2026, 3), (2026, 12)):
        last = local(year, month, calendar.monthrange(year, month)[1], 2, 0, 0)
        first = last + 86400
        assert time.localtime(first).tm_mday == 1
        assert layout.target_of_day(layout.local_day(last)) != layout.target_of_day(
            layout.local_day(first)
        )


def test_now_can_be_fixed_for_tests(monkeypatch):
    monkeypatch.setenv(layout.NOW_VARIABLE, "1795608000")
    assert layout.now() == 1795608000.0


def snap(name: str, state: str) -> tuple[str, str]:
    return (name, state)


def test_classify_snapshots():
    entries = {
        ".lock",
        "20261101T000000Z", "20261101T000000Z/COMPLETE", "20261101T000000Z/data",
        "20261102T000000Z", "20261102T000000Z/data",  # no marker
        "20261103T000000Z.partial", "20261103T000000Z.partial/COMPLETE",  # marker, no rename
        "20261104T000000Z", "20261104T000000Z/COMPLETE",
        "notes.txt", "20261105T000000Z.old",
    }  # fmt: skip
    found = [(s.name, s.state) for s in layout.classify_snapshots(entries)]
    assert found == [
        ("20261101T000000Z", COMPLETE),
        ("20261102T000000Z", UNMARKED),
        ("20261103T000000Z.partial", INTERRUPTED),
        ("20261104T000000Z", COMPLETE),
    ]
    running = layout.classify_snapshots(entries, running=True)
    assert running[2].state == IN_PROGRESS
    latest = layout.latest_complete(layout.classify_snapshots(entries))
    assert latest is not None
    assert latest.name == "20261104T000000Z"
    assert layout.latest_complete(layout.classify_snapshots({"20261103T000000Z.partial"})) is None


def test_classify_dumps():
    names = {
        ".lock",
        "20261101T000000Z.sql.zst", "20261101T000000Z.sha256",
        "20261101T020000Z.dump", "20261101T020000Z.globals.sql.zst",
        "20261101T020000Z.sha256",
        "20261101T040000Z.sql.zst.partial",
        "20261101T060000Z.sql.zst",  # renamed, but the checksum file never came
        "README",
    }  # fmt: skip
    found = [(s.stamp, s.state) for s in layout.classify_dumps(names)]
    assert found == [
        ("20261101T000000Z", COMPLETE),
        ("20261101T020000Z", COMPLETE),
        ("20261101T040000Z", INTERRUPTED),
        ("20261101T060000Z", INTERRUPTED),
    ]
    assert layout.dump_members(names, "20261101T020000Z") == [
        "20261101T020000Z.sha256",
        "20261101T020000Z.dump",
        "20261101T020000Z.globals.sql.zst",
    ]


def snapshots(*specs: tuple[str, str]) -> list[layout.Snapshot]:
    result = []
    for name, state in specs:
        stamp = name.removesuffix(".partial")
        result.append(layout.Snapshot(name, stamp, layout.parse_stamp(stamp) or 0, state))
    return result


def names(found: list[layout.Snapshot]) -> list[str]:
    return [s.name for s in found]


def test_retention_keeps_the_newest_complete_and_a_resumable_partial():
    history = snapshots(
        ("20261101T000000Z", COMPLETE),
        ("20261101T120000Z.partial", INTERRUPTED),
        ("20261102T000000Z", COMPLETE),
        ("20261102T100000Z", UNMARKED),
        ("20261103T000000Z", COMPLETE),
        ("20261104T000000Z.partial", INTERRUPTED),
    )
    assert names(layout.expired(history, 2)) == [
        "20261101T000000Z",
        "20261101T120000Z.partial",
    ]
    assert names(layout.expired(history, 2, resumable=False)) == [
        "20261101T000000Z",
        "20261101T120000Z.partial",
        "20261104T000000Z.partial",
    ]
    # keep is at least one: the newest complete one survives a zero.
    assert "20261103T000000Z" not in names(layout.expired(history, 0))


def test_retention_never_touches_what_is_in_progress_or_only_partial():
    history = snapshots(("20261101T000000Z.partial", IN_PROGRESS))
    assert layout.expired(history, 1) == []
    only_partials = snapshots(
        ("20261101T000000Z.partial", INTERRUPTED), ("20261102T000000Z.partial", INTERRUPTED)
    )
    assert names(layout.expired(only_partials, 1)) == ["20261101T000000Z.partial"]
