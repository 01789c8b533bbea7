"""check_interfaces: its parsers on real captures, sysfs trees, and veth pairs in namespaces."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings

from checks.core.errors import ParseError
from checks.core.runtime import Outcome
from checks.network import _links, interfaces
from tests.conftest import executable
from tests.helpers.contract import assert_conforms
from tests.helpers.mutations import damaged, every_damage_parses_or_refuses
from tests.servers.netns import Namespace, linked, send_frames

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "network"
BONDING = FIXTURES / "bonding"
NET_DEV = (FIXTURES / "net_dev" / "host.txt").read_text()


# --- parsers ------------------------------------------------------------------------------


def test_net_dev_of_the_build_machine():
    counters = _links.parse_net_dev(NET_DEV)
    assert {"lo", "eth0"} <= set(counters)
    assert counters["lo"]["rx_bytes"] == counters["lo"]["tx_bytes"] > 0
    assert set(counters["eth0"]) == set(_links.NET_DEV_COLUMNS)


@pytest.mark.parametrize("text", ["", "Inter-| Receive\n", "a\n b | bytes\neth0: 1 2 x\n"])
def test_net_dev_garbage_is_a_parse_error(text):
    with pytest.raises(ParseError):
        _links.parse_net_dev(text)


def test_damaged_net_dev_parses_or_refuses():
    every_damage_parses_or_refuses(_links.parse_net_dev, NET_DEV, examples=200)


def test_bonding_802_3ad_with_a_slave_down_and_outside_the_aggregator():
    bond = _links.parse_bonding((BONDING / "802.3ad-slave-down.txt").read_text())
    assert bond.mode == "IEEE 802.3ad Dynamic link aggregation"
    assert bond.active_aggregator == "2"
    assert [(s.name, s.mii, s.aggregator) for s in bond.slaves] == [
        ("enp1s0f0", "down", "1"),
        ("enp1s0f1", "up", "2"),
    ]


def test_bonding_active_backup():
    bond = _links.parse_bonding((BONDING / "active-backup-healthy.txt").read_text())
    assert (bond.mode, bond.active, bond.mii) == ("fault-tolerance (active-backup)", "eno1", "up")
    assert [slave.failures for slave in bond.slaves] == [0, 1]
    down = _links.parse_bonding((BONDING / "active-backup-all-down.txt").read_text())
    assert down.active is None
    assert {slave.mii for slave in down.slaves} == {"down"}


@pytest.mark.parametrize("text", ["", "hello\n", "Bonding Mode: x\n", "MII Status: up\n"])
def test_bonding_garbage_is_a_parse_error(text):
    with pytest.raises(ParseError):
        _links.parse_bonding(text)


def test_damaged_bonding_parses_or_refuses():
    every_damage_parses_or_refuses(
        _links.parse_bonding, (BONDING / "802.3ad-slave-down.txt").read_text(), examples=200
    )


@pytest.mark.parametrize(
    ("before", "after", "grown"),
    [
        (10, 15, 5),
        (2**32 - 10, 5, 15),  # a 32-bit counter wrapped
        (1_000, 7, 7),  # reset: counted from zero
        (2**40, 3, 3),  # a 64-bit counter does not wrap in one sample: reset
    ],
)
def test_counter_increase_is_never_negative(before, after, grown):
    assert interfaces.increase(before, after) == grown


# --- sysfs trees ----------------------------------------------------------------------------


def make_tree(root: Path, links: dict[str, dict[str, str]]) -> Path:
    """A /sys and a /proc under ``root`` with ``links`` (attribute -> text; ``master``
    a bond's name, ``bonding`` a /proc/net/bonding fixture name)."""
    net = root / "sys" / "class" / "net"
    net.mkdir(parents=True)
    proc_net = root / "proc" / "net"
    (proc_net / "bonding").mkdir(parents=True)
    (root / "proc/sys/kernel/random").mkdir(parents=True)
    (root / "proc/sys/kernel/random/boot_id").write_text("tree\n")
    lines = NET_DEV.splitlines()[:2]
    for name, attributes in links.items():
        directory = net / name
        directory.mkdir()
        defaults = {"operstate": "up", "carrier": "1", "flags": "0x1003", "type": "1"}
        for key, value in {**defaults, **attributes}.items():
            if key == "master":
                os.symlink(f"../{value}", directory / "master")
            elif key == "bonding":
                (directory / "bonding").mkdir()
                (proc_net / "bonding" / name).write_text((BONDING / value).read_text())
            else:
                (directory / key).write_text(value + "\n")
        lines.append(f"{name:>6}: " + " ".join(["0"] * 16))
    (proc_net / "dev").write_text("\n".join(lines) + "\n")
    return root


def run_tree(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Outcome:
    monkeypatch.setenv("VIGIE_PROC_ROOT", str(root / "proc"))
    return interfaces.PLUGIN.run(["--sys", str(root / "sys"), "--sample", "0.01", *args])


def test_physical_links_judged_and_plumbing_skipped(tmp_path, monkeypatch):
    root = make_tree(tmp_path, {
        "lo": {"type": "772", "operstate": "unknown"},
        "eno1": {"speed": "1000", "duplex": "full"},
        "eno2": {"flags": "0x1002", "operstate": "down", "carrier": ""},
        "docker0": {"operstate": "down", "carrier": "0"},
        "veth1a2b3c": {"operstate": "down"},
    })  # fmt: skip
    outcome = run_tree(root, monkeypatch)
    assert outcome.state == 0, outcome.text
    assert outcome.summary.startswith("eno1 up 1000 Mbit/s full duplex;")
    assert "eno2 is administratively down: not judged" in outcome.text
    assert "docker0" not in outcome.text
    assert "veth" not in outcome.text
    assert "eno1_errors=0;1;10;0" in outcome.text


def test_explicit_include_judges_virtual_and_down_links(tmp_path, monkeypatch):
    root = make_tree(tmp_path, {
        "eno2": {"flags": "0x1002", "operstate": "down"},
        "docker0": {"operstate": "down", "carrier": "0"},
    })  # fmt: skip
    outcome = run_tree(root, monkeypatch, "-i", "^(eno|docker)")
    assert outcome.state == 2
    assert outcome.summary == "docker0 down (no carrier), eno2 administratively down"
    assert run_tree(root, monkeypatch, "-i", "^nothing").summary == (
        f"no interface matches '^nothing' in {root}/sys/class/net"
    )


def test_speed_and_duplex_warn(tmp_path, monkeypatch):
    root = make_tree(tmp_path, {"eth0": {"speed": "100", "duplex": "half"}})
    outcome = run_tree(root, monkeypatch, "--speed", "1000")
    assert outcome.state == 1
    assert outcome.summary == "eth0 up 100 Mbit/s half duplex < 1000 Mbit/s (half duplex)"


@pytest.mark.parametrize(
    ("fixture", "state", "summary"),
    [
        ("active-backup-healthy.txt", 0,
         "bond0 up, fault-tolerance (active-backup) 2/2 slaves up, active eno1"),
        ("active-backup-slave-down.txt", 1,
         "bond0 up, fault-tolerance (active-backup) 1/2 slaves up, active eno1 (eno2 down)"),
        ("active-backup-all-down.txt", 2,
         "bond0 up, fault-tolerance (active-backup) 0/2 slaves up (every slave down)"),
        ("802.3ad-slave-down.txt", 1,
         "bond0 up, IEEE 802.3ad Dynamic link aggregation 1/2 slaves up (eno1 down)"),
    ],
)  # fmt: skip
def test_bonds_from_proc_net_bonding(tmp_path, monkeypatch, fixture, state, summary):
    text = (BONDING / fixture).read_text().replace("enp1s0f0", "eno1").replace("enp1s0f1", "eno2")
    (tmp_path / "bonding.txt").write_text(text)
    root = make_tree(tmp_path, {
        "bond0": {"bonding": fixture},
        "eno1": {"master": "bond0", "operstate": "down", "carrier": "0"},
        "eno2": {"master": "bond0"},
    })  # fmt: skip
    (root / "proc/net/bonding/bond0").write_text(text)
    outcome = run_tree(root, monkeypatch)
    assert outcome.state == state, outcome.text
    assert outcome.summary.startswith(summary), outcome.summary
    assert "eno1 down" not in outcome.text.replace("(eno1 down)", "")  # the slave not judged twice


def test_802_3ad_slave_up_outside_the_active_aggregator_warns(tmp_path, monkeypatch):
    text = (BONDING / "802.3ad-slave-down.txt").read_text()
    text = text.replace("MII Status: down", "MII Status: up")
    root = make_tree(tmp_path, {"bond0": {"bonding": "802.3ad-slave-down.txt"}})
    (root / "proc/net/bonding/bond0").write_text(text)
    outcome = run_tree(root, monkeypatch)
    assert outcome.state == 1
    assert outcome.summary.endswith("(enp1s0f0 not in the active aggregator 2)")


def test_a_bond_from_sysfs_alone(tmp_path, monkeypatch):
    root = make_tree(
        tmp_path, {"bond0": {}, "eno1": {"master": "bond0"}, "eno2": {"master": "bond0"}}
    )
    net = root / "sys/class/net"
    bonding = net / "bond0/bonding"
    bonding.mkdir()
    for key, value in {"mode": "802.3ad 4", "mii_status": "up", "slaves": "eno1 eno2",
                       "ad_aggregator": "1"}.items():  # fmt: skip
        (bonding / key).write_text(value + "\n")
    for slave, mii, aggregator in (("eno1", "up", "1"), ("eno2", "down", "2")):
        (net / slave / "bonding_slave").mkdir()
        (net / slave / "bonding_slave/mii_status").write_text(mii + "\n")
        (net / slave / "bonding_slave/ad_aggregator_id").write_text(aggregator + "\n")
    outcome = run_tree(root, monkeypatch)
    assert outcome.state == 1
    assert outcome.summary.startswith("bond0 up, 802.3ad 1/2 slaves up (eno2 down)")


@settings(max_examples=60, deadline=None)
@given(damaged((BONDING / "active-backup-slave-down.txt").read_text()))
def test_damaged_bond_file_answers_cleanly(tmp_path_factory, text):
    root = tmp_path_factory.mktemp("tree")
    make_tree(root, {"bond0": {"bonding": "active-backup-healthy.txt"}})
    (root / "proc/net/bonding/bond0").write_text(text)
    os.environ["VIGIE_PROC_ROOT"] = str(root / "proc")
    try:
        outcome = interfaces.PLUGIN.run(["--sys", str(root / "sys"), "--sample", "0.01"])
    finally:
        del os.environ["VIGIE_PROC_ROOT"]
    assert_conforms("interfaces", outcome.state, outcome.text)
    assert "internal error" not in outcome.text


# --- real veth pairs in private namespaces --------------------------------------------------


def run_inside(namespace: Namespace, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = namespace.run("env", f"VIGIE_STATE_DIR={state}", executable("check_interfaces"), *args)
    assert_conforms("interfaces", result.returncode, result.stdout, result.stderr)
    return result


@pytest.mark.integration
def test_a_veth_pair_up_then_its_peer_down(make_netns, tmp_path):
    near, far = linked(make_netns, near="veth0")
    result = run_inside(near, tmp_path, "--sample", "0.05")
    assert result.returncode == 3  # only a veth and lo there: nothing to judge by default
    assert "no interface is left to check" in result.stdout
    result = run_inside(near, tmp_path, "-i", "^veth", "--sample", "0.05")
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("INTERFACES OK - veth0 up 10000 Mbit/s full duplex;")
    far.ip("link", "set", "vigie1", "down")
    result = run_inside(near, tmp_path, "-i", "^veth", "--sample", "0.05")
    assert result.returncode == 2, result.stdout
    assert re.match(
        r"INTERFACES CRITICAL - veth0 (lowerlayer)?down \(no carrier\) \|", result.stdout
    )


@pytest.mark.integration
def test_drops_of_real_frames_are_a_rate_over_the_previous_run(make_netns, tmp_path):
    near, far = linked(make_netns)
    args = (
        "-i",
        "^vigie1$",
        "--sample",
        "0.05",
        "--warning-drops",
        "100",
        "--critical-drops",
        "1000",
    )
    assert run_inside(far, tmp_path, *args).returncode == 0  # stores the first reading
    near.run("sleep", "1.1")
    send_frames(near, "vigie0", 5000)
    result = run_inside(far, tmp_path, *args)
    assert result.returncode == 2, result.stdout
    first = result.stdout.split("\n")[0]
    assert "vigie1 drops" in first
    assert "/s > 1000" in first
    assert re.search(r"over the last \d+ s", first)  # the previous run's reading, not a sample
    rx = int(first.split("vigie1_rx=")[1].split("c")[0])
    assert rx >= 5000 * 60  # the frames' bytes were counted on the way in
