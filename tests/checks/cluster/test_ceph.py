"""check_ceph on real ``ceph … -f json`` captures (luminous, octopus, pacific, reef), through
one stub ceph that answers per subcommand from files beside it.

Captures: ``status`` from ../shared/fixtures/ceph; ``df`` (a 16-OSD NVMe cluster, taken
from Checkmk's tests) and a ``health detail`` derived from the reef status's health member
in tests/fixtures/ceph (see its README). The pre-luminous health layout is written here
from the format jewel printed (``overall_status``, ``summary`` items without codes).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks.cluster._ceph import parse_df, parse_health_detail, parse_osd_tree, parse_status
from checks.cluster.ceph import PLUGIN, is_inactive, is_unclean
from tests.conftest import FIXTURES, shared_fixtures
from tests.helpers.captures import own_or_shared
from tests.helpers.contract import assert_conforms, run_installed
from tests.helpers.mutations import answers_cleanly, damaged, every_damage_parses_or_refuses
from tests.helpers.stub_tools import StubTools, first_on_path

OWN = FIXTURES / "ceph"
STUB = """#!/bin/sh
# ceph stand-in: logs its command line, answers from the file of the subcommand.
here=$(dirname "$0")
echo "$*" >> "$here/calls"
case " $* " in
  *" health detail "*) answer=detail;;
  *" osd tree "*) answer=tree;;
  *" status "*) answer=status;;
  *" df "*) answer=df;;
esac
[ -f "$here/$answer.err" ] && { cat "$here/$answer.err" >&2; exit 1; }
cat "$(cat "$here/$answer")"
"""
DF = "df_json_nvme_two_pools_28pct_raw.json"
DETAIL_REEF = "health_detail_reef_derived_from_status_osd_down.json"
PERF_TAIL = "raw_used=28.184218%;;;0;100 pool_nvme1=33.896288%;;;0;100 pool_.mgr=0.000088%;;;0;100"

#: status capture -> (state, summary), with the df capture
EXPECTED = {
    "status_luminous_health_ok_nested_osdmap_large.json": (
        0, "HEALTH_OK, 283/283 OSDs up, 283 in, 6976 PGs (6975 active+clean, 1 "
        "active+clean+scrubbing+deep), raw space 28.2% used"),
    "status_octopus_health_ok.json": (
        0, "HEALTH_OK, 3/3 OSDs up, 3 in, 33 PGs (33 active+clean), raw space 28.2% used"),
    "status_pacific_health_ok_scrubbing.json": (
        0, "HEALTH_OK, 24/24 OSDs up, 24 in, 2560 PGs (2560 active+clean, 10 "
        "active+scrubbing, 5 active+backfilling), raw space 28.2% used"),
    "status_reef_health_warn_osd_down_pg_inactive.json": (
        2, "HEALTH_WARN: AUTH_INSECURE_GLOBAL_ID_RECLAIM_ALLOWED: mon is allowing insecure "
        "global_id reclaim, OSD_DATACENTER_DOWN: 1 datacenter (0 osds) down, OSD_DOWN: 1 "
        "osds down, OSD_HOST_DOWN: 2 hosts (1 osds) down, OSD_RACK_DOWN: 1 rack (0 osds) "
        "down, OSD_ROOM_DOWN: 1 room (0 osds) down, OSD_ROOT_DOWN: 1 root (1 osds) down, "
        "OSD_ROW_DOWN: 1 row (0 osds) down, PG_AVAILABILITY: Reduced data availability: 1 pg "
        "inactive, TOO_FEW_OSDS: OSD count 1 < osd_pool_default_size 3; 1 of 1 OSDs down "
        "(osd.4 on localhost) > 0; 1 PGs inactive > 0"),
}  # fmt: skip

JEWEL_HEALTH = {
    "overall_status": "HEALTH_WARN",
    "summary": [{"severity": "HEALTH_WARN", "summary": "noscrub,nodeep-scrub flag(s) set"}],
    "detail": [],
}


def fixture(name: str) -> Path:
    return own_or_shared("ceph", name)


class Stub(StubTools):
    """The stub ceph and which file answers each subcommand."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.install("ceph", STUB)
        self.answer(df=fixture(DF), detail=fixture(DETAIL_REEF),
                    tree=fixture("osd_tree_jewel_one_osd_down.json"))  # fmt: skip

    def answer(self, **files: Path) -> Stub:
        for command, path in files.items():
            (self.directory / command).write_text(str(path))
        return self

    def write(self, command: str, document: object) -> Stub:
        path = self.directory / f"{command}.json"
        path.write_text(json.dumps(document))
        return self.answer(**{command: path})

    def fail(self, command: str, stderr: str) -> Stub:
        (self.directory / f"{command}.err").write_text(stderr)
        return self


