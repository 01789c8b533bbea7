"""icinga_conf/nagios/ with Debian's Nagios 4 and NRPE: ``nagios4 -v`` and a real ``nrpe``.

The shipped definitions are validated alone (a host in every vigie hostgroup) and dropped
into a copy of Debian's stock ``/etc/nagios4`` as the README says (one ``cfg_dir`` line for
the package's ``/usr/share/vigie/nagios``); the NRPE example is served by a real ``nrpe``
on loopback and every command it enables is asked for with ``check_nrpe``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from checks.registry import plugins
from tests.conftest import REPO
from tests.e2e.nagios_install import (
    NAGIOS,
    SHIPPED,
    clean,
    configuration,
    hostgroups,
    services,
    stock_install,
    verify,
)
from tests.servers.ports import free_port, wait_for_tcp

pytestmark = pytest.mark.integration

NRPE_EXAMPLE = NAGIOS / "nrpe.cfg.example"
PLUGIN_DIR = "/usr/lib/vigie/plugins"
EXECUTABLES = {plugin.executable: plugin for plugin in plugins()}


# The README's custom variables: more options of a service's check.
OPTIONS = (
    "    _VIGIE_URL              -u / -s Welcome\n    _VIGIE_LOAD             -w 5,4,3 -c 10,8,6\n"
)


def in_hostgroups(main: Path, host: str, groups: list[str], options: str = "") -> None:
    """The admin's edit of the stock localhost.cfg: the host joins vigie's hostgroups."""
    localhost = main.parent / "objects" / "localhost.cfg"
    text = localhost.read_text()
    anchor = f"    host_name               {host}\n"
    assert anchor in text, "Debian's localhost.cfg changed"
    line = f"    hostgroups              {','.join(groups)}\n{options}"
    localhost.write_text(text.replace(anchor, anchor + line, 1))


def test_nagios_validates_the_definitions(tmp_path):
    result = verify(configuration(tmp_path, [NAGIOS / name for name in SHIPPED]))
    clean(result)
    # One host in every hostgroup: as many services as the file defines, every check one.
    assert f"Checked {services(NAGIOS / 'services.cfg')} services." in result.stdout
    used = set(
        re.findall(r"check_command\s+vigie-([a-z_]+)", (NAGIOS / "services.cfg").read_text())
    )
    assert used == {plugin.name for plugin in plugins()}


def test_nagios_refuses_services_without_their_commands(tmp_path):
    """The harness really validates: without commands.cfg the services are refused."""
    result = verify(configuration(tmp_path, [NAGIOS / "templates.cfg", NAGIOS / "services.cfg"]))
    assert result.returncode != 0
    assert "vigie-load" in result.stdout


def test_the_stock_nagios4_with_vigie_validates(tmp_path):
    main = stock_install(tmp_path)
    stock = verify(main)
    clean(stock)
    checked = re.search(r"Checked (\d+) services", stock.stdout)
    assert checked, stock.stdout
    stock_count = int(checked[1])
    in_hostgroups(main, "localhost", list(dict.fromkeys(hostgroups(NAGIOS / "services.cfg"))),
                  OPTIONS)  # fmt: skip
    result = verify(main)
    clean(result)
    assert f"Checked {stock_count + services(NAGIOS / 'services.cfg')} services." in result.stdout


def test_the_nrpe_services_validate_with_debians_check_nrpe(tmp_path):
    main = stock_install(tmp_path)
    if not Path("/etc/nagios-plugins/config/check_nrpe.cfg").exists():
        pytest.skip("check_nrpe.cfg not found (apt install nagios-nrpe-plugin)")
    example = NAGIOS / "nrpe-services.cfg.example"
    shutil.copy(example, main.parent / "conf.d" / "vigie-nrpe.cfg")
    in_hostgroups(main, "localhost", ["vigie-nrpe"])
    result = verify(main)
    clean(result)
    asked = set(re.findall(r"check_nrpe!(\S+)", example.read_text()))
    assert asked == set(nrpe_commands(enabled=True)), "nrpe-services asks for other commands"


def nrpe_commands(*, enabled: bool) -> dict[str, list[str]]:
    """nrpe.cfg.example's commands (or the commented-out ones): name -> command line."""
    prefix = "" if enabled else "#"
    found = re.findall(
        rf"^{re.escape(prefix)}command\[([^]]+)\]=(.+)$", NRPE_EXAMPLE.read_text(), re.M
    )
    return {name: shlex.split(line) for name, line in found}


