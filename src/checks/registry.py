"""Every check of the distribution, found by the layout: the one list the rest derives from.

A public module of a check group (``checks/<group>/<name>.py``, no leading ``_``) is the
check ``check_<name>`` and defines ``PLUGIN``; helpers start with ``_``; ``core`` and
``clients`` are no groups. ``vigie list|run``, the Icinga and Nagios generators, the e2e
tests and ``bench/`` read the checks from here, so adding one is writing its module (and
the few hand-written lines a unit test asks for: the console script, the README section,
the apply rule). The directories are listed, not imported, until a check is asked for.
"""

from __future__ import annotations

import importlib
import os

from checks.core.runtime import Plugin

#: Packages of ``checks`` that hold plumbing, not checks.
NOT_GROUPS = ("core", "clients")
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def module_names() -> list[str]:
    """``checks.<group>.<name>`` of every check, sorted."""
    names = []
    for group in sorted(os.listdir(_PACKAGE)):
        directory = os.path.join(_PACKAGE, group)
        if group in NOT_GROUPS or group.startswith(("_", ".")):
            continue
        if not os.path.isfile(os.path.join(directory, "__init__.py")):
            continue
        names += [
            f"checks.{group}.{file[:-3]}"
            for file in sorted(os.listdir(directory))
            if file.endswith(".py") and not file.startswith("_")
        ]
    return sorted(names)


def plugins() -> list[Plugin]:
    """The ``PLUGIN`` of every check, by name."""
    found = [importlib.import_module(name).PLUGIN for name in module_names()]
    return sorted(found, key=lambda plugin: plugin.name)


def local_suite() -> list[tuple[Plugin, str, tuple[str, ...]]]:
    """``vigie run``'s checks in table order: (plugin, name in the suite, arguments).

    Only the modules whose text declares a ``Local(`` are imported: importing every check
    cost ``vigie run`` more than running the local ones (a unit test holds the result to
    the one of importing them all).
    """
    local = [
        importlib.import_module(name).PLUGIN for name in module_names() if _declares_local(name)
    ]
    entries = [
        (entry.rank, plugin, entry.name, entry.arguments)
        for plugin in local
        for entry in plugin.local
    ]
    return [(plugin, name, arguments) for _, plugin, name, arguments in sorted(
        entries, key=lambda entry: entry[0])]  # fmt: skip


def _declares_local(module: str) -> bool:
    """Whether the source of ``checks.<group>.<name>`` mentions ``Local(`` (cheap: no import)."""
    path = os.path.join(_PACKAGE, *module.split(".")[1:]) + ".py"
    with open(path, encoding="utf-8") as file:
        return "Local(" in file.read()
