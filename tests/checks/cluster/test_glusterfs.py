"""check_glusterfs: the parsers on real gluster captures, the check through a stub CLI.

The stub (a shell script first on PATH) answers each gluster command line from a file
named after its words (``volume_status_gv_test_detail.out``), logs every command line,
and says so on stderr when it has no answer. The real gluster CLI (glusterfs-cli, no
glusterd on this machine) shows what the check says when glusterd is not there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from checks.cluster import _gluster
from checks.cluster._gluster import Volume, parse_heal_info, parse_volume_info, parse_volume_status
from checks.cluster.glusterfs import PLUGIN, Report, findings
from checks.core import external
from checks.core.errors import CannotCheck, ParseError
from tests.conftest import FIXTURES, shared_fixtures_dir
from tests.helpers.captures import own_or_shared
from tests.helpers.contract import assert_conforms, assert_one_line, run_installed
from tests.helpers.mutations import answers_cleanly, damaged, every_damage_parses_or_refuses
from tests.helpers.stub_tools import StubTools, first_on_path
from tests.servers.glusterd import Pool, glusterd_pool_fixture  # noqa: F401 - the fixture

OWN = FIXTURES / "glusterfs"
STUB = """#!/bin/sh
# gluster stand-in: logs its command line, answers from the file named after its words.
here=$(dirname "$0")
echo "$*" >> "$here/calls"
key=""
for word; do
    case "$word" in --mode=*|--timeout=*|--xml) ;; *) key="${key:+${key}_}$word";; esac
done
[ -f "$here/$key.out" ] || { echo "stub: no answer for $key" >&2; exit 1; }
cat "$here/$key.out"
exit "$(cat "$here/$key.status" 2>/dev/null || echo 0)"
"""
HEALTHY_INFO = "volume_info_xml_of_status_all_detail.xml"
STATUS = "volume_status_all_detail_4bricks_online.xml"
CLEAN_HEAL = "volume_heal_info_xml_clean.xml"


def fixture(name: str) -> Path:
    return own_or_shared("glusterfs", name)


def text(name: str) -> str:
    return fixture(name).read_text()


class Stub(StubTools):
    """A directory with the stub gluster and its answers."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.install("gluster", STUB)

    def answer(
        self, command: str, name: str | None = None, *, body: str = "", status: int = 0
    ) -> Stub:
        """``gluster COMMAND`` prints fixture ``name`` (or ``body``) and exits ``status``."""
        key = "_".join(command.split())
        (self.directory / f"{key}.out").write_text(text(name) if name else body)
        (self.directory / f"{key}.status").write_text(str(status))
        return self

    def healthy(self, volumes: tuple[str, ...] = ("gv_test", "gv_test2")) -> Stub:
        self.answer("volume info", HEALTHY_INFO)
        self.answer("volume status all detail", STATUS)
        for volume in volumes:
            self.answer(f"volume status {volume} detail", STATUS)
            self.answer(f"volume heal {volume} info", CLEAN_HEAL)
            self.answer(f"volume heal {volume} info split-brain", CLEAN_HEAL)
        return self


@pytest.fixture
def stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stub:
    return first_on_path(Stub(tmp_path / "bin"), monkeypatch)


# --- the parsers on every relevant capture ------------------------------------------------


def test_volume_info_two_started_replicated_volumes():
    volumes = parse_volume_info(text("volume_info_xml_two_volumes_started.xml"))
    assert [(v.name, v.status, v.type, v.started, v.heals) for v in volumes] == [
        ("gv_cluster", "Started", "Replicate", True, True),
        ("gv_test", "Started", "Replicate", True, True),
    ]
    assert volumes[1].bricks == [f"host{n}.example.local:/mnt/gluster/gv_test" for n in range(1, 5)]


def test_status_detail_four_bricks_online_with_sizes():
    volumes = parse_volume_status(text(STATUS))
    assert list(volumes) == ["gv_test", "gv_test2"]
    bricks = volumes["gv_test"]
    assert [(b.name, b.online, b.pid) for b in bricks] == [
        ("node1.example.local:/mnt/gluster/gv_test", True, 1342),
        ("node2.example.local:/mnt/gluster/gv_test", True, 1303),
        ("node3.example.local:/mnt/gluster/gv_test", True, 1284),
        ("node4.example.local:/mnt/gluster/gv_test", True, 1312),
    ]
    assert (bricks[3].size_total, bricks[3].size_free) == (20507914240, 19517566976)


