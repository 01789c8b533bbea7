"""check_routes: its parsers on real captures, and real routing tables in namespaces."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

import pytest

from checks.core.errors import ParseError
from checks.network import _routes, routes
from tests.conftest import executable
from tests.helpers.contract import assert_conforms
from tests.helpers.mutations import every_damage_parses_or_refuses
from tests.servers.netns import Namespace, linked

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "network"
ROUTE = {path.stem: path.read_text() for path in (FIXTURES / "route").iterdir()}
IPV6_ROUTE = {path.stem: path.read_text() for path in (FIXTURES / "ipv6_route").iterdir()}
ROUTE_GET = FIXTURES / "ip-route-get"


def test_ipv4_table_of_the_build_machine():
    table = _routes.parse_route(ROUTE["host"])
    assert [str(route) for route in table] == ["default via 192.0.2.1 dev eth0",
                                               "192.0.2.0/24 dev eth0"]  # fmt: skip


def test_ipv4_reject_routes_and_metrics():
    table = _routes.parse_route(ROUTE["netns-unreachable-default"])
    assert [str(route) for route in table if route.reject] == [
        "default unreachable",
        "192.0.2.128/25 unreachable",
    ]
    best = _routes.best_route(table, ipaddress.ip_network("203.0.113.64/26"))
    assert best is not None
    assert (best.gateway, best.metric) == ("198.51.100.4", 10)


def test_ipv6_table_leaves_out_local_routes_and_the_kernels_null_route():
    table = _routes.parse_ipv6_route(IPV6_ROUTE["host"])
    assert "::1/128" not in {str(route.network) for route in table}
    defaults = [route for route in table if route.network.prefixlen == 0]
    assert [(str(route), route.metric) for route in defaults] == [
        ("default via fd00::1 dev eth0", 1024)
    ]
    table = _routes.parse_ipv6_route(IPV6_ROUTE["netns-default-and-unreachable"])
    best = _routes.best_route(table, ipaddress.ip_network("2001:db8:dead:1::/64"))
    assert best is not None
    assert best.reject


@pytest.mark.parametrize(
    "text",
    ["", "Iface Destination\n", "Iface\tDestination\tGateway\nx 1 2 3\n",
     "Iface\tDestination\tGateway\neth0\t00000000\t00000000\t0001\t0\t0\t0\t00FF00FF\n"],
)  # fmt: skip
def test_ipv4_garbage_is_a_parse_error(text):
    with pytest.raises(ParseError):
        _routes.parse_route(text)


def test_damaged_ipv4_table_parses_or_refuses():
    every_damage_parses_or_refuses(
        _routes.parse_route, ROUTE["netns-unreachable-default"], examples=200
    )


def test_damaged_ipv6_table_parses_or_refuses():
    every_damage_parses_or_refuses(
        _routes.parse_ipv6_route, IPV6_ROUTE["netns-default-and-unreachable"], examples=200
    )


def test_route_get_answers():
    answer = _routes.parse_route_get((ROUTE_GET / "ipv4-two-metrics.json").read_text())
    assert str(answer) == "via 198.51.100.4 dev vigie0"
    assert (
        str(_routes.parse_route_get((ROUTE_GET / "ipv6-local.json").read_text())) == "local dev lo"
    )


def test_damaged_route_get_parses_or_refuses():
    every_damage_parses_or_refuses(
        _routes.parse_route_get, (ROUTE_GET / "ipv6-local.json").read_text(), examples=200
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--route", "10.0.0.0/8,via=::1"], "mixes IPv4 and IPv6"),
        (["--route", "10.0.0.0/8,gw=1.2.3.4"], "is not via=GATEWAY or dev=INTERFACE"),
        (["--get", "10.0.0.0/8"], "is a prefix, not an address"),
        (["--no-default"], "leaves nothing to check"),
        (["--no-default", "-6", "--get", "::1"], "contradicts"),
    ],
)
def test_wrong_use_is_unknown(args, message):
    outcome = routes.PLUGIN.run(args)
    assert outcome.state == 3
    assert message in outcome.summary


def test_tables_replayed_from_a_recorded_proc(tmp_path, monkeypatch):
    (tmp_path / "net").mkdir()
    (tmp_path / "net/route").write_text(ROUTE["netns-unreachable-default"])
    (tmp_path / "net/ipv6_route").write_text(IPV6_ROUTE["netns-default-and-unreachable"])
    monkeypatch.setenv("VIGIE_PROC_ROOT", str(tmp_path))
    outcome = routes.PLUGIN.run(["-4", "-6", "--route", "203.0.113.0/24,via=198.51.100.3"])
    assert outcome.state == 2
    assert outcome.summary == (
        "no IPv4 default route (only an unreachable one), 203.0.113.0/24 routed by "
        "203.0.113.0/24 via 198.51.100.4 dev vigie0 (expected via 198.51.100.3)"
    )
    assert "OK: IPv6 default via 2001:db8:1::2 dev vigie0" in outcome.text
    assert outcome.status_line.endswith("| ipv4_routes=5;;;0 ipv6_routes=7;;;0")


# --- real tables in private namespaces ----------------------------------------------------


def check_routes(namespace: Namespace, *args: str) -> subprocess.CompletedProcess[str]:
    result = namespace.run(executable("check_routes"), *args)
    assert_conforms("routes", result.returncode, result.stdout, result.stderr)
    return result


@pytest.mark.integration
def test_default_routes_missing_then_present(make_netns):
    near, _ = linked(make_netns)
    result = check_routes(near, "-4", "-6")
    assert result.returncode == 2
    assert result.stdout.startswith(
        "ROUTES CRITICAL - no IPv4 default route, no IPv6 default route |"
    )
    near.ip("route", "add", "default", "via", "198.51.100.2")
    near.ip("-6", "route", "add", "default", "via", "2001:db8:1::2")
    result = check_routes(near, "-4", "-6")
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith(
        "ROUTES OK - IPv4 default via 198.51.100.2 dev vigie0, "
        "IPv6 default via 2001:db8:1::2 dev vigie0 |"
    )
    near.ip("route", "del", "default")
    near.ip("route", "add", "unreachable", "default")
    result = check_routes(near)
    assert result.returncode == 2
    assert "no IPv4 default route (only an unreachable one)" in result.stdout


@pytest.mark.integration
def test_a_route_via_the_wrong_gateway(make_netns):
    near, _ = linked(make_netns)
    near.ip("route", "add", "default", "via", "198.51.100.2")
    near.ip("route", "add", "203.0.113.0/24", "via", "198.51.100.3")
    right = ("--route", "203.0.113.0/24,via=198.51.100.3,dev=vigie0",
             "--get", "203.0.113.5,via=198.51.100.3")  # fmt: skip
    result = check_routes(near, *right)
    assert result.returncode == 0, result.stdout
    assert "kernel routes 203.0.113.5 via 198.51.100.3 dev vigie0" in result.stdout
    wrong = ("--route", "203.0.113.0/24,via=198.51.100.2", "--get", "203.0.113.5,via=198.51.100.2")
    result = check_routes(near, *wrong)
    assert result.returncode == 2
    assert result.stdout.startswith(
        "ROUTES CRITICAL - 203.0.113.0/24 routed by 203.0.113.0/24 via 198.51.100.3 dev vigie0 "
        "(expected via 198.51.100.2), kernel routes 203.0.113.5 via 198.51.100.3 dev vigie0 "
        "(expected via 198.51.100.2) |"
    )


@pytest.mark.integration
def test_the_kernel_refusing_a_destination_is_critical(make_netns):
    near, _ = linked(make_netns)
    near.ip("route", "add", "prohibit", "192.0.2.128/25")
    result = check_routes(near, "--no-default", "--get", "192.0.2.200", "--get", "203.0.113.1")
    assert result.returncode == 2
    assert result.stdout.split("\n")[0] == (
        "ROUTES CRITICAL - kernel routes 192.0.2.200 nowhere (a prohibit route: Permission "
        "denied), kernel routes 203.0.113.1 nowhere (no route: Network is unreachable)"
    )
