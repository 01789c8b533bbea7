"""check_hacluster: the parser on real crm_mon captures; the check on the real crm_mon.

Two ways the whole check runs. A stub crm_mon (first on PATH) prints a capture, for the
clusters of other projects' captures. And Pacemaker's own crm_mon and cibadmin
(pacemaker-cli-utils) read a CIB file (``CIB_file``, as Pacemaker's regression suite
runs them): the status section of a CIB written here says which nodes are up and which
operations failed, and the real crm_mon computes the cluster's state from it, so the
check reads what the tools really print for standby, quorum loss, failures, bans.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from checks.cluster._crm import parse_constraints, parse_crm_mon
from checks.cluster.hacluster import PLUGIN
from checks.core import external
from checks.core.errors import CannotCheck, ParseError
from tests.conftest import FIXTURES, shared_fixtures_dir
from tests.helpers.captures import own_or_shared
from tests.helpers.contract import assert_conforms, assert_one_line, run_installed
from tests.helpers.mutations import answers_cleanly, damaged, every_damage_parses_or_refuses
from tests.helpers.stub_tools import StubTools, first_on_path

OWN = FIXTURES / "pacemaker"
STUB = """#!/bin/sh
# crm_mon stand-in: logs its command line, prints the answer for its layout option.
here=$(dirname "$0")
echo "$*" >> "$here/calls"
case " $* " in *" --output-as=xml "*) layout=new;; *" --as-xml "*) layout=old;; esac
[ -f "$here/$layout.out" ] || { echo "crm_mon: unrecognized option" >&2; exit 64; }
cat "$here/$layout.out"
exit "$(cat "$here/$layout.status" 2>/dev/null || echo 0)"
"""
BASIC = "crm_mon_xml_v2_basic_cluster_online_some_stopped.xml"
LEGACY = "crm_mon_as_xml_v200_failed_start_not_installed.xml"

FAILED_STANDBY_BAN = (
    "web FAILED on node1, failed action web_start_0 on node1 error (1): Apache configuration "
    "test failed, node node2 in standby, constraint cli-ban-web-on-node2 (web banned from "
    "node2) left by a move (crm_resource --clear -r web)"
)
CIBADMIN = "cibadmin_constraints_2.1.5_cli_prefer_and_ban.xml"
#: capture -> (state, the status line's summary)
EXPECTED = {
    LEGACY: (2, "failed action ddd_start_0 on Hawk3-2 not installed (5): Setup problem: "
                "couldn't find command: /usr/bin/safe_mysqld, failed action ddd_start_0 on "
                "Hawk3-1 not installed (5): Setup problem: couldn't find command: "
                "/usr/bin/safe_mysqld"),
    BASIC: (1, "httpd-bundle replica 2 stopped"),
    "crm_mon_xml_v2_maintenance_mode_enabled.xml": (
        1, "cluster in maintenance mode (resources not managed), httpd-bundle replica 2 stopped"),
    "crm_mon_xml_v2_partially_active_failed_actions.xml": (
        2, "httpd in httpd-bundle/replica 1 FAILED on httpd-bundle-1, dummy-2 in "
           "partially-active-group FAILED on cluster02, failed action dummy-2_monitor_0 on "
           "cluster02 Unimplemented (3), dummy-4 in partially-active-group stopped, smart-mon "
           "stopped"),
    "crm_mon_xml_v2_unmanaged_resource_on_offline_node.xml": (
        2, "node cluster02 OFFLINE, cluster in maintenance mode (resources not managed)"),
    # tests/fixtures/pacemaker: Pacemaker 2.1.5 with no cluster on this machine
    "crm_mon_xml_2.1.5_not_connected_exit102.xml": (
        2, "pacemaker is not running here: crm_mon cannot reach the cluster: error: Could not "
           "connect to launcher: Connection refused; crm_mon: Connection to cluster failed: "
           "Connection refused"),
    "crm_mon_as_xml_2.1.5_not_connected_exit102.xml": (
        2, "pacemaker is not running here: crm_mon --as-xml printed no cluster status (is "
           "pacemaker running?)"),
    "crm_mon_xml_2.1.5_failed_start_standby_ban.xml": (2, FAILED_STANDBY_BAN),
    "crm_mon_as_xml_2.1.5_failed_start_standby_ban.xml": (2, FAILED_STANDBY_BAN),
    "crm_mon_xml_2.1.5_cib_file_missing_exit0.xml": (
        3, "crm_mon printed no cluster summary: Could not connect to the CIB: No such device "
           "or address"),
}  # fmt: skip


def fixture(name: str) -> Path:
    return own_or_shared("pacemaker", name)


def text(name: str) -> str:
    return fixture(name).read_text()


class Stub(StubTools):
    """A directory with the stub crm_mon and what it prints for each layout option."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.install("crm_mon", STUB)

    def answer(self, name: str | None = None, *, body: str = "", status: int | None = None) -> Stub:
        """The layout of the capture answers (the other option is unrecognised)."""
        content = text(name) if name else body
        layout = "old" if "<crm_mon" in content[:200] else "new"
        (self.directory / f"{layout}.out").write_text(content)
        code = status if status is not None else int((name and "exit102" in name and 102) or 0)
        (self.directory / f"{layout}.status").write_text(str(code))
        return self