def test_status_nfs_server_offline_is_a_warning():
    processes = parse_volume_status(text("volume_status_xml_brick_online_nfs_server_offline.xml"))
    report = Report(Volume("myvol1", "Started", "Distribute", ["node01:/tmp/foo"]))
    report.processes = processes["myvol1"]
    assert [p.name for p in report.bricks] == ["node01:/tmp/foo"]
    assert findings(report) == [(1, "NFS Server on localhost offline")]


def test_heal_info_clean():
    bricks = parse_heal_info(text(CLEAN_HEAL))
    assert [(b.name, b.connected, b.entries) for b in bricks] == [
        (f"node{n}.example.com:/mnt/gluster/gv_test", True, 0) for n in range(1, 4)
    ]


@pytest.mark.parametrize(
    ("name", "entries", "unreachable"),
    [
        (
            "volume_heal_info_xml_5_entries_3_bricks_disconnected.xml",
            5,
            ["node2", "node3", "node4"],
        ),
        ("volume_heal_info_xml_3_entries_split_view_node2.xml", 3, ["node1", "node3", "node4"]),
    ],
)
def test_heal_info_from_a_partitioned_cluster(name, entries, unreachable):
    bricks = parse_heal_info(text(name))
    assert sum(b.entries or 0 for b in bricks if b.connected) == entries
    assert [b.name.split(".")[0] for b in bricks if not b.connected] == unreachable
    assert {b.status for b in bricks if not b.connected} == {"Transport endpoint is not connected"}


def test_heal_info_summary_of_gluster_10():
    clean = parse_heal_info(text("volume_heal_info_summary_xml_10.3_gv0_clean.xml"))
    assert [(b.name[-5:], b.connected, b.entries, b.split_brain) for b in clean] == [
        ("gv0-0", True, 0, 0), ("gv0-1", True, 0, 0), ("gv0-2", True, 0, 0)]  # fmt: skip
    down = parse_heal_info(text("volume_heal_info_summary_xml_10.3_gv0_brick1_down.xml"))
    assert [(b.connected, b.entries, b.split_brain) for b in down][1] == (False, None, None)
    assert down[1].status == (
        "Failed to process entries completely. (Transport endpoint is not connected)"
    )


def test_summary_when_the_cli_has_it_one_crawl(stub):
    stub.healthy(("gv_test",))
    stub.answer("volume info", "volume_info_xml_10.3_replica3_started_and_created.xml")
    stub.answer("volume status gv0 detail", "volume_status_xml_10.3_gv0_detail_3bricks_online.xml")
    stub.answer("volume heal gv0 info summary", "volume_heal_info_summary_xml_10.3_gv0_clean.xml")
    outcome = PLUGIN.run(["--volume", "gv0"])
    assert (outcome.state, outcome.summary) == (
        0,
        "1 volume fine: gv0 (3/3 bricks online, 0 to heal)",
    )
    assert [call.split(" ", 2)[2] for call in stub.calls] == [
        "volume info --xml", "volume status gv0 detail --xml",
        "volume heal gv0 info summary --xml"]  # fmt: skip
    body = text("volume_heal_info_summary_xml_10.3_gv0_clean.xml").replace(
        "<numberOfEntriesInSplitBrain>0<", "<numberOfEntriesInSplitBrain>4<", 1)  # fmt: skip
    stub.answer("volume heal gv0 info summary", body=body)
    outcome = PLUGIN.run(["--volume", "gv0"])
    assert (outcome.state, outcome.summary) == (2, "gv0: split-brain entries 4 > 0")


def test_cli_error_envelope_is_unknown_with_glusters_words():
    with pytest.raises(CannotCheck) as raised:
        parse_volume_info(text("cli_error_xml_transport_endpoint_not_connected.xml"))
    assert not isinstance(raised.value, ParseError)
    assert str(raised.value) == (
        "gluster volume info failed: Probe returned with Transport endpoint is not connected "
        "(opRet -1, opErrno 107)"
    )


def test_connection_failed_text_is_recognised():
    assert _gluster.unreachable(text("cli_connection_failed_exit110.txt"))
    assert _gluster.unreachable(text("cli_connection_failed_glusterd_stopped_exit1.txt"))
    assert not _gluster.unreachable(text(STATUS))


def test_entity_declarations_are_refused_never_expanded():
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
        '"&lol;&lol;&lol;&lol;">]><cliOutput><opRet>0</opRet><opErrstr>&lol2;</opErrstr>'
        "</cliOutput>"
    )
    with pytest.raises(ParseError, match="DOCTYPE or entities: refused"):
        parse_volume_info(bomb)


