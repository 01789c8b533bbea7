"""Every check is registered everywhere a hand-written file must name it, and nowhere else.

A check is its module (``checks/<group>/<name>.py`` defining ``PLUGIN``, see
:mod:`checks.registry`); what derives from it is generated or read at run time, and what
must stay hand-written is held to it here, fast (no integration marker): the console
script line in pyproject.toml, the README catalogue section, the CheckCommand (generated
files not stale), and an Icinga apply rule and a Nagios service for each service the
check declares, or its declared reason for having none. Each failure names what to add.
"""

from __future__ import annotations

import re
import tomllib

import pytest

from checks import icinga
from checks.core.runtime import Plugin
from checks.registry import module_names, plugins
from tests.conftest import REPO

PLUGINS = plugins()
NAMES = [plugin.name for plugin in PLUGINS]
SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
README = (REPO / "README.md").read_text()
CONF = REPO / "icinga_conf"
# Service names of the stock conf.d of Debian's and upstream's Icinga 2: never ours.
STOCK_SERVICES = {"ping4", "ping6", "ssh", "icinga", "load", "procs", "swap", "users", "http",
                  "disk", "disk /", "apt"}  # fmt: skip


def apply_rules() -> dict[str, str]:
    """services.conf: apply rule name -> its check_command."""
    text = (CONF / "services.conf").read_text()
    rules = {}
    for name, body in re.findall(r'^apply Service "([^"]*)"[^{\n]*\{(.*?)^\}', text, re.M | re.S):
        command = re.search(r'^\s*check_command = "([^"]+)"', body, re.M)
        rules[name] = command[1] if command else ""
    return rules


def nagios_services() -> dict[str, str]:
    """nagios/services.cfg: service_description -> the command of its check_command."""
    text = (CONF / "nagios" / "services.cfg").read_text()
    services = {}
    for body in re.findall(r"define service \{(.*?)\}", text, re.S):
        name = re.search(r"^\s*service_description\s+(.+?)\s*$", body, re.M)
        command = re.search(r"^\s*check_command\s+([^!\s]+)", body, re.M)
        if name and command:
            services[name[1]] = command[1]
    return services


def icinga_services(plugin: Plugin) -> list[str]:
    return [f"vigie-{entry.name}" for entry in plugin.local] + list(plugin.services)


def nagios_names(plugin: Plugin) -> list[str]:
    return [entry.name for entry in plugin.local] + list(plugin.nagios)


def test_checks_are_found_and_named_like_their_module():
    assert len(PLUGINS) >= 14
    for module, plugin in zip(module_names(), sorted(PLUGINS, key=lambda p: p.check.__module__),
                              strict=True):  # fmt: skip
        assert module.rsplit(".", 1)[1] == plugin.name, (
            f"{module} is public, so it is the check check_{module.rsplit('.', 1)[1]}; its "
            f"PLUGIN is named {plugin.name!r} (a helper module's name starts with _)"
        )


@pytest.mark.parametrize("plugin", PLUGINS, ids=NAMES)
def test_every_check_has_its_console_script(plugin):
    module = plugin.check.__module__
    assert SCRIPTS.get(plugin.executable) == f"{module}:main", (
        f"{plugin.executable} is not installed: add the line "
        f'{plugin.executable} = "{module}:main" to [project.scripts] in pyproject.toml '
        "(then pip install -e . again)"
    )


def test_every_check_script_is_a_check():
    scripts = {name for name in SCRIPTS if name.startswith("check_")}
    assert scripts == {plugin.executable for plugin in PLUGINS}, (
        "pyproject.toml installs check_* scripts whose module defines no PLUGIN in a check "
        f"group: {sorted(scripts - {plugin.executable for plugin in PLUGINS})}"
    )


@pytest.mark.parametrize("plugin", PLUGINS, ids=NAMES)
def test_every_check_has_a_readme_section(plugin):
    assert re.search(rf"^### {plugin.executable} — ", README, re.M), (
        f"README.md has no catalogue section for {plugin.executable}: add "
        f"'### {plugin.executable} — <what it judges>' under 'Catalogue of checks'"
    )


@pytest.mark.parametrize("plugin", PLUGINS, ids=NAMES)
def test_every_check_has_its_checkcommand(plugin):
    text = (CONF / "commands.conf").read_text()
    assert f'object CheckCommand "vigie-{plugin.name}" {{' in text, (
        f"icinga_conf/commands.conf has no CheckCommand vigie-{plugin.name}: "
        "run `vigie icinga-commands > icinga_conf/commands.conf`"
    )
    assert f"command_name    vigie-{plugin.name}\n" in (CONF / "nagios/commands.cfg").read_text(), (
        f"icinga_conf/nagios/commands.cfg has no command vigie-{plugin.name}: "
        "run `vigie nagios-commands > icinga_conf/nagios/commands.cfg`"
    )


def test_commands_conf_is_generated_from_the_checks():
    assert (CONF / "commands.conf").read_text() == icinga.commands(), (
        "icinga_conf/commands.conf is stale: "
        "run `vigie icinga-commands > icinga_conf/commands.conf`"
    )


def test_nagios_commands_cfg_is_generated_from_the_checks():
    assert (CONF / "nagios" / "commands.cfg").read_text() == icinga.nagios_commands(), (
        "icinga_conf/nagios/commands.cfg is stale: "
        "run `vigie nagios-commands > icinga_conf/nagios/commands.cfg`"
    )


@pytest.mark.parametrize("plugin", PLUGINS, ids=NAMES)
def test_every_check_has_a_default_service_or_says_why_not(plugin):
    if not icinga_services(plugin):
        assert plugin.no_service, (
            f"{plugin.executable} declares no service: give its PLUGIN local=(Local(…),) or "
            f"services=('vigie-…',) and write the apply rule in icinga_conf/services.conf, "
            "or no_service='why it has no default service'"
        )
        return
    rules = apply_rules()
    for name in icinga_services(plugin):
        assert name in rules, (
            f'icinga_conf/services.conf has no apply Service "{name}" for {plugin.executable} '
            f"(declared in its PLUGIN)"
        )
        assert rules[name] == f"vigie-{plugin.name}", (name, rules[name])
    nagios = nagios_services()
    for name in nagios_names(plugin):
        assert nagios.get(name) == f"vigie-{plugin.name}", (
            f"icinga_conf/nagios/services.cfg has no service '{name}' running "
            f"vigie-{plugin.name} (declared in the PLUGIN of {plugin.executable})"
        )


def test_every_service_is_declared_by_its_check_and_no_stock_name_is_taken():
    declared = {name: plugin.name for plugin in PLUGINS for name in icinga_services(plugin)}
    rules = apply_rules()
    assert set(rules) == set(declared), (
        "apply rules in icinga_conf/services.conf that no PLUGIN declares: "
        f"{sorted(set(rules) - set(declared))}; declared but not written there: "
        f"{sorted(set(declared) - set(rules))}"
    )
    assert not set(rules) & STOCK_SERVICES
    assert all(name.startswith("vigie-") for name in rules)
    nagios = {name: plugin.name for plugin in PLUGINS for name in nagios_names(plugin)}
    assert set(nagios_services()) == set(nagios)