@pytest.fixture
def stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stub:
    """The stub ceph, first on PATH."""
    return first_on_path(Stub(tmp_path / "bin"), monkeypatch)


def reef_status() -> dict[str, object]:
    document: dict[str, object] = json.loads(
        fixture("status_reef_health_warn_osd_down_pg_inactive.json").read_text()
    )
    return document


def test_every_status_capture_has_an_expected_state():
    statuses = {path.name for path in (shared_fixtures() / "ceph").glob("status_*")}
    assert statuses == set(EXPECTED)


@pytest.mark.parametrize(("status", "expected"), EXPECTED.items(), ids=list(EXPECTED))
def test_each_status_capture(stub, status, expected):
    stub.answer(status=fixture(status))
    outcome = PLUGIN.run([])
    assert_conforms("ceph", outcome.state, outcome.text)
    assert (outcome.state, outcome.summary) == expected, outcome.text
    assert outcome.status_line.endswith(PERF_TAIL)


def test_healthy_cluster_asks_status_and_df_only(stub):
    stub.answer(status=fixture("status_octopus_health_ok.json"))
    PLUGIN.run(
        ["--id", "nagios", "--keyring", "/etc/ceph/k", "--conf", "/etc/ceph/c.conf", "-t", "8"]
    )
    options = "--connect-timeout 7 --id nagios --keyring /etc/ceph/k --conf /etc/ceph/c.conf"
    assert stub.calls == [f"{options} status -f json", f"{options} df -f json"]


def test_unhealthy_cluster_asks_details_and_names_the_down_osds(stub):
    stub.answer(status=fixture("status_reef_health_warn_osd_down_pg_inactive.json"))
    outcome = PLUGIN.run(["--name", "client.nagios"])
    assert [call.split(" ", 4)[-1] for call in stub.calls] == [
        "status -f json", "health detail -f json", "osd tree -f json", "df -f json"
    ]  # fmt: skip
    lines = outcome.text.splitlines()
    assert lines[1] == (
        "WARNING: AUTH_INSECURE_GLOBAL_ID_RECLAIM_ALLOWED: mon is allowing insecure global_id "
        "reclaim"
    )
    assert "CRITICAL: 1 of 1 OSDs down (osd.4 on localhost) > 0" in lines
    assert "CRITICAL: 1 PGs inactive > 0" in lines
    assert "pgs_unknown=1;;;0" in lines[0]


def test_ignored_and_muted_checks_do_not_count(stub):
    status = reef_status()
    health = status["health"]
    assert isinstance(health, dict)
    codes = list(health["checks"])
    health["checks"]["TOO_FEW_OSDS"]["muted"] = True
    stub.write("status", status).write("detail", health)
    ignore = [word for code in codes if code not in ("OSD_DOWN", "TOO_FEW_OSDS")
              for word in ("--ignore", code)]  # fmt: skip
    outcome = PLUGIN.run([*ignore, "--critical-osds-down", "1", "--critical-pgs-inactive", "1"])
    assert outcome.state == 1, outcome.text
    assert outcome.summary.startswith("HEALTH_WARN: OSD_DOWN: 1 osds down (ignored: ")
    assert "ignored: TOO_FEW_OSDS: OSD count 1 < osd_pool_default_size 3" in outcome.text


def test_every_check_ignored_is_ok(stub):
    status = reef_status()
    health = status["health"]
    assert isinstance(health, dict)
    stub.write("status", status).write("detail", health)
    ignore = [word for code in health["checks"] for word in ("--ignore", code)]
    outcome = PLUGIN.run([*ignore, "--critical-osds-down", "1", "--critical-pgs-inactive", "1"])
    assert outcome.state == 0, outcome.text
    assert outcome.summary.startswith("HEALTH_OK, 0/1 OSDs up, 1 in, 1 PGs (1 unknown)")


def test_health_err_is_critical_with_details(stub):
    status = json.loads(fixture("status_octopus_health_ok.json").read_text())
    detail = {
        "status": "HEALTH_ERR",
        "checks": {"OSD_FULL": {"severity": "HEALTH_ERR",
                                "summary": {"message": "1 full osd(s)", "count": 1},
                                "detail": [{"message": f"osd.{n} is full"} for n in range(7)],
                                "muted": False}},
        "mutes": [],
    }  # fmt: skip
    status["health"] = {key: detail[key] for key in ("status", "checks")}
    stub.write("status", status).write("detail", detail)
    outcome = PLUGIN.run([])
    assert (outcome.state, outcome.summary) == (2, "HEALTH_ERR: OSD_FULL: 1 full osd(s)")
    lines = outcome.text.splitlines()
    assert lines[1:8] == ["CRITICAL: OSD_FULL: 1 full osd(s)"] + [
        f"OSD_FULL: osd.{n} is full" for n in range(5)
    ] + ["OSD_FULL: … and 2 more"]