PARSERS = {
    "volume_info_xml_two_volumes_started.xml": parse_volume_info,
    HEALTHY_INFO: parse_volume_info,
    STATUS: parse_volume_status,
    "volume_status_xml_brick_online_nfs_server_offline.xml": parse_volume_status,
    CLEAN_HEAL: parse_heal_info,
    "volume_heal_info_xml_5_entries_3_bricks_disconnected.xml": parse_heal_info,
    "volume_heal_info_xml_3_entries_split_view_node2.xml": parse_heal_info,
    "cli_error_xml_transport_endpoint_not_connected.xml": parse_volume_info,
    # tests/fixtures/glusterfs: GlusterFS 10.3
    "volume_info_xml_10.3_replica3_started_and_created.xml": parse_volume_info,
    "volume_status_xml_10.3_gv0_detail_3bricks_online.xml": parse_volume_status,
    "volume_status_xml_10.3_gv0_detail_brick1_offline.xml": parse_volume_status,
    "volume_heal_info_xml_10.3_gv0_clean.xml": parse_heal_info,
    "volume_heal_info_split_brain_xml_10.3_gv0_none.xml": parse_heal_info,
    "volume_heal_info_xml_10.3_gv0_brick1_down.xml": parse_heal_info,
    "cli_error_xml_10.3_volume_status_not_started.xml": parse_volume_status,
    "cli_error_xml_10.3_volume_does_not_exist.xml": parse_volume_info,
    "cli_error_xml_10.3_heal_on_distribute.xml": parse_heal_info,
    "volume_heal_info_summary_xml_10.3_gv0_clean.xml": parse_heal_info,
    "volume_heal_info_summary_xml_10.3_gv0_brick1_down.xml": parse_heal_info,
}


@pytest.mark.parametrize(("name", "parse"), PARSERS.items(), ids=list(PARSERS))
def test_damaged_captures_parse_or_refuse_cleanly(name, parse):
    every_damage_parses_or_refuses(parse, text(name), examples=80)


def test_every_shared_xml_capture_is_judged_here():
    shared = {p.name for p in (shared_fixtures_dir() / "glusterfs").glob("*.xml")}
    # not read by the check: peer status, volume list (info lists the volumes), quota
    unused = {"peer_status_xml_3_peers_connected.xml", "volume_list_xml.xml",
              "volume_quota_list_xml.xml"}  # fmt: skip
    own = {p.name for p in OWN.glob("*.xml")}
    assert shared - unused | own == set(PARSERS)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("cli_error_xml_10.3_volume_status_not_started.xml", "gluster volume status failed: "
         "Volume gv_new is not started (opRet -1, opErrno 30800)"),
        ("cli_error_xml_10.3_volume_does_not_exist.xml", "gluster volume info failed: Volume "
         "does not exist (opRet -1, opErrno 30806)"),
        ("cli_error_xml_10.3_heal_on_distribute.xml", "gluster volume heal info failed: gv_new: "
         "Not able to fetch volfile from glusterd (opRet -1, opErrno 5)"),
    ],
)  # fmt: skip
def test_refusals_of_gluster_10(name, message):
    with pytest.raises(CannotCheck) as raised:
        PARSERS[name](text(name))
    assert str(raised.value) == message


def test_gluster_10_brick_offline_and_unreachable_is_named_once():
    info = parse_volume_info(text("volume_info_xml_10.3_replica3_started_and_created.xml"))
    assert [(v.name, v.status, v.type, len(v.bricks)) for v in info] == [
        ("gv0", "Started", "Replicate", 3), ("gv_new", "Created", "Distribute", 1)]  # fmt: skip
    report = Report(info[0])
    report.processes = parse_volume_status(
        text("volume_status_xml_10.3_gv0_detail_brick1_offline.xml"))["gv0"]  # fmt: skip
    report.heal = parse_heal_info(text("volume_heal_info_xml_10.3_gv0_brick1_down.xml"))
    brick = info[0].bricks[1]
    assert brick.endswith("/bricks/gv0-1")
    assert findings(report) == [(2, f"brick {brick} offline")]


# --- the check end to end, through the stub CLI -------------------------------------------


