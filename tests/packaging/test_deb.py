"""The Debian package: built by ``make deb``, lintian clean, installed on this machine.

The package is built in a temporary directory with dpkg-buildpackage, installed with
``apt-get install ./vigie_*.deb`` (its dependencies come from Debian), used as an admin
would (a plugin from /usr/lib/vigie/plugins, Debian's python3, a copy of the stock
/etc/icinga2 validated with the package's CheckCommands), then purged together with any
package its installation pulled in, so the machine is left as it was found.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.helpers.packages import (
    APT_ENV,
    CONTRIB,
    PLUGINS,
    STATUS_LINE,
    SYSTEM_ENV,
    TIMERS,
    system,
)

pytestmark = pytest.mark.integration


def installed_packages() -> set[str]:
    """The names of the Debian packages installed on this machine."""
    listing = system("dpkg-query", "-W", "-f", "${Package} ${Status}\n").stdout
    return {line.split()[0] for line in listing.splitlines() if line.endswith(" installed")}


def known(package: str) -> set[str]:
    """``{package}`` if dpkg has it in any state but purged (half-installed included)."""
    status = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Abbrev}", package],
        capture_output=True, text=True, env=SYSTEM_ENV, check=False,
    ).stdout  # fmt: skip
    return {package} if status and not status.startswith("un") else set()


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package, built by ``make deb`` in a temporary directory (lintian included)."""
    build = tmp_path_factory.mktemp("deb")
    env = {**SYSTEM_ENV, "MAKEFLAGS": ""}
    system("make", "-C", REPO, "--no-print-directory", "deb", f"BUILD={build}", env=env)
    (package,) = (build / "packages").glob("vigie_*_all.deb")
    return package


@pytest.fixture(scope="module")
def installed(deb: Path) -> Iterator[Path]:
    """The package installed with apt, then purged with whatever its installation added."""
    if os.geteuid() != 0:
        pytest.fail("installing the package needs root")
    before = installed_packages()
    assert "vigie" not in before, "vigie is already installed here: the test would replace it"
    try:
        system("apt-get", "install", "-y", "-q", "--no-install-recommends", deb, env=APT_ENV)
        yield deb
    finally:
        added = sorted(installed_packages() - before | known("vigie"))
        if added:
            system("apt-get", "purge", "-y", "-q", *added, env=APT_ENV)
    assert not Path("/usr/lib/vigie").exists(), "the purge left /usr/lib/vigie behind"


def payload(deb: Path) -> dict[str, str]:
    """Path (without the leading ``.``) → permissions, of every entry of ``deb``."""
    listing = system("dpkg-deb", "--contents", deb).stdout
    return {line.split()[-1].lstrip(".").rstrip("/"): line.split()[0]
            for line in listing.splitlines()}  # fmt: skip


