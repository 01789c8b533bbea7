"""check_drbd on real captures: DRBD 8.0 to 8.4 /proc/drbd, DRBD 9 ``drbdsetup status
--json`` and ``drbdadm status``, through the whole check.

There is no DRBD kernel module here: /proc/drbd captures are read with --proc-drbd, and
stub drbdsetup/drbdadm executables print the DRBD 9 captures. A DRBD 9 /proc/drbd lists no
resource, only the module's version (written here from the module's format).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks.cluster._drbd import parse_proc_drbd, parse_status_json, parse_status_text
from checks.cluster.drbd import PLUGIN
from tests.conftest import shared_fixtures
from tests.helpers.contract import assert_conforms, run_installed
from tests.helpers.mutations import answers_cleanly, damaged, every_damage_parses_or_refuses
from tests.helpers.stub_tools import StubTools, first_on_path

PROC_DRBD_9 = (
    "version: 9.0.16-1 (api:2/proto:86-114)\n"
    "GIT-hash: ab9777dfeaf9d619acc9a5201bfcae8103e9529c build by buildd@host, 2019-01-01\n"
    "Transports (api:16): tcp (9.0.16-1)\n"
)
STUB = """#!/bin/sh
# {tool} stand-in: logs its command line, prints the file named in {tool}.answer.
here=$(dirname "$0")
echo "{tool} $*" >> "$here/calls"
[ -f "$here/{tool}.stderr" ] && cat "$here/{tool}.stderr" >&2
[ -f "$here/{tool}.answer" ] && cat "$(cat "$here/{tool}.answer")"
exit "$(cat "$here/{tool}.status" 2>/dev/null || echo 0)"
"""
NO_JSON = "drbdsetup status: unrecognized option '--json'\n"

#: capture -> (state, the status line's summary)
EXPECTED = {
    "proc_drbd_v80_connected_unconfigured_emptyline.txt": (
        0, "1 DRBD resource healthy: drbd0 Primary"),
    "proc_drbd_v80_mixed_connected_wfconnection_standalone_diskless.txt": (
        2, "drbd4:peer: WFConnection (peer not connected); drbd5:peer: peer disk Diskless (no "
        "backing disk: detached or failed); drbd6: disk Diskless (no backing disk: detached "
        "or failed); drbd7:peer: WFConnection (peer not connected); drbd8:peer: StandAlone "
        "(not connecting: split brain, or disconnected by hand)"),
    "proc_drbd_v83_mixed_connected_wfconnection_standalone_diskless.txt": (
        2, "drbd4:peer: WFConnection (peer not connected); drbd5:peer: peer disk Diskless (no "
        "backing disk: detached or failed); drbd6: disk Diskless (no backing disk: detached "
        "or failed); drbd7:peer: WFConnection (peer not connected); drbd8:peer: StandAlone "
        "(not connecting: split brain, or disconnected by hand)"),
    "proc_drbd_v83_syncsource_kernel2639_no_newline_before_finish.txt": (
        2, "drbd4:peer: WFConnection (peer not connected); drbd3:peer: SyncSource resync 2.4% "
        "done, 4 min 8 s left, 14.6 GiB out of sync"),
    "proc_drbd_v83_synctarget_in_progress.txt": (
        2, "drbd4:peer: WFConnection (peer not connected); drbd3:peer: SyncTarget resync 34.9% "
        "done, 5 s left, 338 MiB out of sync"),
    "proc_drbd_v83_synctarget_with_want_rate.txt": (
        1, "drbd0:peer: SyncTarget resync 44.4% done, 8 s left, 574.6 MiB out of sync"),
    # connected, no resync, yet 12349 KiB out of sync (the project set the counters): a
    # verify found differences that only a disconnect/connect resyncs
    "proc_drbd_v843_connected_primary_primary.txt": (
        1, "drbd1:peer: 12.1 MiB out of sync, no resync"),
    "proc_drbd_v84_first_minor_missing.txt": (
        2, "drbd4:peer: WFConnection (peer not connected); drbd6: disk Diskless (no backing "
        "disk: detached or failed); drbd8:peer: StandAlone (not connecting: split brain, or "
        "disconnected by hand)"),
    "proc_drbd_v84_mixed_connected_wfconnection_standalone_diskless.txt": (
        2, "drbd4:peer: WFConnection (peer not connected); drbd6: disk Diskless (no backing "
        "disk: detached or failed); drbd8:peer: StandAlone (not connecting: split brain, or "
        "disconnected by hand)"),
    "proc_drbd_v84_standalone_and_syncsource.txt": (
        2, "drbd0:peer: StandAlone (not connecting: split brain, or disconnected by hand); "
        "drbd5:peer: SyncSource resync 68.5% done, 5 s left, 327.9 MiB out of sync"),
    "drbdsetup_status_json_v9_two_resources_connected.json": (
        2, "1-single-1/0: quorum lost"),
    "drbdadm_status_v9_syncsource_96pct.txt": (
        1, "single/0:opensuse-node2: SyncSource resync 96.5% done"),
    "drbdadm_status_v9_two_resources_three_nodes_uptodate.txt": (
        0, "2 DRBD resources healthy: res Primary (2 volumes, peers node2 node3), test Primary "
        "(2 volumes, peers node2 node3)"),
    # an event stream, not a status: refused with the line that is not 'name key:value'
    "drbdsetup_events2_v9_standalone_to_syncsource.txt": (
        3, "drbdadm status: 'exists -' is not 'name key:value …'"),
}  # fmt: skip


class Stubs(StubTools):
    """A directory with stub drbdsetup and drbdadm, and a DRBD 9 /proc/drbd."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        for tool in ("drbdsetup", "drbdadm"):
            self.install(tool, STUB.format(tool=tool))
        self.proc9 = directory / "proc_drbd_9"
        self.proc9.write_text(PROC_DRBD_9)

    def answer(self, tool: str, path: Path, status: int = 0, stderr: str = "") -> Stubs:
        (self.directory / f"{tool}.answer").write_text(str(path))
        (self.directory / f"{tool}.status").write_text(str(status))
        (self.directory / f"{tool}.stderr").write_text(stderr)
        return self

    def fail(self, tool: str, stderr: str, status: int = 20) -> Stubs:
        (self.directory / f"{tool}.answer").unlink(missing_ok=True)
        (self.directory / f"{tool}.status").write_text(str(status))
        (self.directory / f"{tool}.stderr").write_text(stderr)
        return self