def test_healthy_pool_every_volume(stub):
    stub.healthy()
    outcome = PLUGIN.run([])
    assert_conforms("glusterfs", outcome.state, outcome.text)
    assert outcome.state == 0, outcome.text
    assert outcome.summary == (
        "2 volumes fine: gv_test (4/4 bricks online, 0 to heal), "
        "gv_test2 (4/4 bricks online, 0 to heal)"
    )
    assert [call.split(" ", 2)[2] for call in stub.calls] == [
        "volume info --xml",
        "volume status all detail --xml",
        "volume heal gv_test info summary --xml",  # a CLI without it: the stub
        "volume heal gv_test info --xml",
        "volume heal gv_test info split-brain --xml",
        "volume heal gv_test2 info summary --xml",
        "volume heal gv_test2 info --xml",
        "volume heal gv_test2 info split-brain --xml",
    ]
    assert all(call.startswith("--mode=script --timeout=") for call in stub.calls)
    perf = outcome.status_line.split(" | ")[1].split()
    assert "node4.example.local:/mnt/gluster/gv_test_free=95.170902%;10:;5:;0;100" in perf
    assert (
        "node4.example.local:/mnt/gluster/gv_test_free_bytes=19517566976B;;;0;20507914240" in perf
    )
    assert "gv_test_heal_pending=0;0;;0" in perf
    assert "gv_test_split_brain=0;;0;0" in perf
    assert outcome.text.splitlines()[1:3] == [
        "OK: gv_test (4/4 bricks online, 0 to heal)",
        "brick node1.example.local:/mnt/gluster/gv_test online, free 95.2% (18.2 GiB of 19.1 GiB)",
    ]


def test_named_volume_only(stub):
    stub.healthy(("gv_test2",))
    outcome = PLUGIN.run(["--volume", "gv_test2", "--no-heal"])
    assert (outcome.state, outcome.summary) == (0, "1 volume fine: gv_test2 (4/4 bricks online)")
    assert len(stub.calls) == 2


def test_unknown_volume_names_those_there_are(stub):
    stub.healthy()
    outcome = PLUGIN.run(["--volume", "gv0"])
    assert (outcome.state, outcome.summary) == (3, "no volume gv0 (gluster has gv_test, gv_test2)")


def test_pending_heals_and_unreachable_bricks(stub):
    stub.healthy()
    stub.answer(
        "volume heal gv_test info", "volume_heal_info_xml_5_entries_3_bricks_disconnected.xml"
    )
    outcome = PLUGIN.run(["--volume", "gv_test"])
    assert outcome.state == 2
    assert outcome.summary == (
        "gv_test: heal info cannot reach node2.example.com:/mnt/gluster/gv_test, "
        "node3.example.com:/mnt/gluster/gv_test, node4.example.com:/mnt/gluster/gv_test: "
        "Transport endpoint is not connected, "
        "heal pending 5 > 0"
    )
    assert "gv_test_heal_pending=5;0;;0" in outcome.status_line


def test_heal_thresholds_are_the_admins(stub):
    stub.healthy(("gv_test",))
    stub.answer("volume heal gv_test info", "volume_heal_info_xml_3_entries_split_view_node2.xml")
    stub.answer("volume heal gv_test info split-brain", CLEAN_HEAL)
    outcome = PLUGIN.run(["--volume", "gv_test", "--warning-heal", "10"])
    assert outcome.state == 2  # the three bricks it cannot reach
    assert "heal pending" not in outcome.summary
    assert "gv_test_heal_pending=3;10;;0" in outcome.status_line


def test_split_brain_is_critical(stub):
    stub.healthy(("gv_test",))
    stub.answer("volume heal gv_test info split-brain", "volume_heal_info_xml_clean.xml")
    body = text(CLEAN_HEAL).replace(
        "<numberOfEntries>0</numberOfEntries>", "<numberOfEntries>2</numberOfEntries>", 1
    )
    stub.answer("volume heal gv_test info split-brain", body=body)
    outcome = PLUGIN.run(["--volume", "gv_test"])
    assert (outcome.state, outcome.summary) == (2, "gv_test: split-brain entries 2 > 0")


def test_offline_and_missing_bricks_are_named(stub):
    stub.healthy(("gv_test",))
    status = text(STATUS)
    node2 = status.index("<hostname>node2.example.local</hostname>")
    offline = status[:node2] + status[node2:].replace("<status>1</status>", "<status>0</status>", 1)
    start = offline.index("<node>", offline.index("node3.example.local") - 60)
    end = offline.index("</node>", start) + len("</node>")
    stub.answer("volume status gv_test detail", body=offline[:start] + offline[end:])
    outcome = PLUGIN.run(["--volume", "gv_test"])
    assert (outcome.state, outcome.summary) == (
        2,
        "gv_test: brick node2.example.local:/mnt/gluster/gv_test offline, brick "
        "node3.example.local:/mnt/gluster/gv_test not in volume status (its peer is down?)",
    )


