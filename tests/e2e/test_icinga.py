"""icinga_conf/ with Debian's Icinga 2: validated by ``icinga2 daemon -C``, then really run.

The config is laid out as on a master: constants, CheckCommands and templates global,
the apply rules and example hosts in the master zone's directory (objects with a
command_endpoint must belong to a zone), the example agent in zones.conf.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from checks.registry import local_suite, plugins
from tests.conftest import REPO
from tests.e2e.icinga_install import defines, icinga2, netstrings

pytestmark = pytest.mark.integration

CONF = REPO / "icinga_conf"
MASTER = "icinga-master.test"
# The services, from the checks' own declarations (Plugin.local, Plugin.services).
SUITE = local_suite()
CHECKS = {f"vigie-{name}" for _, name, _ in SUITE}
REMOTE = {"vigie-ping4", "vigie-ssh"}  # checked from the master, towards the host's address
# Service name -> the check it runs, as each PLUGIN declares it.
COMMAND = {f"vigie-{name}": plugin.name for plugin, name, _ in SUITE} | {
    service: plugin.name for plugin in plugins() for service in plugin.services}  # fmt: skip
# How each service's command line starts, as Icinga logs it once the plugin has run.
RUNS = [
    *(f"{plugin.executable}'" for plugin, _, _ in SUITE if plugin.name != "procs"),
    "check_procs' '--critical-zombies'",
    "check_procs' '--argument-array'",
]


def layout(
    root: Path, plugin_dir: str = "/usr/lib/vigie/plugins", extra: str = "", zoned: bool = True
) -> Path:
    """A master's configuration under ``root``; returns its icinga2.conf.

    ``zoned=False`` includes hosts and services without a zone: a lone daemon without an
    API listener only schedules checks of objects outside zones.
    """
    for name in ("data", "cache", "log", "spool", "run"):
        (root / name).mkdir(parents=True, exist_ok=True)
    zone = root / "zones.d" / MASTER
    zone.mkdir(parents=True, exist_ok=True)
    shutil.copy(CONF / "services.conf", zone / "services.conf")
    shutil.copy(CONF / "hosts.conf.example", zone / "hosts.conf")
    (root / "constants.conf").write_text(f"const VigiePluginDir = {json.dumps(plugin_dir)}\n")
    main = root / "icinga2.conf"
    main.write_text(
        f"""
