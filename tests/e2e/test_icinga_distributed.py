"""A master and an agent, two real Icinga 2 daemons on loopback: vigie's local checks of the
agent's host are scheduled on the master and run on the agent (``command_endpoint``).

The master has no vigie plugins where the package would put them; the agent defines
``VigiePluginDir`` (this tree's environment): that every check still runs proves the
command line is made on the agent, from the agent's own constant. When the agent stops,
Icinga 2 turns the services UNKNOWN ("Remote Icinga instance … is not connected") instead
of keeping their last state, but only once the master has run 5 minutes (its cold-start
window, lib/icinga/checkable-check.cpp): the test moves the master's clock 6 minutes
forward (libfaketime) once the agent is stopped.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from checks.registry import local_suite
from tests.e2e.icinga_cluster import (
    FAKETIME,
    Api,
    Clock,
    Node,
    certify,
    preamble,
    start,
    stop,
    wait_for,
)
from tests.e2e.icinga_install import CONF

pytestmark = pytest.mark.integration

LOCAL = {f"vigie-{name}" for _, name, _ in local_suite()} | {"vigie-process init"}


def master_config(master: Node, agent: Node, api: Api, chrony: str, port: int) -> None:
    """The master: the agent's endpoint and zone, vigie's templates and rules, one host."""
    templates = master.root / "templates.conf"
    # Checks every second.
    templates.write_text((CONF / "templates.conf").read_text()
                         .replace("check_interval = 1m", "check_interval = 1s")
                         .replace("retry_interval = 30s", "retry_interval = 1s"))  # fmt: skip
    zones = f"""
object Endpoint "{master.name}" {{ }}
object Zone "{master.name}" {{ endpoints = [ "{master.name}" ] }}
object Endpoint "{agent.name}" {{
  host = "127.0.0.1"
  port = "{agent.port}"
  log_duration = 0
}}
object Zone "{agent.name}" {{
  endpoints = [ "{agent.name}" ]
  parent = "{master.name}"
}}
"""
    master.main.write_text(
        preamble(master, zones, "accept_commands = false")
        + api.user()
        + f"""
object CheckerComponent "checker" {{ }}
template Host "generic-host" {{ check_command = "dummy" }}
include "{templates}"
"""
    )
    # As the README says: the rules and hosts in the master zone's directory of zones.d
    # (Icinga reads it by itself): objects with a command_endpoint must be in a zone.
    zone = master.root / "zones.d" / master.name
    zone.mkdir(parents=True)
    (zone / "vigie-services.conf").symlink_to(CONF / "services.conf")
    (zone / "hosts.conf").write_text(
        f"""
object Host "{agent.name}" {{
  import "generic-host"
  vars.os = "Linux"
  vars.agent_endpoint = name
  vars.vigie_local_checks = true
  vars.vigie_swap_no_swap = "ok"
  vars.vigie_load_per_cpu = true
  vars.ntp_servers = [ "{chrony}" ]
  vars.vigie_clock_port = "{port}"
  vars.vigie_processes["init"] = {{ argument = "1", count = "1:" }}
}}
"""
    )


def agent_config(master: Node, agent: Node) -> None:
    """The agent: its parent zone, accepting the master's commands; its own plugin path."""
    zones = f"""
const VigiePluginDir = "{Path(sys.executable).parent}"
object Endpoint "{master.name}" {{ }}
object Zone "{master.name}" {{ endpoints = [ "{master.name}" ] }}
object Endpoint "{agent.name}" {{ }}
object Zone "{agent.name}" {{
  endpoints = [ "{agent.name}" ]
  parent = "{master.name}"
}}
"""
    agent.main.write_text(preamble(agent, zones, "accept_commands = true"))


def test_master_schedules_and_the_agent_runs_the_local_checks(tmp_path, chronyd):
    if not FAKETIME.exists():
        pytest.skip("libfaketime not installed (apt install faketime)")
    master = Node("master.vigie.test", tmp_path / "master")
    agent = Node("agent.vigie.test", tmp_path / "agent")
    ca = certify(master, [master, agent])
    api = Api(master, ca)
    master_config(master, agent, api, chronyd.host, chronyd.port)
    agent_config(master, agent)
    try:
        start(agent, env={"VIGIE_STATE_DIR": str(tmp_path / "agent-state")})
        clock = Clock(tmp_path / "master-clock")
        start(master, clock=clock)

        def all_checked_by_the_agent() -> dict | None:
            services = api.services(agent.name)
            results = [(services.get(name) or {}).get("last_check_result") or {} for name in LOCAL]
            done = all(result.get("check_source") == agent.name for result in results)
            return services if done else None

        services = wait_for("every local check run on the agent", all_checked_by_the_agent, 60)
        assert set(services) >= LOCAL
        for name in LOCAL:
            result = services[name]["last_check_result"]
            assert result["exit_status"] in (0, 1, 2), (name, result)
            assert services[name]["state"] == result["exit_status"], name
            assert result["performance_data"], (name, result["output"])
            assert "Traceback" not in result["output"]
            assert result["command"][0].startswith(str(Path(sys.executable).parent)), name

        stop(agent)
        clock.forward(6 * 60)

        def all_unknown() -> dict | None:
            services = api.services(agent.name)
            return services if all(services[name]["state"] == 3 for name in LOCAL) else None

        services = wait_for("every local service UNKNOWN on the master", all_unknown, 60)
        for name in LOCAL:
            output = services[name]["last_check_result"]["output"]
            assert output == (f"Remote Icinga instance '{agent.name}' is not connected "
                              f"to '{master.name}'"), (name, output)  # fmt: skip
    finally:
        stop(agent)
        stop(master)