def test_stopped_volume_is_critical_and_not_asked_further(stub):
    stub.answer("volume info", body=text(HEALTHY_INFO).replace("Started", "Stopped", 1))
    stub.answer("volume status all detail", STATUS)
    stub.answer("volume heal gv_test2 info", CLEAN_HEAL)
    stub.answer("volume heal gv_test2 info split-brain", CLEAN_HEAL)
    outcome = PLUGIN.run([])
    assert (outcome.state, outcome.summary) == (2, "gv_test: volume is Stopped")
    assert not any("gv_test " in call for call in stub.calls)


def test_brick_free_space_thresholds(stub):
    stub.healthy(("gv_test",))
    outcome = PLUGIN.run(["--volume", "gv_test", "--no-heal", "--warning-free", "96:",
                          "--critical-free-bytes", "19517560000:"])  # fmt: skip
    assert outcome.state == 2
    assert outcome.summary.startswith(
        "gv_test: node1.example.local:/mnt/gluster/gv_test free 18.2 GiB < 18.2 GiB, "
    )
    assert "node4.example.local:/mnt/gluster/gv_test free 95.2% < 96%" in outcome.summary


def test_cli_refusal_is_unknown(stub):
    stub.answer("volume info", "cli_error_xml_transport_endpoint_not_connected.xml", status=1)
    outcome = PLUGIN.run([])
    assert outcome.state == 3
    assert outcome.summary.startswith("gluster volume info failed: Probe returned with")


def test_busy_pool_is_asked_once_more(stub):
    stub.healthy()
    busy = (
        "<cliOutput><opRet>-1</opRet><opErrno>0</opErrno><opErrstr>Another transaction is in "
        "progress for gv_test. Please try again after some time.</opErrstr></cliOutput>"
    )
    stub.answer("volume heal gv_test info", body=busy)
    outcome = PLUGIN.run([])
    assert (outcome.state, outcome.summary) == (
        3,
        "gluster volume heal info failed: Another transaction is in progress for gv_test. "
        "Please try again after some time. (opRet -1, opErrno 0)",
    )
    assert [call.split(" ", 2)[2] for call in stub.calls].count(
        "volume heal gv_test info --xml"
    ) == 2


def test_glusterd_not_answering_is_critical(stub):
    stub.answer("volume info", "cli_connection_failed_exit110.txt", status=110)
    outcome = PLUGIN.run([])
    assert outcome.state == 2
    assert outcome.summary.startswith("glusterd is not running or not answering")


def test_garbage_is_unknown_with_what_printed_it(stub):
    stub.answer("volume info", body="<html>oops</html>\n")
    outcome = PLUGIN.run([])
    assert (outcome.state, outcome.summary) == (
        3,
        "gluster volume info printed <html>, not gluster's <cliOutput>",
    )


def test_exit_without_xml_is_unknown(stub):
    outcome = PLUGIN.run([])
    assert (outcome.state, outcome.summary) == (
        3,
        "gluster volume info exited 1: stub: no answer for volume_info",
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(damaged(text(STATUS)) if shared_fixtures_dir().is_dir() else damaged(""))
def test_damaged_status_through_the_whole_check(stub, damaged_status):
    stub.healthy(("gv_test",))
    stub.answer("volume status gv_test detail", body=damaged_status)
    answers_cleanly("glusterfs", PLUGIN.run(["--volume", "gv_test"]))


def test_sudo_when_not_root(stub, monkeypatch):
    stub.install("sudo", '#!/bin/sh\n[ "$1" = -n ] && shift; [ "$1" = -- ] && shift; exec "$@"\n')
    stub.healthy()
    monkeypatch.setattr(external.os, "geteuid", lambda: 112)
    assert PLUGIN.run(["--sudo"]).state == 0


def test_hung_cli_times_out(stub):
    stub.install("gluster", "#!/bin/sh\nexec sleep 30\n")
    outcome = PLUGIN.run(["-t", "1"])
    assert outcome.state == 3
    assert "while running gluster volume info" in outcome.summary


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--warning-free", "x"], "'x' is not a range"),
        (["--critical-free-bytes", "10Q:"], "unknown size unit"),
        (["-v", "gv0"], "unrecognized arguments: gv0"),
        (["-w", "10:", "-c", "x"], "argument -c/--critical-free: 'x' is not a range"),
    ],
)
def test_wrong_use_is_one_unknown_line(stub, argv, message):
    assert_one_line(PLUGIN.run(argv), 3, message)
    assert stub.calls == []


