"""Load nagiosplugin without the two classes no vigie check uses.

nagiosplugin's package ``__init__`` imports everything it has, Cookie and LogTail too, and
with them tempfile, json, shutil, random, bz2 and lzma: 4 ms of every check run on the
machines of PERFORMANCE.md, about 0.45 × the interpreter's own start, for state files and
log tailing that vigie does not do with them. :func:`install` registers a ``nagiosplugin``
package that imports the rest exactly as nagiosplugin's own ``__init__`` does (the same
names, identical in 1.3.2 and 1.4) and imports Cookie and LogTail on first use (PEP 562),
so code that needs them still finds them. If nagiosplugin is not laid out as expected,
nothing is installed and the normal import happens.
"""

from __future__ import annotations

import os
import sys
import types

# nagiosplugin/__init__.py: submodule -> the names it re-exports, minus the lazy two.
EAGER = {
    "check": ("Check",),
    "context": ("Context", "ScalarContext"),
    "error": ("CheckError", "Timeout"),
    "metric": ("Metric",),
    "multiarg": ("MultiArg",),
    "performance": ("Performance",),
    "range": ("Range",),
    "resource": ("Resource",),
    "result": ("Result", "Results"),
    "runtime": ("Runtime", "guarded"),
    "state": ("Ok", "Warn", "Critical", "Unknown"),
    "summary": ("Summary",),
    "version": ("__VERSION__",),
}
LAZY = {"Cookie": "cookie", "LogTail": "logtail"}


def _locate() -> str | None:
    for entry in sys.path:
        directory = os.path.join(entry or ".", "nagiosplugin")
        if all(
            os.path.exists(os.path.join(directory, f"{name}.py"))
            for name in ("__init__", *EAGER, *LAZY.values())
        ):
            return directory
    return None


def install() -> None:
    """Register the lean ``nagiosplugin`` package, unless nagiosplugin is already loaded."""
    if "nagiosplugin" in sys.modules:
        return
    directory = _locate()
    if directory is None:
        return
    package = types.ModuleType("nagiosplugin", "nagiosplugin, loaded by vigie without eager extras")
    package.__path__ = [directory]
    package.__file__ = os.path.join(directory, "__init__.py")
    package.__package__ = "nagiosplugin"

    def lazy(name: str) -> object:
        if name not in LAZY:
            raise AttributeError(f"module 'nagiosplugin' has no attribute {name!r}")
        module = __import__(f"nagiosplugin.{LAZY[name]}", fromlist=[name])
        value = getattr(module, name)
        setattr(package, name, value)
        return value

    package.__getattr__ = lazy  # type: ignore[method-assign]
    sys.modules["nagiosplugin"] = package
    try:
        for submodule, names in EAGER.items():
            module = __import__(f"nagiosplugin.{submodule}", fromlist=list(names))
            for name in names:
                setattr(package, name, getattr(module, name))
    except (ImportError, AttributeError):  # another layout: undo, let the real import run
        for key in [key for key in sys.modules if key.split(".")[0] == "nagiosplugin"]:
            del sys.modules[key]
        return
    package.__version__ = package.__VERSION__  # type: ignore[attr-defined]