@pytest.fixture
def stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stub:
    return first_on_path(Stub(tmp_path / "bin"), monkeypatch)


# --- the parser ---------------------------------------------------------------------------


def test_every_xml_capture_has_an_expected_state():
    shared = {p.name for p in (shared_fixtures_dir() / "pacemaker").glob("crm_mon*.xml")}
    own = {p.name for p in OWN.glob("crm_mon*.xml")}
    assert shared | own == set(EXPECTED)


def test_new_layout_read():
    cluster = parse_crm_mon(text(BASIC))
    assert (cluster.layout, cluster.stack, cluster.dc, cluster.quorum) == (
        "pacemaker-result", "corosync", "cluster02", True)  # fmt: skip
    assert [(n.name, n.online, n.guest) for n in cluster.nodes][:3] == [
        ("cluster01", True, False),
        ("cluster02", True, False),
        ("httpd-bundle-0", True, True),
    ]
    assert len(cluster.resources) == 32
    roles = {r.role for r in cluster.resources if r.id == "promotable-rsc"}
    assert roles == {"Promoted", "Unpromoted", "Stopped"}
    assert [str(ban) for ban in cluster.bans] == ["not-on-cluster1 (dummy banned from cluster01)"]
    assert not cluster.bans[0].left_by_move
    disabled = {r.id for r in cluster.resources if r.disabled}
    assert disabled == {"inactive-dhcpd", "inactive-dummy-1", "inactive-dummy-2"}


def test_legacy_layout_read_with_fail_counts():
    cluster = parse_crm_mon(text(LEGACY))
    assert (cluster.layout, cluster.version, cluster.dc, cluster.quorum) == (
        "crm_mon", "2.0.0", "Hawk3-1", True)  # fmt: skip
    assert cluster.fail_counts == {("ddd", "Hawk3-2"): 1000000, ("ddd", "Hawk3-1"): 1000000}
    assert [f.op_key for f in cluster.failures] == ["ddd_start_0", "ddd_start_0"]


def test_old_role_names_read_as_new():
    old = text(BASIC).replace('role="Promoted"', 'role="Master"').replace(
        'role="Unpromoted"', 'role="Slave"')  # fmt: skip
    roles = {r.role for r in parse_crm_mon(old).resources if r.id == "promotable-rsc"}
    assert roles == {"Promoted", "Unpromoted", "Stopped"}


def test_entities_refused():
    with pytest.raises(ParseError, match="DOCTYPE"):
        parse_crm_mon('<!DOCTYPE x [<!ENTITY a "b">]><crm_mon version="1">&a;</crm_mon>')


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_damaged_captures_parse_or_refuse_cleanly(name):
    every_damage_parses_or_refuses(parse_crm_mon, text(name), examples=60)


def test_constraints_of_cibadmin_read():
    constraints = parse_constraints(text(CIBADMIN))
    assert [(str(c), c.left_by_move) for c in constraints] == [
        ("cli-prefer-vip (vip pinned to node1)", True),
        ("cli-ban-web-on-node2 (web banned from node2)", True),
    ]


def test_damaged_constraints_parse_or_refuse_cleanly():
    every_damage_parses_or_refuses(parse_constraints, text(CIBADMIN), examples=80)


