#!/usr/bin/python3
"""Write the executables of a vigie package from ``[project.scripts]`` of pyproject.toml.

Both packages (Debian and RPM) call it after the wheel is installed, in place of the
console scripts the installer wrote, for two reasons:

* the checks belong in ``/usr/lib/vigie/plugins`` beside each other, where the Icinga and
  Nagios configurations point (``VigiePluginDir``), not in ``/usr/bin``; only ``vigie``
  and ``drp``, the commands an admin types, go to ``/usr/bin``;
* pySMART is not packaged by Debian nor EPEL: the packages carry it privately in
  ``/usr/lib/vigie/python``, which every executable appends to its import path (appended,
  so a distribution's own pySMART, once there is one, takes precedence).

The executables import nothing else than ``sys`` before the check: every check pays at each
run for what its executable imports (the installers' scripts also import ``re``).

Usage: ``wrappers.py PYPROJECT PLUGIN_DIR BIN_DIR`` (directories inside the build root).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

#: The commands an admin runs by name; every other script is a check plugin.
COMMANDS = frozenset({"vigie", "drp"})
#: Where the packages carry the libraries the distribution lacks (pySMART).
PRIVATE_PATH = "/usr/lib/vigie/python"

TEMPLATE = """\
#!/usr/bin/python3
# {name}: {target}, installed by the vigie package.
import sys

sys.path.append({private!r})
from {module} import {function}

sys.exit({function}())
"""


def executable(name: str, target: str) -> str:
    """The text of the executable ``name`` running ``module:function`` ``target``."""
    module, _, function = target.partition(":")
    return TEMPLATE.format(
        name=name, target=target, private=PRIVATE_PATH, module=module, function=function
    )


def write_all(pyproject: Path, plugin_dir: Path, bin_dir: Path) -> list[Path]:
    """Write every script of ``pyproject`` where it belongs; the paths written."""
    scripts = tomllib.loads(pyproject.read_text())["project"]["scripts"]
    written = []
    for name, target in sorted(scripts.items()):
        directory = bin_dir if name in COMMANDS else plugin_dir
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / name
        path.write_text(executable(name, target))
        path.chmod(0o755)
        written.append(path)
    return written


def main() -> int:
    """Command line: ``wrappers.py PYPROJECT PLUGIN_DIR BIN_DIR``."""
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    pyproject, plugin_dir, bin_dir = (Path(arg) for arg in sys.argv[1:])
    for path in write_all(pyproject, plugin_dir, bin_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
