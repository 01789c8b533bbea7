"""check_varnish: the parser on real captures of Varnish 4, 6.2, 6.6 and 7.1, the whole
check through a stub varnishstat printing them, and against a real varnishd on loopback.

To judge one capture alone, the stored previous reading is that capture's counters at
zero 300 s earlier (same manager process), so the interval holds the whole capture.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks.core import statefile
from checks.core.errors import ParseError
from checks.web.varnish import PLUGIN, between, measures, parse_varnishstat, stored_interval
from tests.conftest import FIXTURES, shared_fixtures
from tests.helpers.captures import own_or_shared
from tests.helpers.contract import assert_conforms, run_installed
from tests.helpers.mutations import answers_cleanly, damaged, parses_or_refuses
from tests.helpers.stub_tools import StubTools, first_on_path
from tests.servers.varnish import Varnish, varnish, varnish_dead_backend  # noqa: F401

OWN = FIXTURES / "varnish"
STUB = """#!/bin/sh
# varnishstat stand-in: logs its command line, prints the file named in 'answer'.
here=$(dirname "$0")
echo "$*" >> "$here/calls"
cat "$(cat "$here/answer")"
exit "$(cat "$here/status" 2>/dev/null || echo 0)"
"""

#: capture -> (state, words of the status line), judged over the whole capture
EXPECTED = {
    "varnishstat_j_v4_format1_flat.json": (
        0,
        "hit ratio 99.98% of 6000 lookups, no backend failure, restart or dropped session "
        "over the last 300 s",
    ),
    "varnishstat_j_v6_2_format1_after_reload.json": (0, "hit ratio 79.69% of 64 lookups"),
    "varnishstat_j_v6_6_format2_counters.json": (0, "no cache lookups, no backend failure"),
    "varnishstat_1_text_after_reload.txt": (3, "varnishstat -j printed no JSON"),
    # tests/fixtures/varnish: real varnishd 7.1.1 here
    "varnishstat_j_v7_1_7_hits_3_misses.json": (0, "hit ratio 70% of 10 lookups"),
    "varnishstat_j_v7_1_after_child_killed.json": (2, "child restarts 1 > 0 over the last 300 s"),
    "varnishstat_j_v7_1_backend_down_4_fails.json": (1, "backend failures 4 > 0"),
}


def fixture_path(name: str) -> Path:
    return own_or_shared("varnish", name)


class Stub(StubTools):
    """A directory holding the stub varnishstat and the capture it prints."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.install("varnishstat", STUB)

    def answer(self, path: Path, status: int = 0) -> Stub:
        (self.directory / "answer").write_text(str(path))
        (self.directory / "status").write_text(str(status))
        return self


@pytest.fixture
def stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stub:
    """The stub varnishstat, first on PATH."""
    return first_on_path(Stub(tmp_path / "bin"), monkeypatch)


def store_zero_before(capture: Path, instance: str = "default", age: float = 300) -> None:
    """Store the capture's counters at zero, ``age`` seconds before it, as the last run."""
    values = parse_varnishstat(capture.read_text())
    before = dict.fromkeys(values, 0.0)
    for uptime in ("MGT.uptime", "MAIN.uptime"):
        before[uptime] = values[uptime] - age
    statefile.save(f"varnish-{instance}", {"values": before})


def test_every_capture_has_an_expected_state():
    shared = {path.name for path in (shared_fixtures() / "varnish").iterdir()}
    own = {path.name for path in OWN.iterdir()}
    assert shared | own == set(EXPECTED)


def test_both_layouts_read_the_same_counters():
    flat = parse_varnishstat(fixture_path("varnishstat_j_v4_format1_flat.json").read_text())
    nested = parse_varnishstat(fixture_path("varnishstat_j_v6_6_format2_counters.json").read_text())
    assert flat["MAIN.cache_hit"] == 5999
    assert flat["MAIN.sess_drop"] == 0
    assert nested["MGT.uptime"] == 238359
    assert "MAIN.sess_drop" not in nested
    assert set(flat) - set(nested) == {"MAIN.sess_drop"}


@pytest.mark.parametrize(("fixture", "expected"), EXPECTED.items(), ids=list(EXPECTED))
def test_each_capture_in_process(stub, fixture, expected):
    capture = fixture_path(fixture)
    stub.answer(capture)
    if fixture.endswith(".json"):
        store_zero_before(capture)
    outcome = PLUGIN.run([])
    assert_conforms("varnish", outcome.state, outcome.text)
    assert outcome.state == expected[0], outcome.text
    assert expected[1] in outcome.status_line, outcome.text
    assert stub.calls == ["-j -t 5"]