def test_failing_cibadmin_is_unknown(stub):
    stub.answer(BASIC)
    outcome = PLUGIN.run(["--cib-constraints", "--cibadmin", "/bin/false"])
    assert (outcome.state, outcome.summary) == (
        3, "cibadmin -Q -o constraints exited 1: nothing")  # fmt: skip


def test_constraints_read():
    constraints = parse_constraints(
        "<constraints>\n"
        '  <rsc_location id="cli-prefer-vip" rsc="vip" role="Started" node="node1" '
        'score="INFINITY"/>\n'
        "</constraints>\n"
    )
    assert [(str(c), c.left_by_move) for c in constraints] == [
        ("cli-prefer-vip (vip pinned to node1)", True)]  # fmt: skip
    with pytest.raises(CannotCheck):
        parse_constraints("<cib/>")


# --- the check on every capture, through the stub crm_mon ---------------------------------


@pytest.mark.parametrize(("name", "expected"), EXPECTED.items(), ids=list(EXPECTED))
def test_each_capture(stub, name, expected):
    stub.answer(name)
    outcome = PLUGIN.run([])
    assert_conforms("hacluster", outcome.state, outcome.text)
    assert (outcome.state, outcome.summary) == expected, outcome.text


def test_new_option_first_then_the_old_one(stub):
    stub.answer(LEGACY)
    PLUGIN.run([])
    assert stub.calls == ["-1 -r -f --output-as=xml", "-1 -r -f --as-xml"]


def test_neither_layout_is_unknown(stub):
    outcome = PLUGIN.run([])
    assert (outcome.state, outcome.summary) == (
        3, "crm_mon printed no XML with --output-as=xml nor --as-xml (exit 64): crm_mon: "
           "unrecognized option")  # fmt: skip


def test_fail_count_threshold(stub):
    stub.answer(LEGACY)
    outcome = PLUGIN.run(["--fail-count", "0", "-c", "999999"])
    assert outcome.state == 2
    assert outcome.summary.endswith(
        "fail count of ddd on Hawk3-1 1000000 (INFINITY) > 999999, "
        "fail count of ddd on Hawk3-2 1000000 (INFINITY) > 999999"
    )
    assert "failcount_ddd:Hawk3-1=1000000;0;999999;0" in outcome.status_line


def test_allowed_maintenance(stub):
    stub.answer("crm_mon_xml_v2_maintenance_mode_enabled.xml")
    outcome = PLUGIN.run(["--allow-maintenance"])
    assert (outcome.state, outcome.summary) == (1, "httpd-bundle replica 2 stopped")


def test_perfdata_and_long_output(stub):
    stub.answer(BASIC)
    outcome = PLUGIN.run(["-v"])
    assert outcome.status_line.endswith(
        "| nodes_online=2;;;0;2 resources_active=18;;;0;32 failed_actions=0;;;0"
    )
    lines = outcome.text.splitlines()
    assert lines[1] == "WARNING: httpd-bundle replica 2 stopped"
    assert lines[2] == "crm_mon layout <pacemaker-result> X, stack corosync"
    assert lines[3].startswith("nodes: cluster01 (online), cluster02 (online DC), ")
    assert lines[-1] == "location constraints: not-on-cluster1 (dummy banned from cluster01)"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(damaged(text(BASIC)) if shared_fixtures_dir().is_dir() else damaged(""))
def test_damaged_answer_through_the_whole_check(stub, damaged_text):
    stub.answer(body=damaged_text or "<x/>", status=0)
    answers_cleanly("hacluster", PLUGIN.run([]))


def test_sudo_refusal_is_unknown(stub, monkeypatch):
    stub.install("sudo", "#!/bin/sh\necho 'sudo: a password is required' >&2\nexit 1\n")
    stub.answer(BASIC)
    monkeypatch.setattr(external.os, "geteuid", lambda: 112)
    outcome = PLUGIN.run(["--sudo"])
    assert (outcome.state, outcome.summary) == (
        3, "sudo did not run crm_mon: sudo: a password is required (see check_hacluster "
           "--help for the sudoers line)")  # fmt: skip


def test_hung_crm_mon_times_out(stub):
    stub.install("crm_mon", "#!/bin/sh\nexec sleep 30\n")
    outcome = PLUGIN.run(["-t", "1"])
    assert (outcome.state, outcome.summary) == (3, "timed out after 1 s while running crm_mon")


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--fail-count", "x"], "'x' is not a range"), (["--standby"], "unrecognized arguments")],
)
def test_wrong_use_is_one_unknown_line(stub, argv, message):
    assert_one_line(PLUGIN.run(argv), 3, message)
    assert stub.calls == []