def test_the_package_is_lintian_clean(deb):
    """No error and no warning: the build fails otherwise, and so does this."""
    result = subprocess.run(
        ["lintian", "--fail-on", "error,warning", str(deb)],
        capture_output=True, text=True, env=SYSTEM_ENV, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert not re.search(r"^[EW]: ", result.stdout, re.MULTILINE), result.stdout


def test_the_package_holds_every_plugin_and_the_configurations(deb):
    files = payload(deb)
    for name in PLUGINS:
        assert files.get(f"/usr/lib/vigie/plugins/{name}", "").startswith("-rwxr-xr-x"), name
    assert {"/usr/bin/vigie", "/usr/bin/drp"} <= files.keys()
    assert not [path for path in files if path.startswith("/usr/bin/check_")]
    assert f"{CONTRIB}/vigie.conf" in files
    assert f"{CONTRIB}/vigie-eventcommands.conf" in files
    assert "/usr/lib/python3/dist-packages/checks/core/__init__.py" in files
    assert "/usr/lib/python3/dist-packages/drptools/__init__.py" in files
    assert "/usr/lib/vigie/python/pySMART/__init__.py" in files
    for name in ("templates.conf", "services.conf", "hosts.conf.example", "zones.conf.example"):
        assert f"/usr/share/vigie/icinga2/{name}" in files, name
    for name in ("commands.cfg", "templates.cfg", "services.cfg"):
        assert f"/usr/share/vigie/nagios/{name}" in files, name
    assert "/etc/vigie/drp.toml.example" in files
    assert files["/etc/sudoers.d/vigie"].startswith("-r--r-----")
    for timer in TIMERS:
        assert f"/lib/systemd/system/vigie-drp-{timer}.timer" in files
        assert f"/lib/systemd/system/vigie-drp-{timer}.service" in files
    assert "/usr/share/vigie/cron.d/vigie-drp" in files  # an example, not an active cron job
    assert not [path for path in files if path.startswith("/etc/cron")]
    # Byte-compiled at installation, as Debian does, never shipped.
    assert not [path for path in files if path.endswith(".pyc")]


def test_the_dependencies_are_debian_packages(deb):
    depends = system("dpkg-deb", "--field", deb, "Depends").stdout
    names = {item.split()[0] for item in depends.replace("|", ",").split(",")}
    assert {"python3-nagiosplugin", "python3-psutil", "python3-requests", "python3-pymysql",
            "python3-psycopg", "python3-dnspython", "python3-pycurl"} <= names  # fmt: skip
    assert not {"python3-psycopg3", "python3-pysmart"} & names, depends
    assert "python3-psycopg (>= 3.1.7)" in depends  # pyproject.toml's bound, kept
    for name in names - {"python3:any"}:  # every one of them is in this machine's archive
        assert system("apt-cache", "show", "--no-all-versions", name).stdout, name


def test_the_sudoers_rules_are_valid(deb, tmp_path):
    system("dpkg-deb", "--extract", deb, tmp_path)
    rules = tmp_path / "etc" / "sudoers.d" / "vigie"
    assert stat.S_IMODE(rules.stat().st_mode) == 0o440
    assert "parsed OK" in system("visudo", "-c", "-f", rules).stdout
    # The rules an admin may uncomment parse too, each one enabled alone.
    text = rules.read_text()
    optional = [line[1:] for line in text.splitlines() if line.startswith("#VIGIE_MONITOR ")]
    assert len(optional) >= 5
    for line in optional:
        (tmp_path / "one").write_text(f"{text}{line}\n")
        system("visudo", "-c", "-f", tmp_path / "one")


def test_an_installed_plugin_runs(installed):
    """check_load from /usr/lib/vigie/plugins, under Debian's python3, gives a plugin line."""
    result = subprocess.run(
        ["/usr/lib/vigie/plugins/check_load"], capture_output=True, text=True,
        env=SYSTEM_ENV, timeout=30, check=False, cwd="/",
    )  # fmt: skip
    assert result.returncode in (0, 1, 2), result.stdout + result.stderr
    assert STATUS_LINE.match(result.stdout), result.stdout
    assert re.search(r" \| load1=[0-9.]+;", result.stdout.splitlines()[0]), result.stdout
    assert not result.stderr
    version = subprocess.run(
        ["/usr/lib/vigie/plugins/check_load", "-V"], capture_output=True, text=True,
        env=SYSTEM_ENV, timeout=30, check=False,
    )  # fmt: skip
    assert version.stdout.startswith("check_load v"), version  # -V exits 3, as plugins do
    assert "vigie" in system("/usr/bin/vigie", "--version").stdout


def test_the_monitoring_user_runs_the_plugins_and_has_its_sudo_rules(installed):
    """As Icinga runs them: user nagios (made by icinga2-common), sudo rules in force."""
    result = subprocess.run(
        ["runuser", "-u", "nagios", "--", "/usr/lib/vigie/plugins/check_load"],
        capture_output=True, text=True, env=SYSTEM_ENV, timeout=30, check=False, cwd="/",
    )  # fmt: skip
    assert result.returncode in (0, 1, 2), result.stdout + result.stderr
    assert STATUS_LINE.match(result.stdout), result.stdout
    allowed = system("sudo", "-l", "-U", "nagios").stdout
    assert "(root) NOPASSWD: /usr/sbin/smartctl" in allowed, allowed
    assert "(root) NOPASSWD: /usr/lib/vigie/plugins/check_quota" in allowed, allowed


def test_check_smart_finds_the_private_pysmart(installed):
    """pySMART comes from /usr/lib/vigie/python; the check runs with a plugin line."""
    where = system(
        "/usr/bin/python3", "-c",
        "import sys; sys.path.append('/usr/lib/vigie/python'); import pySMART; "
        "print(pySMART.__file__)",
    ).stdout  # fmt: skip
    assert where.startswith("/usr/lib/vigie/python/pySMART/"), where
    result = subprocess.run(
        ["/usr/lib/vigie/plugins/check_smart"], capture_output=True, text=True,
        env=SYSTEM_ENV, timeout=60, check=False, cwd="/",
    )  # fmt: skip
    assert result.returncode in (0, 1, 2, 3), result.stdout + result.stderr
    assert result.stdout.startswith("SMART "), result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_debian_python_imports_the_installed_modules(installed):
    module = system("/usr/bin/python3", "-c", "import checks; print(checks.__file__)").stdout
    assert module.strip() == "/usr/lib/python3/dist-packages/checks/__init__.py"
    cache = Path("/usr/lib/python3/dist-packages/checks/__pycache__")
    assert list(cache.glob("__init__.cpython-3*.pyc")), "py3compile did not run"
    assert list(Path("/usr/lib/python3/dist-packages/checks/system/__pycache__").glob("load.*.pyc"))
    assert list(Path("/usr/lib/vigie/python/pySMART/__pycache__").glob("device.*.pyc"))


def test_the_timers_are_installed_disabled(installed):
    wants = Path("/etc/systemd/system/timers.target.wants")
    assert not list(wants.glob("vigie-*")), "a vigie timer was enabled by the installation"
    for timer in TIMERS:
        assert Path(f"/lib/systemd/system/vigie-drp-{timer}.timer").is_file()


def test_a_stock_icinga2_validates_with_the_package(installed, tmp_path):
    """Debian's /etc/icinga2, copied, plus the package: ``include <plugins-contrib>`` of the
    stock icinga2.conf finds vigie.conf; vigie's templates and rules go in conf.d as the
    README says. ``icinga2 daemon -C`` is clean and knows every vigie CheckCommand."""
    etc = tmp_path / "icinga2"
    shutil.copytree("/etc/icinga2", etc, ignore=shutil.ignore_patterns("pki"))
    for name in ("templates.conf", "services.conf"):
        shutil.copy(f"/usr/share/vigie/icinga2/{name}", etc / "conf.d" / f"vigie-{name}")
    dirs = {"DataDir": "data", "CacheDir": "cache", "LogDir": "log", "SpoolDir": "spool",
            "InitRunDir": "run"}  # fmt: skip
    for sub in dirs.values():
        (tmp_path / sub).mkdir()
    defines = [f"-D{name}={tmp_path / sub}" for name, sub in dirs.items()]
    defines += ["-DRunAsUser=root", "-DRunAsGroup=root"]
    icinga2 = shutil.which("icinga2", path=SYSTEM_ENV["PATH"]) or "/usr/sbin/icinga2"
    checked = system(icinga2, "daemon", "-C", "-c", etc / "icinga2.conf", *defines, timeout=120)
    assert "Finished validating the configuration" in checked.stdout, checked.stdout
    listed = system(icinga2, "object", "list", "--type", "CheckCommand", *defines).stdout
    commands = set(re.findall(r"Object 'vigie-([a-z_]+)' of type 'CheckCommand'", listed))
    expected = {name.removeprefix("check_") for name in PLUGINS}
    assert expected <= commands, expected - commands
    origin = f"{CONTRIB}/vigie.conf"
    assert origin in listed, listed[:2000]
    services = system(icinga2, "object", "list", "--type", "Service", *defines).stdout
    assert "!vigie-ping4' of type 'Service'" in services  # the stock host, by vigie's rules
    assert "!ping4' of type 'Service'" in services  # beside the stock rule's


def test_a_stock_nagios4_validates_with_the_package(installed, tmp_path):
    """Debian's /etc/nagios4, copied, reading the package's Nagios files from conf.d (as the
    README says, the stock localhost in vigie's hostgroups): ``nagios4 -v`` is clean beside
    the stock commands and the monitoring-plugins' ones (/etc/nagios-plugins/config)."""
    etc, var = tmp_path / "etc", tmp_path / "var"
    shutil.copytree("/etc/nagios4", etc)
    (var / "spool" / "checkresults").mkdir(parents=True)
    for name in ("commands.cfg", "templates.cfg", "services.cfg"):
        (etc / "conf.d" / f"vigie-{name}").symlink_to(f"/usr/share/vigie/nagios/{name}")
    localhost = etc / "objects" / "localhost.cfg"
    text = localhost.read_text()
    host = re.search(r"host_name\s+localhost\n", text)
    assert host, "the stock localhost.cfg changed"
    localhost.write_text(
        text[: host.end()] + "    hostgroups              vigie-local,vigie-reach\n"
        + text[host.end() :]
    )  # fmt: skip
    main = etc / "nagios.cfg"
    config = main.read_text().replace("/etc/nagios4", str(etc))
    config = re.sub(r"/var/(lib|log|run)/nagios4", str(var), config)
    config = re.sub(r"^nagios_(user|group)=.*$", r"nagios_\1=root", config, flags=re.MULTILINE)
    main.write_text(config)
    nagios4 = shutil.which("nagios4", path=SYSTEM_ENV["PATH"]) or "/usr/sbin/nagios4"
    result = system(nagios4, "-v", main, timeout=60)
    assert "Total Errors:   0" in result.stdout, result.stdout
    assert "Total Warnings: 0" in result.stdout, result.stdout
