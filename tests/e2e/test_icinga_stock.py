"""vigie dropped into a stock Debian Icinga 2 as the README says: ``icinga2 daemon -C`` clean.

The copy of ``/etc/icinga2`` keeps Debian's conf.d examples (which apply "ping4", "ssh",
"load", "swap", "procs" … to the node itself) and its ``include <plugins-contrib>``, where
the package's ``vigie.conf`` (commands.conf) is read without any other vigie file; the
admin adds the two includes of the README and the host variables.
"""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from tests.e2e.icinga_install import (
    ADMIN_LINES,
    CONF,
    EVERY_RULE,
    PACKAGED,
    declared_services,
    objects,
    stock_host_asks,
    stock_install,
    validate,
)

pytestmark = pytest.mark.integration

STOCK = {"ping4", "ping6", "ssh", "load", "swap", "procs", "users", "http", "disk", "disk /",
         "icinga", "apt"}  # fmt: skip


def test_the_stock_install_with_vigie_validates_and_applies_every_rule(tmp_path):
    main = stock_install(tmp_path)
    stock_host_asks(main, EVERY_RULE)
    result = validate(main, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning/" not in result.stdout, result.stdout
    services = {record["name"] for record in objects(tmp_path, "Service")}
    assert services >= STOCK, "the stock conf.d services are gone"
    expected = {name.rstrip() for name in declared_services()}
    applied = {name.replace("vigie-url home", "vigie-url").replace("vigie-process init",
               "vigie-process") for name in services}  # fmt: skip
    assert expected <= applied, f"rules that applied to nothing: {sorted(expected - applied)}"
    # No constant defined: the commands run the packaged plugins.
    commands = {record["name"]: record["properties"]["command"]
                for record in objects(tmp_path, "CheckCommand")}  # fmt: skip
    assert commands["vigie-load"] == ["/usr/lib/vigie/plugins/check_load"]
    assert commands["vigie-ping"] == ["/usr/lib/vigie/plugins/check_ping"]


def test_the_commands_alone_need_no_other_vigie_file(tmp_path):
    """plugins-contrib.d/vigie.conf is read by the stock icinga2.conf, nothing else added."""
    main = stock_install(tmp_path, included=False)
    result = validate(main, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    names = {record["name"] for record in objects(tmp_path, "CheckCommand")}
    assert {"vigie-load", "vigie-url", "vigie-mysql"} <= names
    assert not {record["name"] for record in objects(tmp_path, "Service")} & declared_services()


def test_vigie_plugin_dir_defined_by_the_admin_is_where_the_plugins_are(tmp_path):
    """A pip installation: ``const VigiePluginDir`` in constants.conf moves every command."""
    main = stock_install(tmp_path)
    constants = main.parent / "constants.conf"
    constants.write_text(constants.read_text() + 'const VigiePluginDir = "/opt/vigie/bin"\n')
    result = validate(main, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    commands = {record["name"]: record["properties"]["command"]
                for record in objects(tmp_path, "CheckCommand")}  # fmt: skip
    assert commands["vigie-load"] == ["/opt/vigie/bin/check_load"]


def test_stock_service_names_would_clash(tmp_path):
    """The harness catches a clash: vigie's rules under the stock names are refused."""
    main = stock_install(tmp_path)
    stock_host_asks(main, EVERY_RULE)
    services = main.parent.parent / "share" / "services.conf"
    services.write_text(services.read_text().replace('apply Service "vigie-', 'apply Service "'))
    result = validate(main, tmp_path)
    assert result.returncode != 0
    assert "already exists" in result.stdout + result.stderr


def test_the_readme_says_where_the_files_go():
    readme = (REPO / "README.md").read_text()
    for line in ADMIN_LINES:
        assert line in readme, f"README's Icinga 2 section lacks {line}"
    for name, installed in PACKAGED.items():
        if (CONF / name).exists():
            assert installed in readme, f"README does not say {name} is {installed}"