def test_as_a_process(stub):
    stub.answer(BASIC)
    result = run_installed("hacluster")
    assert result.returncode == 1
    assert result.stderr == ""


# --- the real crm_mon and cibadmin on CIB files -------------------------------------------


def _op(resource: str, operation: str, rc: int, call: int, reason: str = "") -> str:
    """An ``lrm_rsc_op`` of the status section: what the executor last did, and its rc."""
    key = f"{call}:1:0:aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"
    why = f' exit-reason="{reason}"' if reason else ""
    return (
        f'<lrm_rsc_op id="{resource}_last_0" operation_key="{resource}_{operation}_0" '
        f'operation="{operation}" crm-debug-origin="vigie" crm_feature_set="3.16.2" '
        f'transition-key="{key}" transition-magic="0:{rc};{key}" call-id="{call}" '
        f'rc-code="{rc}" op-status="0" interval="0" last-rc-change="1700000000" '
        f'exec-time="10" queue-time="0" op-digest="x"{why}/>'
    )


AGENTS = {"vip": ("heartbeat", "IPaddr2"), "web": ("heartbeat", "apache"),
          "db": ("pacemaker", "Stateful")}  # fmt: skip


def _node_state(node: int, ops: dict[str, tuple[str, int, str]], online: bool) -> str:
    if not online:
        return (f'<node_state id="{node}" uname="node{node}" in_ccm="false" crmd="offline" '
                f'crm-debug-origin="vigie" join="down" expected="down"/>')  # fmt: skip
    resources = "".join(
        f'<lrm_resource id="{rsc}" class="ocf" provider="{AGENTS[rsc][0]}" type="{AGENTS[rsc][1]}">'
        f"{_op(rsc, operation, rc, call, reason)}</lrm_resource>"
        for call, (rsc, (operation, rc, reason)) in enumerate(ops.items(), start=2)
    )
    return (
        f'<node_state id="{node}" uname="node{node}" in_ccm="true" crmd="online" '
        f'crm-debug-origin="vigie" join="member" expected="member"><lrm id="{node}">'
        f"<lrm_resources>{resources}</lrm_resources></lrm></node_state>"
    )


def cib(
    *,
    quorum: bool = True,
    maintenance: bool = False,
    standby: bool = False,
    node2_online: bool = True,
    web_fails: bool = False,
    promoted: bool = True,
    constraints: str = "",
) -> str:
    """A 2-node CIB: vip and web on node1, the promotable clone db on both."""
    options = '<nvpair id="o-stonith" name="stonith-enabled" value="false"/>'
    if maintenance:
        options += '<nvpair id="o-maint" name="maintenance-mode" value="true"/>'
    node2 = ('<instance_attributes id="n2"><nvpair id="n2-standby" name="standby" value="on"/>'
             "</instance_attributes>") if standby else ""  # fmt: skip
    node1_ops = {
        "vip": ("start", 0, ""),
        "web": ("start", 1, "Apache configuration test failed") if web_fails else ("start", 0, ""),
        "db": ("promote" if promoted else "start", 0, ""),
    }
    return (
        f'<cib crm_feature_set="3.16.2" validate-with="pacemaker-3.7" epoch="1" num_updates="0" '
        f'admin_epoch="0" have-quorum="{int(quorum)}" dc-uuid="1"><configuration><crm_config>'
        f'<cluster_property_set id="bootstrap">{options}</cluster_property_set></crm_config>'
        f'<nodes><node id="1" uname="node1"/><node id="2" uname="node2">{node2}</node></nodes>'
        '<resources><primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2"/>'
        '<primitive id="web" class="ocf" provider="heartbeat" type="apache"/>'
        '<clone id="db-clone"><meta_attributes id="db-meta"><nvpair id="db-p" name="promotable" '
        'value="true"/></meta_attributes><primitive id="db" class="ocf" provider="pacemaker" '
        f'type="Stateful"/></clone></resources><constraints>{constraints}</constraints>'
        f"</configuration><status>{_node_state(1, node1_ops, True)}"
        f"{_node_state(2, {'db': ('start', 0, '')}, node2_online)}</status></cib>"
    )