def test_perfdata_of_an_interval(stub):
    capture = fixture_path("varnishstat_j_v6_2_format1_after_reload.json")
    stub.answer(capture)
    store_zero_before(capture)
    outcome = PLUGIN.run(["-w", "80:", "-c", "50:"])
    assert outcome.state == 1
    assert outcome.status_line == (
        "VARNISH WARNING - hit ratio 79.69% < 80% over the last 300 s | "
        "hitratio=79.6875%;80:;50:;0;100 backend_fail=0;0;;0 backend_unhealthy=0;0;;0 "
        "restarts=0;;0;0 dropped=0;0;;0"
    )


def test_hitratio_long_option_names(stub):
    capture = fixture_path("varnishstat_j_v7_1_7_hits_3_misses.json")
    stub.answer(capture)
    store_zero_before(capture)
    outcome = PLUGIN.run(["--hitratio-warning", "90:", "--hitratio-critical", "75:"])
    assert (outcome.state, outcome.summary) == (2, "hit ratio 70% < 75% over the last 300 s")


def test_instance_name_and_timeout_reach_varnishstat(stub):
    capture = fixture_path("varnishstat_j_v7_1_7_hits_3_misses.json")
    stub.answer(capture)
    store_zero_before(capture, instance="shop")
    outcome = PLUGIN.run(["-n", "shop", "-t", "20"])
    assert outcome.state == 0, outcome.text
    assert stub.calls == ["-j -t 10 -n shop"]


def test_without_a_stored_reading_it_samples_twice(stub):
    stub.answer(fixture_path("varnishstat_j_v7_1_7_hits_3_misses.json"))
    outcome = PLUGIN.run(["--sample", "0.01"])
    assert (outcome.state, outcome.summary) == (
        0,
        "no cache lookups, no backend failure, restart or dropped session over 0.01 s",
    )
    assert len(stub.calls) == 2
    # the second run uses what the first one stored only once the manager's clock moved
    assert PLUGIN.run(["--sample", "0.01"]).summary.endswith("over 0.01 s")
    assert len(stub.calls) == 4


def test_a_reading_of_another_manager_process_is_not_used():
    now = {"MGT.uptime": 50.0, "MAIN.uptime": 50.0, "MAIN.cache_hit": 3.0, "MGT.child_died": 0}
    before = {**now, "MGT.uptime": 900.0}
    assert stored_interval({"values": before}, now) is None
    assert stored_interval({"values": {**now, "MGT.uptime": 10.0}}, now) is not None
    assert stored_interval({"values": {"MGT.uptime": 10.0}}, now) is None  # other counters
    assert stored_interval({"values": {**now, "MGT.uptime": -5000.0}}, now) is None  # too old


def test_a_child_restart_counts_its_counters_from_zero():
    before = {"MGT.uptime": 100.0, "MAIN.uptime": 100.0, "MAIN.cache_hit": 900.0,
              "MAIN.cache_miss": 100.0, "MAIN.backend_fail": 5.0, "MAIN.backend_unhealthy": 0.0,
              "MGT.child_died": 0.0, "MGT.child_panic": 0.0}  # fmt: skip
    now = {**before, "MGT.uptime": 400.0, "MAIN.uptime": 20.0, "MAIN.cache_hit": 30.0,
           "MAIN.cache_miss": 10.0, "MAIN.backend_fail": 1.0, "MGT.child_panic": 1.0}  # fmt: skip
    window = stored_interval({"values": before}, now)
    assert window is not None
    assert window.how == "over the last 300 s (the child restarted)"
    assert measures(window) == {
        "backend_fail": 1.0, "backend_unhealthy": 0.0, "restarts": 1.0, "dropped": 0,
        "hitratio": 75.0, "lookups": 40.0,
    }  # fmt: skip
    assert between(now, before, 1, "") is None  # the manager's counters went back


def test_varnish_not_running_is_critical(stub, tmp_path):
    message = tmp_path / "said"
    message.write_text(".Could not get hold of varnishd, is it running?\n")
    stub.answer(message, status=1)
    outcome = PLUGIN.run(["-n", "web1"])
    assert (outcome.state, outcome.summary) == (
        2,
        "Varnish is not running (instance web1): varnishstat says: Could not get hold of "
        "varnishd, is it running?",
    )


def test_unreadable_shared_memory_is_unknown_not_down(stub, tmp_path, monkeypatch):
    # varnishd's layout (tests/servers/varnish.py): _.vsm_child is 0750, group varnish;
    # the tests run as root, who may read it anyway: os.access answers as for nagios.
    instance = tmp_path / "instance"
    (instance / "_.vsm_child").mkdir(parents=True)
    message = tmp_path / "said"
    message.write_text("Could not get hold of varnishd, is it running?\n")
    stub.answer(message, status=1)
    monkeypatch.setattr(os, "access", lambda path, mode: not path.endswith("_.vsm_child"))
    outcome = PLUGIN.run(["-n", str(instance)])
    assert (outcome.state, outcome.summary) == (
        3,
        f"this user may not read Varnish's shared memory in {instance} (run the check as a "
        "member of the varnish group, or give --sudo)",
    )