const PluginDir = "/usr/lib/nagios/plugins"
const NodeName = "{MASTER}"
const ZoneName = NodeName
include <itl>
include <plugins>
object Endpoint NodeName {{ }}
object Zone ZoneName {{ endpoints = [ NodeName ] }}
template Host "generic-host" {{ check_command = "dummy" }}
include "{CONF}/zones.conf.example"
include "{root}/constants.conf"
include "{CONF}/commands.conf"
include "{root / "templates.conf"}"
{extra}
"""
    )
    with main.open("a") as file:
        if zoned:
            file.write(f'include_zones "vigie", "{root}/zones.d"\n')
        else:
            file.write(f'include "{zone}/hosts.conf"\ninclude "{zone}/services.conf"\n')
    shutil.copy(CONF / "templates.conf", root / "templates.conf")
    return main


def run_until(root: Path, main: Path, log: Path, runs: list[str]) -> dict[str, dict]:
    """Run the daemon until it has run every command of ``runs``; the services' results."""
    daemon = subprocess.Popen(
        [icinga2(), "daemon", "-c", str(main), *defines(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ, VIGIE_STATE_DIR=str(root / "state")),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            ran = log.read_text() if log.exists() else ""
            if all(re.search(rf"/{start}[^)\n]*\) terminated", ran) for start in runs):
                break
            time.sleep(0.5)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    return {
        record["name"].split("!")[1]: record["update"].get("last_check_result")
        for record in netstrings(root / "data" / "icinga2.state")
        if record["type"] == "Service"
    }


def test_a_network_check_defaults_to_the_address_of_its_host(tmp_path):
    """vigie-ping on a host with only ``address`` set pings that address ($check_address$)."""
    log = tmp_path / "log" / "notice.log"
    extra = (
        'object CheckerComponent "checker" { }\n'
        f'object FileLogger "notice" {{ path = "{log}"; severity = "notice" }}'
    )
    main = layout(tmp_path, str(Path(sys.executable).parent), extra, zoned=False)
    zone = tmp_path / "zones.d" / MASTER
    (zone / "hosts.conf").write_text(
        'object Host "pinged" {\n  import "generic-host"\n  address = "127.0.0.1"\n}\n'
    )
    (zone / "services.conf").write_text(
        'object Service "vigie-ping" {\n  host_name = "pinged"\n  check_command = "vigie-ping"\n'
        '  check_interval = 1s\n  vars.vigie_ping_packets = "1"\n}\n'
    )
    (tmp_path / "zones.conf.example").write_text("")
    main.write_text(main.read_text().replace(str(CONF / "zones.conf.example"),
                                             str(tmp_path / "zones.conf.example")))  # fmt: skip
    results = run_until(tmp_path, main, log, ["check_ping'"])
    result = results["vigie-ping"]
    assert result, "Icinga never ran vigie-ping"
    assert "--hostname" in result["command"], result["command"]
    assert result["command"][result["command"].index("--hostname") + 1] == "127.0.0.1"
    assert result["output"].startswith("PING OK"), result


def test_daemon_validates_the_configuration(tmp_path):
    main = layout(tmp_path)
    result = subprocess.run(
        [icinga2(), "daemon", "-C", "-c", str(main), *defines(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    # Both hosts get the local checks, ping4 and ssh; web1, a physical machine with
    # backups, also SMART, backup and its two processes.
    assert f"Instantiated {2 * len(CHECKS) + 2 * len(REMOTE) + 4} Services." in result.stdout
    services = {
        (record["properties"]["host_name"], record["name"]): record["properties"]
        for record in netstrings(tmp_path / "cache" / "icinga2.debug")
        if record["type"] == "Service"
    }
    assert {name for _, name in services} == CHECKS | REMOTE | {
        "vigie-smart", "vigie-backup", "vigie-process nginx", "vigie-process php-fpm"}  # fmt: skip
    for (host, name), properties in services.items():
        agent = "web1.example.org" if host == "web1.example.org" and name not in REMOTE else ""
        assert properties.get("command_endpoint") == agent, (host, name)
        command = COMMAND["vigie-process "] if name.startswith("vigie-process") else COMMAND[name]
        assert properties["check_command"] == f"vigie-{command}"
        assert properties["max_check_attempts"] == (1 if name == "vigie-uptime" else 3)
        assert properties["check_interval"] == (
            900 if name in ("vigie-smart", "vigie-backup") else 60)  # fmt: skip


def test_daemon_refuses_a_broken_configuration(tmp_path):
    """The harness really validates: apply rules without their templates fail."""
    main = layout(tmp_path)
    (tmp_path / "templates.conf").write_text("// templates forgotten\n")
    result = subprocess.run(
        [icinga2(), "daemon", "-C", "-c", str(main), *defines(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "unknown template: 'vigie-service'" in result.stdout


def test_icinga_runs_the_checks_with_the_variables_of_the_host(tmp_path, chronyd):
    """A real Icinga 2 schedules every local check and gets a plugin result back."""
    log = tmp_path / "log" / "notice.log"
    extra = (
        'object CheckerComponent "checker" { }\n'
        f'object FileLogger "notice" {{ path = "{log}"; severity = "notice" }}'
    )
    main = layout(tmp_path, str(Path(sys.executable).parent), extra, zoned=False)
    hosts = tmp_path / "zones.d" / MASTER / "hosts.conf"
    # Only the master itself (no agent to reach), with overrides, checked every second.
    hosts.write_text(
        'object Host NodeName {\n  import "generic-host"\n  vars.vigie_local_checks = true\n'
        '  vars.vigie_load_per_cpu = true\n  vars.vigie_load_warning = "50,40,30"\n'
        '  vars.vigie_swap_no_swap = "ok"\n  vars.vigie_cpu_sample = "0.2"\n'
        f'  vars.ntp_servers = [ "{chronyd.host}" ]\n  vars.vigie_clock_port = "{chronyd.port}"\n'
        '  vars.vigie_processes["init"] = { argument = "1", count = "0:" }\n}\n'
    )
    (tmp_path / "zones.conf.example").write_text("")
    main.write_text(main.read_text().replace(str(CONF / "zones.conf.example"),
                                             str(tmp_path / "zones.conf.example")))  # fmt: skip
    templates = tmp_path / "templates.conf"
    templates.write_text(
        templates.read_text().replace("check_interval = 1m", "check_interval = 1s")
    )
    results = run_until(tmp_path, main, log, RUNS)
    assert set(results) == CHECKS | {"vigie-process init"}
    for name, result in results.items():
        assert result, f"Icinga never ran {name}"
        assert result["exit_status"] in (0, 1, 2), result
        plugin = COMMAND["vigie-process "] if name.startswith("vigie-process") else COMMAND[name]
        assert result["output"].startswith(f"{plugin.upper()} "), result
        assert "Traceback" not in result["output"]
    # Icinga orders arguments by key; each variable became its option.
    assert results["vigie-load"]["command"][1:] == ["--per-cpu", "--warning", "50,40,30"]
    assert results["vigie-swap"]["command"][1:] == ["--no-swap", "ok"]
    assert results["vigie-cpu"]["command"][1:] == ["--sample", "0.2"]
    assert results["vigie-zombies"]["command"][1:] == [
        "--critical-zombies", "50", "--warning-zombies", "5"]  # fmt: skip
    assert results["vigie-clock"]["command"][1:] == [
        "--hostname",
        chronyd.host,
        "--port",
        str(chronyd.port),
    ]
    assert results["vigie-process init"]["command"][1:] == [
        "--argument-array", "1", "--critical", "0:"]  # fmt: skip