def test_jewel_health_without_codes(stub):
    status = json.loads(fixture("status_luminous_health_ok_nested_osdmap_large.json").read_text())
    status["health"] = JEWEL_HEALTH
    stub.write("status", status).write("detail", JEWEL_HEALTH)
    outcome = PLUGIN.run(["--ignore", "OSDMAP_FLAGS"])  # no code to match before luminous
    assert (outcome.state, outcome.summary) == (
        1,
        "HEALTH_WARN: noscrub,nodeep-scrub flag(s) set",
    )


def test_usage_thresholds(stub):
    stub.answer(status=fixture("status_octopus_health_ok.json"))
    outcome = PLUGIN.run(["-w", "25", "--critical-pool", "30"])
    assert (outcome.state, outcome.summary) == (
        2,
        "pool nvme1 33.9% used > 30%; raw space 28.2% used > 25%",
    )


def test_pre_nautilus_pool_usage_is_computed():
    raw, pools = parse_df(json.dumps({
        "stats": {"total_bytes": 1000, "total_used_bytes": 250, "total_avail_bytes": 750},
        "pools": [{"name": "rbd", "id": 0, "stats": {"kb_used": 1, "bytes_used": 300,
                                                     "max_avail": 100, "objects": 3}}],
    }))  # fmt: skip
    assert raw == (250.0, 1000.0)
    assert [(pool.name, pool.percent) for pool in pools] == [("rbd", 75.0)]


def test_unreachable_monitors_are_critical(stub):
    stub.fail("status", "[errno 110] RADOS timed out (error connecting to the cluster)\n")
    outcome = PLUGIN.run([])
    assert (outcome.state, outcome.summary) == (
        2,
        "the Ceph monitors did not answer ceph status: [errno 110] RADOS timed out (error "
        "connecting to the cluster)",
    )


def test_a_refused_key_is_unknown(stub):
    stub.fail("status", "[errno 13] RADOS permission denied (error connecting to the cluster)\n")
    outcome = PLUGIN.run(["--id", "nagios"])
    assert (outcome.state, outcome.summary) == (
        3,
        "ceph status failed: [errno 13] RADOS permission denied (error connecting to the cluster)",
    )


@pytest.mark.parametrize(
    ("state", "inactive", "unclean"),
    [("active+clean", False, False), ("active+clean+scrubbing+deep", False, False),
     ("active+undersized+degraded", False, True), ("unknown", True, False),
     ("down+peering", True, False), ("stale+active+clean", False, False)],
)  # fmt: skip
def test_pg_states(state, inactive, unclean):
    assert (is_inactive(state), is_unclean(state)) == (inactive, unclean)


@pytest.mark.parametrize("arguments", [["--ignore", "osd down"], ["-w", "x"], ["--conf"]])
def test_bad_arguments_are_unknown(arguments):
    outcome = PLUGIN.run(arguments)
    assert outcome.state == 3
    assert "see check_ceph --help" in outcome.summary


CAPTURES = [
    *(("status", name) for name in sorted(EXPECTED)),
    ("df", DF),
    ("detail", DETAIL_REEF),
    ("detail", "health_json_octopus_health_ok_empty_checks.json"),
    ("tree", "osd_tree_jewel_one_osd_down.json"),
    ("tree", "osd_crush_tree_extra_root_misplaced_osd.json"),
]
PARSERS = {"status": parse_status, "df": parse_df, "detail": parse_health_detail,
           "tree": parse_osd_tree}  # fmt: skip


def test_the_other_captures_parse():
    assert (
        parse_health_detail(
            fixture("health_json_octopus_health_ok_empty_checks.json").read_text()
        ).status
        == "HEALTH_OK"
    )
    # ceph osd crush tree has no OSD status: no OSD is taken for down
    crush = fixture("osd_crush_tree_extra_root_misplaced_osd.json").read_text()
    assert parse_osd_tree(crush) == []


@pytest.mark.parametrize(("kind", "name"), CAPTURES, ids=[name for _, name in CAPTURES])
def test_damaged_captures_parse_or_refuse(kind, name):
    every_damage_parses_or_refuses(PARSERS[kind], fixture(name).read_text(), examples=30, slow=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data(), which=st.sampled_from(CAPTURES))
def test_damaged_captures_through_the_whole_check(stub, tmp_path, data, which):
    kind, name = which
    damaged_file = tmp_path / "damaged.json"
    damaged_file.write_text(data.draw(damaged(fixture(name).read_text())))
    stub.answer(status=fixture("status_reef_health_warn_osd_down_pg_inactive.json"))
    stub.answer(**{kind: damaged_file})
    answers_cleanly("ceph", PLUGIN.run([]))


def test_installed_executable(stub):
    stub.answer(status=fixture("status_pacific_health_ok_scrubbing.json"))
    result = run_installed("ceph", "--id", "nagios")
    assert result.returncode == 0
    assert result.stderr == ""
