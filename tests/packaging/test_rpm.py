"""The RPM spec: rpmlint clean, built here by ``make rpm`` with Debian's rpmbuild.

Debian has no Fedora Python macros: packaging/rpm/debian.macros maps the pyproject ones
to python3-build and python3-installer, and ``--nodeps`` stands for the BuildRequires
that rpm's (empty) database cannot know. The payload is then listed with ``rpm -qlp``
and checked: plugins, commands, Icinga and Nagios files, Python modules with bytecode.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.helpers.packages import CONTRIB, PLUGINS, SYSTEM_ENV, TIMERS, system

pytestmark = pytest.mark.integration

SPEC = REPO / "packaging" / "rpm" / "vigie.spec"
SITE = "/usr/lib/python3/dist-packages"  # where debian.macros installs (Fedora: site-packages)


@pytest.fixture(scope="module")
def rpm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build = tmp_path_factory.mktemp("rpm")
    system("make", "-C", REPO, "--no-print-directory", "rpm", f"BUILD={build}",
           "RPM_MACROS=packaging/rpm/debian.macros", "RPMBUILD_FLAGS=--nodeps",
           env={**SYSTEM_ENV, "MAKEFLAGS": ""})  # fmt: skip
    (package,) = (build / "packages").glob("vigie-*.noarch.rpm")
    return package


def query(rpm: Path, *options: str) -> str:
    return system("rpm", "-qp", *options, rpm).stdout


def test_the_spec_is_rpmlint_clean():
    result = subprocess.run(
        ["rpmlint", "-r", str(SPEC.with_suffix(".rpmlintrc")), str(SPEC)],
        capture_output=True, text=True, env=SYSTEM_ENV, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors, 0 warnings" in result.stdout, result.stdout


def test_the_spec_carries_the_pinned_pysmart():
    """The spec repeats packaging/pysmart.mk's version, URL and checksum: they agree."""
    pinned = dict(
        re.findall(r"^(PYSMART_\w+) = (\S+)$", (REPO / "packaging" / "pysmart.mk").read_text(),
                   re.MULTILINE)
    )  # fmt: skip
    spec = SPEC.read_text()
    assert f"%global pysmart_version {pinned['PYSMART_VERSION']}\n" in spec
    assert f"%global pysmart_sha256 {pinned['PYSMART_SHA256']}\n" in spec
    url = pinned["PYSMART_URL"].replace(pinned["PYSMART_VERSION"], "%{pysmart_version}")
    assert f"Source1:        {url}\n" in spec


def test_the_rpm_holds_every_plugin_and_the_configurations(rpm):
    files = set(query(rpm, "--list").split())
    for name in PLUGINS:
        assert f"/usr/lib/vigie/plugins/{name}" in files, name
    assert {"/usr/bin/vigie", "/usr/bin/drp"} <= files
    assert f"{CONTRIB}/vigie.conf" in files
    assert f"{CONTRIB}/vigie-eventcommands.conf" in files
    assert {"/usr/share/vigie/icinga2/services.conf", "/usr/share/vigie/nagios/commands.cfg",
            "/etc/vigie/drp.toml.example", "/etc/sudoers.d/vigie"} <= files  # fmt: skip
    for timer in TIMERS:
        assert f"/usr/lib/systemd/system/vigie-drp-{timer}.timer" in files
    assert f"{SITE}/checks/system/load.py" in files
    assert any(re.match(rf"{SITE}/checks/system/__pycache__/load\.cpython-3\d+\.pyc$", path)
               for path in files)  # fmt: skip
    assert any(re.match(r"/usr/lib/vigie/python/pySMART/__pycache__/device\.", path)
               for path in files)  # fmt: skip


def test_the_rpm_metadata(rpm):
    listing = query(rpm, "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]")
    modes = {path: mode for mode, path in (line.split(" ", 1) for line in listing.splitlines())}
    assert modes["/etc/sudoers.d/vigie"] == "-r--r-----"
    assert modes["/usr/lib/vigie/plugins/check_load"] == "-rwxr-xr-x"
    requires = query(rpm, "--requires")
    assert "python3dist(humanfriendly)" in requires
    assert "pysmart" not in requires.lower()
    assert "bundled(python3dist(pysmart)) = 1.4.3" in query(rpm, "--provides")
    config = query(rpm, "--configfiles").split()
    assert config == ["/etc/sudoers.d/vigie"]