@pytest.fixture
def stubs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stubs:
    """The stub tools, first on PATH."""
    return first_on_path(Stubs(tmp_path / "bin"), monkeypatch)


def capture(name: str) -> Path:
    return shared_fixtures() / "drbd" / name


def arguments_for(stubs: Stubs, name: str) -> list[str]:
    """Set the stubs up to show capture ``name`` and return the check's arguments."""
    path = capture(name)
    if name.startswith("proc_drbd"):
        return ["--proc-drbd", str(path)]
    if name.endswith(".json"):
        stubs.answer("drbdsetup", path)
    else:  # drbd-utils without --json: the check falls back to drbdadm status
        stubs.fail("drbdsetup", NO_JSON).answer("drbdadm", path)
    return ["--proc-drbd", str(stubs.proc9)]


def test_every_capture_has_an_expected_state():
    assert {path.name for path in (shared_fixtures() / "drbd").iterdir()} == set(EXPECTED)


@pytest.mark.parametrize(("fixture", "expected"), EXPECTED.items(), ids=list(EXPECTED))
def test_each_capture_in_process(stubs, fixture, expected):
    outcome = PLUGIN.run(arguments_for(stubs, fixture))
    assert_conforms("drbd", outcome.state, outcome.text)
    assert (outcome.state, outcome.summary) == expected, outcome.text


def test_drbd_9_asks_drbdsetup_then_falls_back_to_drbdadm(stubs):
    PLUGIN.run(arguments_for(stubs, "drbdadm_status_v9_syncsource_96pct.txt"))
    assert stubs.calls == ["drbdsetup status --json", "drbdadm status"]


def test_drbd_8_runs_no_tool(stubs):
    PLUGIN.run(arguments_for(stubs, "proc_drbd_v843_connected_primary_primary.txt"))
    assert stubs.calls == []