def test_missing_varnishstat_is_unknown(tmp_path):
    outcome = PLUGIN.run(["--varnishstat", str(tmp_path / "varnishstat")])
    assert outcome.state == 3
    assert "cannot run" in outcome.summary or "not installed" in outcome.summary


@pytest.mark.parametrize("arguments", [["-w", "abc"], ["--warning-restarts", "1:x"], ["-n"]])
def test_bad_arguments_are_unknown(arguments):
    outcome = PLUGIN.run(arguments)
    assert outcome.state == 3
    assert "see check_varnish --help" in outcome.summary


@pytest.mark.parametrize(
    "fixture", sorted(name for name in EXPECTED if name.endswith(".json")), ids=str
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_captures_parse_or_refuse(fixture, data):
    text = data.draw(damaged(fixture_path(fixture).read_text()))
    parses_or_refuses(parse_varnishstat, text)


@pytest.mark.parametrize(
    "text", ["[]", '{"version": 1, "counters": []}', '{"MGT.uptime": {"value": "x"}}', "{}"]
)
def test_json_that_is_not_varnishstat_is_refused(text):
    with pytest.raises(ParseError):
        parse_varnishstat(text)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data())
def test_damaged_capture_through_the_whole_check(stub, tmp_path, data):
    text = data.draw(damaged(fixture_path("varnishstat_j_v7_1_7_hits_3_misses.json").read_text()))
    damaged_file = tmp_path / "damaged.json"
    damaged_file.write_text(text)
    stub.answer(damaged_file)
    answers_cleanly("varnish", PLUGIN.run(["--sample", "0.001"]))


def test_installed_executable(stub):
    capture = fixture_path("varnishstat_j_v7_1_backend_down_4_fails.json")
    stub.answer(capture)
    store_zero_before(capture)
    result = run_installed("varnish")
    assert result.returncode == 1
    assert result.stderr == ""


def _age_stored_reading(workdir: Path, seconds: float) -> None:
    """Make the stored reading of this instance look ``seconds`` older (same manager)."""
    key = "varnish-" + str(workdir).replace("/", "_")
    stored = statefile.load(key)
    assert stored is not None
    stored["values"]["MGT.uptime"] -= seconds  # type: ignore[index]
    stored["values"]["MAIN.uptime"] -= seconds  # type: ignore[index]
    statefile.save(key, stored)


@pytest.mark.integration
def test_real_varnish_hit_ratio_over_the_interval(varnish: Varnish) -> None:  # noqa: F811
    arguments = ["-n", str(varnish.workdir), "--sample", "0.01", "-w", "50:"]
    first = PLUGIN.run(arguments)
    assert first.state == 0, first.text
    assert varnish.get("/a") == 200
    assert varnish.get("/b") == 200
    for _ in range(6):
        assert varnish.get("/a") == 200
    _age_stored_reading(varnish.workdir, 120)
    second = PLUGIN.run(arguments)
    assert second.state == 0, second.text
    assert re.fullmatch(
        r"hit ratio 75% of 8 lookups, no backend failure, restart or dropped session over "
        r"the last 12[0-4] s",
        second.summary,
    ), second.text
    assert "hitratio=75%;50:;;0;100" in second.status_line


@pytest.mark.integration
def test_real_varnish_backend_failures_then_a_crashed_child(varnish_dead_backend: Varnish) -> None:  # noqa: F811
    server = varnish_dead_backend
    arguments = ["-n", str(server.workdir), "--sample", "0.01"]
    assert PLUGIN.run(arguments).state == 0
    assert [server.get(f"/{n}") for n in range(3)] == [503, 503, 503]
    _age_stored_reading(server.workdir, 60)
    failing = PLUGIN.run(arguments)
    assert failing.state == 1, failing.text
    assert failing.summary.startswith("backend failures 3 > 0 over the last")
    os.kill(server.child_pid(), 9)
    server.wait_for_child()
    _age_stored_reading(server.workdir, 60)
    crashed = PLUGIN.run(arguments)
    assert crashed.state == 2, crashed.text
    assert crashed.summary.startswith("child restarts 1 > 0")
    assert "(the child restarted)" in crashed.summary


@pytest.mark.integration
def test_real_varnishstat_without_varnishd_is_critical(tmp_path):
    outcome = PLUGIN.run(["-n", str(tmp_path / "none"), "-t", "4"])
    assert outcome.state == 2, outcome.text
    assert outcome.summary.startswith("Varnish is not running (instance ")