def test_as_a_process(stub):
    stub.healthy()
    result = run_installed("glusterfs")
    assert result.returncode == 0
    assert result.stderr == ""


@pytest.mark.integration
def test_real_cli_without_glusterd_is_critical(tmp_path: Path) -> None:
    gluster = shutil.which("gluster", path="/usr/sbin:/usr/bin")
    if gluster is None:
        pytest.skip("glusterfs-cli not installed")
    quiet = tmp_path / "gluster"  # the real CLI, logging into the test's directory
    quiet.write_text(f'#!/bin/sh\nexec {gluster} --log-file={tmp_path}/cli.log "$@"\n')
    quiet.chmod(0o755)
    outcome = PLUGIN.run(["--gluster", str(quiet), "-t", "4"])
    assert outcome.state == 2, outcome.text
    assert outcome.summary.startswith("glusterd is not running or not answering")


# --- a real glusterd (tests/servers/glusterd.py), stopped last ----------------------------


@pytest.mark.integration
def test_real_pool_healthy(glusterd_pool: Pool) -> None:
    glusterd_pool.volume("gv_ok", 3, replica=True)
    glusterd_pool.volume("gv_dist", 1, replica=False)
    outcome = PLUGIN.run(["--gluster", str(glusterd_pool.cli), "--volume", "gv_ok",
                          "--volume", "gv_dist", "-w", "1:", "-c", "0.5:"])  # fmt: skip
    assert_conforms("glusterfs", outcome.state, outcome.text)
    assert (outcome.state, outcome.summary) == (
        0, "2 volumes fine: gv_ok (3/3 bricks online, 0 to heal), gv_dist (1/1 bricks online)"
    ), outcome.text  # fmt: skip
    assert "gv_ok_split_brain=0;;0;0" in outcome.status_line


@pytest.mark.integration
def test_real_pool_volume_not_started(glusterd_pool: Pool) -> None:
    glusterd_pool.volume("gv_created", 1, replica=False, start=False)
    outcome = PLUGIN.run(["--gluster", str(glusterd_pool.cli), "--volume", "gv_created"])
    assert (outcome.state, outcome.summary) == (2, "gv_created: volume is Created")


@pytest.mark.integration
def test_real_pool_brick_down(glusterd_pool: Pool) -> None:
    bricks = glusterd_pool.volume("gv_degraded", 3, replica=True)
    glusterd_pool.stop_brick("gv_degraded", bricks[1])
    outcome = PLUGIN.run(["--gluster", str(glusterd_pool.cli), "--volume", "gv_degraded"])
    assert outcome.state == 2
    # heal info may already count an entry the surviving bricks hold for the dead one
    assert outcome.summary.startswith(f"gv_degraded: brick {bricks[1]} offline"), outcome.text
    assert "heal info cannot reach" not in outcome.summary  # the same brick, named once
    assert "gv_degraded (2/3 bricks online, " in outcome.text


@pytest.mark.integration
def test_real_pool_every_volume_and_an_unknown_one(glusterd_pool: Pool) -> None:
    outcome = PLUGIN.run(["--gluster", str(glusterd_pool.cli), "--volume", "gv_nope"])
    assert outcome.state == 3
    assert outcome.summary.startswith("no volume gv_nope (gluster has ")
    every = PLUGIN.run(["--gluster", str(glusterd_pool.cli), "--no-heal"])
    assert every.state in (0, 2), every.text  # the volumes the other tests left, judged
    assert not every.summary.startswith("gluster"), every.text


@pytest.mark.integration
def test_real_pool_glusterd_stopped_is_critical(glusterd_pool: Pool) -> None:
    glusterd_pool.stop_glusterd()
    try:
        outcome = PLUGIN.run(["--gluster", str(glusterd_pool.cli), "-t", "20"])
        assert (outcome.state, outcome.summary) == (
            2, "glusterd is not running or not answering: gluster says 'Connection failed. "
               "Please check if gluster daemon is operational.'")  # fmt: skip
    finally:
        glusterd_pool.start_glusterd()