def test_long_output_has_a_line_per_volume_and_peer(stubs):
    outcome = PLUGIN.run(
        arguments_for(stubs, "drbdadm_status_v9_two_resources_three_nodes_uptodate.txt")
    )
    lines = outcome.text.splitlines()
    assert len(lines) == 13  # the status line, 4 volumes, 4 × 2 peers
    assert lines[1:4] == [
        "OK: res/0 Primary UpToDate",
        "OK: res/0:node2 Connected Secondary UpToDate",
        "OK: res/0:node3 Connected Secondary UpToDate",
    ]
    assert lines[-1] == "OK: test/1:node3 Connected Secondary UpToDate"


def test_resync_progress_in_perfdata(stubs):
    outcome = PLUGIN.run(arguments_for(stubs, "proc_drbd_v84_standalone_and_syncsource.txt"))
    assert outcome.status_line.endswith(
        "| drbd0_out_of_sync=1073479680B;;;0 drbd5_out_of_sync=343801856B;;;0 "
        "drbd5_synced=68.5%;;;0;100 drbd5_eta=5s;;;0"
    )
    assert outcome.text.splitlines()[1:] == [
        "OK: drbd0 Primary UpToDate",
        "CRITICAL: drbd0:peer StandAlone Unknown DUnknown: StandAlone (not connecting: split "
        "brain, or disconnected by hand)",
        "OK: drbd5 Secondary UpToDate",
        "WARNING: drbd5:peer SyncSource Secondary Inconsistent: SyncSource resync 68.5% done, "
        "5 s left, 327.9 MiB out of sync",
    ]


def test_local_problems_once_per_volume_peer_problems_per_peer(stubs, tmp_path):
    # drbdadm status text as drbdsetup.c prints it (resource_status, device_status,
    # peer_device_status; --statistics continues a peer device on a deeper line).
    text = tmp_path / "status.txt"
    text.write_text(
        "r0 role:Secondary suspended:quorum\n"
        "  volume:0 disk:Outdated quorum:no\n"
        "  volume:1 disk:Diskless client:yes\n"
        "  nodeB connection:StandAlone\n"
        "  nodeC role:Primary\n"
        "    volume:0 peer-disk:UpToDate\n"
        "    volume:1 replication:Established peer-disk:UpToDate\n"
        "        received:0 sent:0 out-of-sync:4096 pending:0 unacked:0\n"
    )
    stubs.answer("drbdadm", text)
    outcome = PLUGIN.run(["--source", "drbdadm"])
    assert (outcome.state, outcome.summary) == (
        2,
        "r0/0: I/O suspended, quorum lost, disk Outdated (data not current, no resync); "
        "r0/0:nodeB: StandAlone (not connecting: split brain, or disconnected by hand); "
        "r0/1: I/O suspended; r0/1:nodeB: StandAlone (not connecting: split brain, or "
        "disconnected by hand); r0/1:nodeC: 4 MiB out of sync, no resync",
    )
    assert "OK: r0/0:nodeC Connected Primary UpToDate" in outcome.text.splitlines()
    assert "CRITICAL: r0/1 Secondary Diskless (client): I/O suspended" in outcome.text


def test_resources_are_selected_by_name_or_minor(stubs):
    proc = capture("proc_drbd_v84_mixed_connected_wfconnection_standalone_diskless.txt")
    outcome = PLUGIN.run(["--proc-drbd", str(proc), "--resource", "drbd0", "-r", "1"])
    assert (outcome.state, outcome.summary) == (
        0,
        "2 DRBD resources healthy: drbd0 Primary, drbd1 Secondary",
    )


def test_a_selected_resource_that_is_not_configured_is_critical(stubs):
    arguments = arguments_for(stubs, "drbdsetup_status_json_v9_two_resources_connected.json")
    outcome = PLUGIN.run([*arguments, "--resource", "1-single-0", "--resource", "r9"])
    assert (outcome.state, outcome.summary) == (2, "r9: is not configured (down?)")


def test_without_the_module_it_is_critical(tmp_path):
    outcome = PLUGIN.run(["--proc-drbd", str(tmp_path / "drbd")])
    assert outcome.state == 2
    assert outcome.summary.startswith("DRBD is not loaded: no ")


def test_drbdsetup_failing_otherwise_is_unknown(stubs):
    stubs.fail("drbdsetup", "Permission denied\n", status=1)
    outcome = PLUGIN.run(["--proc-drbd", str(stubs.proc9)])
    assert (outcome.state, outcome.summary) == (
        3,
        "drbdsetup status --json failed: Permission denied",
    )