@pytest.mark.parametrize("enabled", [True, False], ids=["enabled", "commented"])
def test_every_nrpe_command_is_a_plugin_with_valid_options(enabled):
    commands = nrpe_commands(enabled=enabled)
    assert commands
    for name, argv in commands.items():
        directory, executable = os.path.split(argv[0])
        assert directory == PLUGIN_DIR, name
        assert executable in EXECUTABLES, f"{name}: {executable} is no vigie plugin"
        EXECUTABLES[executable].parser().parse_args(argv[1:])  # UsageError if wrong


def test_a_real_nrpe_serves_the_example(tmp_path):
    plugin_dir = Path(tempfile.mkdtemp(prefix="vigie-nrpe-", dir="/tmp"))
    try:
        answers = served(tmp_path, plugin_dir)
    finally:
        shutil.rmtree(plugin_dir)
    for name, (status, output, argv) in answers.items():
        plugin = EXECUTABLES[Path(argv[0]).name]
        assert status in (0, 1, 2, 3), (name, output)
        assert output.startswith(f"{plugin.name.upper()} "), (name, output)
        assert "Traceback" not in output


def installed_as_debian_does(plugin_dir: Path) -> None:
    """The plugins in ``plugin_dir`` run by Debian's python3 on this tree's sources.

    The nagios user NRPE runs them as cannot reach the test's virtual environment (its
    interpreter lives under /root); Debian's python3 with its python3-nagiosplugin is what
    the package runs them with anyway.
    """
    plugin_dir.chmod(0o755)
    for executable, plugin in EXECUTABLES.items():
        script = plugin_dir / executable
        script.write_text(
            f"#!/bin/sh\nPYTHONPATH={REPO / 'src'} exec /usr/bin/python3 -c "
            f"'import sys; from {plugin.check.__module__} import main; sys.exit(main())' \"$@\"\n"
        )
        script.chmod(0o755)


def served(tmp_path: Path, plugin_dir: Path) -> dict[str, tuple[int, str, list[str]]]:
    """Every enabled command of the example, asked of a real nrpe: (status, output, argv)."""
    nrpe, check_nrpe = Path("/usr/sbin/nrpe"), Path("/usr/lib/nagios/plugins/check_nrpe")
    if not nrpe.exists() or not check_nrpe.exists():
        pytest.skip("nrpe not installed (apt install nagios-nrpe-server nagios-nrpe-plugin)")
    installed_as_debian_does(plugin_dir)
    example = tmp_path / "vigie.cfg"
    example.write_text(NRPE_EXAMPLE.read_text().replace(PLUGIN_DIR, str(plugin_dir)))
    port = free_port()
    config = tmp_path / "nrpe.cfg"
    # nrpe refuses to run the commands as root: as Debian's, it runs them as nagios.
    config.write_text(
        f"server_address=127.0.0.1\nserver_port={port}\nallowed_hosts=127.0.0.1\n"
        "nrpe_user=nagios\nnrpe_group=nagios\n"
        f"pid_file={plugin_dir / 'nrpe.pid'}\ndont_blame_nrpe=0\ncommand_timeout=30\n"
        f"include={example}\n"
    )
    daemon = subprocess.Popen([str(nrpe), "-c", str(config), "-f", "-n"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    answers = {}
    try:
        wait_for_tcp("127.0.0.1", port)
        for name, argv in nrpe_commands(enabled=True).items():
            asked = subprocess.run(
                [str(check_nrpe), "-H", "127.0.0.1", "-p", str(port), "-n", "-t", "30", "-c", name],
                capture_output=True, text=True, timeout=40, check=False,
            )  # fmt: skip
            answers[name] = (asked.returncode, asked.stdout + asked.stderr, argv)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=10)
    return answers