MOVED = (
    '<rsc_location id="cli-prefer-vip" rsc="vip" role="Started" node="node1" score="INFINITY"/>'
    '<rsc_location id="cli-ban-web-on-node2" rsc="web" role="Started" node="node2" '
    'score="-INFINITY"/>'
)
REAL_CASES = {
    "healthy": ({}, [], 0, "2/2 nodes online, 4/4 resources active, partition with quorum "
                "(DC node1)"),
    "standby": ({"standby": True}, [], 1, "node node2 in standby"),
    "standby allowed": ({"standby": True}, ["--allow-standby"], 0, "2/2 nodes online, 4/4 "
                        "resources active, partition with quorum (DC node1)"),
    "no quorum": ({"quorum": False}, [], 2, "partition WITHOUT quorum"),
    "node offline": ({"node2_online": False}, [], 2, "node node2 OFFLINE"),
    "failed start": ({"web_fails": True}, [], 2, "web FAILED on node1, failed action web_start_0 "
                     "on node1 error (1): Apache configuration test failed"),
    "maintenance": ({"maintenance": True}, [], 1, "cluster in maintenance mode (resources not "
                    "managed)"),
    "none promoted": ({"promoted": False}, [], 1, "clone db-clone: no instance promoted"),
    "moved": ({"constraints": MOVED}, ["--cib-constraints"], 1, "constraint "
              "cli-ban-web-on-node2 (web banned from node2) left by a move (crm_resource "
              "--clear -r web), constraint cli-prefer-vip (vip pinned to node1) left by a move "
              "(crm_resource --clear -r vip)"),
    "moved, crm_mon only": ({"constraints": MOVED}, [], 1, "constraint "
                            "cli-ban-web-on-node2 (web banned from node2) left by a move "
                            "(crm_resource --clear -r web)"),
}  # fmt: skip


@pytest.fixture
def cib_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Write a CIB and point crm_mon and cibadmin at it; the real tools must be there."""
    if shutil.which("crm_mon", path="/usr/sbin:/usr/bin") is None:
        pytest.skip("pacemaker-cli-utils not installed (crm_mon, cibadmin)")

    def write(**options: object) -> Path:
        path = tmp_path / "cib.xml"
        path.write_text(cib(**options))  # type: ignore[arg-type]
        monkeypatch.setenv("CIB_file", str(path))
        return path

    return write


@pytest.mark.integration
@pytest.mark.parametrize(
    ("options", "argv", "state", "summary"), REAL_CASES.values(), ids=list(REAL_CASES)
)
def test_real_crm_mon(cib_file, options, argv, state, summary):
    cib_file(**options)
    outcome = PLUGIN.run(argv)
    assert_conforms("hacluster", outcome.state, outcome.text)
    assert (outcome.state, outcome.summary) == (state, summary), outcome.text


@pytest.mark.integration
def test_real_crm_mon_legacy_layout(cib_file, tmp_path):
    """A crm_mon without --output-as (before 2.0.3): the real one's --as-xml is read."""
    cib_file(web_fails=True)
    old = tmp_path / "old-crm_mon"
    old.write_text(
        '#!/bin/sh\ncase " $* " in *" --output-as=xml "*) echo "crm_mon: unrecognized option" '
        '>&2; exit 64;; esac\nexec /usr/sbin/crm_mon "$@"\n'
    )
    old.chmod(0o755)
    outcome = PLUGIN.run(["--crm_mon", str(old), "-v"])
    assert outcome.state == 2
    assert outcome.summary.startswith("web FAILED on node1, failed action web_start_0 on node1")
    assert "crm_mon layout <crm_mon> 2.1.5, stack unknown" in outcome.text


@pytest.mark.integration
def test_real_crm_mon_without_a_cluster_is_critical(monkeypatch):
    if shutil.which("crm_mon", path="/usr/sbin:/usr/bin") is None:
        pytest.skip("pacemaker-cli-utils not installed (crm_mon, cibadmin)")
    monkeypatch.delenv("CIB_file", raising=False)
    outcome = PLUGIN.run([])
    assert outcome.state == 2, outcome.text
    assert outcome.summary.startswith("pacemaker is not running here: crm_mon cannot reach")