def test_no_resource_at_all_is_unknown(stubs, tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("[]\n")
    stubs.answer("drbdsetup", empty)
    outcome = PLUGIN.run(["--proc-drbd", str(stubs.proc9)])
    assert (outcome.state, outcome.summary) == (3, "no DRBD resource is configured")


def test_json_resync_details_and_a_peer_down(stubs, tmp_path):
    # The real capture, its second resource resyncing with the fields drbdsetup prints
    # then (drbdsetup.c, peer_device_status_json), its first one's peer gone.
    resources = json.loads(
        capture("drbdsetup_status_json_v9_two_resources_connected.json").read_text()
    )
    resources[0]["connections"][0].update(
        {"connection-state": "Connecting", "peer-role": "Unknown", "peer_devices": []}
    )
    resources[1]["devices"][0].update({"disk-state": "Inconsistent", "quorum": True})
    resources[1]["connections"][0]["peer_devices"][0].update(
        {"replication-state": "SyncTarget", "out-of-sync": 2048, "has-sync-details": True,
         "percent-resync-done": 80.0, "estimated-seconds-to-finish": 90}
    )  # fmt: skip
    edited = tmp_path / "status.json"
    edited.write_text(json.dumps(resources))
    stubs.answer("drbdsetup", edited)
    outcome = PLUGIN.run(["--proc-drbd", str(stubs.proc9)])
    assert (outcome.state, outcome.summary) == (
        2,
        "1-single-0/0:SLE15-sp1-gm-drbd1145296-node1: Connecting (peer not connected); "
        "1-single-1/0:SLE15-sp1-gm-drbd1145296-node1: SyncTarget resync 80% done, "
        "1 min 30 s left, 2 MiB out of sync",
    )


@pytest.mark.parametrize("arguments", [["--source", "nfs"], ["-r"], ["-w", "1X"]])
def test_bad_arguments_are_unknown(arguments):
    outcome = PLUGIN.run(arguments)
    assert outcome.state == 3
    assert "see check_drbd --help" in outcome.summary


PARSERS = {
    "proc": parse_proc_drbd,
    "drbdsetup": parse_status_json,
    "drbdadm": parse_status_text,
}


@pytest.mark.parametrize("fixture", sorted(EXPECTED), ids=str)
def test_damaged_captures_parse_or_refuse(fixture):
    text = capture(fixture).read_text(errors="replace")
    kind = "proc" if fixture.startswith("proc") else "drbdsetup" if "json" in fixture else "drbdadm"
    every_damage_parses_or_refuses(PARSERS[kind], text, examples=30, slow=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data(), fixture=st.sampled_from(sorted(EXPECTED)))
def test_damaged_captures_through_the_whole_check(stubs, tmp_path, data, fixture):
    arguments = arguments_for(stubs, fixture)
    damaged_file = tmp_path / "damaged"
    damaged_file.write_text(data.draw(damaged(capture(fixture).read_text(errors="replace"))))
    if fixture.startswith("proc"):
        arguments = ["--proc-drbd", str(damaged_file)]
    else:
        tool = "drbdsetup" if fixture.endswith(".json") else "drbdadm"
        stubs.answer(tool, damaged_file)
    answers_cleanly("drbd", PLUGIN.run(arguments))


def test_installed_executable(stubs):
    arguments = arguments_for(stubs, "drbdadm_status_v9_syncsource_96pct.txt")
    result = run_installed("drbd", *arguments)
    assert result.returncode == 1
    assert result.stderr == ""


def test_out_of_sync_thresholds_whatever_the_connection(stubs):
    proc = capture("proc_drbd_v84_mixed_connected_wfconnection_standalone_diskless.txt")
    outcome = PLUGIN.run(["--proc-drbd", str(proc), "-r", "drbd4", "-w", "512M", "-c", "2G"])
    assert (outcome.state, outcome.summary) == (
        2,
        "drbd4:peer: WFConnection (peer not connected); drbd4 1023.8 MiB out of sync > 512 MiB",
    )
    assert "drbd4_out_of_sync=1073479680B;536870912;2147483648;0" in outcome.status_line
